"""The enrollment and audit store: one SQLite database in the user data folder.

:class:`Store` composes one object per table on this process's one connection to the file
and re-exports every public name (``from desktop_app.core.store import Store``); its
tables and modules are mapped in docs/design.md.
"""

from __future__ import annotations

from contextlib import contextmanager

from .audit import CLOCK_SKEW_S, AuditEntry, AuditLog
from .database import Database, Tx
from .errors import InvalidProfileName, ProfileExists, ProfileNotFound, StoreError
from .lockout import LockoutState, Lockouts, boot_clock, boot_id, process_start
from .open_files import is_open_database_file, open_database_file, refuse_if_open_database
from .profile_file import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    MAX_EMBEDDING_DIM,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_REFERENCES,
    MIN_EMBEDDING_DIM,
    ProfileFiles,
)
from .profiles import Profile, Profiles, validate_profile_name, validate_symbols
from .references import Reference, References
from .safety import UnsafeDatabase, check_database_safe
from .schema import APP_ID, MAX_SYMBOLS, MIGRATIONS, SCHEMA_VERSION
from .settings import AppSettings
from .text import printable


class _Table:
    """A :class:`Store` method that is a table object's: ``get_profile = _Table("profiles")``
    makes ``store.get_profile`` the bound method ``store.profiles.get_profile``."""

    def __init__(self, table: str):
        self.table = table

    def __set_name__(self, owner, name: str):
        self.name = name

    def __get__(self, store, owner=None):
        if store is None:
            return self
        return getattr(getattr(store, self.table), self.name)


class Store(Database):
    """The twinlock database. Thread-safe (one connection behind a lock). ``Store(path)``
    opens (or creates, mode 0600) the file; ``Store(path, create=False)`` refuses a missing one.

    A handle on the connection (:class:`Database`) with one object per table, each built on
    it and given the tables it writes with: ``profiles``, ``refs``, ``app_settings``,
    ``audit_log``, ``lockouts``, and ``profile_files`` (the export/import format). The
    methods the app, the CLI and the core call (``store.create_profile``, ``store.audit``,
    ``store.lockout`` ...) are those objects' methods, named below."""

    def __init__(self, path=None, create: bool = True):
        super().__init__(path, create)
        self.app_settings = AppSettings(self)
        self.audit_log = AuditLog(self, self.app_settings)
        self.lockouts = Lockouts(self, self.audit_log)
        self.profiles = Profiles(self, self.audit_log, self.lockouts)
        self.refs = References(self, self.profiles, self.audit_log)
        self.profile_files = ProfileFiles(
            self, self.profiles, self.refs, self.lockouts, self.audit_log, self.app_settings
        )

    @contextmanager
    def transaction(self):
        """One ``BEGIN IMMEDIATE`` transaction for the verifier's check-and-count steps."""
        with self.write() as con:
            yield Tx(con, self.lockouts, self.audit_log)

    create_profile = _Table("profiles")
    list_profiles = _Table("profiles")
    get_profile = _Table("profiles")
    has_profile = _Table("profiles")
    remove_profile = _Table("profiles")
    set_threshold = _Table("profiles")
    set_policy = _Table("profiles")

    add_references = _Table("refs")
    references = _Table("refs")
    reference_embeddings = _Table("refs")
    position_embeddings = _Table("refs")
    remove_reference = _Table("refs")
    check_references = _Table("refs")
    stale_references = _Table("refs")
    reembed_all = _Table("refs")

    get_setting = _Table("app_settings")
    set_setting = _Table("app_settings")
    delete_setting = _Table("app_settings")
    settings = _Table("app_settings")

    log_attempt = _Table("audit_log")
    audit = _Table("audit_log")
    audit_snapshot = _Table("audit_log")

    lockout = _Table("lockouts")
    set_lockout = _Table("lockouts")
    record_outcome = _Table("lockouts")

    export_profile = _Table("profile_files")
    import_profile = _Table("profile_files")


__all__ = [
    "APP_ID",
    "CLOCK_SKEW_S",
    "EXPORT_FORMAT",
    "EXPORT_VERSION",
    "MAX_EMBEDDING_DIM",
    "MAX_IMPORT_BYTES",
    "MAX_IMPORT_REFERENCES",
    "MAX_SYMBOLS",
    "MIGRATIONS",
    "MIN_EMBEDDING_DIM",
    "SCHEMA_VERSION",
    "AppSettings",
    "AuditEntry",
    "AuditLog",
    "InvalidProfileName",
    "LockoutState",
    "Lockouts",
    "Profile",
    "ProfileExists",
    "ProfileFiles",
    "ProfileNotFound",
    "Profiles",
    "Reference",
    "References",
    "Store",
    "StoreError",
    "Tx",
    "UnsafeDatabase",
    "boot_clock",
    "boot_id",
    "check_database_safe",
    "is_open_database_file",
    "open_database_file",
    "printable",
    "process_start",
    "refuse_if_open_database",
    "validate_profile_name",
    "validate_symbols",
]
