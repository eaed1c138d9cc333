"""Where twinlock keeps its files.

Every location can be overridden, in this order: an explicit argument (CLI option),
an environment variable, then the platform's user directory (platformdirs).

- ``TWINLOCK_HOME``   user data folder (database, settings, installed models)
- ``TWINLOCK_DB``     the SQLite enrollment/audit database
- ``TWINLOCK_CONFIG`` the config file that keeps the data folder chosen in the app
  (default: the platform's user config folder, see :mod:`desktop_app.core.config`)
- ``TWINLOCK_MODEL``  the ONNX model to use instead of the configured/shipped one
- ``TWINLOCK_DATA_DIR`` the MNIST folder used by training/evaluation/calibration

Folders twinlock makes and atomic writes are :mod:`desktop_app.core.files` (importable from
here too).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir

from . import config
from .files import atomic_write_bytes, make_private_dirs

APP_NAME = "twinlock"
REPO_ROOT = Path(__file__).resolve().parents[2]  # a checkout's root (benchmarks, docs); not
# there in an installed copy
# What ships with the app (the default model and its card, the common-symbols gallery) is the
# repository's top-level assets/ folder, installed as the package twinlock_assets, so an
# installed wheel finds it wherever it runs from.
ASSETS_DIR = Path(str(resources.files("twinlock_assets")))
DEFAULT_MODEL = ASSETS_DIR / "models" / "twinlock-default.onnx"
DEFAULT_MODEL_CARD = ASSETS_DIR / "models" / "twinlock-default.md"


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
        folder = config.data_folder()
        if folder is not None:
            return folder / DB_NAME
    return data_home() / DB_NAME


def mnist_dir(override: str | os.PathLike | None = None) -> Path:
    return Path(
        override or os.environ.get("TWINLOCK_DATA_DIR") or Path(user_cache_dir(APP_NAME, appauthor=False)) / "mnist"
    )


def active_model_path(store=None, override=None) -> Path:
    """The model in use: ``override`` (--model) > ``$TWINLOCK_MODEL`` > the setting
    "model_path" (chosen in the app, ``twinlock model use``) > the shipped default model."""
    if override:
        return Path(override)
    env = os.environ.get("TWINLOCK_MODEL")
    if env:
        return Path(env)
    if store is not None:
        p = store.get_setting("model_path", None)
        if p:
            return Path(p)
    return DEFAULT_MODEL


__all__ = [
    "APP_NAME",
    "ASSETS_DIR",
    "DB_NAME",
    "DEFAULT_MODEL",
    "DEFAULT_MODEL_CARD",
    "REPO_ROOT",
    "active_model_path",
    "atomic_write_bytes",
    "data_home",
    "database_path",
    "make_private_dirs",
    "mnist_dir",
]
