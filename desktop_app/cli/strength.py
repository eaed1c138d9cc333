"""``twinlock strength [PROFILE] [--minimum weak|fair|strong]``: a profile's symbol-strength
verdict, or the minimum strength enrollment requires (setting it is an admin action); and
the verdict that ``enroll`` and ``profiles show --strength`` print. A profile's verdict says
what its symbol looks like, so it is an admin action too (the passphrase, refused while the
profile is locked out, audited)."""

from __future__ import annotations

import sys

from desktop_app.core.decision import AuditEvent
from desktop_app.core.gallery import GalleryError
from desktop_app.core.store import Store
from desktop_app.core.strength import (
    LEVELS,
    POLICY_SETTING,
    audit_override,
    audit_refusal,
    default_policy,
    passcode_strength_report,
    policy_level,
    set_policy_level,
    strength_report,
)

from .common import EXIT_OK, add_common, friendly, embedder_from_args, require_admin


def register(sub) -> None:
    p = sub.add_parser("strength", help="a profile's symbol-strength verdict; the minimum strength enrollment needs")
    p.add_argument("profile", nargs="?", help="the profile to judge")
    p.add_argument(
        "--minimum",
        choices=("weak", "fair", "strong"),
        help="set the minimum strength for enrollment (admin): weak = never refuse, fair = refuse "
        "weak symbols, strong = refuse all but strong ones",
    )
    add_common(p)
    p.set_defaults(func=cmd_strength)


def print_strength(report, file=None) -> None:
    out = file or sys.stdout
    print(f"strength:    {report.text}", file=out)
    print(
        f"             {report.accepted:,} of {report.gallery_size:,} common symbols within the threshold "
        f"{report.threshold:.3f}; minimum for enrollment: {report.policy}",
        file=out,
    )
    if report.nearest:
        print(
            "             nearest common symbols: "
            + ", ".join(f"{n.label} ({n.kind}) {n.distance:.2f}" for n in report.nearest[:5]),
            file=out,
        )


def enroll_strength_gate(args, store, emb, name: str, new_embeddings) -> bool:
    """Called by ``twinlock enroll`` before it saves: print the verdict; False (nothing is
    saved) when the symbol is below the policy level and ``--allow-weak`` was not given; an
    override is audited."""
    return _strength_gate(args, store, name, lambda: strength_report(store, emb, name, new_embeddings), print_strength)


def print_passcode_strength(report, file=None) -> None:
    out = file or sys.stdout
    lines = report.lines()
    print(f"strength:    {lines[0]}", file=out)
    for line in lines[1:]:
        print(f"             {line}", file=out)
    print(f"             minimum for enrollment: {report.policy}", file=out)


def passcode_strength_gate(args, store, emb, name: str, per_position, symbols: int) -> bool:
    """``enroll --symbols N``: each symbol's verdict and the whole passcode's; the minimum
    strength is judged on the whole passcode (refused unless ``--allow-weak``, audited)."""
    return _strength_gate(
        args,
        store,
        name,
        lambda: passcode_strength_report(store, emb, name, per_position, symbols),
        print_passcode_strength,
    )


def _strength_gate(args, store, name: str, make_report, show) -> bool:
    """The enrollment gate for one symbol or a passcode: show the verdict; a verdict below the
    policy is refused unless ``--allow-weak`` (the override and the refusal are audited)."""
    try:
        rep = make_report()
    except GalleryError as exc:
        print(f"warning: symbol strength not checked: {exc}", file=sys.stderr)
        return True
    show(rep)
    if rep.allowed:
        return True
    if getattr(args, "allow_weak", False):
        audit_override(store, name, rep, who="cli --allow-weak", source="twinlock enroll")
        print(
            f"warning: enrolled below the minimum strength '{rep.policy}' because of --allow-weak "
            "(recorded in the audit log)",
            file=sys.stderr,
        )
        return True
    audit_refusal(store, name, rep, source="twinlock enroll")
    print(
        f"twinlock: {rep.refusal()} Nothing was enrolled. To enroll it anyway, add --allow-weak (audited).",
        file=sys.stderr,
    )
    return False


def profile_strength_lines(store, emb, name: str) -> None:
    """``twinlock profiles show``: repeat the verdict for the stored references."""
    passcode = store.get_profile(name).symbols > 1
    try:
        rep = passcode_strength_report(store, emb, name) if passcode else strength_report(store, emb, name)
    except (GalleryError, ValueError) as exc:
        print(f"strength:    not judged ({exc})")
        return
    print_passcode_strength(rep) if passcode else print_strength(rep)


def _default_policy_text(store, emb) -> str:
    lvl = store.get_setting(POLICY_SETTING, None)
    text = f"minimum strength for enrollment: {policy_level(store, emb.contract)}"
    if lvl:
        return text
    why = (
        "was trained on symbols"
        if default_policy(emb.contract) == "fair"
        else "has only seen digits, so the verdict is advisory"
    )
    return (
        text + f" (default for this model; one of {', '.join(LEVELS)}; "
        f"'{default_policy(emb.contract)}' because the model {why})"
    )


@friendly
def cmd_strength(args) -> int:
    """Show a profile's verdict, or set the minimum strength enrollment requires (admin)."""
    store = Store(args.db)
    emb = None
    if args.minimum:
        require_admin(args, store, "strength --minimum")
        emb = embedder_from_args(args, store)
        old = policy_level(store, emb.contract)  # the level in force, default included, as `strength` says
        set_policy_level(store, args.minimum)
        store.log_attempt(
            None, AuditEvent.SETTINGS_CHANGED, detail={POLICY_SETTING: args.minimum, "was": old, "via": "cli"}
        )
        print(f"enrollment now requires at least '{args.minimum}' (was '{old}')")
    if args.profile:
        # what the profile's symbol looks like is an oracle: an admin action
        from .admin_gate import inspect_profile

        refused = inspect_profile(args, store, store.get_profile(args.profile).name, "strength PROFILE")
        if refused is not None:
            return refused
        profile_strength_lines(store, emb or embedder_from_args(args, store), args.profile)
    if not args.minimum and not args.profile:
        print(_default_policy_text(store, embedder_from_args(args, store)))
    return EXIT_OK
