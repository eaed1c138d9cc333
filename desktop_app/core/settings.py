"""App settings with their defaults, and which model is in use (loading, switching).

Settings live in the store as JSON values; :data:`DEFAULTS` says what an unset key means.
The model in use is, in order: an explicit override (``--model``), ``$TWINLOCK_MODEL``,
the ``model_path`` setting (written by :func:`switch_model`), the shipped default.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from .contract import ContractError
from .decision import AuditEvent
from .embedder import Embedder
from .model_trust import accept_contract, check_model
from .passphrase import hash_passphrase
from .paths import active_model_path
from .risk import check_model_risk

# Every app setting and what it means while unset: the one home of these defaults (read them
# with :func:`setting`). Besides these keys there is one per accepted model contract,
# model_trust.KEY_PREFIX + its fingerprint, which has no default.
DEFAULTS = {
    "camera": 0,  # webcam index (or a video/folder path for a fake camera)
    "resolution": [640, 480],
    "provider": "auto",  # "auto" | "cuda" | "cpu"
    "policy": {},  # Policy fields applied to every profile (k, n, time_limit_s, ...)
    "command_on_grant": "",  # shell command the app runs after a grant ("" = none)
    "admin_passphrase": None,  # hash string from desktop_app.core.passphrase, None = no gate
    "model_path": None,  # None = the shipped default model
    "enroll_min_strength": None,  # "weak" | "fair" | "strong"; None = the model's (core.strength)
    "first_run_hint_dismissed": False,  # the main window's first-run hint was closed
    "audit_retention_rows": 0,  # keep the newest N audit rows; 0 = keep every row (store/audit.py)
    "audit_retention_days": 0,  # keep N days of audit rows; 0 = keep every day (store/audit.py)
}


def setting(store, key: str):
    """The app setting ``key``: its stored value, else its default (:data:`DEFAULTS`, a
    fresh copy). KeyError for a key DEFAULTS does not declare: every setting has its
    default here and nowhere else."""
    default = DEFAULTS[key]
    value = store.get_setting(key, None)
    return copy.deepcopy(default) if value is None else value


@dataclass(frozen=True)
class EffectiveThreshold:
    """The threshold a profile is verified with and where it came from."""

    value: float | None  # None: no model loaded and no threshold set anywhere
    source: str  # "profile", "profile policy", "app settings", "model default" or "no model"
    model_default: float | None  # the model's default operating point (None without a model)


def effective_threshold(store, profile, contract) -> EffectiveThreshold:
    """Which threshold applies to ``profile`` (a name or a store ``Profile``; one not enrolled
    yet, or None, gets what a new profile would): the profile's own threshold, else a
    ``threshold`` in its policy, else one in the app's "policy" setting (later layers win,
    as :meth:`Policy.updated` applies them), else the model's default operating point
    (``contract``, None when no model is loaded). The one home of this rule: the verifier,
    the calibration dialog, the strength check and the CLI all ask it."""
    layers = [("app settings", (setting(store, "policy") if store is not None else None) or {})]
    if isinstance(profile, str):
        profile = store.get_profile(profile) if store is not None and store.has_profile(profile) else None
    if profile is not None:
        layers.append(("profile policy", profile.policy or {}))
        if profile.threshold is not None:
            layers.append(("profile", {"threshold": profile.threshold}))
    value, source = None, None
    for name, layer in layers:
        if isinstance(layer, dict) and "threshold" in layer:
            value, source = layer["threshold"], name
    default = None if contract is None else float(contract.default_threshold)
    if value is not None:
        return EffectiveThreshold(float(value), source, default)
    if default is not None:
        return EffectiveThreshold(default, "model default", default)
    return EffectiveThreshold(None, "no model", None)


def load_embedder(store=None, override=None, preference: str | None = None, reembed: bool = True, progress=None):
    """The :class:`Embedder` for the active model. Raises ContractError, also for a model
    whose contract is not the one an admin accepted for its fingerprint (core.model_trust).

    With ``reembed`` (default), references embedded by another model (e.g. after the shipped
    model was updated) are re-embedded from their stored images first (all-or-nothing,
    audited as "reembedded"), so embeddings of two models are never compared."""
    pref = preference or (setting(store, "provider") if store is not None else DEFAULTS["provider"])
    if pref not in ("auto", "cuda", "cpu"):
        pref = "auto"
    emb = Embedder(active_model_path(store, override), pref)
    check_model(store, emb)  # a contract (thresholds) no admin accepted is refused
    if store is not None and reembed:
        stale = store.stale_references(emb.fingerprint)
        if stale:
            n = store.reembed_all(emb, progress=progress)
            store.log_attempt(
                None,
                AuditEvent.REEMBEDDED,
                fingerprint=emb.fingerprint,
                provider=emb.provider,
                detail={"references": n, "stale": stale, "model": str(emb.path)},
            )
    return emb


def switch_model(store, new_path, preference: str | None = None, progress=None, risk_confirmed: bool = False):
    """Use the model at ``new_path`` from now on.

    Validates it (contract + an ONNX Runtime session), re-embeds every reference with it
    (one transaction), then persists ``model_path`` and audits "model_switched". If anything
    fails the old model and embeddings stay in place and the error propagates
    (ContractError / StoreError). A model whose default operating point is looser than FAR
    1e-3 or not supported by its counts (core risk.model_risk) needs
    ``risk_confirmed`` (the user confirmed it in words), else ModelRiskError and nothing
    changes; what was confirmed is in the audit row."""
    path = Path(new_path).expanduser()
    pref = preference or setting(store, "provider")
    if pref not in ("auto", "cuda", "cpu"):
        pref = "auto"
    old = active_model_path(store)
    emb = Embedder(path, pref)  # ContractError: nothing changed
    if emb.contract.embedding_dim <= 0:
        raise ContractError(f"The model {path} declares no embedding size.")
    risk = check_model_risk(emb.contract, risk_confirmed)  # ModelRiskError: nothing changed
    n = store.reembed_all(emb, progress=progress)  # all-or-nothing
    store.set_setting("model_path", str(path.resolve()))
    accept_contract(store, emb.contract, via="model switched")  # switching is the admin's acceptance
    store.log_attempt(
        None,
        AuditEvent.MODEL_SWITCHED,
        fingerprint=emb.fingerprint,
        provider=emb.provider,
        detail={
            "old": str(old),
            "new": str(path.resolve()),
            "references": n,
            **({"risk_confirmed": True, **risk.as_detail()} if risk.needs_confirmation else {}),
        },
    )
    return emb


# --------------------------------------------------------------------------- audited changes
SECRET_KEYS = ("admin_passphrase",)


def save_settings(store, values: dict, via: str = "app") -> dict:
    """Store ``values`` (setting -> value) and audit what changed, old and new, as one
    "settings_changed" entry (none when nothing changed). Secrets (the passphrase hash) are
    never written to the log: use :func:`set_admin_passphrase`. Returns the changes."""
    changed = {}
    for key, value in values.items():
        if key in SECRET_KEYS:
            raise ValueError(f"{key} is changed with set_admin_passphrase, not save_settings")
        old = store.get_setting(key, None)
        if old != value:
            changed[key] = {"old": old, "new": value}
            store.set_setting(key, value)
    return changed


def audit_settings_change(store, changed: dict, via: str = "app") -> int | None:
    """One audit entry for a set of changes (settings and, e.g., the data folder)."""
    if not changed:
        return None
    return store.log_attempt(None, AuditEvent.SETTINGS_CHANGED, detail={"changed": changed, "via": via})


def set_admin_passphrase(store, text: str | None, via: str = "app") -> str:
    """Set (scrypt-hashed), change or remove (None) the admin passphrase, audited as
    "passphrase_set" / "passphrase_changed" / "passphrase_removed" (never the hash).
    PassphraseError for a weak one; nothing is stored then. Returns the decision logged."""
    had = bool(setting(store, "admin_passphrase"))
    if text is None:
        store.set_setting("admin_passphrase", None)
        decision = AuditEvent.PASSPHRASE_REMOVED
    else:
        store.set_setting("admin_passphrase", hash_passphrase(text))  # checks strength first
        decision = AuditEvent.PASSPHRASE_CHANGED if had else AuditEvent.PASSPHRASE_SET
    store.log_attempt(None, decision, detail={"via": via})
    return decision


def audit_failed_passphrase(store, action: str, profile: str | None = None, via: str = "app", **extra) -> int:
    """A wrong admin passphrase ("passphrase_failed"; the text typed is never logged)."""
    return store.log_attempt(profile, AuditEvent.PASSPHRASE_FAILED, detail={"action": action, "via": via, **extra})
