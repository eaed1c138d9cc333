"""One app window per database: an OS file lock beside the database.

The app takes ``<database>.app.lock`` with an exclusive, non-blocking OS lock (``flock`` on
POSIX, ``msvcrt.locking`` on Windows) for as long as it runs; a second app on the same
database finds it taken and says so. The operating system drops the lock when the process
ends, even by a crash, so a stale lock file never blocks a start. The command line
(``twinlock verify`` ...) does not take this lock: concurrent CLI verifies go through
SQLite's own locking as before.
"""

from __future__ import annotations

import os
from pathlib import Path

from .files import make_private_dirs


class AlreadyRunning(RuntimeError):
    """Another twinlock app holds the database; the message says which process and what to do."""


def lock_path(db_path: str | os.PathLike) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".app.lock")


class InstanceLock:
    def __init__(self, db_path: str | os.PathLike):
        self.db_path = Path(db_path)
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def acquire(self) -> InstanceLock:
        """Take the lock or raise AlreadyRunning (OSError when the folder is not writable)."""
        make_private_dirs(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            other = ""
            try:
                other = os.pread(fd, 64, 0).decode("ascii", "replace").strip() if hasattr(os, "pread") else ""
            except OSError:
                pass
            os.close(fd)
            who = f" (process {other})" if other.isdigit() else ""
            raise AlreadyRunning(
                f"twinlock is already running on the database {self.db_path}{who}. Switch to that window, "
                "or close it first; to run a second window on purpose, give it another database with --db."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode("ascii"))
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            _unlock(fd)
        except OSError:
            pass
        os.close(fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> InstanceLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


if os.name == "nt":  # pragma: no cover - Windows
    import msvcrt

    def _lock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
