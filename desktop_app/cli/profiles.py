"""``twinlock profiles list | show NAME [--strength] | remove NAME [--yes] | export NAME FILE |
import FILE [--name N] [--overwrite] [--yes]``: one subcommand per action (remove, export,
import and show --strength are admin actions). An import computes the embeddings with the
model in use and asks before a file loosens the threshold or the policy."""

from __future__ import annotations

import json
import math
import sys

from desktop_app.core.admin_actions import ActionRefused, Declined, export_profile, import_profile, remove_profile

from .common import (
    EXIT_OK,
    SetupError,
    add_common,
    friendly,
    embedder_from_args,
    open_store,
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
        kind = f"passcode of {p.symbols} symbols, " if p.symbols > 1 else ""
        print(f"{p.name}\t{kind}{p.n_references} references\tthreshold {thr}\tcreated {timestamp(p.created)}{extra}")
    return EXIT_OK


@friendly
def cmd_show(args) -> int:
    from .strength import profile_strength_lines

    store = open_store(args)
    p = store.get_profile(args.name)
    lock = store.lockout(p.name)
    print(f"profile:     {p.name}")
    print(f"created:     {timestamp(p.created)}")
    print(
        "symbols:     "
        + (
            f"{p.symbols} (a passcode: one card, read left to right; "
            f"{', '.join(str(k) for k in p.references_per_position)} references per symbol)"
            if p.symbols > 1
            else "1"
        )
    )
    print(f"references:  {p.n_references} (model {', '.join(f[:12] for f in p.fingerprints) or '-'})")
    thr_default = "the model's passcode point, per symbol" if p.symbols > 1 else "model default"
    print(f"threshold:   {thr_default if p.threshold is None else f'{p.threshold:.4f}'}")
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
    profile_strength_lines(store, embedder_from_args(args, store), p.name)  # the strength verdict again
    return EXIT_OK


@friendly
def cmd_remove(args) -> int:
    from .admin_gate import confirmation, passphrase

    store = open_store(args)
    name = store.get_profile(args.name).name
    try:
        remove_profile(
            store, name, via="cli", admin=passphrase(args, store, "profiles remove", name), confirm=confirmation(args)
        )
    except Declined:
        if not sys.stdin.isatty():
            raise SetupError(f"removing '{name}' deletes its references: add --yes to confirm") from None
        print("nothing removed")
        return EXIT_OK
    print(f"removed profile '{name}'")
    return EXIT_OK


@friendly
def cmd_export(args) -> int:
    from .admin_gate import passphrase

    store = open_store(args)
    if not args.file:
        raise SetupError("profiles export NAME FILE: the file to write is missing")
    name = store.get_profile(args.name).name
    try:
        out = export_profile(store, name, args.file, via="cli", admin=passphrase(args, store, "profiles export", name))
    except ActionRefused as exc:  # locked out (audited), a folder, a file that cannot be written
        raise SetupError(str(exc)) from None
    print(f"exported '{name}' to {out}")
    return EXIT_OK


@friendly
def cmd_import(args) -> int:
    from .admin_gate import confirmation, passphrase

    store = open_store(args)
    model = []

    def embedder():  # the model in use computes the embeddings (never read from the file)
        model.append(embedder_from_args(args, store))
        return model[0]

    try:
        p = import_profile(
            store,
            args.file,
            embedder,
            name=args.as_name,
            overwrite=args.overwrite,
            via="cli",
            admin=passphrase(args, store, "profiles import", args.as_name),
            confirm=confirmation(args),
        )
    except Declined:
        raise SetupError(
            "not imported: the file loosens the lock (see the warning); add --yes to import it anyway (audited)"
        ) from None
    print(
        f"imported profile '{p.name}' ({p.n_references} references, embedded by model "
        f"{model[0].contract.short_fingerprint}) from {args.file}"
    )
    return EXIT_OK
