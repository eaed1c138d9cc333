"""The settings table: app settings as JSON values (what they mean: ``core/settings.py``)."""

from __future__ import annotations

import json


class SettingsMixin:
    """The settings table."""

    def get_setting(self, key, default=None):
        rows = self._q("SELECT value FROM settings WHERE key = ?", (key,))
        if not rows:
            return default
        try:
            return json.loads(rows[0][0])
        except ValueError:
            return default

    def set_setting(self, key, value) -> None:
        data = json.dumps(value)
        with self._tx() as con:
            con.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, data),
            )

    def delete_setting(self, key) -> None:
        with self._tx() as con:
            con.execute("DELETE FROM settings WHERE key = ?", (key,))

    def settings(self) -> dict:
        out = {}
        for k, v in self._q("SELECT key, value FROM settings ORDER BY key"):
            try:
                out[k] = json.loads(v)
            except ValueError:
                pass
        return out
