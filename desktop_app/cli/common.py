"""What every ``twinlock`` verb shares: exit codes, the setup error, the options each verb
takes (``--db``, ``--model``, ``--provider``, ``--passphrase-file``), opening the store and
the model, the admin passphrase, and small output helpers.

Exit status (so ``twinlock verify`` can sit behind pam_exec or a script):
0 granted / success, 1 denied, 2 no symbol or timeout, 3 locked out, 4 usage or setup error.

Admin actions (enroll, calibrate --apply/--reset, profiles remove/import/export, doctor
--reembed, strength --minimum, and verify's --threshold/-k/-n/--debug overrides) need the
admin passphrase once one is set (in the app's Settings): from ``--passphrase-file FILE``
(its first line), ``$TWINLOCK_PASSPHRASE``, or a prompt when run in a terminal. A wrong
passphrase is audited ("passphrase_failed") and changes nothing.

Nothing here imports more than the standard library at module level: a verb pays only for
what it uses.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from datetime import datetime
from pathlib import Path

from desktop_app.core.calibration import CalibrationError
from desktop_app.core.camera import CameraError
from desktop_app.core.contract import ContractError
from desktop_app.core.gallery import GalleryError
from desktop_app.core.passphrase import PassphraseDelayed, PassphraseError, check_admin_passphrase, is_hash
from desktop_app.core.paths import database_path
from desktop_app.core.settings import load_embedder
from desktop_app.core.store import Store, StoreError

EXIT_OK, EXIT_DENIED, EXIT_NO_SYMBOL, EXIT_LOCKED, EXIT_SETUP = 0, 1, 2, 3, 4

# what train, evaluate and export need (torch), and how to get it
INSTALL_TRAIN_EXTRA = 'pip install -e ".[train]"'


class SetupError(Exception):
    """A problem the user can fix (bad path, missing extra, corrupt file): exit status 4."""


def friendly(fn):
    """Turn the core's user-facing errors into SetupError (exit 4, one clear line)."""

    @functools.wraps(fn)
    def wrapper(args):
        try:
            return fn(args)
        except Exception as exc:
            user_errors = (ContractError, StoreError, CameraError, CalibrationError, PassphraseError, GalleryError)
            if isinstance(exc, user_errors):
                raise SetupError(str(exc)) from None
            raise

    return wrapper


# --------------------------------------------------------------------------- options
def add_common(p, passphrase: bool = True, defaults: bool = True) -> None:
    """``--db``, ``--model``, ``--provider`` (and ``--passphrase-file`` for verbs with admin
    actions) on parser ``p``. ``defaults=False`` (a subcommand's copy of options its parent
    has too) leaves an option that is not given unset, so it never undoes the parent's."""
    kw = {} if defaults else {"default": argparse.SUPPRESS}
    p.add_argument("--db", metavar="PATH", help="database file (default: $TWINLOCK_DB or the user data folder)", **kw)
    p.add_argument(
        "--model",
        metavar="PATH",
        help="ONNX model (default: $TWINLOCK_MODEL, the configured model, or the shipped default)",
        **kw,
    )
    p.add_argument(
        "--provider",
        choices=("auto", "cuda", "cpu"),
        default=None if defaults else argparse.SUPPRESS,
        help="ONNX Runtime provider (default: the app setting, 'auto')",
    )
    if passphrase:
        p.add_argument(
            "--passphrase-file",
            metavar="FILE",
            help="admin passphrase (first line of FILE; else $TWINLOCK_PASSPHRASE or a prompt), "
            "needed for admin actions once a passphrase is set",
            **kw,
        )


def camera_index(text: str) -> int:
    """argparse type of ``--camera N``."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a camera is a number 0..63, not {text!r}") from None
    if not 0 <= v <= 63:
        raise argparse.ArgumentTypeError(f"a camera is a number 0..63, not {v}")
    return v


# --------------------------------------------------------------------------- store and model
def db_path(args) -> Path:
    return database_path(args.db)


def open_store(args, create: bool = True):
    return Store(args.db, create=create)


def open_existing_store(args):
    """The store when its database exists, else None (nothing is created)."""
    return open_store(args, create=False) if Path(db_path(args)).exists() else None


def embedder_from_args(args, store):
    """The model in use (``--model``, ``$TWINLOCK_MODEL``, the stored setting, the shipped
    one). Never re-embeds: switching models is an explicit admin action (doctor --reembed,
    the app)."""
    return load_embedder(store, args.model, args.provider, reembed=False)


# --------------------------------------------------------------------------- admin passphrase
def read_passphrase(args) -> str | None:
    f = getattr(args, "passphrase_file", None)
    if f:
        pf = Path(f)
        if not pf.is_file():
            raise SetupError(f"--passphrase-file {f}: not a regular file")
        try:
            with open(pf, encoding="utf-8") as fh:
                return fh.readline(4096).rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SetupError(f"--passphrase-file {f} cannot be read ({exc})") from None
    env = os.environ.get("TWINLOCK_PASSPHRASE")
    if env is not None:
        return env
    if sys.stdin.isatty():
        import getpass

        try:
            return getpass.getpass("twinlock admin passphrase: ")
        except EOFError:
            return None
    return None


def require_admin(args, store, action: str, profile: str | None = None) -> bool:
    """Ask for the admin passphrase when one is set; True when one was set and given.
    A wrong or missing passphrase raises SetupError (exit 4), a wrong one is audited."""
    stored = store.get_setting("admin_passphrase", None)
    if not stored:
        return False
    if not is_hash(stored):
        raise SetupError(
            "The stored admin passphrase is damaged, so admin actions are refused. Set a new "
            "one in the app (Tools > Settings) after restoring the database from a backup."
        )
    given = read_passphrase(args)
    if given is None:
        raise SetupError(
            f"{action} needs the admin passphrase: pass --passphrase-file FILE, set "
            "$TWINLOCK_PASSPHRASE, or run it in a terminal to be asked. Nothing was changed."
        )
    try:
        ok = check_admin_passphrase(store, given, action, profile, via="cli", attempt=1)  # the app counts its tries
    except PassphraseDelayed as exc:
        raise SetupError(str(exc)) from None
    if not ok:
        raise SetupError(f"wrong admin passphrase for {action}; nothing was changed (this is audited).")
    return True


# --------------------------------------------------------------------------- output
def progress_bar(desc: str):
    """A tqdm-backed ``progress(done, total)`` callback (on stderr)."""
    state = {}

    def progress(done, total):
        from tqdm import tqdm

        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=False)
        bar = state["bar"]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress


def add_progress_jsonl(p) -> None:
    p.add_argument(
        "--progress-jsonl",
        metavar="FILE",
        help="report progress as JSON lines in FILE ('-': stdout), one object per line: "
        '{"stage": ..., "done": n, "total": m, "message": ...} (total 0: a step without a '
        "count); no progress bars then",
    )


class JsonlProgress:
    """``report(stage, done, total, message)``: one JSON object per line, flushed at once, on
    stdout (``-``) or in a file (replaced). A context manager that closes the file."""

    def __init__(self, target: str):
        self.target = target
        if target == "-":
            self.fh, self._own = sys.stdout, False
        else:
            try:
                self.fh, self._own = open(target, "w", encoding="utf-8"), True  # noqa: SIM115
            except OSError as exc:
                raise SetupError(
                    f"cannot write --progress-jsonl {target} ({exc.strerror or exc}): choose a file you can write to"
                ) from None

    def __call__(self, stage: str, done: int, total: int, message: str = "") -> None:
        rec = {"stage": str(stage), "done": int(done), "total": int(total), "message": str(message)}
        self.fh.write(json.dumps(rec) + "\n")
        self.fh.flush()

    def close(self) -> None:
        if self._own:
            self.fh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def timestamp(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def fmt(v, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def confirm(question: str) -> bool:
    """A yes/no question on the terminal (False when stdin is not one)."""
    if not sys.stdin.isatty():
        return False
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
