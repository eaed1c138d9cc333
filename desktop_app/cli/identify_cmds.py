"""Seed workflows on the command line: ``identify`` a symbol, find ``duplicates``; and the
symbol-strength verdict that ``enroll`` and ``profiles show`` print.

    twinlock identify IMAGE... [--gallery FOLDER] [--all-symbols] [--json]
    twinlock duplicates FOLDER [--threshold T] [--sheet DIR] [--json]
    twinlock strength [PROFILE] [--minimum weak|fair|strong]

``identify`` exits 0 when every image was identified, 2 when some image held no usable
symbol; ``duplicates`` exits 0. Bad input is exit 4 with one clear line.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import numpy as np

from .main import EXIT_NO_SYMBOL, EXIT_OK, SetupError


def _friendly(fn):
    @functools.wraps(fn)
    def wrapper(args):
        from desktop_app.core.contract import ContractError
        from desktop_app.core.gallery import GalleryError
        from desktop_app.core.store import StoreError

        try:
            return fn(args)
        except (ContractError, StoreError, GalleryError) as exc:
            raise SetupError(str(exc)) from None

    return wrapper


def _open(args):
    """(store or None, embedder): the configured model when a database exists, no re-embedding."""
    from desktop_app.core.paths import database_path
    from desktop_app.core.settings import load_embedder
    from desktop_app.core.store import Store

    store = Store(args.db, create=False) if Path(database_path(args.db)).exists() else None
    return store, load_embedder(store, args.model, args.provider, reembed=False)


def _embedded(args, emb, store):
    """(embeddings, labels, kinds, images, description) of the gallery identify compares with."""
    from desktop_app.core.gallery import embedded_gallery, folder_gallery

    if args.gallery:
        g, skipped = folder_gallery(args.gallery)
        for s in skipped:
            print(f"gallery: skipped {s}", file=sys.stderr)
        eg = embedded_gallery(emb, g, db=args.db, use_cache=False)
        return eg.embeddings, g.labels, g.kinds, g.images, f"{len(g):,} images of {args.gallery}"
    eg = embedded_gallery(emb, db=args.db)
    g = eg.gallery
    m = np.ones(len(g), bool) if args.all_symbols else (g.kinds == "digit")
    what = "common symbols" if args.all_symbols else "MNIST digits"
    return eg.embeddings[m], g.labels[m], g.kinds[m], g.images[m], f"{int(m.sum()):,} shipped {what}"


@_friendly
def cmd_identify(args) -> int:
    from desktop_app.core.identify import identify
    from desktop_app.core.preprocess import load_image, prepare_image

    store, emb = _open(args)
    gal, labels, kinds, _, desc = _embedded(args, emb, store)
    rows, missing = [], 0
    for p in args.images:
        try:
            res = prepare_image(load_image(p))
        except ValueError as exc:
            rows.append({"image": str(p), "ok": False, "reason": str(exc)})
            missing += 1
            continue
        if not res.ok:
            rows.append({"image": str(p), "ok": False, "reason": res.reason})
            missing += 1
            continue
        ident = identify(emb.embed_images(res.image), gal, labels, kinds, top=args.top)[0]
        rows.append({"image": str(p), "ok": True, "sentence": ident.sentence(), **ident.as_dict()})
    if args.json:
        print(json.dumps({"gallery": desc, "model": emb.contract.short_fingerprint, "results": rows}, indent=1))
    else:
        print(f"gallery: {desc}; model {emb.contract.short_fingerprint}")
        for r in rows:
            if not r["ok"]:
                print(f"{r['image']}: no symbol: {r['reason']}")
                continue
            best = ", ".join(f"{m['label']} {m['distance']:.2f}" for m in r["matches"])
            print(f"{r['image']}: {r['sentence']}  [best matches: {best}]")
    return EXIT_NO_SYMBOL if missing else EXIT_OK


def _image_files(folder: Path) -> list[Path]:
    from desktop_app.core.gallery import IMAGE_SUFFIXES

    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


@_friendly
def cmd_duplicates(args) -> int:
    from tqdm import tqdm

    from desktop_app.core.duplicates import DEFAULT_PIXEL_THRESHOLD, contact_sheet, default_threshold, find_duplicates
    from desktop_app.core.paths import atomic_write_bytes
    from desktop_app.core.preprocess import load_image, prepare_image

    import cv2

    folder = Path(args.folder)
    if not folder.is_dir():
        raise SetupError(f"{folder} is not a folder: give the folder of symbol images to search")
    files = _image_files(folder)
    if not files:
        raise SetupError(f"{folder} holds no image files (.png, .jpg, .bmp, .tif, .webp)")
    if args.threshold is not None and not (np.isfinite(args.threshold) and args.threshold > 0):
        raise SetupError("--threshold must be a positive number")
    if not (np.isfinite(args.pixel_threshold) and args.pixel_threshold > 0):
        raise SetupError(f"--pixel-threshold must be a positive number (the default is {DEFAULT_PIXEL_THRESHOLD})")
    _, emb = _open(args)
    thr = args.threshold if args.threshold is not None else default_threshold(emb.contract)
    images, kept, skipped = [], [], []
    for p in tqdm(files, desc="reading", unit="img", file=sys.stderr, leave=False, disable=len(files) < 200):
        try:
            res = prepare_image(load_image(p))
        except ValueError as exc:
            skipped.append((p, str(exc)))
            continue
        if not res.ok:
            skipped.append((p, res.reason))
            continue
        images.append(res.image)
        kept.append(p)
    vecs = emb.embed_images(np.stack(images)) if images else np.zeros((0, emb.dim), np.float32)
    groups = find_duplicates(
        vecs, thr, images=np.stack(images) if images else None, pixel_threshold=args.pixel_threshold
    )
    rel = [str(p.relative_to(folder)) for p in kept]
    if args.sheet and groups:
        out = Path(args.sheet)
        out.mkdir(parents=True, exist_ok=True)
        for gi, g in enumerate(groups, 1):
            pics = [load_image(kept[i]) for i in g.members]
            sheet = contact_sheet(pics, [Path(rel[i]).name for i in g.members], cols=min(6, len(pics)), cell=128)
            _ok, buf = cv2.imencode(".png", sheet)
            atomic_write_bytes(out / f"group-{gi:03d}.png", buf.tobytes())
    if args.json:
        print(
            json.dumps(
                {
                    "folder": str(folder),
                    "threshold": thr,
                    "images": len(kept),
                    "skipped": [{"file": str(p), "reason": r} for p, r in skipped],
                    "groups": [{"files": [rel[i] for i in g.members], "max_distance": g.max_distance} for g in groups],
                },
                indent=1,
            )
        )
        return EXIT_OK
    for p, r in skipped:
        print(f"skipped {p}: {r}", file=sys.stderr)
    print(
        f"{len(kept)} image(s) compared at threshold {thr:.3f} (model {emb.contract.short_fingerprint}): "
        f"{len(groups)} group(s) of near-duplicates"
        + (f"; contact sheets in {args.sheet}" if args.sheet and groups else "")
    )
    for gi, g in enumerate(groups, 1):
        print(
            f"group {gi} ({len(g.members)} images, largest distance {g.max_distance:.3f}): "
            + "  ".join(rel[i] for i in g.members)
        )
    return EXIT_OK


# ------------------------------------------------------------- enroll / profiles show hooks
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
    from desktop_app.core.gallery import GalleryError
    from desktop_app.core.strength import audit_override, audit_refusal, strength_report

    try:
        rep = strength_report(store, emb, name, new_embeddings)
    except GalleryError as exc:
        print(f"warning: symbol strength not checked: {exc}", file=sys.stderr)
        return True
    print_strength(rep)
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
    from desktop_app.core.gallery import GalleryError
    from desktop_app.core.strength import strength_report

    try:
        rep = strength_report(store, emb, name)
    except (GalleryError, ValueError) as exc:
        print(f"strength:    not judged ({exc})")
        return
    print_strength(rep)


@_friendly
def cmd_strength(args) -> int:
    """Show a profile's verdict, or set the minimum strength enrollment requires (admin)."""
    from desktop_app.core.strength import LEVELS, POLICY_SETTING, default_policy, policy_level, set_policy_level
    from desktop_app.core.store import Store

    store = Store(args.db)
    emb = None
    if args.minimum:
        from . import runtime_cmds

        admin = getattr(runtime_cmds, "_admin", None)  # the admin passphrase, once one is set
        if admin is not None:
            admin(args, store, "strength --minimum")
        old = policy_level(store)
        set_policy_level(store, args.minimum)
        store.log_attempt(None, "settings_changed", detail={POLICY_SETTING: args.minimum, "was": old, "via": "cli"})
        print(f"enrollment now requires at least '{args.minimum}' (was '{old}')")
    if args.profile:
        _, emb = _open(args)
        profile_strength_lines(store, emb, args.profile)
    if not args.minimum and not args.profile:
        _, emb = _open(args)
        lvl = store.get_setting(POLICY_SETTING, None)
        print(
            f"minimum strength for enrollment: {policy_level(store, emb.contract)}"
            + (
                ""
                if lvl
                else f" (default for this model; one of {', '.join(LEVELS)}; "
                f"'{default_policy(emb.contract)}' because the model "
                + (
                    "was trained on symbols"
                    if default_policy(emb.contract) == "fair"
                    else "has only seen digits, so the verdict is advisory"
                )
                + ")"
            )
        )
    return EXIT_OK


def register(sub) -> None:
    from desktop_app.core.duplicates import DEFAULT_PIXEL_THRESHOLD

    p = sub.add_parser("identify", help="say which symbol an image shows (nearest labelled gallery images)")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument(
        "--gallery", metavar="FOLDER", help="labelled images FOLDER/<label>/* (default: the shipped MNIST digits)"
    )
    p.add_argument(
        "--all-symbols",
        action="store_true",
        help="compare with the whole shipped gallery (digits, letters, shapes, Omniglot)",
    )
    p.add_argument("--top", type=int, default=5, help="best matches to list (default 5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)
    p.set_defaults(func=cmd_identify)

    p = sub.add_parser("duplicates", help="group near-duplicate symbol images in a folder")
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="embedding distance for near-duplicates (default: 0.5 x the model's default threshold)",
    )
    p.add_argument(
        "--pixel-threshold",
        type=float,
        default=DEFAULT_PIXEL_THRESHOLD,
        help="distance of the 28x28 model-form images for near-duplicates (0..1.41, default "
        f"{DEFAULT_PIXEL_THRESHOLD})",
    )
    p.add_argument("--sheet", metavar="DIR", help="write a contact sheet PNG of each group into DIR")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    _common(p)
    p.set_defaults(func=cmd_duplicates)

    p = sub.add_parser("strength", help="a profile's symbol-strength verdict; the minimum strength enrollment needs")
    p.add_argument("profile", nargs="?", help="the profile to judge")
    p.add_argument(
        "--minimum",
        choices=("weak", "fair", "strong"),
        help="set the minimum strength for enrollment (admin): weak = never refuse, fair = refuse "
        "weak symbols, strong = refuse all but strong ones",
    )
    p.add_argument("--passphrase-file", metavar="FILE", help="admin passphrase (first line of FILE)")
    _common(p)
    p.set_defaults(func=cmd_strength)

    # `twinlock enroll --allow-weak` (enroll itself lives in runtime_cmds, registered before us)
    enroll = sub.choices.get("enroll")
    if enroll is not None and not any("--allow-weak" in a.option_strings for a in enroll._actions):
        enroll.add_argument(
            "--allow-weak",
            action="store_true",
            help="enroll even when the symbol is below the minimum strength (admin "
            "override, recorded in the audit log)",
        )


def _common(p) -> None:
    p.add_argument("--db", metavar="PATH", help="database file (default: $TWINLOCK_DB or the user data folder)")
    p.add_argument(
        "--model",
        metavar="PATH",
        help="ONNX model (default: $TWINLOCK_MODEL, the configured model, or the shipped default)",
    )
    p.add_argument("--provider", choices=("auto", "cuda", "cpu"), default=None)
