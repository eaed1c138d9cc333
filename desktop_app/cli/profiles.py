"""``twinlock profiles list | show NAME [--strength] | remove NAME [--yes] | export NAME FILE |
import FILE [--name N] [--overwrite] [--yes]``: one subcommand per action (remove, export,
import and show --strength are admin actions). An import computes the embeddings with the
model in use and asks before a file loosens the threshold or the policy."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from .common import (
    EXIT_OK,
    SetupError,
    add_common,
    confirm,
    friendly,
    load_embedder,
    open_store,
    require_admin,
    timestamp,
)


def register(sub) -> None:
    p = sub.add_parser("profiles", help="list, show, remove, export or import profiles")
    # the common options are accepted before the action too (`profiles --db X list`); on the
    # action's parser they default to "not given", so they never undo one given before it
    add_common(p)
    acts = p.add_subparsers(dest="action", metavar="ACTION", parser_class=type(p))
    acts.required = True

    def action(name: str, help: str, func):
        a = acts.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".")
        a.set_defaults(func=func)
        return a

    def common(a) -> None:
        add_common(a, defaults=False)

    common(action("list", "list the profiles", cmd_list))
    a = action("show", "show a profile: references, threshold, policy, failures (and --strength)", cmd_show)
    a.add_argument("name", help="profile name")
    a.add_argument(
        "--strength",
        action="store_true",
        help="also the symbol-strength verdict, which tells what the symbol looks like (admin: the "
        "passphrase, refused while the profile is locked out, audited)",
    )
    common(a)
    a = action("remove", "remove a profile and its references (admin)", cmd_remove)
    a.add_argument("name", help="profile name")
    a.add_argument("--yes", action="store_true", help="remove without asking")
    common(a)
    a = action("export", "write a profile to a file (admin; refused while it is locked out)", cmd_export)
    a.add_argument("name", help="profile name")
    a.add_argument("file", nargs="?", help="the file to write")
    common(a)
    a = action("import", "read a profile from a file written by 'profiles export' (admin)", cmd_import)
    a.add_argument("file", help="the file to read")
    a.add_argument("--name", dest="as_name", help="import under this name")
    a.add_argument("--overwrite", action="store_true", help="import over an existing profile")
    a.add_argument(
        "--yes",
        action="store_true",
        help="import even a file whose threshold is looser than the model's default or whose policy is "
        "weaker than this app's (otherwise that needs a confirmation); audited with what it loosens",
    )
    common(a)


@friendly
def cmd_list(args) -> int:
    store = open_store(args)
    profs = store.list_profiles()
    if not profs:
        print("no profiles yet: twinlock enroll NAME IMAGES...")
    for p in profs:
        lock = store.lockout(p.name)
        extra = f", locked {math.ceil(lock.remaining()):.0f} s" if lock.remaining() > 0 else ""
        thr = "model default" if p.threshold is None else f"{p.threshold:.3f}"
        print(f"{p.name}\t{p.n_references} references\tthreshold {thr}\tcreated {timestamp(p.created)}{extra}")
    return EXIT_OK


@friendly
def cmd_show(args) -> int:
    from .strength import profile_strength_lines

    store = open_store(args)
    p = store.get_profile(args.name)
    lock = store.lockout(p.name)
    print(f"profile:     {p.name}")
    print(f"created:     {timestamp(p.created)}")
    print(f"references:  {p.n_references} (model {', '.join(f[:12] for f in p.fingerprints) or '-'})")
    print(f"threshold:   {'model default' if p.threshold is None else f'{p.threshold:.4f}'}")
    print(f"policy:      {json.dumps(p.policy) if p.policy else 'app defaults'}")
    print(
        f"failures:    {lock.failures} consecutive denied"
        + (f"; locked for {lock.remaining():.0f} s" if lock.remaining() > 0 else "")
    )
    if not args.strength:
        print("strength:    not shown (it tells what the symbol looks like): add --strength (admin)")
        return EXIT_OK
    from .admin_gate import inspect_profile

    refused = inspect_profile(args, store, p.name, "profiles show --strength")
    if refused is not None:
        return refused
    profile_strength_lines(store, load_embedder(args, store), p.name)  # the strength verdict again
    return EXIT_OK


@friendly
def cmd_remove(args) -> int:
    store = open_store(args)
    store.get_profile(args.name)
    require_admin(args, store, "profiles remove", args.name)
    if not args.yes:
        if not sys.stdin.isatty():
            raise SetupError(f"removing '{args.name}' deletes its references: add --yes to confirm")
        if not confirm(f"Remove profile '{args.name}' and its references?"):
            print("nothing removed")
            return EXIT_OK
    store.remove_profile(args.name)
    print(f"removed profile '{args.name}'")
    return EXIT_OK


@friendly
def cmd_export(args) -> int:
    from desktop_app.core.decision import AuditEvent

    store = open_store(args)
    if not args.file:
        raise SetupError("profiles export NAME FILE: the file to write is missing")
    prof = store.get_profile(args.name)
    require_admin(args, store, "profiles export", prof.name)
    rem = store.lockout(prof.name).remaining()
    if rem > 0:
        store.log_attempt(
            prof.name,
            AuditEvent.EXPORT_REFUSED,
            detail={"reason": "the profile is locked out", "lockout_remaining_s": round(rem, 1)},
        )
        raise SetupError(
            f"profile '{prof.name}' is locked out for {math.ceil(rem)} s: it cannot be exported "
            "until the lockout ends (this was audited)."
        )
    dest = Path(args.file)
    if dest.is_dir():
        raise SetupError(f"{dest} is a folder: give the export a file name, e.g. {dest / (prof.name + '.json')}")
    if dest.exists() and not dest.is_file():
        raise SetupError(f"{dest} exists and is not a regular file; choose another file name")
    try:
        out = store.export_profile(prof.name, dest)
    except OSError as exc:
        raise SetupError(
            f"cannot write {dest} ({exc.strerror or exc}): choose a folder you can write to. Nothing was written."
        ) from None
    store.log_attempt(
        prof.name,
        AuditEvent.PROFILE_EXPORTED,
        detail={"file": str(Path(out).resolve()), "references": prof.n_references},
    )
    print(f"exported '{prof.name}' to {out}")
    return EXIT_OK


@friendly
def cmd_import(args) -> int:
    from desktop_app.core.store.profile_file import ImportNeedsConfirmation

    store = open_store(args)
    require_admin(args, store, "profiles import", args.as_name)
    emb = load_embedder(args, store)  # the embeddings are computed by the model in use, never read
    kw = dict(name=args.as_name, overwrite=args.overwrite, via="cli")
    try:
        p = store.import_profile(args.file, emb, confirmed=args.yes, **kw)
    except ImportNeedsConfirmation as exc:
        print(f"warning: {exc}", file=sys.stderr)
        if not confirm("Import it anyway?"):
            raise SetupError(
                "not imported: the file loosens the lock (see the warning); add --yes to import it anyway (audited)"
            ) from None
        p = store.import_profile(args.file, emb, confirmed=True, **kw)
    print(
        f"imported profile '{p.name}' ({p.n_references} references, embedded by model "
        f"{emb.contract.short_fingerprint}) from {args.file}"
    )
    return EXIT_OK
