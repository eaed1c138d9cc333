"""``twinlock enroll PROFILE (IMAGES... | --camera N | --video FILE)``: reference images of a
symbol into a profile (created if new), after the symbol-strength verdict; then how
consistent the profile's references are."""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from .common import (
    EXIT_DENIED,
    EXIT_NO_SYMBOL,
    EXIT_OK,
    SetupError,
    add_common,
    camera_index,
    friendly,
    embedder_from_args,
    open_store,
    require_admin,
)


def register(sub) -> None:
    p = sub.add_parser("enroll", help="enroll reference images of a symbol into a profile")
    p.add_argument("profile", help="profile name (created if new, else references are added)")
    p.add_argument("images", nargs="*", help="image files (photos of the symbol, or 28x28 images)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--camera", type=camera_index, metavar="N", help="capture from webcam N")
    g.add_argument("--video", metavar="FILE", help="take frames from a video file")
    p.add_argument("--count", type=int, default=5, help="references to capture (camera/video; default 5)")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between camera captures")
    p.add_argument("--timeout", type=float, default=60.0, help="give up capturing after this many seconds")
    add_common(p)
    p.add_argument(
        "--allow-weak",
        action="store_true",
        help="enroll even when the symbol is below the minimum strength (admin override, recorded in the audit log)",
    )
    p.set_defaults(func=cmd_enroll)


def _frames_from_spec(args):
    """(iterator of (frame, label), description, is_live) for the enroll sources."""
    from desktop_app.core.camera import open_source
    from desktop_app.core.preprocess import load_image

    if args.images:
        loaded = []
        for p in args.images:  # every file is read before anything is enrolled
            try:
                loaded.append((load_image(p), str(p)))
            except ValueError as exc:
                raise SetupError(f"{exc} Nothing was enrolled.") from None
        return iter(loaded), f"{len(args.images)} image files", False
    spec = args.camera if args.camera is not None else args.video
    src = open_source(int(spec) if args.camera is not None else spec)

    def gen():
        try:
            while True:
                f = src.read()
                if f is None:
                    return
                yield f.image, f"{src.description} frame {f.index}"
        finally:
            src.close()

    return gen(), src.description, src.is_live


def _check_options(args) -> None:
    if not args.images and args.camera is None and args.video is None:
        raise SetupError("enroll needs images, --camera N or --video FILE")
    if not 1 <= args.count <= 100:
        raise SetupError(f"--count must be between 1 and 100 (got {args.count})")
    for opt, v in (("--interval", args.interval), ("--timeout", args.timeout)):
        if not (math.isfinite(v) and 0 <= v <= 3600):
            raise SetupError(f"{opt} must be between 0 and 3600 seconds (got {v:g})")


def _acquire(args, name: str, frames, live: bool):
    """(usable preprocess results, frames skipped): image files searched whole, camera frames
    at most one per --interval until --count or --timeout, a video's picks spread over it."""
    from tqdm import tqdm

    from desktop_app.core.preprocess import prepare_image, preprocess

    count = args.count
    skipped = 0
    last_t = -1e9
    deadline = time.monotonic() + args.timeout
    # what the bar counts: image files read (of those given); a video's frames read (its
    # length is not known up front); a camera's references taken (of --count)
    if args.images:
        total, unit = len(args.images), "image"
    elif live:
        total, unit = count, "ref"
    else:
        total, unit = None, "frame"
    bar = tqdm(total=total, desc=f"enrolling '{name}'", unit=unit, file=sys.stderr, leave=False)
    good = []
    for frame, label in frames:
        res = prepare_image(frame) if args.images else preprocess(frame)
        if not live:
            bar.update(1)  # every file / video frame read counts, usable or not
        if not res.ok:
            skipped += 1
            if args.images:
                print(f"skipped {label}: {res.reason}", file=sys.stderr)
            if live and time.monotonic() > deadline:
                break
            continue
        if live:
            now = time.monotonic()
            if now - last_t < args.interval:
                continue
            last_t = now
            bar.update(1)
        good.append(res)
        if (live and len(good) >= count) or (live and time.monotonic() > deadline):
            break
    bar.close()
    if args.video and len(good) > count:  # spread the picks over the whole video
        idx = np.linspace(0, len(good) - 1, count).round().astype(int)
        good = [good[i] for i in idx]
    return good, skipped


def _skipped_text(args, skipped: int) -> str:
    """ "2 image files without a usable symbol skipped; " (each was named above), or "3
    frames ..." for a camera or video; nothing when none was skipped."""
    if not skipped:
        return ""
    what = "image file" if args.images else "frame"
    return f"{skipped} {what}{'s' if skipped != 1 else ''} without a usable symbol skipped; "


def _print_consistency(store, emb, name: str, prof) -> None:
    """How consistent the profile's references are, by the wizard's rule (core.consistency)
    at the threshold verify uses (settings.effective_threshold)."""
    from desktop_app.core.consistency import consistency
    from desktop_app.core.settings import effective_threshold

    refs = store.reference_embeddings(name, emb.fingerprint)
    if len(refs) >= 2:
        thr = effective_threshold(store, prof, emb.contract).value
        rep = consistency(refs, thr)
        print(f"consistency: mutual distances mean {rep.mean:.3f}, max {rep.max:.3f} (threshold {thr:.3f})")
        if rep.outliers:
            print(
                f"warning: reference(s) {', '.join(str(i + 1) for i in rep.outliers)} lie far from the others "
                "(median distance above the threshold, and well above the others'); consider re-enrolling them.",
                file=sys.stderr,
            )
        if rep.spread_out:
            print(
                "warning: on average the references are farther apart than the threshold, so even your own "
                "symbol may be rejected: draw it the same way each time and re-enroll, or calibrate the "
                "threshold ('twinlock calibrate').",
                file=sys.stderr,
            )
    if len(refs) < 3:
        print("hint: enroll at least 3 references for a dependable profile.", file=sys.stderr)


@friendly
def cmd_enroll(args) -> int:
    from desktop_app.core.store import validate_profile_name

    from .strength import enroll_strength_gate

    name = validate_profile_name(args.profile)
    _check_options(args)
    store = open_store(args)
    require_admin(args, store, "enroll", name)
    emb = embedder_from_args(args, store)
    frames, desc, live = _frames_from_spec(args)
    good, skipped = _acquire(args, name, frames, live)
    if not good:
        print(f"twinlock: no usable symbol found in {desc}; nothing was enrolled.", file=sys.stderr)
        return EXIT_NO_SYMBOL
    images = np.stack([r.image for r in good])
    crops = [r.crop for r in good]
    vecs = emb.embed_images(images)
    if not enroll_strength_gate(args, store, emb, name, vecs):  # the verdict; weak refused unless --allow-weak
        return EXIT_DENIED
    n = store.add_references(name, images, crops, vecs, emb.fingerprint, create=True, source=desc)
    prof = store.get_profile(name)
    print(
        f"enrolled {n} reference image(s) into profile '{name}' (now {prof.n_references}; "
        f"{_skipped_text(args, skipped)}model {emb.contract.short_fingerprint}, {emb.provider})"
    )
    _print_consistency(store, emb, name, prof)
    return EXIT_OK
