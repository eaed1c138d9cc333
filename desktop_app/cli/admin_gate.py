"""The CLI's two answers to a core admin action (core.admin_actions): the passphrase prompt
(common.require_admin: --passphrase-file, $TWINLOCK_PASSPHRASE or the terminal; a missing
or wrong one is SetupError, exit 4) and the confirmation (--yes, else a y at the terminal).
The check, the write and the audit row are the core's."""

from __future__ import annotations

import sys

from desktop_app.core import admin_actions

from .common import EXIT_LOCKED, confirm, require_admin


def passphrase(args, store, action: str, profile: str | None = None):
    """The ``admin`` callable of a core action: asks for the passphrase when one is set."""

    def ask() -> bool:
        require_admin(args, store, action, profile)  # SetupError when missing or wrong
        return True

    return ask


def confirmation(args):
    """The ``confirm`` callable of a core action: its words on stderr ("warning: ..."), then
    its question -- yes with --yes, else a y at the terminal (no terminal: no)."""

    def ask(message: str) -> bool:
        words, _, question = message.rpartition("\n\n")
        if words:
            print(f"warning: {' '.join(words.split())}", file=sys.stderr)
        return bool(getattr(args, "yes", False)) or confirm(question)

    return ask


def inspect_profile(args, store, profile: str, action: str, **detail) -> int | None:
    """None when the action may go on (audited); EXIT_LOCKED (the refusal printed) while the
    profile is locked out. A missing or wrong passphrase raises SetupError (exit 4)."""
    try:
        admin_actions.inspect_profile(
            store, profile, action, via="cli", admin=passphrase(args, store, action, profile), **detail
        )
    except admin_actions.LockedOutError as exc:
        print(f"twinlock: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    return None
