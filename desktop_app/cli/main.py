"""``twinlock`` entry point: builds the parser from the command modules and runs one.

Exit status (so ``twinlock verify`` can sit behind pam_exec or a script):
0 granted / success, 1 denied, 2 no symbol or timeout, 3 locked out, 4 usage or setup error.
Commands that need torch (train, evaluate, export) import it only when they run. Options
and positionals may come in any order (``enroll NAME --allow-weak A.png B.png``). A reader
that goes away (``twinlock audit | head -1``) is normal: the command stops quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from desktop_app.core.threads import limit_blas_threads

from .common import EXIT_DENIED, EXIT_LOCKED, EXIT_NO_SYMBOL, EXIT_OK, EXIT_SETUP, SetupError

__all__ = [
    "EXIT_DENIED",
    "EXIT_LOCKED",
    "EXIT_NO_SYMBOL",
    "EXIT_OK",
    "EXIT_SETUP",
    "SetupError",
    "build_parser",
    "main",
]

# one module per verb, each with ``register(subparsers)``, in the order `twinlock --help`
# lists them; the shared options, exit codes and helpers are in desktop_app/cli/common.py
COMMAND_MODULES = (
    "desktop_app.cli.train",  # needs torch, imported when it runs
    "desktop_app.cli.evaluate",  # needs torch, imported when it runs
    "desktop_app.cli.export",  # needs torch, imported when it runs
    "desktop_app.cli.model",  # model info
    "desktop_app.cli.enroll",
    "desktop_app.cli.verify",
    "desktop_app.cli.test_mode",  # twinlock test: the admin's test mode
    "desktop_app.cli.profiles",  # list, show, remove, export, import
    "desktop_app.cli.audit",
    "desktop_app.cli.calibrate",
    "desktop_app.cli.doctor",
    "desktop_app.cli.identify",
    "desktop_app.cli.duplicates",
    "desktop_app.cli.strength",
    "desktop_app.cli.pam",  # the PAM entry point (docs/pam.md)
)


# frame-at-a-time commands: one BLAS thread (see desktop_app/core/threads.py)
INTERACTIVE_COMMANDS = {"enroll", "verify", "calibrate", "test"}


# what `twinlock --help` says (the module docstring above is for developers)
DESCRIPTION = "twinlock: unlock with a handwritten symbol you show to the camera."
EPILOG = (
    "Exit status: 0 granted or done, 1 denied, 2 no symbol or time limit, 3 locked out, "
    "4 a usage or setup error. 'twinlock COMMAND --help' describes each command."
)
# verbs whose exit status is an access decision: a closed output never turns into 0 there
DECIDING_COMMANDS = {"verify"}


class _Parser(argparse.ArgumentParser):
    _intermixing = False

    def parse_known_args(self, args=None, namespace=None):
        """A command's options and positionals may be intermixed (``profiles export alice --db X
        out.json``); a parser with sub-commands parses as argparse does."""
        if self._intermixing or self._subparsers is not None:
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return super().parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False

    def error(self, message):  # usage errors exit 4, not argparse's 2 (2 means "no symbol")
        # one line: what is wrong, and where the usage is
        self.exit(EXIT_SETUP, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="twinlock", description=DESCRIPTION, epilog=EPILOG)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_SETUP
    if args.command in INTERACTIVE_COMMANDS:
        limit_blas_threads(1)
    code = None
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except SetupError as exc:
        print(f"twinlock: {exc}", file=sys.stderr)
        return EXIT_SETUP
    except KeyboardInterrupt:
        print("twinlock: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`twinlock audit | head -1`): normal for a command line, so no
        # message and no traceback, now or at interpreter exit
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        if code is not None:  # the command had finished: its own status
            return code
        # cut short: done for a listing; never a grant for a command that decides access
        return EXIT_SETUP if args.command in DECIDING_COMMANDS else EXIT_OK
    except MemoryError:
        print("twinlock: out of memory (an input is too large)", file=sys.stderr)
        return EXIT_SETUP
    except Exception as exc:  # the last net: one line, exit 4, never a traceback
        if os.environ.get("TWINLOCK_TRACEBACK"):
            raise
        print(
            f"twinlock: internal error ({type(exc).__name__}: {str(exc)[:300]}). Nothing more was "
            "changed; please report this (TWINLOCK_TRACEBACK=1 shows the traceback).",
            file=sys.stderr,
        )
        return EXIT_SETUP


if __name__ == "__main__":
    # run through the imported module, so that the parser and its handlers are the ones the
    # installed entry point uses (``python -m`` makes this file a second module, __main__)
    from desktop_app.cli.main import main as _main

    sys.exit(_main())
