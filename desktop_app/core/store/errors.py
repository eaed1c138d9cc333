"""The store's errors: every message is for the user (what is wrong, what to do)."""

from __future__ import annotations

from ..errors import StoreError  # defined below the config file, which raises it too


class ProfileNotFound(StoreError):
    pass


class ProfileExists(StoreError):
    pass


class InvalidProfileName(StoreError):
    pass
