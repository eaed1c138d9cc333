"""``twinlock identify IMAGE... [--gallery FOLDER] [--all-symbols] [--top N] [--json]``:
which symbol an image shows (its nearest labelled gallery images).

Exits 0 when every image was identified, 2 when some image held no usable symbol; bad
input is exit 4 with one clear line.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from desktop_app.core.gallery import embedded_gallery, folder_gallery
from desktop_app.core.identify import identify
from desktop_app.core.preprocess import load_image, prepare_image

from .common import EXIT_NO_SYMBOL, EXIT_OK, add_common, friendly, embedder_from_args, open_existing_store


def register(sub) -> None:
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
    add_common(p, passphrase=False)
    p.set_defaults(func=cmd_identify)


def _embedded(args, emb):
    """(embeddings, labels, kinds, images, description) of the gallery identify compares with."""
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


@friendly
def cmd_identify(args) -> int:
    emb = embedder_from_args(args, open_existing_store(args))  # the configured model, no re-embedding
    gal, labels, kinds, _, desc = _embedded(args, emb)
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
