"""Whether a database file may be trusted, checked before it is opened (as ssh checks its keys).

The lockout counter, the thresholds and the audit log are only as good as the file they are
kept in. :func:`check_database_safe` refuses a database (or the folder a new one would be
made in) that

- has more than one name (a hard link): SQLite finds its write-ahead log by name, so two
  names mean two logs and lost writes -- a lockout that forgets failures;
- is not owned by the user running twinlock, or can be written by others;
- sits in a folder that is not the user's, or that others can write (they could swap in a
  file of their own), or under a folder others can write without the sticky bit.

Every refusal is an :class:`UnsafeDatabase` whose message says what is wrong and the command
that fixes it. On Windows, which has no such modes, nothing is checked.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import StoreError


class UnsafeDatabase(StoreError):
    """The database or its folder could be changed by someone else; the message says how to fix it."""


def _who(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def _refuse(path: Path, problem: str, fix: str) -> UnsafeDatabase:
    return UnsafeDatabase(
        f"The database {path} is not safe to use: {problem}. twinlock did not open or change it. {fix}"
    )


def _check_folder(db: Path, folder: Path, me: int, immediate: bool) -> None:
    try:
        st = os.stat(folder)
    except OSError as exc:
        raise StoreError(f"The folder {folder} of the database {db} cannot be checked ({exc.strerror}).") from None
    if st.st_uid not in (me, 0):
        raise _refuse(
            db,
            f"its folder {folder} belongs to {_who(st.st_uid)}, not to you",
            "Keep the database in a folder of your own (for example the default data folder, or pass --db).",
        )
    writable_by_others = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if not writable_by_others:
        return
    if immediate:
        raise _refuse(
            db,
            f"its folder {folder} can be written by others (mode {stat.S_IMODE(st.st_mode):04o}), "
            "who could replace the database or its -wal file with their own",
            f"Run: chmod go-w '{folder}'  (or chmod 700), or keep the database in a folder of your own.",
        )
    if not st.st_mode & stat.S_ISVTX:  # a sticky folder (/tmp) lets no one rename what is not theirs
        raise _refuse(
            db,
            f"the folder {folder} above it can be written by others (mode {stat.S_IMODE(st.st_mode):04o}), "
            "who could rename the database's folder and put their own in its place",
            f"Run: chmod go-w '{folder}', or keep the database in a folder of your own.",
        )


def check_database_safe(path: str | os.PathLike) -> None:
    """Raise :class:`UnsafeDatabase` (a StoreError) unless the database at ``path`` -- or, when
    it does not exist yet, the folder it would be created in -- can be changed only by the
    user running twinlock (or root). Symbolic links are followed: the file and folders
    checked are the real ones. Reads nothing but file metadata (never opens the file)."""
    if os.name == "nt" or not hasattr(os, "geteuid"):  # pragma: no cover - no POSIX modes
        return
    me = os.geteuid()
    db = Path(os.path.realpath(path))
    try:
        st = os.stat(db)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise StoreError(f"The database {db} cannot be checked ({exc.strerror}).") from None
    if st is not None and stat.S_ISREG(st.st_mode):
        if st.st_nlink > 1:
            raise _refuse(
                db,
                f"it has {st.st_nlink} names (hard links); SQLite keeps one write-ahead log per name, "
                "so writes made under one name are lost to the other (failures forgotten, audit rows lost)",
                f"Remove the other names (find / -xdev -samefile '{db}' lists them) and use this one, "
                f"or replace it by a copy: cp '{db}' '{db}.new' && mv '{db}.new' '{db}'.",
            )
        if st.st_uid != me:
            raise _refuse(
                db,
                f"it belongs to {_who(st.st_uid)}, not to you ({_who(me)})",
                f"If it is yours, run: chown {me} '{db}'; otherwise use a database of your own (--db).",
            )
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise _refuse(
                db,
                f"others can write it (mode {stat.S_IMODE(st.st_mode):04o})",
                f"Run: chmod 600 '{db}'.",
            )
    folder = db.parent
    while True:
        if folder.exists():  # a missing one is made 0700 (paths.make_private_dirs) and checked then
            _check_folder(db, folder, me, immediate=folder == db.parent)
        if folder.parent == folder:
            break
        folder = folder.parent
