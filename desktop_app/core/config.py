"""The small per-user config file that says where the database lives.

The database cannot hold its own location, and the app and the command line (``twinlock
verify`` behind pam_exec, a script) must read the same database. So the data folder chosen
in the app's settings is written here, in the platform's user config folder
(``~/.config/twinlock/config.json`` on Linux; ``$TWINLOCK_CONFIG`` names another file),
atomically, and :func:`desktop_app.core.paths.database_path` reads it. ``--db``,
``$TWINLOCK_DB`` and ``$TWINLOCK_HOME`` still override it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from platformdirs import user_config_dir

from .errors import StoreError  # a config that cannot be read: the database cannot be found
from .files import atomic_write_bytes, make_private_dirs

APP_NAME = "twinlock"
DATA_FOLDER = "data_folder"


class ConfigError(StoreError):
    """The config file cannot be read or written; the message says which file and what to do."""


def config_path() -> Path:
    env = os.environ.get("TWINLOCK_CONFIG")
    if env:
        return Path(env).expanduser()
    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.json"


def load() -> dict:
    """The config (an empty dict when there is no file). ConfigError for a damaged one."""
    p = config_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read the twinlock config file {p}: {exc}.") from exc
    try:
        data = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"The twinlock config file {p} is damaged ({exc.msg}, line {exc.lineno}). "
            "Fix it or delete it (the default data folder is then used)."
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"The twinlock config file {p} does not hold a JSON object. Fix it or delete it.")
    return data


def save(data: dict) -> Path:
    """Write the whole config atomically (temp file + rename); mode 0600."""
    p = config_path()
    try:
        return atomic_write_bytes(p, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise ConfigError(f"Cannot write the twinlock config file {p}: {exc}.") from exc


def data_folder() -> Path | None:
    """The data folder chosen in the app (None: the platform default)."""
    v = load().get(DATA_FOLDER)
    return Path(v).expanduser() if v else None


def set_data_folder(folder: str | os.PathLike | None) -> Path:
    """Choose the data folder (None or "": back to the default). The folder must be usable:
    it is created when missing. ConfigError otherwise; nothing is written then."""
    data = load()
    if folder is None or str(folder).strip() == "":
        data.pop(DATA_FOLDER, None)
    else:
        f = Path(folder).expanduser().resolve()
        try:
            make_private_dirs(f)
        except OSError as exc:
            raise ConfigError(f"Cannot create the data folder {f}: {exc}. Choose another folder.") from exc
        if not os.access(f, os.W_OK | os.X_OK):
            raise ConfigError(f"The data folder {f} is not writable. Choose another folder.")
        data[DATA_FOLDER] = str(f)
    return save(data)
