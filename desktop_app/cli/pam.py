"""``twinlock pam``: the entry point pam_exec runs (docs/pam.md), for the user in ``PAM_USER``.

    auth  sufficient  pam_exec.so quiet /PATH/TO/python -I -m desktop_app.cli.main pam

Exits 0 only on a grant. Everything else -- switched off, no database, no profile, no
camera, locked out, denied, no symbol, the time limit, any error -- exits non-zero at once,
so the next PAM module (the password) asks. The whole run, from the interpreter's start,
is bounded by the time limit (default 3 s, ``time_limit_s`` in /etc/twinlock/pam.json): the
attempt runs in a child process, as the user, that is stopped at the deadline. The rules
are desktop_app/core/pam.py's; this module only maps them to exit statuses and one line on
stderr (pam_exec sends it to its ``log=`` file, else nowhere).
"""

from __future__ import annotations

import sys
import time

from desktop_app.core import pam
from desktop_app.core.camera import CameraError
from desktop_app.core.contract import ContractError
from desktop_app.core.deadline import process_age, run_with_deadline
from desktop_app.core.store import StoreError

from .common import EXIT_NO_SYMBOL, EXIT_SETUP


def register(sub) -> None:
    p = sub.add_parser(
        "pam",
        help="unlock through PAM: what pam_exec runs (exit 0 only on a grant; see docs/pam.md)",
        description="What pam_exec runs to unlock for the user in PAM_USER: exit 0 only on a "
        "grant; anything else fails at once, so the next PAM module (the password) asks. The "
        "whole run is bounded by the time limit (3 s unless /etc/twinlock/pam.json says "
        "otherwise). Set-up, the kill switch and what it protects: docs/pam.md.",
    )
    p.add_argument(
        "--system-dir",
        metavar="DIR",
        default=None,
        help="the folder of the kill switch (pam-disabled) and pam.json, owned by root (default: /etc/twinlock)",
    )
    p.set_defaults(func=cmd_pam)


def _say(text: str) -> None:
    print(f"twinlock pam: {text}", file=sys.stderr)


def cmd_pam(args) -> int:
    started = time.monotonic() - process_age()  # the limit counts from the interpreter's start
    try:
        system = pam.read_system_settings(args.system_dir or pam.SYSTEM_DIR)
        if system.disabled_by:
            _say(f"switched off ({system.disabled_by}); the next PAM module asks")
            return EXIT_SETUP
        name = pam.pam_user_name()
    except pam.PamRefused as exc:
        _say(str(exc))
        return EXIT_SETUP
    deadline = started + system.time_limit_s
    res = run_with_deadline(lambda: _attempt(name, deadline), deadline)
    if res.killed and res.code != 0:
        _say(f"{name}: no decision within the time limit of {system.time_limit_s:g} s")
        return EXIT_NO_SYMBOL
    return res.code if 0 <= res.code < 128 else EXIT_SETUP


def _attempt(name: str, deadline: float) -> int:
    """The child: one attempt as the user; its exit status."""
    from .verify import EXIT_FOR_DECISION

    try:
        st = pam.attempt_for_user(name, deadline)
    except pam.PamRefused as exc:
        _say(f"{name}: {exc}")
        return EXIT_SETUP
    except SystemExit:  # whatever asked to exit, it was not a grant
        _say(f"{name}: the attempt exited early")
        return EXIT_SETUP
    except Exception as exc:  # a damaged database, model or camera: one line, never a grant
        if not isinstance(exc, (StoreError, ContractError, CameraError, OSError)):
            raise
        _say(f"{name}: {exc}")
        return EXIT_SETUP
    # the decision only: how close a denied symbol came is never told (the audit log has it)
    _say(f"{name}: {st.state}")
    code = EXIT_FOR_DECISION.get(st.state, EXIT_NO_SYMBOL)
    if code == 0 and st.state != "granted":  # only a grant opens
        code = EXIT_NO_SYMBOL
    return code


__all__ = ["cmd_pam", "register"]
