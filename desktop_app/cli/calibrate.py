"""``twinlock calibrate PROFILE (--genuine F... --impostor F... | --labelled DIR | --mnist DIR)
[--target-far 1e-3] [--apply [--yes]] [--reset]``: a profile's threshold from genuine and
impostor comparisons, and what it means; applying or resetting it is an admin action, and so
is comparing image files with the profile (--genuine/--impostor: the passphrase, refused
while the profile is locked out, audited)."""

from __future__ import annotations

import sys

from desktop_app.core import calibration as cal
from desktop_app.core.admin_actions import Declined, apply_threshold, reset_threshold
from desktop_app.core.settings import effective_threshold

from .common import (
    EXIT_OK,
    SetupError,
    add_common,
    friendly,
    embedder_from_args,
    open_store,
    progress_bar,
    require_admin,
)


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="choose a profile's threshold from genuine and impostor samples")
    p.add_argument("profile")
    p.add_argument("--genuine", nargs="+", metavar="IMG", help="images of the enrolled symbol")
    p.add_argument("--impostor", nargs="+", metavar="IMG", help="images of other symbols")
    p.add_argument("--labelled", metavar="DIR", help="labelled folder DIR/<label>/*.png")
    p.add_argument("--mnist", metavar="DIR", help="MNIST folder (IDX files; test split)")
    p.add_argument("--limit", type=int, default=2000, help="MNIST images to use (default 2000)")
    p.add_argument("--target-far", type=float, default=1e-3)
    p.add_argument("--k-nearest", type=int, default=1)
    p.add_argument("--apply", action="store_true", help="persist the recommended threshold (admin)")
    p.add_argument(
        "--yes",
        action="store_true",
        help="apply even a threshold looser than the model default or one the impostor count "
        "cannot support (otherwise that needs a confirmation)",
    )
    p.add_argument("--reset", action="store_true", help="go back to the model's default threshold")
    add_common(p)
    p.set_defaults(func=cmd_calibrate)


def _distances(args, store, emb, prof):
    """The genuine and impostor comparisons (core CalibrationData) from the chosen source."""
    if args.genuine or args.impostor:
        if not (args.genuine and args.impostor):
            raise SetupError("calibrate needs both --genuine and --impostor images")
        return cal.from_image_files(store, emb, prof.name, args.genuine, args.impostor, args.k_nearest)
    if args.labelled:
        return cal.from_labelled_folder(
            emb,
            args.labelled,
            refs_per_profile=max(1, prof.n_references),
            k_nearest=args.k_nearest,
            progress=progress_bar("calibrating"),
        )
    if args.mnist:
        return cal.from_mnist(
            emb,
            args.mnist,
            limit=args.limit,
            refs_per_profile=max(1, prof.n_references),
            k_nearest=args.k_nearest,
            progress=progress_bar("calibrating"),
        )
    raise SetupError("calibrate needs --genuine/--impostor images, --labelled DIR or --mnist DIR")


def _print_recommendation(args, store, data, rec, prof, emb) -> None:
    g, i = data.counts
    print(f"source: {data.source}")
    if args.mnist:  # the recommendation is about digits, not the profile's own symbol
        print(
            f"note: these samples are MNIST digits, not the symbol enrolled in '{prof.name}': the threshold "
            "below is the one that tells handwritten digits apart. For your own symbol, calibrate with its "
            "images (--genuine/--impostor) or in the app (Tools > Calibrate threshold)."
        )
    print(f"comparisons: {g} genuine, {i} impostor")
    print(f"EER {rec['eer']:.2%} at threshold {rec['eer_threshold']:.4f}")
    print(
        f"at target FAR {args.target_far:g}: threshold {rec['threshold']:.4f}, FAR {rec['far']:.4%} "
        f"({rec['false_accepts']}/{rec['impostor']}), FRR {rec['frr']:.2%} ({rec['false_rejects']}/{rec['genuine']})"
    )
    current = effective_threshold(store, prof, emb.contract)  # what verify uses, and where it comes from
    print(f"current threshold: {current.value:.4f} ({current.source})")
    if not rec["supported"]:
        need = cal.impostors_needed(args.target_far)  # the rule of three
        print(
            f"warning: {i} impostor comparisons cannot support a FAR of {args.target_far:g} (need at least "
            f"{need}); the threshold is a guess at that rate.",
            file=sys.stderr,
        )


def _apply(args, store, emb, prof, data, rec) -> None:
    """core admin_actions.apply_threshold: the confirmation (--yes or the prompt), the
    threshold and its audit row in one transaction."""
    from .admin_gate import confirmation

    try:
        apply_threshold(
            store,
            prof.name,
            rec["threshold"],
            data,
            via="cli",
            confirm=confirmation(args),
            embedder=emb,
            target_far=args.target_far,
        )
    except Declined:
        raise SetupError(
            "not applied: the threshold needs a confirmation (see the warning); add --yes to apply it anyway"
        ) from None
    print(f"applied threshold {rec['threshold']:.4f} to profile '{prof.name}'")


@friendly
def cmd_calibrate(args) -> int:
    store = open_store(args)
    prof = store.get_profile(args.profile)
    if (args.genuine or args.impostor) and not args.reset:
        # image files compared with the profile's references: an oracle, so an admin action
        # (refused while locked out, the passphrase, audited: cli/admin_gate, core.admin_actions)
        from .admin_gate import inspect_profile

        action = "calibrate --genuine/--impostor" + (" --apply" if args.apply else "")
        refused = inspect_profile(
            args,
            store,
            prof.name,
            action,
            genuine=len(args.genuine or []),
            impostor=len(args.impostor or []),
        )
        if refused is not None:
            return refused
    elif args.reset or args.apply:
        require_admin(args, store, "calibrate --reset" if args.reset else "calibrate --apply", prof.name)
    if args.reset:
        reset_threshold(store, prof.name, via="cli")
        print(f"profile '{prof.name}' uses the model's calibrated default threshold again")
        return EXIT_OK
    emb = embedder_from_args(args, store)
    data = _distances(args, store, emb, prof)
    if not 0 < args.target_far < 1:
        raise SetupError("--target-far must be between 0 and 1, e.g. 1e-3")
    rec = cal.recommend(data, args.target_far)
    _print_recommendation(args, store, data, rec, prof, emb)
    if args.apply:
        _apply(args, store, emb, prof, data, rec)
    else:
        print("(not applied: add --apply to use it)")
    return EXIT_OK
