"""Admin actions, each with one home (git-cola's ConfirmAction: check, confirm, act, audit).

Every action here is one function the app and the CLI both call. The front end injects
what only it can do and nothing else:

- ``admin()``: its admin-passphrase prompt (the CLI's ``--passphrase-file``/terminal, the
  app's dialog), which asks core ``passphrase.check_admin_passphrase`` -- counted, delayed
  after wrong ones, a wrong one audited. True: go on; False (or an exception): nothing is done.
- ``confirm(message)``: a yes/no question in words (the CLI's prompt or ``--yes``, the app's
  QMessageBox). Asked only when the action loosens the lock or cannot be undone.

The function does the rest, in this order: the check (the profile exists; refused while it
is locked out where that applies, the refusal audited), the passphrase, the confirmation,
then the write and its audit row in one store transaction. The front end only shows the
result or the refusal (:class:`ActionRefused`: its message is for the user; nothing changed).

The actions: looking inside a profile (:func:`inspect_profile`: calibration from image files,
the test mode, the strength verdict -- each an oracle for a guesser), :func:`export_profile`,
:func:`import_profile`, :func:`remove_profile`, :func:`apply_threshold` /
:func:`reset_threshold`, and the risk confirmation of a model switch
(:func:`confirm_model_risk`, before ``settings.switch_model`` re-embeds and audits).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from . import metrics
from .calibration import weakening_words
from .calibration import apply_threshold as _set_threshold
from .calibration import reset_threshold as _reset_threshold
from .decision import AuditEvent
from .passphrase import is_hash
from .risk import model_risk, threshold_risk
from .store.profile_file import ImportNeedsConfirmation

Admin = Callable[[], bool]  # the front end's passphrase prompt: True to go on
Confirm = Callable[[str], bool]  # a yes/no question in words: the answer


class ActionRefused(ValueError):
    """An admin action that did not happen; the message says why (for the user). Nothing
    was changed."""


class LockedOutError(ActionRefused):
    """The profile is locked out; the message says for how long and why the action waits."""


class Declined(ActionRefused):
    """The passphrase prompt or the confirmation said no: nothing was done."""


def passphrase_set(store) -> bool:
    """Whether an admin passphrase is set (admin actions then ask for it)."""
    return is_hash(store.get_setting("admin_passphrase", None))


def _gate(admin: Admin, action: str) -> None:
    if not admin():
        raise Declined(f"{action}: the admin passphrase was not given; nothing was changed.")


def _confirmed(confirm: Confirm, question: str, action: str) -> None:
    if not confirm(question):
        raise Declined(f"{action}: not confirmed; nothing was changed.")


# --------------------------------------------------------------------------- looking inside
def refuse_while_locked(store, profile: str, action: str, via: str) -> None:
    """Raise :class:`LockedOutError` (audited "inspect_refused") while ``profile`` is locked out."""
    rem = store.lockout(profile).remaining()
    if rem <= 0:
        return
    store.log_attempt(
        profile,
        AuditEvent.INSPECT_REFUSED,
        detail={"action": action, "via": via, "lockout_remaining_s": round(rem, 1)},
    )
    raise LockedOutError(
        f"profile '{profile}' is locked out for {math.ceil(rem)} s: {action} compares inputs with "
        "it or tells what its symbol looks like, so it waits until the lockout ends (this was audited)."
    )


def audit_inspection(store, profile: str, action: str, via: str, passphrase: bool, **detail) -> int:
    """One "profile_inspected" row: who looked (``passphrase``: the admin passphrase was
    given; False: none is set), how and at what."""
    return store.log_attempt(
        profile,
        AuditEvent.PROFILE_INSPECTED,
        detail={
            "action": action,
            "via": via,
            "by": "admin passphrase" if passphrase else "no passphrase set",
            **detail,
        },
    )


def inspect_profile(store, profile: str, action: str, *, via: str, admin: Admin, **detail) -> int:
    """Looking inside ``profile`` (comparing inputs with it, telling what its symbol looks
    like): refused while it is locked out (audited), the passphrase, then one
    "profile_inspected" row (its id). Raises :class:`LockedOutError` or :class:`Declined`."""
    refuse_while_locked(store, profile, action, via)
    _gate(admin, action)
    return audit_inspection(store, profile, action, via, passphrase_set(store), **detail)


# --------------------------------------------------------------------------- export
def _export_refusal(tx, profile: str, via: str) -> float:
    """Seconds ``profile`` stays locked out; while it is, an "export_refused" row in ``tx``."""
    rem = tx.lockout(profile).remaining()
    if rem > 0:
        detail = {"reason": "the profile is locked out", "lockout_remaining_s": round(rem, 1), "via": via}
        tx.log(profile, AuditEvent.EXPORT_REFUSED, detail=detail)
    return rem


def _locked_export(profile: str, rem: float) -> LockedOutError:
    return LockedOutError(
        f"profile '{profile}' is locked out for {math.ceil(rem)} s: it cannot be exported "
        "until the lockout ends (this was audited)."
    )


def export_profile(store, name: str, dest, *, via: str, admin: Admin) -> Path:
    """Write profile ``name`` to a file (it holds the symbol's images): refused while the
    profile is locked out (audited "export_refused", before any passphrase is asked), the
    passphrase, then the file and its "profile_exported" row in one transaction (the lockout
    checked again there). ``dest``: the file, or a callable asked for it after the checks
    (the app's save dialog; None: nothing done). Returns the file written."""
    prof = store.get_profile(name)
    with store.transaction() as tx:
        rem = _export_refusal(tx, prof.name, via)
    if rem > 0:
        raise _locked_export(prof.name, rem)
    _gate(admin, "export")
    if callable(dest):
        dest = dest()
        if not dest:
            raise Declined("export: no file was chosen; nothing was written.")
    dest = Path(dest)
    if dest.is_dir():
        raise ActionRefused(
            f"{dest} is a folder: give the export a file name, e.g. {dest / (prof.name + '.json')}. "
            "Nothing was written."
        )
    if dest.exists() and not dest.is_file():
        raise ActionRefused(f"{dest} exists and is not a regular file; choose another file name.")
    with store.transaction() as tx:
        rem = _export_refusal(tx, prof.name, via)
        if rem <= 0:
            # the row first, then the file: a file that cannot be written rolls the row back
            detail = {"file": str(dest.resolve()), "references": prof.n_references, "via": via}
            tx.log(prof.name, AuditEvent.PROFILE_EXPORTED, detail=detail)
            try:
                out = store.export_profile(prof.name, dest)
            except OSError as exc:
                raise ActionRefused(
                    f"cannot write {dest} ({exc.strerror or exc}): choose a folder you can write to. "
                    "Nothing was written."
                ) from None
    if rem > 0:
        raise _locked_export(prof.name, rem)
    return Path(out)


# --------------------------------------------------------------------------- import
def import_profile(
    store, path, embedder, *, via: str, admin: Admin, confirm: Confirm, name=None, overwrite: bool = False
):
    """Read a profile file written by an export: the passphrase, then the import (every field
    checked, the embeddings computed from its images by the model in use, never read); a
    file whose threshold is looser than the model's default or whose policy is weaker than
    the app's asks ``confirm`` (the risks in words) and is audited with what it loosened --
    the profile and its "profile_imported" row in one transaction (the store's
    ``import_profile``). ``path`` and ``embedder`` may be callables asked after the
    passphrase (the app's file dialog; the model in use). Returns the new Profile; a name
    in use raises the store's ProfileExists."""
    _gate(admin, "import")
    if callable(path):
        path = path()
        if not path:
            raise Declined("import: no file was chosen; nothing was imported.")
    if callable(embedder):
        embedder = embedder()
    kw = dict(name=name, overwrite=overwrite, via=via)
    try:
        return store.import_profile(path, embedder, confirmed=False, **kw)
    except ImportNeedsConfirmation as exc:
        question = "This file would loosen the lock:\n\n- " + "\n- ".join(exc.risks) + "\n\nImport it anyway?"
        _confirmed(confirm, question, "import")
    return store.import_profile(path, embedder, confirmed=True, **kw)


# --------------------------------------------------------------------------- remove
def remove_profile(store, name: str, *, via: str, admin: Admin, confirm: Confirm) -> None:
    """Remove a profile and its references: the passphrase, a confirmation (it cannot be
    undone), then the removal and its "profile_removed" row in one transaction."""
    prof = store.get_profile(name)
    _gate(admin, "remove")
    _confirmed(confirm, f"Remove profile '{prof.name}' and its references? This cannot be undone.", "remove")
    store.remove_profile(prof.name)  # the profile, its lockout row and "profile_removed": one transaction


# --------------------------------------------------------------------------- the threshold
def apply_threshold(
    store, profile: str, threshold: float, data, *, via: str, confirm: Confirm, embedder=None, target_far=None
) -> None:
    """Set ``profile``'s threshold from calibration ``data`` (core CalibrationData: genuine
    and impostor distances, their source). A threshold looser than the model's default, or
    a target FAR the impostor count cannot support, asks ``confirm`` (the risk in words, and
    what it does to the symbol's strength); the threshold and its "threshold_set" row (the
    operating point, the risk, whether it was confirmed) in one transaction. The caller
    passed the passphrase gate for the calibration (:func:`inspect_profile`, or the CLI's
    ``--apply``). The row holds the threshold it replaced ("old")."""
    t = float(threshold)
    default = None if embedder is None else float(embedder.contract.default_threshold)
    risk = threshold_risk(t, data.genuine, data.impostor, default, target_far)
    op = metrics.operating_point(data.genuine, data.impostor, t)
    detail = {
        "far": op.far,
        "frr": op.frr,
        "genuine": op.genuine,
        "impostor": op.impostor,
        "false_accepts": op.false_accepts,
        "false_rejects": op.false_rejects,
        "target_far": target_far,
        "supported": bool(target_far is None or metrics.supports_far(op.impostor, target_far)),
        **risk.as_detail(),
        "confirmed": False,
        "via": via,
    }
    if risk.needs_confirmation:
        weaker = "" if embedder is None else weakening_words(store, embedder, profile, t)
        if weaker:
            detail["strength_after"] = weaker
        question = risk.message() + (f"\n\n{weaker}" if weaker else "") + "\n\nApply this threshold anyway?"
        _confirmed(confirm, question, "calibrate")
        detail["confirmed"] = True
    _set_threshold(store, profile, t, data.source, detail=detail)


def reset_threshold(store, profile: str, *, via: str) -> None:
    """Back to the model's calibrated default threshold ("threshold_reset", one transaction).
    Never looser than the model's own point, so no confirmation."""
    _reset_threshold(store, profile, detail={"via": via})


# --------------------------------------------------------------------------- a model's default point
def confirm_model_risk(contract, confirm: Confirm) -> bool:
    """Before a model switch (``settings.switch_model``, which re-embeds and audits): a model
    whose default operating point is looser than FAR 1e-3 or not supported by its counts
    (core ``calibration.model_risk``) asks ``confirm``. Returns whether a confirmation was
    given (False: none was needed; ``switch_model``'s ``risk_confirmed``); :class:`Declined`
    when it was refused."""
    risk = model_risk(contract)
    if not risk.needs_confirmation:
        return False
    _confirmed(confirm, risk.message() + "\n\nUse this model anyway?", "model use")
    return True
