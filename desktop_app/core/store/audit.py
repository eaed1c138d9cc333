"""The audit log: every attempt (written "pending" when it starts, finished in place) and
every admin action. Names come from :mod:`desktop_app.core.decision` (:func:`audit_name`);
a time that disagrees with the boot clock is flagged; the newest ``audit_retention_rows``
rows / ``audit_retention_days`` days are kept when those settings are set (applied on
every write)."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass

import numpy as np

from ..decision import Decision, audit_name
from .codec import _png, _unpng
from .lockout import boot_clock, boot_id
from .profiles import validate_profile_name

CLOCK_SKEW_S = 120.0  # an audit time this far off the boot clock's reckoning is flagged


@dataclass
class AuditEntry:
    id: int
    time: float
    profile: str | None
    decision: str
    best_distance: float | None
    threshold: float | None
    frames_used: int
    fingerprint: str
    provider: str
    detail: dict
    has_snapshot: bool


class AuditLog:
    """The audit table. The ``*_in`` methods write inside a transaction the caller holds open
    (its connection ``con``); the others open their own."""

    def __init__(self, db, app_settings):
        self.db, self.app_settings = db, app_settings

    def log_in(
        self,
        con,
        profile,
        decision,
        best_distance=None,
        threshold=None,
        frames_used=0,
        fingerprint="",
        provider="",
        detail=None,
        snapshot=None,
    ) -> int:
        if profile is not None:  # a name that is not a profile's never reaches the log
            profile = validate_profile_name(profile)
        now, boot, boot_at = time.time(), boot_id(), boot_clock()
        detail = dict(detail or {})
        if boot:
            # the wall time is written as it is, but one that disagrees with the boot clock's
            # reckoning from the previous row of this boot (a clock moved, a forged time) is flagged
            prev = con.execute(
                "SELECT time, boot_at FROM audit WHERE boot = ? ORDER BY id DESC LIMIT 1", (boot,)
            ).fetchone()
            if prev is not None:
                skew = now - (float(prev[0]) + (boot_at - float(prev[1])))
                if abs(skew) > CLOCK_SKEW_S:
                    detail["clock_skew_s"] = round(skew, 1)
        cur = con.execute(
            "INSERT INTO audit(time, profile, decision, best_distance, threshold, frames_used, "
            "fingerprint, provider, detail, snapshot, boot, boot_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                now,
                profile,
                audit_name(decision),
                None if best_distance is None else float(best_distance),
                None if threshold is None else float(threshold),
                int(frames_used),
                fingerprint or "",
                provider or "",
                json.dumps(detail, default=str),
                _png(snapshot),
                boot,
                boot_at,
            ),
        )
        self._apply_retention(con)
        return int(cur.lastrowid)

    def finish_in(
        self,
        con,
        entry_id,
        decision,
        best_distance=None,
        threshold=None,
        frames_used=0,
        fingerprint="",
        provider="",
        detail=None,
        snapshot=None,
    ) -> int:
        """Turn a "pending" row into the attempt's outcome (a new row if it is gone). A flag the
        pending row got when it was written (``clock_skew_s``) is kept."""
        row = con.execute("SELECT detail FROM audit WHERE id = ?", (int(entry_id),)).fetchone()
        try:
            kept = json.loads(row[0]) if row else {}
        except (ValueError, TypeError):
            kept = {}
        if isinstance(kept, dict) and "clock_skew_s" in kept:
            detail = {"clock_skew_s": kept["clock_skew_s"], **(detail or {})}
        cur = con.execute(
            "UPDATE audit SET decision = ?, best_distance = ?, threshold = ?, frames_used = ?, "
            "fingerprint = ?, provider = ?, detail = ?, snapshot = ? WHERE id = ? AND decision = ?",
            (
                audit_name(decision),
                None if best_distance is None else float(best_distance),
                None if threshold is None else float(threshold),
                int(frames_used),
                fingerprint or "",
                provider or "",
                json.dumps(detail or {}, default=str),
                _png(snapshot),
                int(entry_id),
                Decision.PENDING,
            ),
        )
        if cur.rowcount == 1:
            return int(entry_id)
        return self.log_in(
            con,
            None if entry_id is None else self._row_profile(con, entry_id),
            decision,
            best_distance,
            threshold,
            frames_used,
            fingerprint,
            provider,
            detail,
            snapshot,
        )

    def decision_in(self, con, entry_id) -> str | None:
        """The decision an audit row holds now (None: no such row)."""
        row = con.execute("SELECT decision FROM audit WHERE id = ?", (int(entry_id),)).fetchone()
        return None if row is None else str(row[0])

    def pending_in(self, con, name) -> list[tuple[int, float, dict]]:
        """(id, time, detail) of every attempt of ``name`` still "pending"."""
        rows = con.execute(
            "SELECT id, time, detail FROM audit WHERE decision = ? AND profile = ?", (Decision.PENDING, name)
        ).fetchall()
        out = []
        for rid, t, d in rows:
            try:
                detail = json.loads(d or "{}")
            except ValueError:
                detail = {}
            out.append((int(rid), float(t), detail if isinstance(detail, dict) else {}))
        return out

    def _row_profile(self, con, entry_id):
        row = con.execute("SELECT profile FROM audit WHERE id = ?", (int(entry_id),)).fetchone()
        return row[0] if row else None

    def _apply_retention(self, con) -> None:
        """Keep the newest ``audit_retention_rows`` rows and ``audit_retention_days`` days (settings;
        unset or 0 = keep everything). Pending attempts are never pruned."""
        vals = {}
        for key in ("audit_retention_rows", "audit_retention_days"):
            try:
                v = float(self.app_settings.get_setting_in(con, key, 0.0))
            except (ValueError, TypeError):
                v = 0.0
            vals[key] = v if math.isfinite(v) and v > 0 else 0.0
        if vals["audit_retention_days"]:
            con.execute(
                "DELETE FROM audit WHERE time < ? AND decision != ?",
                (time.time() - vals["audit_retention_days"] * 86400.0, Decision.PENDING),
            )
        if vals["audit_retention_rows"]:
            keep = int(vals["audit_retention_rows"])
            con.execute(
                "DELETE FROM audit WHERE decision != ? AND id <= (SELECT id FROM audit ORDER BY id "
                "DESC LIMIT 1 OFFSET ?)",
                (Decision.PENDING, keep),
            )

    def log_attempt(
        self,
        profile,
        decision,
        best_distance=None,
        threshold=None,
        frames_used=0,
        fingerprint="",
        provider="",
        detail=None,
        snapshot=None,
    ) -> int:
        with self.db.write() as con:
            return self.log_in(
                con, profile, decision, best_distance, threshold, frames_used, fingerprint, provider, detail, snapshot
            )

    def audit(self, profile=None, decision=None, limit=200, since=None) -> list[AuditEntry]:
        where, args = [], []
        if profile is not None:
            where.append("profile = ?")
            args.append(profile)
        if decision is not None:
            ds = [decision] if isinstance(decision, str) else list(decision)
            where.append(f"decision IN ({','.join('?' * len(ds))})")
            args.extend(ds)
        if since is not None:
            where.append("time >= ?")
            args.append(float(since))
        sql = (
            "SELECT id, time, profile, decision, best_distance, threshold, frames_used, fingerprint, "
            "provider, detail, snapshot IS NOT NULL FROM audit"
        )
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        out = []
        for r in self.db.query(sql, args):
            try:
                detail = json.loads(r[9] or "{}")
            except (ValueError, TypeError):
                detail = {"damaged": ["detail"]}
            if not isinstance(detail, dict):
                detail = {"damaged": ["detail"]}
            # every value read back is checked: one that is not what its column holds is shown
            # as missing and named in detail["damaged"], never passed on (nor a traceback)
            vals, damaged = {}, []
            for key, v, kind in (
                ("time", r[1], "number"),
                ("best_distance", r[4], "number?"),
                ("threshold", r[5], "number?"),
                ("frames_used", r[6], "count"),
            ):
                ok = (v is None and kind.endswith("?")) or (
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                )
                if ok and kind == "count":
                    ok = float(v).is_integer() and v >= 0
                if not ok:
                    damaged.append(key)
                    v = 0 if kind in ("number", "count") else None
                vals[key] = v
            if damaged:
                detail = {**detail, "damaged": [*detail.get("damaged", []), *damaged]}
            texts = [x if isinstance(x, str) or x is None else str(x) for x in (r[2], r[3], r[7], r[8])]
            out.append(
                AuditEntry(
                    int(r[0]),
                    float(vals["time"]),
                    texts[0],
                    texts[1] or "",
                    None if vals["best_distance"] is None else float(vals["best_distance"]),
                    None if vals["threshold"] is None else float(vals["threshold"]),
                    int(vals["frames_used"]),
                    texts[2] or "",
                    texts[3] or "",
                    detail,
                    bool(r[10]),
                )
            )
        return out

    def audit_snapshot(self, entry_id) -> np.ndarray | None:
        rows = self.db.query("SELECT snapshot FROM audit WHERE id = ?", (int(entry_id),))
        return _unpng(rows[0][0]) if rows and rows[0][0] is not None else None
