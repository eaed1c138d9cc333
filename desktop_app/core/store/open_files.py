"""Whether a path names a database file this process has open, before anything reads it.

Closing any descriptor of a file drops every POSIX lock the process holds on it (SQLite's
"How To Corrupt An SQLite Database File", 2.2). So a reader of user-chosen files (an image,
a profile export, a model) given the database itself -- by its name, a hard or symbolic
link, or its ``-wal``/``-shm``/``-journal`` -- must refuse before it opens the file:
reading it and closing the descriptor would let another process delete the write-ahead
log this one still writes to. :func:`refuse_if_open_database` is that check; it uses
``os.stat`` only (a stat opens nothing) and compares device and inode with every database
file of this process (:mod:`.database` keeps them).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import database

SIDE_FILES = ("-wal", "-shm", "-journal")
_ROLE = {"-wal": "write-ahead log", "-shm": "shared-memory index", "-journal": "rollback journal"}


def _key(path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # follows symbolic links; never opens the file
    except (OSError, ValueError):
        return None
    return (int(st.st_dev), int(st.st_ino))


def open_database_file(path) -> tuple[Path, str] | None:
    """(the database, which of its files) when ``path`` -- followed through symbolic links,
    compared by device and inode, so hard links count too -- is a database file this process
    has open (``""`` the database itself, else ``"-wal"``, ``"-shm"`` or ``"-journal"``);
    None otherwise, also when ``path`` does not exist."""
    key = _key(path)
    if key is None:
        return None
    for db_key, db_path in database.open_databases():
        if db_key == key:
            return db_path, ""
        names = {str(db_path), os.path.realpath(db_path)}
        for suffix in SIDE_FILES:
            if any(_key(name + suffix) == key for name in names):
                return db_path, suffix
    return None


def is_open_database_file(path) -> bool:
    """Whether ``path`` is one of the database files this process has open."""
    return open_database_file(path) is not None


def refuse_if_open_database(path, kind: str, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` (the caller's own error type) with a message for the user when
    ``path`` is a database file this process has open; ``kind`` names what the caller
    expected ("an image file", "a model file", "a profile export"). Reads nothing."""
    found = open_database_file(path)
    if found is None:
        return
    db, suffix = found
    which = "twinlock's database" if not suffix else f"the {_ROLE[suffix]} of twinlock's database {db}"
    same = "" if not suffix and Path(path) == db else ("" if suffix else f" ({db})")
    raise error(
        f"{path} is {which}{same}, not {kind}; twinlock did not read it and nothing was changed. Choose another file."
    )
