"""``twinlock audit [--profile P] [--decision D]... [--limit N] [--json] [--distances]``: the
audit log; best distances, frame counts and attempts' reasons only with --distances (admin)."""

from __future__ import annotations

import json

from desktop_app.core.disclosure import redact_audit_entry
from desktop_app.core.store import printable

from .common import EXIT_OK, add_common, fmt, friendly, open_store, require_admin, timestamp


def register(sub) -> None:
    p = sub.add_parser("audit", help="show the audit log")
    p.add_argument("--profile")
    p.add_argument("--decision", action="append", help="granted, denied, no_symbol, locked, ... (repeatable)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.add_argument(
        "--distances",
        action="store_true",
        help="show each attempt's best distance, frames used and reason (admin: needs the passphrase "
        "when one is set); without it the log tells no one how close an attempt came",
    )
    add_common(p)
    p.set_defaults(func=cmd_audit)


@friendly
def cmd_audit(args) -> int:
    store = open_store(args)
    rows = store.audit(profile=args.profile, decision=args.decision, limit=args.limit)
    if args.distances:
        require_admin(args, store, "audit --distances", args.profile)
    else:  # how close each attempt came is for an admin (core.disclosure)
        from types import SimpleNamespace

        rows = [SimpleNamespace(**redact_audit_entry(r)) for r in rows]
    if args.json:
        print(json.dumps([{**r.__dict__} for r in rows], default=str))
        return EXIT_OK
    if not rows:
        print("the audit log is empty" + (" for this filter" if args.profile or args.decision else ""))

    for r in rows:
        reason = r.detail.get("reason", "") if isinstance(r.detail, dict) else ""
        print(
            f"{timestamp(r.time)}  {printable(r.profile or '-'):<16} {printable(r.decision):<16} "
            f"best {fmt(r.best_distance)} thr {fmt(r.threshold)} frames {fmt(r.frames_used, '<3')} "
            f"model {printable(r.fingerprint[:12]) or '-':<12} {printable(r.provider or '-'):<4} {printable(reason)}"
        )
    return EXIT_OK
