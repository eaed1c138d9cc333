"""The store's errors: every message is for the user (what is wrong, what to do)."""

from __future__ import annotations


class StoreError(Exception):
    """The database (or an import file) cannot be used; the message is for the user."""


class ProfileNotFound(StoreError):
    pass


class ProfileExists(StoreError):
    pass


class InvalidProfileName(StoreError):
    pass
