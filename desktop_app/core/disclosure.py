"""What an unlock attempt may tell whoever stands at the camera, and what only an admin sees.

During an attempt the window and ``twinlock verify`` say only whether a symbol was found and,
at the end, the outcome: no distance, no "k of n matching" count, no frames-used count (with
k of n frames an early or late denial tells how many matched), no hint that another attempt
locked a grant out. Someone redrawing toward the line learns nothing between tries. The
distances and per-frame results are for an admin: ``twinlock test`` and the app's test mode,
``verify --debug``, calibration, and ``twinlock audit --distances``.
"""

from __future__ import annotations

import math

from .decision import VERDICTS, Decision


def locked_text(remaining_s: float) -> str:
    return f"locked out: try again in {max(1, math.ceil(remaining_s))} s"


def public_reason(st) -> str:
    """The words shown for a core AttemptState to someone who is not (yet) an admin. A
    passcode's attempt says "card" where one symbol's says "symbol" -- never a count or a
    position."""
    s = st.state
    what = "card" if getattr(st, "symbols", 1) > 1 else "symbol"
    if s == Decision.WAITING:
        return f"show your {what} to the camera"
    if s == Decision.CHECKING:
        return f"{what} found"
    if s == Decision.NO_SYMBOL:
        if not st.final:
            return f"no {what}: {st.reason}" if st.reason else f"no {what} found"
        # final only when no frame was acquired: its reason (end of input, the time limit)
        # holds no verdict
        return st.reason or f"no {what} found"
    if s == Decision.GRANTED:
        return f"the {what} matched"
    if s == Decision.LOCKED:
        return locked_text(st.lockout_remaining_s) if st.lockout_remaining_s > 0 else "locked out"
    if s == Decision.DENIED:
        text = f"the {what} was not accepted"
        if st.lockout_remaining_s > 0:
            text += f"; locked out for {max(1, math.ceil(st.lockout_remaining_s))} s"
        return text
    if s == Decision.ABANDONED:
        return "the attempt was not finished; it counts as a failure"
    if s == Decision.CANCELLED:
        return "cancelled"
    return str(s)


def public_result(st) -> dict:
    """The JSON fields of an attempt's outcome anyone may see (``verify --json``)."""
    return {
        "decision": str(st.state),
        "threshold": st.threshold,
        "k": st.k,
        "n": st.n,
        "lockout_remaining_s": round(st.lockout_remaining_s, 1),
        "attempts_left": st.attempts_left,
        "reason": public_reason(st),
    }


def admin_result(st) -> dict:
    """Everything an admin sees of an attempt's outcome (``verify --debug --json``)."""
    return {
        **public_result(st),
        "reason": st.reason,
        "best_distance": st.best_distance,
        "matches": st.matches,
        "frames_used": st.frames_used,
        "frames_seen": st.frames_seen,
    }


# the detail keys of an attempt's audit row that tell how close it came
_REVEALING_DETAIL = ("matches", "reason", "would_have_been", "symbol_changed")


def redact_audit_entry(entry) -> dict:
    """An audit row (store AuditEntry) as a dict without what tells how close an attempt came:
    no best distance, no frames-used count, and a verdict's reason replaced by its outcome."""
    d = dict(entry.__dict__)
    d["best_distance"] = None
    d.pop("snapshot", None)
    if str(d.get("decision")) in {str(x) for x in (*VERDICTS, Decision.LOCKED, Decision.ABANDONED)}:
        d["frames_used"] = None
        det = dict(d.get("detail") or {}) if isinstance(d.get("detail"), dict) else {}
        for key in _REVEALING_DETAIL:
            det.pop(key, None)
        d["detail"] = det
    return d
