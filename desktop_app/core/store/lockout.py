"""Lockout state per profile, and the clocks it is judged by.

A lockout stores its length and the boot clock (``CLOCK_BOOTTIME``) beside the wall-clock
end, so moving the wall clock never shortens it (:meth:`LockoutState.remaining`). An
attempt is counted when it starts (core.verifier), so no one needs to know whether the
process that runs it still lives; :func:`process_start` only names that process in the audit.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

_BOOT_ID: list = []


def boot_id() -> str:
    """This boot's id (Linux), "" where there is none: a lock's boot clock is valid only in it."""
    if not _BOOT_ID:
        try:
            _BOOT_ID.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        except OSError:
            _BOOT_ID.append("")
    return _BOOT_ID[0]


def boot_clock() -> float:
    """Seconds since boot, counting suspend (CLOCK_BOOTTIME): setting the wall clock moves it not."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return time.monotonic()


@dataclass
class LockoutState:
    failures: int = 0
    locked_until: float = 0.0  # wall-clock end of the lock
    lock_s: float = 0.0  # its length when it was set
    boot_id: str = ""  # the boot it was set in ...
    boot_at: float = 0.0  # ... and the boot clock then

    def remaining(self, now: float | None = None, boot_now: float | None = None) -> float:
        """Seconds of lock left: the longer of the wall-clock and the boot-clock reckoning,
        never more than the lock's own length. A wall clock set forward (or back) does not
        shorten a lock set in this boot."""
        now = time.time() if now is None else now
        wall = self.locked_until - now
        if self.lock_s <= 0:
            return max(0.0, wall)
        mono = -math.inf
        if self.boot_id and self.boot_id == boot_id():
            b = boot_clock() if boot_now is None else boot_now
            mono = self.lock_s - (b - self.boot_at)
        return max(0.0, min(self.lock_s, max(wall, mono)))


_LOCK_COLS = "failures, locked_until, lock_s, boot_id, boot_at"


MAX_FAILURES = 10**9


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _lock_from_row(row, name=None) -> LockoutState:
    """A lockout row read back, validated like an imported value: a count that is not a whole
    number from 0 up, a time that is not a finite number, or text where a number belongs is
    refused with a message (a lock is never loosened by a damaged or forged row)."""
    if not row:
        return LockoutState()
    failures, until, lock_s, boot, boot_at = row
    bad = None
    if not (_number(failures) and float(failures).is_integer() and 0 <= failures <= MAX_FAILURES):
        bad = f"a failure count of {str(failures)[:40]!r}"
    elif not (_number(until) and _number(lock_s) and lock_s >= 0 and _number(boot_at)):
        bad = "a lock time that is not a number"
    elif boot is not None and not isinstance(boot, str):
        bad = "a boot id that is not text"
    if bad is not None:
        from .errors import StoreError
        from .text import printable

        who = "the admin passphrase" if name == "*admin passphrase*" else f"profile '{printable(name)[:80]}'"
        raise StoreError(
            f"The lockout state of {who} in the database is damaged or was tampered with ({bad}). "
            "Nothing was decided or changed. Restore the database from a backup, or remove the "
            "profile and enroll it again."
        )
    return LockoutState(int(failures), float(until), float(lock_s), str(boot or ""), float(boot_at))


def process_start(pid: int | None = None) -> str:
    """The start time of process ``pid`` (Linux /proc; "" elsewhere): with the pid it names
    one process, so a reused pid is not taken for the process that started an attempt."""
    try:
        stat_line = Path(f"/proc/{os.getpid() if pid is None else int(pid)}/stat").read_text()
        return stat_line.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return ""


class Lockouts:
    """The lockout table. The ``*_in`` methods work inside a transaction the caller holds open
    (its connection ``con``); the others open their own."""

    def __init__(self, db, audit_log):
        self.db, self.audit_log = db, audit_log

    def lockout(self, name) -> LockoutState:
        rows = self.db.query(f"SELECT {_LOCK_COLS} FROM lockout WHERE profile = ?", (name,))
        return _lock_from_row(rows[0] if rows else None, name)

    def lockout_in(self, con, name) -> LockoutState:
        return _lock_from_row(
            con.execute(f"SELECT {_LOCK_COLS} FROM lockout WHERE profile = ?", (name,)).fetchone(), name
        )

    def set_lockout(self, name, state: LockoutState) -> None:
        with self.db.write() as con:
            self.set_lockout_in(con, name, state)

    def set_lockout_in(self, con, name, state: LockoutState) -> None:
        con.execute(
            "INSERT INTO lockout(profile, failures, locked_until, lock_s, boot_id, boot_at) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(profile) DO UPDATE SET failures = excluded.failures, "
            "locked_until = excluded.locked_until, lock_s = excluded.lock_s, "
            "boot_id = excluded.boot_id, boot_at = excluded.boot_at",
            (
                name,
                int(state.failures),
                float(state.locked_until),
                float(state.lock_s),
                str(state.boot_id or ""),
                float(state.boot_at),
            ),
        )

    def delete_in(self, con, name) -> None:
        """Forget the lockout state of ``name`` (its profile is being removed)."""
        con.execute("DELETE FROM lockout WHERE profile = ?", (name,))

    def record_outcome(self, name, state, **log) -> tuple[int, LockoutState]:
        """Write a finished attempt's audit entry and the new lockout state in one transaction.

        ``state`` is the new :class:`LockoutState`, or a function old -> new evaluated inside
        the transaction (so two processes verifying at once cannot lose a failure).
        Returns (audit id, the lockout state written)."""
        with self.db.write() as con:
            if callable(state):
                state = state(self.lockout_in(con, name))
            self.set_lockout_in(con, name, state)
            return self.audit_log.log_in(con, name, **log), state
