"""``twinlock enroll PROFILE (IMAGES... | --camera N | --video FILE) [--symbols N]``: reference
images of a symbol into a profile (created if new), after the symbol-strength verdict; then
how consistent the profile's references are. With ``--symbols 2``-``4`` the images are
captures of a passcode card, read left to right: each capture gives one reference per
symbol (position)."""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from desktop_app.core.camera import open_source
from desktop_app.core.consistency import consistency
from desktop_app.core.passcode import check_supported, position_thresholds
from desktop_app.core.preprocess import load_image, prepare_card_image, prepare_image, preprocess, preprocess_card
from desktop_app.core.settings import effective_threshold
from desktop_app.core.store import validate_profile_name

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
    p.add_argument(
        "--symbols",
        type=int,
        metavar="N",
        help="a passcode of N symbols (2-4) on one card, read left to right: each image is a capture of the "
        "whole card (default: 1, or the existing profile's count)",
    )
    add_common(p)
    p.add_argument(
        "--allow-weak",
        action="store_true",
        help="enroll even when the symbol is below the minimum strength (admin override, recorded in the audit log)",
    )
    p.set_defaults(func=cmd_enroll)


def _frames_from_spec(args):
    """(iterator of (frame, label), description, is_live) for the enroll sources."""
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
    if args.symbols is not None and not 1 <= args.symbols <= 4:
        raise SetupError(f"--symbols must be between 1 and 4 (got {args.symbols})")


def _symbols(args, store, emb, name: str) -> int:
    """How many symbols the enrollment reads: --symbols, else the existing profile's count,
    else 1. A passcode needs the model's point for its length (refused before any capture)."""
    have = store.get_profile(name).symbols if store.has_profile(name) else None
    n = args.symbols if args.symbols is not None else (have or 1)
    if have is not None and n != have:
        raise SetupError(
            f"Profile '{name}' holds {have} symbol{'s' if have != 1 else ''}, not {n}. Enroll under another "
            "name, or remove the profile first."
        )
    check_supported(emb.contract, n)  # NoPasscodePoint: says what to do; nothing was enrolled
    return n


def _read(args, frame, symbols: int):
    if symbols > 1:
        return prepare_card_image(frame, symbols) if args.images else preprocess_card(frame, symbols)
    return prepare_image(frame) if args.images else preprocess(frame)


def _why(res, symbols: int) -> str:
    """Why a capture was skipped, in enrollment's words (a card: which symbol, how many found)."""
    if symbols > 1 and res.code == "card" and "card_found" in res.quality:
        found = int(res.quality["card_found"])
        return (
            f"found {found} symbol{'s' if found != 1 else ''} on the card, the passcode has {symbols}: leave a "
            "clear gap between symbols and keep the whole card in view"
        )
    if symbols > 1 and "card_position" in res.quality:
        return f"symbol {int(res.quality['card_position']) + 1}: {res.reason}"
    return res.reason


def _acquire(args, name: str, frames, live: bool, symbols: int = 1):
    """(usable preprocess results, frames skipped): image files searched whole, camera frames
    at most one per --interval until --count or --timeout, a video's picks spread over it."""
    from tqdm import tqdm

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
        res = _read(args, frame, symbols)
        if not live:
            bar.update(1)  # every file / video frame read counts, usable or not
        if not res.ok:
            skipped += 1
            if args.images:
                print(f"skipped {label}: {_why(res, symbols)}", file=sys.stderr)
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
    at the threshold verify uses (settings.effective_threshold; a passcode: per position, at
    its position's threshold)."""
    if prof.symbols > 1:
        thresholds = position_thresholds(prof, emb.contract).values
        for i, refs in enumerate(store.position_embeddings(name, emb.fingerprint)):
            _consistency_lines(refs, thresholds[i], f"symbol {i + 1} ")
        return
    refs = store.reference_embeddings(name, emb.fingerprint)
    _consistency_lines(refs, effective_threshold(store, prof, emb.contract).value, "")


def _consistency_lines(refs, thr: float, which: str) -> None:
    if len(refs) >= 2:
        rep = consistency(refs, thr)
        print(f"{which}consistency: mutual distances mean {rep.mean:.3f}, max {rep.max:.3f} (threshold {thr:.3f})")
        if rep.outliers:
            print(
                f"warning: {which}reference(s) {', '.join(str(i + 1) for i in rep.outliers)} lie far from the others "
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
        print(
            f"hint: enroll at least 3 references{' of ' + which.strip() if which else ''} for a dependable profile.",
            file=sys.stderr,
        )


@friendly
def cmd_enroll(args) -> int:
    from .strength import enroll_strength_gate

    name = validate_profile_name(args.profile)
    _check_options(args)
    store = open_store(args)
    require_admin(args, store, "enroll", name)
    emb = embedder_from_args(args, store)
    symbols = _symbols(args, store, emb, name)
    frames, desc, live = _frames_from_spec(args)
    good, skipped = _acquire(args, name, frames, live, symbols)
    if not good:
        what = f"passcode card of {symbols} symbols" if symbols > 1 else "symbol"
        print(f"twinlock: no usable {what} found in {desc}; nothing was enrolled.", file=sys.stderr)
        return EXIT_NO_SYMBOL
    if symbols > 1:
        return _enroll_passcode(args, store, emb, name, good, skipped, desc, symbols)
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


def _enroll_passcode(args, store, emb, name: str, good, skipped: int, desc: str, symbols: int) -> int:
    """Each card read gives one reference per position; the whole passcode's verdict (and
    each symbol's) before anything is saved; then one transaction for every position."""
    from .strength import passcode_strength_gate

    images = np.concatenate([r.images for r in good])
    positions = np.tile(np.arange(symbols), len(good))
    crops = [c for r in good for c in r.crops]
    vecs = emb.embed_images(images)
    per = [vecs[positions == i] for i in range(symbols)]
    if not passcode_strength_gate(args, store, emb, name, per, symbols):
        return EXIT_DENIED
    n = store.add_references(
        name, images, crops, vecs, emb.fingerprint, create=True, source=desc, positions=positions, symbols=symbols
    )
    prof = store.get_profile(name)
    print(
        f"enrolled {len(good)} capture(s) of a {symbols}-symbol passcode card into profile '{name}' ({n} references, "
        f"now {', '.join(str(k) for k in prof.references_per_position)} per symbol; "
        f"{_skipped_text(args, skipped).replace('symbol', 'card')}model {emb.contract.short_fingerprint}, {emb.provider})"
    )
    _print_consistency(store, emb, name, prof)
    return EXIT_OK
