"""``twinlock duplicates FOLDER [--threshold T] [--pixel-threshold P] [--sheet DIR] [--json]``:
groups of near-duplicate symbol images in a folder; exits 0 (bad input: exit 4)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from desktop_app.core.duplicates import DEFAULT_PIXEL_THRESHOLD, contact_sheet, default_threshold, find_duplicates
from desktop_app.core.gallery import IMAGE_SUFFIXES
from desktop_app.core.paths import atomic_write_bytes
from desktop_app.core.preprocess import load_image, prepare_image

from .common import EXIT_OK, SetupError, add_common, friendly, embedder_from_args, open_existing_store


def register(sub) -> None:
    p = sub.add_parser("duplicates", help="group near-duplicate symbol images in a folder")
    p.add_argument("folder", metavar="FOLDER")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="embedding distance for near-duplicates (default: 0.5 x the model's far_1e-3 threshold)",
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
    add_common(p, passphrase=False)
    p.set_defaults(func=cmd_duplicates)


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _check_options(args) -> list[Path]:
    """The image files to compare (exit 4 for a bad folder or threshold)."""
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
    return files


def _read(files: list[Path]):
    """(model images, files kept, [(file, reason skipped)])."""
    from tqdm import tqdm

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
    return images, kept, skipped


def _write_sheets(out: Path, groups, kept: list[Path], rel: list[str]) -> None:
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    for gi, g in enumerate(groups, 1):
        pics = [load_image(kept[i]) for i in g.members]
        sheet = contact_sheet(pics, [Path(rel[i]).name for i in g.members], cols=min(6, len(pics)), cell=128)
        _ok, buf = cv2.imencode(".png", sheet)
        atomic_write_bytes(out / f"group-{gi:03d}.png", buf.tobytes())


@friendly
def cmd_duplicates(args) -> int:
    files = _check_options(args)
    folder = Path(args.folder)
    emb = embedder_from_args(args, open_existing_store(args))
    thr = args.threshold if args.threshold is not None else default_threshold(emb.contract)
    images, kept, skipped = _read(files)
    vecs = emb.embed_images(np.stack(images)) if images else np.zeros((0, emb.dim), np.float32)
    groups = find_duplicates(
        vecs, thr, images=np.stack(images) if images else None, pixel_threshold=args.pixel_threshold
    )
    rel = [str(p.relative_to(folder)) for p in kept]
    if args.sheet and groups:
        _write_sheets(Path(args.sheet), groups, kept, rel)
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
