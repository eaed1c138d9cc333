"""The enrollment and audit store: one SQLite database in the user data folder.

Profiles (name, created, threshold, policy), their reference images (the 28x28 model
image and the original crop, both PNG) with embeddings and the fingerprint of the model
that made them, app settings (JSON values), the audit log, and per-profile lockout state.

- WAL journal, ``synchronous=FULL``, a busy timeout so the CLI and the app can share it;
- ``PRAGMA user_version`` is the schema version; :data:`MIGRATIONS` bring older files up;
- the file is created with mode 0600;
- a file that is not a twinlock database, is damaged, or comes from a newer twinlock raises
  :class:`StoreError` and is never modified: it is checked read-only before it is opened
  for writing;
- an enrollment is one transaction: a process killed half-way leaves all of it or none;
- an unlock attempt is written when it starts (audit row "pending", with the process that
  runs it) and finished in place; checking the lockout and counting a failure happen in one
  ``BEGIN IMMEDIATE`` transaction (:meth:`Store.transaction`), so concurrent attempts
  serialise on the counter;
- a lockout stores its length and the boot clock (``CLOCK_BOOTTIME``) beside the wall-clock
  end, so moving the wall clock never shortens it (:meth:`LockoutState.remaining`);
- the audit log keeps the newest ``audit_retention_rows`` rows / ``audit_retention_days``
  days when those settings are set (applied on every write).
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
import socket
import sqlite3
import stat
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .decision import AuditEvent, Decision, audit_name
from .paths import atomic_write_bytes, database_path

SCHEMA_VERSION = 3
APP_ID = "twinlock"
EXPORT_FORMAT = "twinlock-profile"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 64 * 2**20
MAX_IMPORT_REFERENCES = 1000
MIN_EMBEDDING_DIM, MAX_EMBEDDING_DIM = 2, 4096
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9 _.\-]{0,63}$")


class StoreError(Exception):
    """The database (or an import file) cannot be used; the message is for the user."""


class ProfileNotFound(StoreError):
    pass


class ProfileExists(StoreError):
    pass


class InvalidProfileName(StoreError):
    pass


def validate_profile_name(name) -> str:
    """A safe profile name: 1-64 letters, digits, space, '_', '-', '.'; returns it stripped."""
    if not isinstance(name, str):
        raise InvalidProfileName("A profile name must be text.")
    n = name.strip()
    if not n:
        raise InvalidProfileName("A profile name cannot be empty.")
    if len(n) > 64:
        raise InvalidProfileName(f"The profile name is {len(n)} characters long; use at most 64.")
    if ".." in n or not _NAME_RE.match(n):
        raise InvalidProfileName(
            f"'{name}' is not a valid profile name: use letters, digits, spaces, '_', '-' and '.', "
            "starting with a letter, digit or '_' (no '/', '\\' or '..')."
        )
    return n


@dataclass
class Profile:
    name: str
    created: float
    threshold: float | None
    policy: dict
    n_references: int
    fingerprints: list = field(default_factory=list)


@dataclass
class Reference:
    id: int
    profile: str
    image: np.ndarray
    crop: np.ndarray | None
    embedding: np.ndarray
    fingerprint: str
    created: float


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


_BOOT_ID: list = []


def boot_id() -> str:
    """This boot's id (Linux), "" where there is none: a lock's boot clock is valid only in it."""
    if not _BOOT_ID:
        try:
            _BOOT_ID.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
        except OSError:
            _BOOT_ID.append("")
    return _BOOT_ID[0]


def boot_clock() -> float:
    """Seconds since boot, counting suspend (CLOCK_BOOTTIME): setting the wall clock moves it not."""
    try:
        return time.clock_gettime(time.CLOCK_BOOTTIME)
    except (AttributeError, OSError):
        return time.monotonic()


@dataclass
class LockoutState:
    failures: int = 0
    locked_until: float = 0.0  # wall-clock end of the lock
    lock_s: float = 0.0  # its length when it was set
    boot_id: str = ""  # the boot it was set in ...
    boot_at: float = 0.0  # ... and the boot clock then

    def remaining(self, now: float | None = None, boot_now: float | None = None) -> float:
        """Seconds of lock left: the longer of the wall-clock and the boot-clock reckoning,
        never more than the lock's own length. A wall clock set forward (or back) does not
        shorten a lock set in this boot."""
        now = time.time() if now is None else now
        wall = self.locked_until - now
        if self.lock_s <= 0:
            return max(0.0, wall)
        mono = -math.inf
        if self.boot_id and self.boot_id == boot_id():
            b = boot_clock() if boot_now is None else boot_now
            mono = self.lock_s - (b - self.boot_at)
        return max(0.0, min(self.lock_s, max(wall, mono)))


def _png(img) -> bytes | None:
    if img is None:
        return None
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise ValueError("images must be uint8")
    ok, buf = cv2.imencode(".png", a)
    if not ok:
        raise ValueError("could not encode an image as PNG")
    return buf.tobytes()


def _unpng(data) -> np.ndarray | None:
    if data is None:
        return None
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if len(data) else None
    except cv2.error:
        img = None
    if img is None:
        raise StoreError("A stored image is damaged (cannot be decoded).")
    return img


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


# MIGRATIONS[v] brings a database from schema version v to v + 1 (inside one transaction)
MIGRATIONS = {0: _migrate_1, 1: _migrate_2, 2: _migrate_3}
CLOCK_SKEW_S = 120.0  # an audit time this far off the boot clock's reckoning is flagged

PENDING = Decision.PENDING  # kept for old imports; the names live in decision.py
ABANDONED = Decision.ABANDONED
_LOCK_COLS = "failures, locked_until, lock_s, boot_id, boot_at"


def _lock_from_row(row) -> LockoutState:
    if not row:
        return LockoutState()
    return LockoutState(int(row[0]), float(row[1]), float(row[2]), str(row[3] or ""), float(row[4]))


def process_start(pid: int | None = None) -> str:
    """The start time of process ``pid`` (Linux /proc; "" elsewhere): with the pid it names
    one process, so a reused pid is not taken for the process that started an attempt."""
    try:
        stat_line = Path(f"/proc/{os.getpid() if pid is None else int(pid)}/stat").read_text()
        return stat_line.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError, ValueError):
        return ""


def process_alive(detail: dict) -> bool:
    """Whether the process that started a pending attempt (``detail``: pid, host, boot) may
    still run it. A process of another host is assumed alive; one of an earlier boot is not."""
    try:
        pid = int(detail.get("pid", -1))
    except (TypeError, ValueError):
        return False
    if detail.get("host") != socket.gethostname():
        return True
    if detail.get("boot", "") != boot_id():
        return False
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    started = detail.get("pstart", "")
    return not started or process_start(pid) in ("", started)


class Tx:
    """The lockout and audit operations of one open ``BEGIN IMMEDIATE`` transaction."""

    def __init__(self, store: Store, con: sqlite3.Connection):
        self.store, self.con = store, con

    def lockout(self, name) -> LockoutState:
        return _lock_from_row(
            self.con.execute(f"SELECT {_LOCK_COLS} FROM lockout WHERE profile = ?", (name,)).fetchone()
        )

    def set_lockout(self, name, state: LockoutState) -> None:
        self.store._set_lockout(self.con, name, state)

    def log(self, profile, decision, **kw) -> int:
        return self.store._log(self.con, profile, decision, **kw)

    def finish_row(self, entry_id, decision, **kw) -> int:
        return self.store._finish_row(self.con, entry_id, decision, **kw)

    def pending(self, name) -> list[tuple[int, float, dict]]:
        rows = self.con.execute(
            "SELECT id, time, detail FROM audit WHERE decision = ? AND profile = ?", (PENDING, name)
        ).fetchall()
        out = []
        for rid, t, d in rows:
            try:
                detail = json.loads(d or "{}")
            except ValueError:
                detail = {}
            out.append((int(rid), float(t), detail if isinstance(detail, dict) else {}))
        return out


class Store:
    """The twinlock database. Thread-safe (one connection behind a lock)."""

    def __init__(self, path=None, create: bool = True):
        self._lock = threading.RLock()
        self._con: sqlite3.Connection | None = None
        try:
            self.path = Path(database_path(path))
        except StoreError:
            raise
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"The database location cannot be used ({exc}). Check $TWINLOCK_HOME, $TWINLOCK_DB or --db."
            ) from None
        try:
            st = os.stat(self.path)  # stat, never open: a FIFO would hang an open()
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise StoreError(
                f"The database {self.path} cannot be used ({exc.strerror}): check that "
                "every folder on its path is a folder you can read."
            ) from None
        if st is not None and not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, FIFO or socket)"
            raise StoreError(
                f"The database path {self.path} is {kind}. Nothing was changed; pass --db "
                "with a file name (or set $TWINLOCK_DB / $TWINLOCK_HOME)."
            )
        if st is None and not create:
            raise StoreError(f"There is no twinlock database at {self.path}.")
        if st is not None and st.st_size == 0:
            raise StoreError(
                f"The database {self.path} is empty (0 bytes): it is not a twinlock "
                "database, and twinlock does not treat it as a new one. Nothing was "
                "changed; delete the empty file to start a new database, or restore a backup."
            )
        if st is not None:
            self._check_readonly()
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
                os.close(fd)
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
            self._migrate()
        except Exception as exc:
            self.close()
            raise StoreError(
                f"Upgrading the database {self.path} to schema {SCHEMA_VERSION} failed "
                f"({type(exc).__name__}: {exc}); it was left as it was. Report this, and "
                "keep the file."
            ) from None

    # ------------------------------------------------------------------ opening
    def _describe_bad(self, why: str) -> StoreError:
        return StoreError(
            f"The database {self.path} {why}. twinlock did not change it. Move it away "
            "(or restore a backup) and run again to start a new one, or pass --db "
            "to use another file."
        )

    def _check_readonly(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(16)
        except OSError as exc:
            raise StoreError(
                f"The database {self.path} cannot be read ({exc.strerror}). Check its permissions."
            ) from None
        if head != b"SQLite format 3\x00":
            raise self._describe_bad("is not an SQLite database (it may be damaged or another kind of file)")
        try:
            uri = "file:" + str(self.path.resolve()) + "?mode=ro"
            con = sqlite3.connect(uri, uri=True, timeout=10.0)
        except sqlite3.Error as exc:
            raise self._describe_bad(f"cannot be opened ({exc})") from None
        try:
            ok = con.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise self._describe_bad(f"is damaged (integrity check: {ok})")
            version = con.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The database {self.path} was written by a newer twinlock (schema "
                    f"{version}, this one knows {SCHEMA_VERSION}). Update twinlock; the "
                    "file was not changed."
                )
            if tables:
                app = None
                if "meta" in tables:
                    row = con.execute("SELECT value FROM meta WHERE key='app'").fetchone()
                    app = row[0] if row else None
                if app != APP_ID:
                    raise self._describe_bad("is an SQLite database of another program, not twinlock's")
        except sqlite3.DatabaseError as exc:
            raise self._describe_bad(f"is damaged ({exc})") from None
        except UnicodeDecodeError:
            raise self._describe_bad("is damaged (its schema holds text that cannot be decoded)") from None
        finally:
            con.close()

    def _migrate(self) -> None:
        with self._lock:
            version = self._con.execute("PRAGMA user_version").fetchone()[0]
            while version < SCHEMA_VERSION:
                step = MIGRATIONS[version]
                with self._tx():
                    # re-read inside the write lock: another process may have migrated meanwhile
                    version = self._con.execute("PRAGMA user_version").fetchone()[0]
                    if version >= SCHEMA_VERSION:
                        break
                    step(self._con)
                    version += 1
                    self._con.execute(f"PRAGMA user_version = {int(version)}")

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
    def _tx(self):
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

    @contextmanager
    def transaction(self):
        """One ``BEGIN IMMEDIATE`` transaction for the verifier's check-and-count steps."""
        with self._tx() as con:
            yield Tx(self, con)

    def _q(self, sql: str, args=()) -> list:
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
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def integrity_check(self) -> str:
        rows = self._q("PRAGMA integrity_check")
        return "ok" if rows and rows[0][0] == "ok" else "; ".join(str(r[0]) for r in rows[:5])

    @property
    def schema_version(self) -> int:
        return int(self._q("PRAGMA user_version")[0][0])

    # ------------------------------------------------------------------ profiles
    def _profile_row(self, name):
        rows = self._q("SELECT id, name, created, threshold, policy FROM profiles WHERE name = ?", (name,))
        if not rows:
            raise ProfileNotFound(
                f"There is no profile '{name}'. 'twinlock profiles list' shows the profiles there are."
            )
        return rows[0]

    def _make_profile(self, row) -> Profile:
        pid, name, created, threshold, policy = row
        n = self._q("SELECT COUNT(*) FROM refs WHERE profile_id = ?", (pid,))[0][0]
        fps = [r[0] for r in self._q("SELECT DISTINCT fingerprint FROM refs WHERE profile_id = ?", (pid,))]
        return Profile(
            name,
            float(created),
            None if threshold is None else float(threshold),
            json.loads(policy or "{}"),
            int(n),
            fps,
        )

    def create_profile(self, name, threshold=None, policy=None) -> Profile:
        name = validate_profile_name(name)
        with self._tx() as con:
            self._insert_profile(con, name, threshold, policy)
        return self.get_profile(name)

    def _insert_profile(self, con, name, threshold=None, policy=None, created=None) -> int:
        if con.execute("SELECT 1 FROM profiles WHERE name = ?", (name,)).fetchone():
            raise ProfileExists(f"A profile named '{name}' already exists. Choose another name, or remove it first.")
        cur = con.execute(
            "INSERT INTO profiles(name, created, threshold, policy) VALUES (?, ?, ?, ?)",
            (
                name,
                time.time() if created is None else float(created),
                None if threshold is None else float(threshold),
                json.dumps(policy or {}),
            ),
        )
        return int(cur.lastrowid)

    def list_profiles(self) -> list[Profile]:
        rows = self._q("SELECT id, name, created, threshold, policy FROM profiles ORDER BY name")
        return [self._make_profile(r) for r in rows]

    def get_profile(self, name) -> Profile:
        return self._make_profile(self._profile_row(name))

    def has_profile(self, name) -> bool:
        return bool(self._q("SELECT 1 FROM profiles WHERE name = ?", (name,)))

    def remove_profile(self, name) -> None:
        self._profile_row(name)
        with self._tx() as con:
            con.execute("DELETE FROM profiles WHERE name = ?", (name,))
            con.execute("DELETE FROM lockout WHERE profile = ?", (name,))
            self._log(con, name, AuditEvent.PROFILE_REMOVED)

    def set_threshold(self, name, threshold) -> None:
        if threshold is not None:
            threshold = float(threshold)
            if not np.isfinite(threshold) or threshold <= 0:
                raise ValueError("a threshold must be a positive number")
        self._profile_row(name)
        with self._tx() as con:
            con.execute("UPDATE profiles SET threshold = ? WHERE name = ?", (threshold, name))

    def set_policy(self, name, policy: dict) -> None:
        from .verifier import check_profile_values

        try:
            check_profile_values(None, policy or {})
        except (ValueError, TypeError) as exc:
            raise ValueError(f"a profile policy out of bounds: {exc}") from None
        self._profile_row(name)
        with self._tx() as con:
            con.execute("UPDATE profiles SET policy = ? WHERE name = ?", (json.dumps(policy or {}), name))

    # ------------------------------------------------------------------ references
    def add_references(
        self, name, images28, crops, embeddings, fingerprint, create: bool = False, source: str = ""
    ) -> int:
        """Add references in ONE transaction (with the profile itself when ``create``)."""
        name = validate_profile_name(name)
        imgs = np.asarray(images28)
        if imgs.ndim == 2:
            imgs = imgs[None]
        if imgs.ndim != 3 or imgs.shape[1:] != (28, 28) or imgs.dtype != np.uint8:
            raise ValueError(f"reference images must be uint8 [N,28,28], got {imgs.dtype} {imgs.shape}")
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.ndim == 1:
            emb = emb[None]
        if emb.ndim != 2 or emb.shape[0] != imgs.shape[0] or not np.all(np.isfinite(emb)):
            raise ValueError("embeddings must be finite float [N,D] with one row per image")
        n = imgs.shape[0]
        if n == 0:
            raise ValueError("no reference images to add")
        crops = list(crops) if crops is not None else [None] * n
        if len(crops) != n:
            raise ValueError("crops must be None or one per image")
        if not fingerprint:
            raise ValueError("the model fingerprint is required")
        blobs = [(_png(imgs[i]), _png(crops[i]), emb[i].tobytes()) for i in range(n)]
        with self._tx() as con:
            row = con.execute("SELECT id FROM profiles WHERE name = ?", (name,)).fetchone()
            if row is None:
                if not create:
                    raise ProfileNotFound(f"There is no profile '{name}'.")
                pid = self._insert_profile(con, name)
            else:
                pid = int(row[0])
                other = con.execute(
                    "SELECT DISTINCT fingerprint, dim FROM refs WHERE profile_id = ?", (pid,)
                ).fetchall()
                if any(fp != fingerprint for fp, _ in other):
                    raise StoreError(
                        f"Profile '{name}' holds references embedded by another model. "
                        "Re-embed it for the current model first ('twinlock doctor "
                        "--reembed')."
                    )
            now = time.time()
            for image, crop, e in blobs:
                self._insert_reference(con, pid, image, crop, e, emb.shape[1], fingerprint, now)
            self._log(con, name, AuditEvent.ENROLLED, fingerprint=fingerprint, detail={"added": n, "source": source})
        return n

    def _insert_reference(self, con, pid, image, crop, emb_bytes, dim, fingerprint, now) -> None:
        con.execute(
            "INSERT INTO refs(profile_id, image, crop, embedding, dim, fingerprint, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (pid, image, crop, emb_bytes, dim, fingerprint, now),
        )

    def references(self, name) -> list[Reference]:
        pid = self._profile_row(name)[0]
        rows = self._q(
            "SELECT id, image, crop, embedding, dim, fingerprint, created FROM refs WHERE profile_id = ? ORDER BY id",
            (pid,),
        )
        out = []
        for rid, image, crop, e, dim, fp, created in rows:
            emb = np.frombuffer(e, dtype=np.float32)
            if emb.size != dim:
                raise StoreError(f"Reference {rid} of profile '{name}' is damaged (embedding size).")
            out.append(Reference(int(rid), name, _unpng(image), _unpng(crop), emb.copy(), fp, float(created)))
        return out

    def reference_embeddings(self, name, fingerprint) -> np.ndarray:
        pid = self._profile_row(name)[0]
        rows = self._q("SELECT embedding, dim, fingerprint FROM refs WHERE profile_id = ? ORDER BY id", (pid,))
        if not rows:
            raise StoreError(
                f"Profile '{name}' has no enrolled references. Enroll it first: twinlock enroll '{name}' ..."
            )
        if any(fp != fingerprint for _, _, fp in rows):
            raise StoreError(
                f"Profile '{name}' was enrolled with another model (fingerprint "
                f"{rows[0][2][:12]}, current {fingerprint[:12]}); its references must be "
                "re-embedded first ('twinlock doctor --reembed')."
            )
        return np.stack([np.frombuffer(e, dtype=np.float32) for e, _, _ in rows])

    def remove_reference(self, name, ref_id) -> None:
        pid = self._profile_row(name)[0]
        with self._tx() as con:
            cur = con.execute("DELETE FROM refs WHERE id = ? AND profile_id = ?", (int(ref_id), pid))
            if cur.rowcount == 0:
                raise StoreError(f"Profile '{name}' has no reference {ref_id}.")

    def check_references(self) -> list[str]:
        """Decode every stored reference image and crop and check every embedding: one line
        per damaged reference (empty when all are sound)."""
        bad = []
        rows = self._q(
            "SELECT r.id, p.name, r.image, r.crop, r.embedding, r.dim FROM refs r "
            "JOIN profiles p ON p.id = r.profile_id ORDER BY r.id"
        )
        for rid, name, image, crop, e, dim in rows:
            what = f"reference {rid} of profile '{name}'"
            try:
                img = _unpng(image)
                if img.shape != (28, 28) or img.dtype != np.uint8:
                    bad.append(f"{what}: its 28x28 image is {img.dtype} {list(img.shape)}")
                    continue
                if crop is not None:
                    c = _unpng(crop)
                    if c.dtype != np.uint8:
                        bad.append(f"{what}: its crop is not an 8-bit image")
                        continue
            except StoreError:
                bad.append(f"{what}: a stored image cannot be decoded")
                continue
            emb = np.frombuffer(e or b"", dtype=np.float32) if len(e or b"") % 4 == 0 else np.zeros(0)
            if emb.size != dim or emb.size == 0:
                bad.append(f"{what}: its embedding has the wrong size")
            elif not np.all(np.isfinite(emb)):
                bad.append(f"{what}: its embedding is not finite (NaN or infinity)")
        return bad

    def stale_references(self, fingerprint) -> int:
        """How many references were embedded by a model other than ``fingerprint``."""
        return int(self._q("SELECT COUNT(*) FROM refs WHERE fingerprint != ?", (fingerprint,))[0][0])

    def reembed_all(self, embedder, progress=None, batch: int = 256) -> int:
        """Re-embed every reference from its stored 28x28 image, all-or-nothing."""
        rows = self._q("SELECT id, image FROM refs ORDER BY id")
        total = len(rows)
        new = []
        for s in range(0, total, batch):
            chunk = rows[s : s + batch]
            imgs = np.stack([_unpng(img) for _, img in chunk])
            emb = np.asarray(embedder.embed_images(imgs), dtype=np.float32)
            new.extend((int(r[0]), emb[i]) for i, r in enumerate(chunk))
            if progress is not None:
                progress(min(s + batch, total), total)
        with self._tx() as con:
            for rid, e in new:
                con.execute(
                    "UPDATE refs SET embedding = ?, dim = ?, fingerprint = ? WHERE id = ?",
                    (e.tobytes(), int(e.size), embedder.fingerprint, rid),
                )
        return total

    # ------------------------------------------------------------------ settings
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

    # ------------------------------------------------------------------ audit
    def _log(
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

    def _finish_row(
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
        """Turn a "pending" row into the attempt's outcome (a new row if it is gone)."""
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
                PENDING,
            ),
        )
        if cur.rowcount == 1:
            return int(entry_id)
        return self._log(
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

    def _row_profile(self, con, entry_id):
        row = con.execute("SELECT profile FROM audit WHERE id = ?", (int(entry_id),)).fetchone()
        return row[0] if row else None

    def _apply_retention(self, con) -> None:
        """Keep the newest ``audit_retention_rows`` rows and ``audit_retention_days`` days (settings;
        unset or 0 = keep everything). Pending attempts are never pruned."""
        vals = {}
        for key in ("audit_retention_rows", "audit_retention_days"):
            row = con.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
            try:
                v = float(json.loads(row[0])) if row else 0.0
            except (ValueError, TypeError):
                v = 0.0
            vals[key] = v if math.isfinite(v) and v > 0 else 0.0
        if vals["audit_retention_days"]:
            con.execute(
                "DELETE FROM audit WHERE time < ? AND decision != ?",
                (time.time() - vals["audit_retention_days"] * 86400.0, PENDING),
            )
        if vals["audit_retention_rows"]:
            keep = int(vals["audit_retention_rows"])
            con.execute(
                "DELETE FROM audit WHERE decision != ? AND id <= (SELECT id FROM audit ORDER BY id "
                "DESC LIMIT 1 OFFSET ?)",
                (PENDING, keep),
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
        with self._tx() as con:
            return self._log(
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
        for r in self._q(sql, args):
            try:
                detail = json.loads(r[9] or "{}")
            except ValueError:
                detail = {}
            out.append(
                AuditEntry(int(r[0]), float(r[1]), r[2], r[3], r[4], r[5], int(r[6]), r[7], r[8], detail, bool(r[10]))
            )
        return out

    def audit_snapshot(self, entry_id) -> np.ndarray | None:
        rows = self._q("SELECT snapshot FROM audit WHERE id = ?", (int(entry_id),))
        return _unpng(rows[0][0]) if rows and rows[0][0] is not None else None

    # ------------------------------------------------------------------ lockout
    def lockout(self, name) -> LockoutState:
        rows = self._q(f"SELECT {_LOCK_COLS} FROM lockout WHERE profile = ?", (name,))
        return _lock_from_row(rows[0] if rows else None)

    def set_lockout(self, name, state: LockoutState) -> None:
        with self._tx() as con:
            self._set_lockout(con, name, state)

    def _set_lockout(self, con, name, state: LockoutState) -> None:
        con.execute(
            "INSERT INTO lockout(profile, failures, locked_until, lock_s, boot_id, boot_at) "
            "VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(profile) DO UPDATE SET failures = excluded.failures, "
            "locked_until = excluded.locked_until, lock_s = excluded.lock_s, "
            "boot_id = excluded.boot_id, boot_at = excluded.boot_at",
            (
                name,
                int(state.failures),
                float(state.locked_until),
                float(state.lock_s),
                str(state.boot_id or ""),
                float(state.boot_at),
            ),
        )

    def record_outcome(self, name, state, **log) -> tuple[int, LockoutState]:
        """Write a finished attempt's audit entry and the new lockout state in one transaction.

        ``state`` is the new :class:`LockoutState`, or a function old -> new evaluated inside
        the transaction (so two processes verifying at once cannot lose a failure).
        Returns (audit id, the lockout state written)."""
        with self._tx() as con:
            if callable(state):
                row = con.execute(f"SELECT {_LOCK_COLS} FROM lockout WHERE profile = ?", (name,)).fetchone()
                state = state(_lock_from_row(row))
            self._set_lockout(con, name, state)
            return self._log(con, name, **log), state

    # ------------------------------------------------------------------ export / import
    def export_profile(self, name, path) -> Path:
        prof = self.get_profile(name)
        refs = self.references(name)
        doc = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "name": prof.name,
            "created": prof.created,
            "threshold": prof.threshold,
            "policy": prof.policy,
            "exported": time.time(),
            "references": [
                {
                    "image_png": base64.b64encode(_png(r.image)).decode("ascii"),
                    "crop_png": None if r.crop is None else base64.b64encode(_png(r.crop)).decode("ascii"),
                    "embedding": [float(v) for v in r.embedding],
                    "fingerprint": r.fingerprint,
                    "created": r.created,
                }
                for r in refs
            ],
        }
        data = json.dumps(doc, indent=1).encode("utf-8")
        return atomic_write_bytes(path, data, mode=0o600)

    def import_profile(self, path, name=None, overwrite: bool = False, policy_check=None) -> Profile:
        """Read a profile export; every field is checked before anything is written.

        ``policy_check(threshold, policy_dict)`` raises ValueError for values the verifier
        would refuse (the verifier's :func:`~desktop_app.core.verifier.check_profile_values`
        by default). Replacing an existing profile (``overwrite``) keeps its lockout state:
        an import never resets failures."""
        p = Path(path)
        what = f"The file {p}"
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise StoreError(f"{what} does not exist.") from None
        except OSError as exc:
            raise StoreError(f"{what} cannot be read ({exc.strerror}).") from None
        if not stat.S_ISREG(st.st_mode):
            kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, FIFO or socket)"
            raise StoreError(f"{what} is {kind}; a profile export is a .json file.")
        if st.st_size > MAX_IMPORT_BYTES:
            raise StoreError(
                f"{what} is {st.st_size / 2**20:.0f} MiB, larger than any profile export "
                f"({MAX_IMPORT_BYTES // 2**20} MiB at most)."
            )
        try:
            with open(p, "rb") as fh:
                raw = fh.read(MAX_IMPORT_BYTES + 1)
            doc = json.loads(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            raise StoreError(f"{what} is not a twinlock profile export (not readable JSON).") from None
        if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
            raise StoreError(f"{what} is not a twinlock profile export.")
        version = doc.get("version", 0)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise StoreError(f"{what} has an invalid format version ({str(version)[:20]!r}); export the profile again.")
        if version > EXPORT_VERSION:
            raise StoreError(f"{what} was exported by a newer twinlock (format version {version}). Update twinlock.")
        target = validate_profile_name(name if name is not None else doc.get("name", ""))
        try:
            refs = doc["references"]
            if not isinstance(refs, list) or not refs or len(refs) > MAX_IMPORT_REFERENCES:
                raise ValueError(f"it needs 1 to {MAX_IMPORT_REFERENCES} references")
            images, crops, embs, fps, created = [], [], [], [], []
            for r in refs:
                if not isinstance(r, dict):
                    raise ValueError("a reference is not an object")
                img = _unpng(base64.b64decode(r["image_png"], validate=True))
                if img is None or img.shape != (28, 28) or img.dtype != np.uint8:
                    raise ValueError("a reference image is not a 28x28 8-bit image")
                images.append(img)
                crop = None
                if r.get("crop_png") is not None:
                    crop = _unpng(base64.b64decode(r["crop_png"], validate=True))
                    if crop.dtype != np.uint8 or crop.ndim != 2 or max(crop.shape) > 4096:
                        raise ValueError("a reference crop is not an 8-bit grey image")
                crops.append(crop)
                vals = r["embedding"]
                if not isinstance(vals, list) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals
                ):
                    raise ValueError("an embedding is not a list of numbers")
                e = np.asarray(vals, dtype=np.float32)
                if e.ndim != 1 or not (MIN_EMBEDDING_DIM <= e.size <= MAX_EMBEDDING_DIM) or not np.all(np.isfinite(e)):
                    raise ValueError(
                        f"an embedding has {e.size} numbers or is not finite "
                        f"({MIN_EMBEDDING_DIM}..{MAX_EMBEDDING_DIM} finite numbers expected)"
                    )
                embs.append(e)
                fp = r["fingerprint"]
                if not isinstance(fp, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,128}", fp):
                    raise ValueError("a reference has no valid model fingerprint")
                fps.append(fp)
                c = r.get("created", time.time())
                if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
                    raise ValueError("a reference's creation time is not a number")
                created.append(float(c))
            if len({e.size for e in embs}) != 1 or len(set(fps)) != 1:
                raise ValueError("the references mix embedding sizes or models")
            threshold = doc.get("threshold")
            if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
                raise ValueError("the threshold is not a number")
            threshold = None if threshold is None else float(threshold)
            policy = doc.get("policy") or {}
            if not isinstance(policy, dict):
                raise ValueError("the policy is not an object")
            pc = doc.get("created")
            if pc is not None and (isinstance(pc, bool) or not isinstance(pc, (int, float)) or not math.isfinite(pc)):
                raise ValueError("the creation time is not a number")
            max_norm = max(float(np.linalg.norm(e)) for e in embs)
            if threshold is not None:
                if not (math.isfinite(threshold) and threshold > 0):
                    raise ValueError(f"the threshold {threshold} is not a positive number")
                if threshold >= 2 * max_norm:
                    raise ValueError(
                        f"the threshold {threshold:g} is at least the largest possible distance "
                        f"between its embeddings ({2 * max_norm:.3g}): it would accept any symbol"
                    )
            if policy_check is None:
                from .verifier import check_profile_values as policy_check
            policy_check(threshold, policy)
        except (KeyError, TypeError, ValueError, StoreError, base64.binascii.Error, OverflowError) as exc:
            why = str(exc) if isinstance(exc, ValueError) and str(exc) else "its references cannot be read"
            if isinstance(exc, KeyError):
                why = f"the field {exc} is missing"
            raise StoreError(
                f"{what} is not a usable twinlock profile export ({why}). Nothing was "
                "imported; export the profile again."
            ) from None
        with self._tx() as con:
            row = con.execute("SELECT id FROM profiles WHERE name = ?", (target,)).fetchone()
            kept_lock = None
            if row is not None:
                if not overwrite:
                    raise ProfileExists(
                        f"A profile named '{target}' already exists. Import under "
                        "another name (--name) or replace it (--overwrite)."
                    )
                con.execute("DELETE FROM profiles WHERE id = ?", (row[0],))
                kept_lock = self.lockout_in(con, target)  # the lockout state stays as it was
            pid = self._insert_profile(con, target, threshold, policy, doc.get("created"))
            for img, crop, e, fp, c in zip(images, crops, embs, fps, created, strict=True):
                self._insert_reference(con, pid, _png(img), _png(crop), e.tobytes(), e.size, fp, c)
            self._log(
                con,
                target,
                AuditEvent.PROFILE_IMPORTED,
                detail={
                    "file": str(p),
                    "references": len(images),
                    "replaced": row is not None,
                    "failures_kept": None if kept_lock is None else kept_lock.failures,
                },
            )
        return self.get_profile(target)

    def lockout_in(self, con, name) -> LockoutState:
        return _lock_from_row(con.execute(f"SELECT {_LOCK_COLS} FROM lockout WHERE profile = ?", (name,)).fetchone())
