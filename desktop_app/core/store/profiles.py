"""Profiles: a name, when it was created, an optional threshold and policy, and how many
symbols it holds (1: one symbol, as always; 2-4: a passcode read left to right on one card)."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

import numpy as np

from ..decision import AuditEvent
from ..policy import check_profile_values
from .errors import InvalidProfileName, ProfileExists, ProfileNotFound, StoreError
from .schema import MAX_SYMBOLS
from .text import printable

_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _.\-]{0,63}$")


def validate_profile_name(name) -> str:
    """A safe profile name: 1-64 letters, digits, space, '_', '-', '.'; returns it stripped."""
    if not isinstance(name, str):
        raise InvalidProfileName("A profile name must be text.")
    n = name.strip()
    if not n:
        raise InvalidProfileName("A profile name cannot be empty.")
    if len(n) > 64:
        raise InvalidProfileName(f"The profile name is {len(n)} characters long; use at most 64.")
    if ".." in n or not _NAME_RE.match(n):
        raise InvalidProfileName(
            f"'{printable(name)[:80]}' is not a valid profile name: use letters, digits, spaces, '_', '-' and '.', "
            "starting with a letter, digit or '_' (no '/', '\\' or '..')."
        )
    return n


def validate_symbols(symbols) -> int:
    """How many symbols a profile holds: a whole number from 1 to MAX_SYMBOLS (ValueError)."""
    if isinstance(symbols, bool) or not isinstance(symbols, (int, np.integer)) or not 1 <= symbols <= MAX_SYMBOLS:
        raise ValueError(f"a profile holds 1 to {MAX_SYMBOLS} symbols, not {repr(symbols)[:20]}")
    return int(symbols)


@dataclass
class Profile:
    name: str
    created: float
    threshold: float | None
    policy: dict
    n_references: int
    fingerprints: list = field(default_factory=list)
    symbols: int = 1  # 1: one symbol; 2-4: a passcode (positions 0..symbols-1, read left to right)
    references_per_position: tuple = ()  # how many references each position holds

    @property
    def is_passcode(self) -> bool:
        return self.symbols > 1


class Profiles:
    """The profiles table. The ``*_in`` methods work inside a transaction the caller holds open
    (its connection ``con``); the others open their own."""

    def __init__(self, db, audit_log, lockouts):
        self.db, self.audit_log, self.lockouts = db, audit_log, lockouts

    def _profile_row(self, name):
        rows = self.db.query(
            "SELECT id, name, created, threshold, policy, symbols FROM profiles WHERE name = ?", (name,)
        )
        if not rows:
            raise ProfileNotFound(
                f"There is no profile '{printable(name)[:80]}'. 'twinlock profiles list' shows the profiles there are."
            )
        return rows[0]

    def _make_profile(self, row) -> Profile:
        pid, name, created, threshold, policy, symbols = row
        n = self.db.query("SELECT COUNT(*) FROM refs WHERE profile_id = ?", (pid,))[0][0]
        try:
            symbols = validate_symbols(symbols)
        except ValueError:
            raise self._damaged_profile(name, f"a symbol count of {str(symbols)[:40]!r}") from None
        per = dict(self.db.query("SELECT position, COUNT(*) FROM refs WHERE profile_id = ? GROUP BY position", (pid,)))
        if any(not isinstance(k, int) or not 0 <= k < symbols for k in per):
            raise self._damaged_profile(name, "a reference of a position the profile does not have")
        fps = [r[0] for r in self.db.query("SELECT DISTINCT fingerprint FROM refs WHERE profile_id = ?", (pid,))]
        # values read back are validated like imported ones: a damaged or forged row is refused
        if threshold is not None and not (
            isinstance(threshold, (int, float))
            and not isinstance(threshold, bool)
            and np.isfinite(threshold)
            and threshold > 0
        ):
            raise self._damaged_profile(name, f"a threshold of {str(threshold)[:40]!r}")
        try:
            pol = json.loads(policy or "{}")
        except (ValueError, TypeError):
            pol = None
        if not isinstance(pol, dict):
            raise self._damaged_profile(name, "a policy that is not a JSON object")
        try:
            created = float(created)
        except (TypeError, ValueError):
            raise self._damaged_profile(name, "a creation time that is not a number") from None
        return Profile(
            name,
            created,
            None if threshold is None else float(threshold),
            pol,
            int(n),
            fps,
            symbols,
            tuple(int(per.get(i, 0)) for i in range(symbols)),
        )

    def _damaged_profile(self, name, what: str) -> StoreError:
        return StoreError(
            f"Profile '{printable(name)[:80]}' holds {what} in the database {self.db.path}: the row is "
            "damaged or was edited by hand. Nothing was used or changed. Restore the database from "
            f"a backup, or remove the profile ('twinlock profiles remove {printable(name)[:80]}', "
            "admin) and enroll it again."
        )

    def create_profile(self, name, threshold=None, policy=None, symbols: int = 1) -> Profile:
        name = validate_profile_name(name)
        symbols = validate_symbols(symbols)
        with self.db.write() as con:
            self.insert_in(con, name, threshold, policy, symbols=symbols)
        return self.get_profile(name)

    def insert_in(self, con, name, threshold=None, policy=None, created=None, symbols: int = 1) -> int:
        """Add the profile ``name`` (ProfileExists if there is one); returns its id."""
        if con.execute("SELECT 1 FROM profiles WHERE name = ?", (name,)).fetchone():
            raise ProfileExists(f"A profile named '{name}' already exists. Choose another name, or remove it first.")
        cur = con.execute(
            "INSERT INTO profiles(name, created, threshold, policy, symbols) VALUES (?, ?, ?, ?, ?)",
            (
                name,
                time.time() if created is None else float(created),
                None if threshold is None else float(threshold),
                json.dumps(policy or {}),
                validate_symbols(symbols),
            ),
        )
        return int(cur.lastrowid)

    def lookup_in(self, con, name) -> tuple[int, int] | None:
        """(id, symbols) of the profile ``name``, None when there is none."""
        row = con.execute("SELECT id, symbols FROM profiles WHERE name = ?", (name,)).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def delete_in(self, con, name) -> None:
        """Delete the profile ``name`` and (by the schema's cascade) its references."""
        con.execute("DELETE FROM profiles WHERE name = ?", (name,))

    def id_and_symbols(self, name) -> tuple[int, int]:
        """(id, symbols) of the profile ``name``; ProfileNotFound when there is none."""
        row = self._profile_row(name)
        return int(row[0]), int(row[5])

    def list_profiles(self) -> list[Profile]:
        rows = self.db.query("SELECT id, name, created, threshold, policy, symbols FROM profiles ORDER BY name")
        return [self._make_profile(r) for r in rows]

    def get_profile(self, name) -> Profile:
        return self._make_profile(self._profile_row(name))

    def has_profile(self, name) -> bool:
        return bool(self.db.query("SELECT 1 FROM profiles WHERE name = ?", (name,)))

    def remove_profile(self, name) -> None:
        self._profile_row(name)
        with self.db.write() as con:
            self.delete_in(con, name)
            self.lockouts.delete_in(con, name)
            self.audit_log.log_in(con, name, AuditEvent.PROFILE_REMOVED)

    def set_threshold(self, name, threshold, audit=None, detail: dict | None = None):
        """Set (None: reset) the profile's threshold. With ``audit`` (an AuditEvent) its audit
        row -- ``detail`` plus the threshold it replaced ("old") -- is written in the SAME
        transaction: a threshold never changes without its row. Returns the old threshold."""
        if threshold is not None:
            threshold = float(threshold)
            if not np.isfinite(threshold) or threshold <= 0:
                raise ValueError("a threshold must be a positive number")
        self._profile_row(name)
        with self.db.write() as con:
            row = con.execute("SELECT threshold FROM profiles WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise ProfileNotFound(f"There is no profile '{printable(name)[:80]}'.")
            old = row[0]
            con.execute("UPDATE profiles SET threshold = ? WHERE name = ?", (threshold, name))
            if audit is not None:
                self.audit_log.log_in(con, name, audit, threshold=threshold, detail={**(detail or {}), "old": old})
        return old

    def set_policy(self, name, policy: dict) -> None:
        try:
            check_profile_values(None, policy or {})
        except (ValueError, TypeError) as exc:
            raise ValueError(f"a profile policy out of bounds: {exc}") from None
        self._profile_row(name)
        with self.db.write() as con:
            con.execute("UPDATE profiles SET policy = ? WHERE name = ?", (json.dumps(policy or {}), name))
