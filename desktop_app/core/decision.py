"""The names of what happens: an attempt's states and outcomes, and the other audit events.

:class:`Decision` is every state the verifier's :class:`~desktop_app.core.verifier.AttemptState`
can be in and every outcome it writes to the audit log; :class:`AuditEvent` is every other
row of the audit log (admin actions, enrollment, model changes). Both are ``StrEnum``: a
member *is* its string, so the values stored in the database, JSON details and comparisons
with old strings (``state == "granted"``) keep working. :func:`audit_name` is the one check
that a name written to the audit log is one of these.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # Python 3.10: the same behaviour (str(member) is its value)

    class StrEnum(str, Enum):
        def __str__(self) -> str:
            return str(self.value)


class Decision(StrEnum):
    """An unlock attempt's state (what the window shows) and outcome (what the audit log keeps)."""

    WAITING = "waiting"  # the attempt is open, nothing acquired yet (never audited)
    CHECKING = "checking"  # symbols acquired, not decided yet (never audited)
    NO_SYMBOL = "no_symbol"  # a frame without a symbol; as an outcome: nothing was acquired
    GRANTED = "granted"
    DENIED = "denied"
    LOCKED = "locked"  # refused while the profile is locked out
    CANCELLED = "cancelled"  # cancelled before anything was acquired (counts as neither)
    ABANDONED = "abandoned"  # cut short (signal, window closed, process killed): a failure
    PENDING = "pending"  # audit only: an attempt started and not finished yet


#: the outcomes an attempt ends with (``AttemptState.final``); NO_SYMBOL is also the live
#: state of a frame without a symbol, with ``final`` False
FINAL = frozenset(
    {
        Decision.GRANTED,
        Decision.DENIED,
        Decision.LOCKED,
        Decision.CANCELLED,
        Decision.NO_SYMBOL,
        Decision.ABANDONED,
    }
)
#: the outcomes that count as a failed attempt (towards a lockout)
FAILURES = frozenset({Decision.DENIED, Decision.ABANDONED})
#: the outcomes that judge the symbol shown (a match or not)
VERDICTS = frozenset({Decision.GRANTED, Decision.DENIED})
#: the states shown while an attempt runs, never written to the audit log
LIVE = frozenset({Decision.WAITING, Decision.CHECKING})
#: the attempt states written to the audit log
AUDITED = frozenset(Decision) - LIVE


class AuditEvent(StrEnum):
    """Every audit-log row that is not an unlock attempt."""

    ENROLLED = "enrolled"
    ENROLL_WEAK_OVERRIDE = "enroll_weak_override"  # an admin enrolled a symbol below the strength policy
    ENROLL_REFUSED_WEAK = "enroll_refused_weak"
    PROFILE_REMOVED = "profile_removed"
    PROFILE_IMPORTED = "profile_imported"
    PROFILE_EXPORTED = "profile_exported"
    EXPORT_REFUSED = "export_refused"  # an export asked for while the profile is locked out
    THRESHOLD_SET = "threshold_set"
    THRESHOLD_RESET = "threshold_reset"
    MODEL_SWITCHED = "model_switched"
    REEMBEDDED = "reembedded"
    SETTINGS_CHANGED = "settings_changed"
    PASSPHRASE_SET = "passphrase_set"
    PASSPHRASE_CHANGED = "passphrase_changed"
    PASSPHRASE_REMOVED = "passphrase_removed"
    PASSPHRASE_FAILED = "passphrase_failed"
    LOCKOUT_TAMPERED = "lockout_tampered"  # a lock end beyond the longest lockout was repaired
    PROFILE_INSPECTED = "profile_inspected"  # an admin compared inputs with a profile or viewed its symbol
    INSPECT_REFUSED = "inspect_refused"  # such an admin action asked for while the profile is locked out
    MODEL_ACCEPTED = "model_accepted"  # a model's contract (its thresholds) accepted for its fingerprint
    MODEL_REFUSED = "model_refused"  # a model whose contract differs from the accepted one was refused


#: every name the audit log's ``decision`` column holds, in the order a filter lists them
AUDIT_NAMES: tuple[str, ...] = tuple(d.value for d in Decision if d in AUDITED) + tuple(e.value for e in AuditEvent)


def audit_name(name) -> str:
    """``name`` as it is stored in the audit log; ValueError for a name that is neither a
    :class:`Decision` written to the audit nor an :class:`AuditEvent` (a typo never reaches
    the log)."""
    s = str(name)
    if s not in AUDIT_NAMES:
        raise ValueError(f"'{s[:40]}' is not an audit decision or event (desktop_app.core.decision)")
    return s


__all__ = [
    "AUDITED",
    "AUDIT_NAMES",
    "FAILURES",
    "FINAL",
    "LIVE",
    "VERDICTS",
    "AuditEvent",
    "Decision",
    "audit_name",
]
