"""The database file: the schema, its migrations, and the checks made before a file is opened.

``PRAGMA user_version`` is the schema version; :data:`MIGRATIONS` bring older files up,
each step inside one transaction. A file that is not a twinlock database, is damaged, or
comes from a newer twinlock raises :class:`StoreError` and is never modified: it is
checked read-only (:func:`check_existing`) before it is opened for writing.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from .errors import StoreError

SCHEMA_VERSION = 4
MAX_SYMBOLS = 4  # a passcode holds 1-4 symbols
APP_ID = "twinlock"


def _run_script(con: sqlite3.Connection, script: str) -> None:
    """Statements one by one (``executescript`` would COMMIT the surrounding transaction)."""
    for stmt in script.split(";"):
        if stmt.strip():
            con.execute(stmt)


def _migrate_1(con: sqlite3.Connection) -> None:
    _run_script(
        con,
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE profiles (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created REAL NOT NULL,
            threshold REAL,
            policy TEXT NOT NULL DEFAULT '{}');
        CREATE TABLE refs (
            id INTEGER PRIMARY KEY,
            profile_id INTEGER NOT NULL REFERENCES profiles(id) ON DELETE CASCADE,
            image BLOB NOT NULL,
            crop BLOB,
            embedding BLOB NOT NULL,
            dim INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            created REAL NOT NULL);
        CREATE INDEX refs_profile ON refs(profile_id);
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            profile TEXT,
            decision TEXT NOT NULL,
            best_distance REAL,
            threshold REAL,
            frames_used INTEGER NOT NULL DEFAULT 0,
            fingerprint TEXT NOT NULL DEFAULT '',
            provider TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '{}',
            snapshot BLOB);
        CREATE INDEX audit_time ON audit(time);
        CREATE INDEX audit_profile ON audit(profile, time);
        CREATE TABLE lockout (
            profile TEXT PRIMARY KEY,
            failures INTEGER NOT NULL DEFAULT 0,
            locked_until REAL NOT NULL DEFAULT 0);
    """,
    )
    con.execute("INSERT INTO meta(key, value) VALUES ('app', ?)", (APP_ID,))


def _migrate_2(con: sqlite3.Connection) -> None:
    _run_script(
        con,
        """
        ALTER TABLE lockout ADD COLUMN lock_s REAL NOT NULL DEFAULT 0;
        ALTER TABLE lockout ADD COLUMN boot_id TEXT NOT NULL DEFAULT '';
        ALTER TABLE lockout ADD COLUMN boot_at REAL NOT NULL DEFAULT 0;
        CREATE INDEX audit_decision ON audit(decision, profile)
    """,
    )


def _migrate_3(con: sqlite3.Connection) -> None:
    _run_script(
        con,
        """
        ALTER TABLE audit ADD COLUMN boot TEXT NOT NULL DEFAULT '';
        ALTER TABLE audit ADD COLUMN boot_at REAL NOT NULL DEFAULT 0
    """,
    )


def _migrate_4(con: sqlite3.Connection) -> None:
    """Passcodes: a profile holds 1-4 symbols in order, each reference belongs to one position
    (0 = the first symbol). Every existing profile becomes a one-symbol profile, unchanged."""
    _run_script(
        con,
        """
        ALTER TABLE profiles ADD COLUMN symbols INTEGER NOT NULL DEFAULT 1;
        ALTER TABLE refs ADD COLUMN position INTEGER NOT NULL DEFAULT 0
    """,
    )


# MIGRATIONS[v] brings a database from schema version v to v + 1 (inside one transaction)
MIGRATIONS = {0: _migrate_1, 1: _migrate_2, 2: _migrate_3, 3: _migrate_4}


def bad_database(path, why: str) -> StoreError:
    """The error for a file twinlock will not use: what is wrong (``why``) and what to do."""
    return StoreError(
        f"The database {path} {why}. twinlock did not change it. Move it away "
        "(or restore a backup) and run again to start a new one, or pass --db "
        "to use another file."
    )


def check_existing(path: Path) -> None:
    """An existing file checked read-only before it is opened for writing: an SQLite file of
    twinlock's, sound, of a schema this twinlock knows, writable. Called only before this
    process connects to the file (core.store.database): the header read here closes its
    descriptor while no SQLite lock of ours exists."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(100)
    except OSError as exc:
        raise StoreError(f"The database {path} cannot be read ({exc.strerror}). Check its permissions.") from None
    if head[:16] != b"SQLite format 3\x00":
        raise bad_database(path, "is not an SQLite database (it may be damaged or another kind of file)")
    _check_writable(path)
    # A read-only connection to a WAL file creates -wal and -shm beside it and leaves them.
    # When no -wal exists no one has the file open (the last connection deletes it), so
    # it is read as immutable: a refused file gets nothing beside it.
    wal = len(head) >= 20 and (head[18] == 2 or head[19] == 2)
    quiet = wal and not os.path.exists(str(path) + "-wal")
    try:
        uri = Path(os.path.realpath(path)).as_uri() + ("?mode=ro&immutable=1" if quiet else "?mode=ro")
        con = sqlite3.connect(uri, uri=True, timeout=10.0)
    except sqlite3.Error as exc:
        raise bad_database(path, f"cannot be opened ({exc})") from None
    try:
        ok = con.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise bad_database(path, f"is damaged (integrity check: {ok})")
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The database {path} was written by a newer twinlock (schema "
                f"{version}, this one knows {SCHEMA_VERSION}). Update twinlock; the "
                "file was not changed."
            )
        if tables:
            app = None
            if "meta" in tables:
                row = con.execute("SELECT value FROM meta WHERE key='app'").fetchone()
                app = row[0] if row else None
            if app != APP_ID:
                raise bad_database(path, "is an SQLite database of another program, not twinlock's")
    except sqlite3.DatabaseError as exc:
        raise bad_database(path, f"is damaged ({exc})") from None
    except UnicodeDecodeError:
        raise bad_database(path, "is damaged (its schema holds text that cannot be decoded)") from None
    finally:
        con.close()


def _check_writable(path: Path) -> None:
    """A file or folder twinlock may not write: said so (never "damaged"), before SQLite
    is asked to open it -- every attempt writes (its count, its audit row)."""
    folder = os.path.dirname(os.path.realpath(path)) or "."
    if os.access(path, os.W_OK) and os.access(folder, os.W_OK | os.X_OK):
        return
    what = f"the file {path}" if not os.access(path, os.W_OK) else f"its folder {folder}"
    raise StoreError(
        f"The database {path} is read-only for you ({what} cannot be written): twinlock "
        "records every attempt and its count there, so it uses no database it cannot write. "
        f"Nothing was changed. Make it writable (chmod u+w '{path}' '{folder}'), or pass "
        "--db with a database of your own."
    )


def migrate(con: sqlite3.Connection, write) -> None:
    """Bring the file's schema up to :data:`SCHEMA_VERSION`, each step in one transaction
    (``write()``: the connection's ``BEGIN IMMEDIATE`` ... ``COMMIT``)."""
    version = con.execute("PRAGMA user_version").fetchone()[0]
    while version < SCHEMA_VERSION:
        step = MIGRATIONS[version]
        with write():
            # re-read inside the write lock: another process may have migrated meanwhile
            version = con.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                break
            step(con)
            version += 1
            con.execute(f"PRAGMA user_version = {int(version)}")
