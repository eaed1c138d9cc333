"""Where twinlock keeps its files.

Every location can be overridden, in this order: an explicit argument (CLI option),
an environment variable, then the platform's user directory (platformdirs).

- ``TWINLOCK_HOME``   user data folder (database, settings, installed models)
- ``TWINLOCK_DB``     the SQLite enrollment/audit database
- ``TWINLOCK_MODEL``  the ONNX model to use instead of the configured/shipped one
- ``TWINLOCK_DATA_DIR`` the MNIST folder used by training/evaluation/calibration
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

APP_NAME = "twinlock"
REPO_ROOT = Path(__file__).resolve().parents[2]
ASSETS_DIR = REPO_ROOT / "assets"
DEFAULT_MODEL = ASSETS_DIR / "models" / "twinlock-default.onnx"
DEFAULT_MODEL_CARD = ASSETS_DIR / "models" / "twinlock-default.md"


def data_home(override: str | os.PathLike | None = None) -> Path:
    """The user data folder (created, mode 0700)."""
    p = Path(override or os.environ.get("TWINLOCK_HOME") or user_data_dir(APP_NAME, appauthor=False))
    p.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(p, 0o700)
    except OSError:
        pass
    return p


def database_path(override: str | os.PathLike | None = None) -> Path:
    if override:
        return Path(override)
    env = os.environ.get("TWINLOCK_DB")
    if env:
        return Path(env)
    return data_home() / "twinlock.sqlite3"


def mnist_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(override or os.environ.get("TWINLOCK_DATA_DIR")
                or Path(user_cache_dir(APP_NAME, appauthor=False)) / "mnist")


def atomic_write_bytes(dest: str | os.PathLike, data: bytes, mode: int | None = None) -> Path:
    """Write ``data`` to ``dest`` so that ``dest`` is either the old file or the whole new one.

    The bytes go to a temporary file in the same folder, are flushed to disk, and only then
    renamed over ``dest`` (atomic on POSIX and on Windows for same-volume renames).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
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


def atomic_replace(src_tmp: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Rename a completed temporary file over ``dest`` (same folder expected)."""
    dest = Path(dest)
    os.replace(src_tmp, dest)
    return dest
