"""Admin actions that look inside a profile: comparing an input with its references
(calibration from image files, the test mode), or telling what its symbol looks like (the
strength verdict: "weak: this looks like the digit 3").

Each is an oracle for a guesser, so each is an admin action: the caller asks for the admin
passphrase when one is set (the CLI's and the app's existing gates, which audit a wrong one),
and this module holds the rest of the rule -- refused while the profile is locked out
(audited "inspect_refused"), and every use audited ("profile_inspected"), in this order:
:func:`refuse_while_locked`, the passphrase, :func:`audit_inspection`.
"""

from __future__ import annotations

import math

from .decision import AuditEvent


class LockedOutError(ValueError):
    """The profile is locked out; the message says for how long and why the action waits."""


def refuse_while_locked(store, profile: str, action: str, via: str) -> None:
    """Raise :class:`LockedOutError` (audited) while ``profile`` is locked out."""
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
