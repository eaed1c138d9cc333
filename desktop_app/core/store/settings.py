"""The settings table: app settings as JSON values (what they mean: ``core/settings.py``)."""

from __future__ import annotations

import json


class AppSettings:
    """The settings table."""

    def __init__(self, db):
        self.db = db

    def get_setting(self, key, default=None):
        rows = self.db.query("SELECT value FROM settings WHERE key = ?", (key,))
        if not rows:
            return default
        try:
            return json.loads(rows[0][0])
        except ValueError:
            return default

    def get_setting_in(self, con, key, default=None):
        """The setting ``key`` read inside the caller's open transaction (``con``); ``default``
        when it is unset or not JSON."""
        row = con.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        try:
            return json.loads(row[0])
        except (ValueError, TypeError):
            return default

    def set_setting(self, key, value) -> None:
        data = json.dumps(value)
        with self.db.write() as con:
            con.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, data),
            )

    def delete_setting(self, key) -> None:
        with self.db.write() as con:
            con.execute("DELETE FROM settings WHERE key = ?", (key,))

    def settings(self) -> dict:
        out = {}
        for k, v in self.db.query("SELECT key, value FROM settings ORDER BY key"):
            try:
                out[k] = json.loads(v)
            except ValueError:
                pass
        return out
