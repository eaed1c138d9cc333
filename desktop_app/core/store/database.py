"""The connection (one per file per process, shared by every handle): opening the file (mode 0600, WAL, ``synchronous=FULL``, a busy timeout so
the CLI and the app can share it), transactions, queries, and SQLite errors in words.

Checking the lockout and counting a failure happen in one ``BEGIN IMMEDIATE`` transaction
(``Store.transaction``, a :class:`Tx`), so concurrent attempts serialise on the counter.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import threading
from contextlib import contextmanager
from pathlib import Path

from ..paths import database_path, make_private_dirs
from . import schema
from .errors import StoreError
from .safety import check_database_safe
from .lockout import LockoutState


class Tx:
    """The lockout and audit operations of one open ``BEGIN IMMEDIATE`` transaction: the
    tables' public ``*_in`` methods on its connection (``Store.transaction`` makes one)."""

    def __init__(self, con: sqlite3.Connection, lockouts, audit_log):
        self.con, self.lockouts, self.audit_log = con, lockouts, audit_log

    def lockout(self, name) -> LockoutState:
        return self.lockouts.lockout_in(self.con, name)

    def set_lockout(self, name, state: LockoutState) -> None:
        self.lockouts.set_lockout_in(self.con, name, state)

    def log(self, profile, decision, **kw) -> int:
        return self.audit_log.log_in(self.con, profile, decision, **kw)

    def finish_row(self, entry_id, decision, **kw) -> int:
        return self.audit_log.finish_in(self.con, entry_id, decision, **kw)

    def row_decision(self, entry_id) -> str | None:
        """The decision an audit row holds now (None: no such row)."""
        return self.audit_log.decision_in(self.con, entry_id)

    def pending(self, name) -> list[tuple[int, float, dict]]:
        return self.audit_log.pending_in(self.con, name)


class _Shared:
    """The one connection of this process to one database file, and its users."""

    def __init__(self, key, con: sqlite3.Connection, path: Path | None = None):
        self.key, self.con, self.lock, self.users = key, con, threading.RLock(), 0
        self.path = path  # the name it was opened by (its -wal/-shm sit beside it): open_files.py


# One connection per database file per process (keyed by device and inode). Closing any
# descriptor of a file drops every POSIX lock the process holds on it (SQLite's "How To
# Corrupt An SQLite Database File", 2.2): a second connection, or a plain open() to read the
# header while a connection is open, would let another process delete the -wal and -shm
# this one still writes to. So every Store of a file shares one connection, and the file is
# checked (header read, read-only SQLite) only before this process connects to it.
_OPEN: dict[tuple[int, int], _Shared] = {}
_OPEN_LOCK = threading.Lock()


def _file_key(st: os.stat_result) -> tuple[int, int]:
    return (int(st.st_dev), int(st.st_ino))


def open_databases() -> list[tuple[tuple[int, int], Path]]:
    """(device and inode, the name it was opened by) of every database file this process
    has open (:mod:`.open_files` compares a path with them)."""
    with _OPEN_LOCK:
        return [(shared.key, shared.path) for shared in _OPEN.values()]


class Database:
    """A handle on this process's one SQLite connection to the file (thread-safe, behind a
    lock): :meth:`query` reads, :meth:`write` is one transaction; the tables (``Store``) are
    built on it. Every handle of the same file shares the connection; it is closed when the
    last handle is."""

    def __init__(self, path=None, create: bool = True):
        self._lock = threading.RLock()
        self._con: sqlite3.Connection | None = None
        self._shared: _Shared | None = None
        try:
            self.path = Path(database_path(path))
        except StoreError:
            raise
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"The database location cannot be used ({exc}). Check $TWINLOCK_HOME, $TWINLOCK_DB or --db."
            ) from None
        with _OPEN_LOCK:
            st = self._stat()
            shared = _OPEN.get(_file_key(st)) if st is not None else None
            if shared is None:
                shared = self._connect(st, create)
                _OPEN[shared.key] = shared
            shared.users += 1
            self._shared, self._con, self._lock = shared, shared.con, shared.lock

    def _stat(self) -> os.stat_result | None:
        try:
            st = os.stat(self.path)  # stat, never open: a FIFO would hang an open()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(
                f"The database {self.path} cannot be used ({exc.strerror}): check that "
                "every folder on its path is a folder you can read."
            ) from None
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, FIFO or socket)"
            raise StoreError(
                f"The database path {self.path} is {kind}. Nothing was changed; pass --db "
                "with a file name (or set $TWINLOCK_DB / $TWINLOCK_HOME)."
            )
        return st

    def _connect(self, st: os.stat_result | None, create: bool) -> _Shared:
        """This process's first connection to the file: checks, creation, the connection,
        migrations. Called with _OPEN_LOCK held, so no other handle of this file exists."""
        if st is None and not create:
            raise StoreError(f"There is no twinlock database at {self.path}.")
        check_database_safe(self.path)
        if st is not None and st.st_size == 0:
            raise StoreError(
                f"The database {self.path} is empty (0 bytes): it is not a twinlock "
                "database, and twinlock does not treat it as a new one. Nothing was "
                "changed; delete the empty file to start a new database, or restore a backup."
            )
        if st is not None:
            schema.check_existing(self.path)
        else:
            try:
                make_private_dirs(self.path.parent)
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.close(fd)  # before any connection of this process: no lock to drop
            except FileExistsError:
                pass  # another process created it meanwhile
            except OSError as exc:
                raise StoreError(
                    f"The database {self.path} cannot be created ({exc.strerror}): its "
                    f"folder {self.path.parent} is missing, not a folder, or not writable. "
                    "Check $TWINLOCK_HOME, $TWINLOCK_DB or --db."
                ) from None
            else:
                try:
                    os.chmod(self.path, 0o600)  # only the file we created ourselves
                except OSError:
                    pass
            check_database_safe(self.path)  # the folders made meanwhile (by us or not), the new file
            st = self._stat()
            if st is None:
                raise StoreError(f"The database {self.path} vanished while it was being created; run again.")
        try:
            con = sqlite3.connect(str(self.path), timeout=10.0, isolation_level=None, check_same_thread=False)
            con.execute("PRAGMA busy_timeout = 10000")
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = FULL")
            con.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(
                f"The database {self.path} cannot be opened ({exc}). Nothing was changed; "
                "check the file's permissions or move it away."
            ) from None
        self._con = con
        try:
            with self._lock:
                schema.migrate(con, self.write)
        except Exception as exc:
            self._con = None
            con.close()
            raise StoreError(
                f"Upgrading the database {self.path} to schema {schema.SCHEMA_VERSION} failed "
                f"({type(exc).__name__}: {exc}); it was left as it was. Report this, and "
                "keep the file."
            ) from None
        return _Shared(_file_key(st), con, self.path)

    # ------------------------------------------------------------------ opening
    def _describe_bad(self, why: str) -> StoreError:
        return schema.bad_database(self.path, why)

    def _sql_error(self, exc: sqlite3.Error, doing: str = "Writing to") -> StoreError:
        msg = str(exc)
        if "locked" in msg or "busy" in msg:
            return StoreError(
                f"The database {self.path} is busy: another program has held it locked for "
                "more than 10 s. Nothing was changed; close the other twinlock (or wait) and "
                "try again."
            )
        if "readonly" in msg or "read-only" in msg:
            return StoreError(
                f"The database {self.path} is read-only (or its folder is): twinlock cannot "
                "record the attempt, so nothing was decided. Make the file and its folder "
                "writable by you."
            )
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
            return self._describe_bad(f"is damaged ({msg})")
        return StoreError(f"{doing} the database {self.path} failed ({msg}). Nothing was changed.")

    @contextmanager
    def write(self):
        """One ``BEGIN IMMEDIATE`` transaction: yields the connection, commits on leaving,
        rolls back on an exception (an SQLite error comes out as a StoreError in words)."""
        with self._lock:
            if self._con is None:
                raise StoreError("The database is closed.")
            try:
                self._con.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._sql_error(exc) from None
            try:
                yield self._con
            except sqlite3.Error as exc:
                self._rollback()
                raise self._sql_error(exc) from None
            except BaseException:
                self._rollback()
                raise
            else:
                try:
                    self._con.execute("COMMIT")
                except sqlite3.Error as exc:
                    self._rollback()
                    raise self._sql_error(exc) from None

    def _rollback(self) -> None:
        try:
            self._con.execute("ROLLBACK")
        except sqlite3.Error:
            pass

    def query(self, sql: str, args=()) -> list:
        """The rows of one statement (outside any transaction; SQLite errors in words)."""
        with self._lock:
            if self._con is None:
                raise StoreError("The database is closed.")
            try:
                return self._con.execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise self._sql_error(exc, "Reading") from None
            except UnicodeDecodeError:
                raise self._describe_bad("is damaged (text that cannot be decoded)") from None

    def close(self) -> None:
        """Let go of this handle; the connection closes with the last handle of the file."""
        with _OPEN_LOCK:
            shared, self._shared = self._shared, None
            if shared is None:
                return
            with shared.lock:
                self._con = None
                shared.users -= 1
                if shared.users <= 0:
                    _OPEN.pop(shared.key, None)
                    shared.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def integrity_check(self) -> str:
        rows = self.query("PRAGMA integrity_check")
        return "ok" if rows and rows[0][0] == "ok" else "; ".join(str(r[0]) for r in rows[:5])

    @property
    def schema_version(self) -> int:
        return int(self.query("PRAGMA user_version")[0][0])
