"""Which model contracts an admin accepted: a model file's thresholds are a setting too.

The fingerprint covers a model's graph and weights, not its contract, so a copy of a model
with an edited threshold keeps the fingerprint. The digest of the contract an admin accepted
is kept per fingerprint in the settings table (key ``model_contract:<fingerprint>``), and a
model whose contract digest differs is refused until an admin accepts it
(``twinlock model use``, the export dialog's *Use this model*: :func:`settings.switch_model`).

A model is accepted without asking (audited, ``via`` "first use") only when nothing depends
on another judgement yet: the shipped model file itself, a model with the shipped model's
fingerprint and contract, or any model while the database holds no references of another
model. A model of the shipped model's fingerprint with another contract is never taken on
first use.

When a release changes the shipped model's contract but not its weights (as adding its
passcode points did), a database that accepted an earlier shipped contract
(:data:`PREVIOUS_SHIPPED_CONTRACTS`, digests fixed in the release) takes the current shipped
contract of the same fingerprint without asking (audited, ``via`` "shipped model updated").
Only that step: from a listed earlier shipped contract to the one the shipped file carries.
"""

from __future__ import annotations

from pathlib import Path

from .contract import ContractError
from .decision import AuditEvent

KEY_PREFIX = "model_contract:"
# contracts the shipped model carried in earlier releases (digest -> what changed since)
PREVIOUS_SHIPPED_CONTRACTS = {
    "03a5f7892f153e27afe96c4b68c5a9dd32cd97e1e50f803cd22909f7a2cafdf5": "the any-symbol model's contract "
    "before its passcode points were added",
}


def _key(fingerprint: str) -> str:
    return KEY_PREFIX + str(fingerprint)


def accepted_digest(store, fingerprint: str) -> str | None:
    """The contract digest accepted for ``fingerprint`` (None: none yet)."""
    rec = store.get_setting(_key(fingerprint), None)
    if isinstance(rec, dict) and isinstance(rec.get("digest"), str):
        return rec["digest"]
    return None


def accept_contract(store, contract, via: str, by: str = "") -> None:
    """Record ``contract`` (a ModelContract) as the accepted one for its fingerprint, audited
    as "model_accepted" (with the digest it replaces, if any)."""
    old = accepted_digest(store, contract.fingerprint)
    store.set_setting(_key(contract.fingerprint), {"digest": contract.digest, "path": str(contract.path), "via": via})
    if old == contract.digest:
        return
    store.log_attempt(
        None,
        AuditEvent.MODEL_ACCEPTED,
        fingerprint=contract.fingerprint,
        detail={
            "model": str(contract.path),
            "contract": contract.digest[:16],
            "replaced": None if old is None else old[:16],
            "default_threshold": contract.default_threshold,
            "via": via,
            **({"by": by} if by else {}),
        },
    )


def _shipped_contract():
    """The shipped model's contract (None when it cannot be read)."""
    from .paths import DEFAULT_MODEL

    try:
        from .embedder import Embedder

        return Embedder(DEFAULT_MODEL, "cpu", warmup=False).contract
    except (ContractError, OSError):
        return None


def _is_shipped_file(path) -> bool:
    from .paths import DEFAULT_MODEL

    try:
        return Path(path).resolve() == Path(DEFAULT_MODEL).resolve()
    except OSError:
        return False


def not_accepted_message(contract, known: bool) -> str:
    p, fp = contract.path, contract.short_fingerprint
    if known:
        why = (
            f"The model file {p} (fingerprint {fp}) carries a contract -- thresholds, "
            "normalisation or provenance -- that differs from the one an admin accepted for this "
            "model: it may have been edited to accept more."
        )
    else:
        why = (
            f"The model file {p} (fingerprint {fp}) has not been accepted by an admin for this "
            "database, whose profiles were enrolled with another model."
        )
    return (
        f"{why} It was not used and nothing was changed. If it is the model you want, accept it with "
        f"'twinlock model use {p}' (needs the admin passphrase) or the app's Tools > Export a new model > "
        "Use this model."
    )


def check_model(store, emb) -> None:
    """Raise ContractError (audited as "model_refused") unless ``emb``'s contract is the one
    accepted for its fingerprint; accept it on first use where nothing depends on another
    model's judgement (see the module docstring). ``store`` None: nothing to check against."""
    if store is None:
        return
    c = emb.contract
    have = accepted_digest(store, c.fingerprint)
    if have is None:
        if _is_shipped_file(emb.path):
            accept_contract(store, c, via="first use of the shipped model")
            return
        shipped = _shipped_contract()
        if shipped is not None and shipped.fingerprint == c.fingerprint:
            accept_contract(store, shipped, via="first use of the shipped model")
            have = shipped.digest
        elif store.stale_references(c.fingerprint) == 0:
            accept_contract(store, c, via="first use")
            return
    if have == c.digest:
        return
    if have in PREVIOUS_SHIPPED_CONTRACTS:
        shipped = _shipped_contract()
        if shipped is not None and shipped.fingerprint == c.fingerprint and shipped.digest == c.digest:
            accept_contract(store, c, via="shipped model updated")
            return
    store.log_attempt(
        None,
        AuditEvent.MODEL_REFUSED,
        fingerprint=c.fingerprint,
        detail={
            "model": str(c.path),
            "contract": c.digest[:16],
            "accepted": None if have is None else have[:16],
            "default_threshold": c.default_threshold,
        },
    )
    raise ContractError(not_accepted_message(c, known=have is not None))
