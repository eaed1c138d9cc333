"""The enrollment and audit store: one SQLite database in the user data folder.

Profiles (name, created, threshold, policy), their reference images (the 28x28 model
image and the original crop, both PNG) with embeddings and the fingerprint of the model
that made them, app settings (JSON values), the audit log, and per-profile lockout state.
:class:`Store` is one connection (:mod:`.database`) with one mixin per table:

- :mod:`.safety`      whether a database file may be trusted (links, owner, modes), before opening
- :mod:`.open_files`  whether a file a reader was given is an open database's (refused before it is read)
- :mod:`.schema`      the schema version, migrations, the read-only check of an existing file
- :mod:`.profiles`    profiles and the profile-name rule
- :mod:`.references`  reference images and embeddings; re-embedding for another model
- :mod:`.settings`    the settings table
- :mod:`.audit`       the audit log (attempts and admin actions), retention
- :mod:`.lockout`     lockout state and the boot clock
- :mod:`.profile_file` the profile export/import file format
- :mod:`.codec`, :mod:`.errors`, :mod:`.text`  PNG blobs; the errors, whose messages are for
  the user; text from the database made safe to print (``printable``)

Every public name is importable from here (``from desktop_app.core.store import Store``).
"""

from __future__ import annotations

from .audit import CLOCK_SKEW_S, AuditEntry, AuditMixin
from .database import Database, Tx
from .errors import InvalidProfileName, ProfileExists, ProfileNotFound, StoreError
from .lockout import LockoutMixin, LockoutState, boot_clock, boot_id, process_start
from .open_files import is_open_database_file, open_database_file, refuse_if_open_database
from .profile_file import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    MAX_EMBEDDING_DIM,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_REFERENCES,
    MIN_EMBEDDING_DIM,
    ProfileFileMixin,
)
from .profiles import Profile, ProfilesMixin, validate_profile_name, validate_symbols
from .references import Reference, ReferencesMixin
from .safety import UnsafeDatabase, check_database_safe
from .schema import APP_ID, MAX_SYMBOLS, MIGRATIONS, SCHEMA_VERSION
from .settings import SettingsMixin
from .text import printable


class Store(ProfilesMixin, ReferencesMixin, SettingsMixin, AuditMixin, LockoutMixin, ProfileFileMixin, Database):
    """The twinlock database. Thread-safe (one connection behind a lock). ``Store(path)``
    opens (or creates, mode 0600) the file; ``Store(path, create=False)`` refuses a missing one."""


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
    "AuditEntry",
    "InvalidProfileName",
    "LockoutState",
    "Profile",
    "ProfileExists",
    "ProfileNotFound",
    "Reference",
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
