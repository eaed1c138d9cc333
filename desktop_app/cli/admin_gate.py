"""The CLI side of an admin action that looks inside a profile (core.admin_actions): refused
while the profile is locked out (exit 3), then the admin passphrase (common.require_admin,
which audits a wrong one), then the core's audit row."""

from __future__ import annotations

import sys

from .common import EXIT_LOCKED, require_admin


def inspect_profile(args, store, profile: str, action: str, **detail) -> int | None:
    """None when the action may go on (audited); EXIT_LOCKED (the refusal printed) while the
    profile is locked out. A missing or wrong passphrase raises SetupError (exit 4)."""
    from desktop_app.core.admin_actions import LockedOutError, audit_inspection, refuse_while_locked

    try:
        refuse_while_locked(store, profile, action, via="cli")
    except LockedOutError as exc:
        print(f"twinlock: {exc}", file=sys.stderr)
        return EXIT_LOCKED
    given = require_admin(args, store, action, profile)
    audit_inspection(store, profile, action, via="cli", passphrase=given, **detail)
    return None
