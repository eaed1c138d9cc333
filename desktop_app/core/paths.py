"""Where twinlock keeps its files.

Every location can be overridden, in this order: an explicit argument (CLI option),
an environment variable, then the platform's user directory (platformdirs).

- ``TWINLOCK_HOME``   user data folder (database, settings, installed models)
- ``TWINLOCK_DB``     the SQLite enrollment/audit database
- ``TWINLOCK_CONFIG`` the config file that keeps the data folder chosen in the app
  (default: the platform's user config folder, see :mod:`desktop_app.core.config`)
- ``TWINLOCK_MODEL``  the ONNX model to use instead of the configured/shipped one
- ``TWINLOCK_DATA_DIR`` the MNIST folder used by training/evaluation/calibration
"""

from __future__ import annotations

import os
from importlib import resources
import tempfile
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

APP_NAME = "twinlock"
REPO_ROOT = Path(__file__).resolve().parents[2]  # a checkout's root (benchmarks, docs); not
# there in an installed copy
# What ships with the app (the default model and its card, the common-symbols gallery) is the
# repository's top-level assets/ folder, installed as the package twinlock_assets, so an
# installed wheel finds it wherever it runs from.
ASSETS_DIR = Path(str(resources.files("twinlock_assets")))
DEFAULT_MODEL = ASSETS_DIR / "models" / "twinlock-default.onnx"
DEFAULT_MODEL_CARD = ASSETS_DIR / "models" / "twinlock-default.md"


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


def data_home(override: str | os.PathLike | None = None) -> Path:
    """The user data folder (created, mode 0700)."""
    p = Path(override or os.environ.get("TWINLOCK_HOME") or user_data_dir(APP_NAME, appauthor=False))
    make_private_dirs(p)
    try:
        os.chmod(p, 0o700)
    except OSError:
        pass
    return p


DB_NAME = "twinlock.sqlite3"


def database_path(override: str | os.PathLike | None = None) -> Path:
    """The database, decided here for the app and the CLI alike: ``override`` (--db) >
    ``$TWINLOCK_DB`` > ``$TWINLOCK_HOME``/twinlock.sqlite3 > the data folder chosen in the
    app (core.config) > the platform's user data folder. A damaged config file raises
    core.config.ConfigError (a StoreError) with what to do."""
    if override:
        return Path(override)
    env = os.environ.get("TWINLOCK_DB")
    if env:
        return Path(env)
    if not os.environ.get("TWINLOCK_HOME"):
        from . import config

        folder = config.data_folder()
        if folder is not None:
            return folder / DB_NAME
    return data_home() / DB_NAME


def mnist_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(
        override or os.environ.get("TWINLOCK_DATA_DIR") or Path(user_cache_dir(APP_NAME, appauthor=False)) / "mnist"
    )


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
