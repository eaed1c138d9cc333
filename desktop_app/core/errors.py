"""The error of a database that cannot be used, below everything that raises it: the store
(core.store re-exports it with its subclasses) and the config file that says where the
database lives (core.config.ConfigError). Its message is for the user: what is wrong and
what to do."""

from __future__ import annotations


class StoreError(Exception):
    """The database (or an import file) cannot be used; the message is for the user."""
