"""Writing to disk the two ways twinlock does: folders it makes are private (0700 whatever
the umask), and a file is replaced atomically (the old file or the whole new one, never half
of each). Everything that writes a file -- the config, the store's exports, training and
export -- goes through :func:`atomic_write_bytes`."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def make_private_dirs(folder: str | os.PathLike) -> Path:
    """Create ``folder`` and every missing folder above it with mode 0700 (whatever the
    umask); folders that exist are left as they are."""
    folder = Path(folder)
    missing = []
    p = folder
    while not p.exists() and p.parent != p:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=0o700)
        except FileExistsError:
            continue  # made meanwhile by someone else: the database's safety check judges it
        try:
            os.chmod(d, 0o700)  # mkdir's mode is masked by the umask; only folders we made
        except OSError:
            pass
    if not folder.is_dir():
        folder.mkdir(exist_ok=True)  # raises the OSError that says why (a file in the way)
    return folder


def atomic_write_bytes(dest: str | os.PathLike, data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to ``dest`` so that ``dest`` is either the old file or the whole new one.

    The bytes go to a temporary file in the same folder, are flushed to disk, and only then
    renamed over ``dest`` (atomic on POSIX and on Windows for same-volume renames).
    """
    dest = Path(dest)
    make_private_dirs(dest.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return dest
