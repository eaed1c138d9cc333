"""Identify accuracy on real photos, duplicates throughput, and strength verdicts vs impostor matches.

1. identify: the 70 real phone photos in ../shared/data/real_photos (7 writers x 10 digits),
   through the app's preprocessing and the model, labelled by the nearest gallery image:
   (a) the shipped MNIST digit gallery (3,000), (b) the whole shipped gallery (4,603: digits plus
   letters, shapes, Omniglot as distractors), (c) one-shot: the other six writers' photos.
2. duplicates: N model-form images (MNIST train+test, plus planted copies of 1% of them:
   shifted, re-scaled and JPEG re-encoded as photos, then preprocessed), embedded and grouped;
   time for embedding and for the search; recall of the planted copies.
3. strength (``--strength``): the verdicts of the 30 bench_pipeline profiles (3 writers x 10
   digits, 5 camera-like enrollment frames each) against their impostor grants in that benchmark.

    python -m benchmarks.bench_identify --data-dir ../shared/data/mnist --photos ../shared/data/real_photos
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from benchmarks.report import machine, write_section
from desktop_app.core.calibration import load_mnist_dir
from desktop_app.core.duplicates import DEFAULT_PIXEL_THRESHOLD, default_threshold, find_duplicates, SEARCH_DIM
from desktop_app.core.embedder import Embedder
from desktop_app.core.gallery import embedded_gallery
from desktop_app.core.identify import identify
from desktop_app.core.preprocess import load_image, prepare_image


def bench_photos(emb, photos: Path, cache_db: Path) -> list[str]:
    rows = list(csv.DictReader(open(photos / "manifest.csv")))
    res, ok = [], []
    for r in rows:
        p = prepare_image(load_image(photos / r["file"]))
        res.append(p)
        ok.append(p.ok)
    ok = np.array(ok)
    labels = np.array([r["label"] for r in rows])
    writers = np.array([r["source"] for r in rows])
    e = np.zeros((len(rows), emb.dim), np.float32)
    e[ok] = emb.embed_images(np.stack([p.image for p, k in zip(res, ok) if k]))
    eg = embedded_gallery(emb, db=cache_db)
    g = eg.gallery
    dig = g.kinds == "digit"
    out = [
        "| gallery | correct / photos acquired | accuracy | photos with no symbol found (FTA) |",
        "|---|---|---|---|",
    ]
    per_writer = {}

    def row(name, pred):
        corr = int(sum(pr == lab for pr, lab, k in zip(pred, labels, ok) if k))
        out.append(
            f"| {name} | {corr} / {int(ok.sum())} | {100 * corr / max(1, ok.sum()):.1f}% | "
            f"{int((~ok).sum())} / {len(rows)} |"
        )
        return corr

    pred_mnist = [None] * len(rows)
    ids = identify(e[ok], eg.embeddings[dig], g.labels[dig], g.kinds[dig])
    for i, r in zip(np.flatnonzero(ok), ids):
        pred_mnist[i] = r.label
    row(f"shipped MNIST digits ({int(dig.sum()):,})", pred_mnist)
    pred_all = [None] * len(rows)
    for i, r in zip(np.flatnonzero(ok), identify(e[ok], eg.embeddings, g.labels, g.kinds)):
        pred_all[i] = r.label
    row(f"whole shipped gallery ({len(g):,}: digits + letters, shapes, Omniglot)", pred_all)
    pred_one = [None] * len(rows)
    for i in np.flatnonzero(ok):
        other = ok & (writers != writers[i])
        r = identify(e[i : i + 1], e[other], labels[other])[0]
        pred_one[i] = r.label
        per_writer.setdefault(writers[i], [0, 0])
        per_writer[writers[i]][0] += r.label == labels[i]
        per_writer[writers[i]][1] += 1
    row("one-shot: the other 6 writers' photos (about 60)", pred_one)
    wrong = [f"{writers[i]}/{labels[i]}→{pred_mnist[i]}" for i in np.flatnonzero(ok) if pred_mnist[i] != labels[i]]
    lost = [f"{writers[i]}/{labels[i]} ({res[i].code})" for i in np.flatnonzero(~ok)]
    out += [
        "",
        "One-shot by writer: " + ", ".join(f"{w} {a}/{n}" for w, (a, n) in sorted(per_writer.items())),
        "",
        "Wrong with the MNIST gallery: " + (", ".join(wrong) or "none"),
        "",
        "No symbol found: " + (", ".join(lost) or "none"),
    ]
    return out


def _photo(img28, dx: int, dy: int, size: int, quality: int) -> np.ndarray:
    """A 28x28 digit as a JPEG'd photo of a sheet: ``size`` px tall, ``dx, dy`` off centre."""
    big = cv2.resize(img28, (size, size), interpolation=cv2.INTER_CUBIC)
    sheet = np.full((200, 200), 245, np.uint8)
    oy, ox = (200 - size) // 2 + dy, (200 - size) // 2 + dx
    sheet[oy : oy + size, ox : ox + size] = np.clip(245 - big.astype(np.float32) * 0.85, 0, 255).astype(np.uint8)
    _ok, buf = cv2.imencode(".jpg", sheet, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def _planted_copies(x: np.ndarray, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Copies of n random images of x as photos: shifted, re-scaled, JPEG'd, then preprocessed."""
    src = rng.choice(len(x), size=n, replace=False)
    out, keep = [], []
    for i in src:
        r = prepare_image(
            _photo(
                x[i],
                int(rng.integers(-15, 16)),
                int(rng.integers(-15, 16)),
                int(84 * rng.uniform(0.8, 1.3)),
                int(rng.integers(35, 90)),
            )
        )
        if r.ok:
            out.append(r.image)
            keep.append(i)
    return np.stack(out), np.array(keep)


def bench_duplicates(emb, data_dir: str, sizes, rng) -> list[str]:
    xtr, ytr = load_mnist_dir(data_dir, "train")
    xte, yte = load_mnist_dir(data_dir, "test")
    pool = np.concatenate([xtr, xte])
    plab = np.concatenate([ytr, yte])
    need = max(sizes) - len(pool)
    if need > 0:  # more images than MNIST has: rotated variants (12-25 degrees)
        from desktop_app.core.preprocess import mnist_form

        extra = []
        picked = rng.choice(len(pool), size=need, replace=False)
        for i in picked:
            ang = rng.uniform(12, 25) * rng.choice([-1, 1])
            r = cv2.warpAffine(pool[i], cv2.getRotationMatrix2D((13.5, 13.5), ang, 1.0), (28, 28))
            ys, xs = np.nonzero(r > 30)
            extra.append(mnist_form(r[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]))
        pool = np.concatenate([pool, np.stack(extra)])
        plab = np.concatenate([plab, plab[picked]])
    thr = default_threshold(emb.contract)
    out = [
        f"Near-duplicate rule: embedding distance ≤ {thr:.3f} (0.5 × the model's default threshold) and "
        f"model-form image distance ≤ {DEFAULT_PIXEL_THRESHOLD}; exact search over the image descriptors "
        f"({SEARCH_DIM}-d principal components, confirmed in full). Images: MNIST train+test digits, 1% of "
        "them also as planted copies (beyond MNIST's 70,000, rotated variants of its images fill up; photographed: shifted ±15 px, scaled 0.8–1.3, JPEG q35–90, then "
        "the app's preprocessing).",
        "",
        "| images | embed (ONNX Runtime, CPU) | search + grouping | total | images/s | groups | planted copies found | groups without a planted copy (images, share of 1s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n in sizes:
        n_copy = max(1, n // 100)
        pick = rng.choice(len(pool), size=n - n_copy, replace=False)
        base, blab = pool[pick].copy(), plab[pick]
        copies, src = _planted_copies(base, n_copy, rng)
        for i in src:  # the originals of the planted copies: photographed too (plainly)
            r = prepare_image(_photo(base[i], 0, 0, 84, 95))
            if r.ok:
                base[i] = r.image
        imgs = np.concatenate([base, copies])
        t0 = time.perf_counter()
        e = emb.embed_images(imgs)
        t1 = time.perf_counter()
        groups = find_duplicates(e, thr, images=imgs)
        t2 = time.perf_counter()
        member_of = {}
        for gi, g in enumerate(groups):
            for m in g.members:
                member_of[m] = gi
        nb = len(base)
        found = sum(
            1 for k, s in enumerate(src) if (nb + k) in member_of and member_of.get(int(s)) == member_of[nb + k]
        )
        planted = {int(s) for s in src} | set(range(nb, nb + len(src)))
        other = [g for g in groups if not planted.intersection(g.members)]
        other_imgs = [m for g in other for m in g.members]
        ones = float(np.mean(blab[other_imgs] == 1)) if other_imgs else 0.0
        out.append(
            f"| {len(imgs):,} | {t1 - t0:.1f} s | {t2 - t1:.1f} s | {t2 - t0:.1f} s | "
            f"{len(imgs) / (t2 - t0):,.0f} | {len(groups):,} | {found} / {len(src)} | "
            f"{len(other):,} ({len(other_imgs):,}, {100 * ones:.0f}% 1s) |"
        )
        print(out[-1], file=sys.stderr)
    out += [
        "",
        "Groups without a planted copy are near-identical drawings that MNIST itself holds (a plain 1 is "
        "a bar, and many people draw the same bar), or an image and its rotated variant: not necessarily "
        "errors, but what a near-duplicate search on digits finds.",
    ]
    return out


def bench_strength(emb, data_dir: str, cache_db: Path, frames: int = 6) -> list[str]:
    """bench_pipeline's 30 profiles (same seed, same draws: identical enrollments), each judged
    against the gallery, and attacked by other digits' sessions of bench_pipeline's attempt
    writers (fresh captures) through the real Verifier (k=2 of n=3, lockout off)."""
    from dataclasses import replace

    from benchmarks import bench_pipeline as bp
    from desktop_app.core.store import Store
    from desktop_app.core.strength import assess
    from desktop_app.core.verifier import Policy, Verifier, frame_distances
    from training.camera_sim import render_digit, session

    x, y = load_mnist_dir(data_dir, "test")
    rng = np.random.default_rng(0)  # bench_pipeline --seed 0
    enroll_idx, attempt_idx = {}, {}
    for d in range(10):
        ids = rng.permutation(np.flatnonzero(y == d))
        enroll_idx[d], attempt_idx[d] = ids[:3], ids[3:43]
    eg = embedded_gallery(emb, db=cache_db)
    g = eg.gallery
    thr = emb.contract.default_threshold
    with tempfile.TemporaryDirectory() as td:
        store = Store(Path(td) / "b.sqlite3")
        profiles = []
        for d in range(10):
            for w, idx in enumerate(enroll_idx[d]):
                res, e = bp.acquire(session(render_digit(x[idx], rng), rng, 5), emb)
                ok = [r for r in res if r.ok]
                for _ in range(4):  # bench_pipeline's owner sessions (same draws)
                    session(render_digit(x[idx], rng), rng, frames)
                if not ok:
                    continue
                name = f"d{d}w{w}"
                store.add_references(
                    name,
                    np.stack([r.image for r in ok]),
                    [r.crop for r in ok],
                    e,
                    emb.fingerprint,
                    create=True,
                    source="bench",
                )
                profiles.append((name, d, e))
        arng = np.random.default_rng(1)
        sessions = [
            (d, *bp.acquire(session(render_digit(x[int(i)], arng), arng, frames), emb))
            for d in range(10)
            for i in attempt_idx[d][:20]
        ]
        pol = Policy(
            k=2, n=3, time_limit_s=3600.0, max_frames=frames, lockout_after=10**9, lockout_base_s=0.0, threshold=thr
        )
        rows = []
        for name, d, e in profiles:
            rep = assess(e, eg.embeddings, g.labels, g.kinds, thr)
            ver = Verifier(store, emb, name, replace(pol))
            grants = tries = fa = nf = same = same_n = 0
            for sd, res, se in sessions:
                if sd == d:  # another writer's same digit: the guesser the verdict warns of
                    same_n += 1
                    same += bp.run_attempt(ver, res, se) == "granted"
                    continue
                tries += 1
                grants += bp.run_attempt(ver, res, se) == "granted"
                if len(se):
                    dist = frame_distances(se, e)
                    fa += int((dist <= thr).sum())
                    nf += len(dist)
            other = sum(c.accepted for c in rep.by_label if c.kind == "digit" and c.label != str(d))
            rows.append((name, d, rep, grants, tries, other, fa, nf, same, same_n))
    out = [
        f"bench_pipeline's 30 profiles (`--seed 0`: the same enrollments), at the model's default threshold "
        f"{thr:.3f}. Impostors: 20 writers per digit (bench_pipeline's attempt writers, new captures, "
        f"{frames} frames), every other digit against each profile, through the real Verifier (2 of 3).",
        "",
        "| profile | verdict | looks like | other writers' same digit granted | other digits' gallery drawings accepted | impostor frames accepted | impostor attempts granted |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, d, rep, gr, tr, other, fa, nf, same, same_n in rows:
        ll = symbol_label(rep)
        out.append(f"| {name} | {rep.level} | {ll} | {same} / {same_n} | {other} | {fa} / {nf} | {gr} / {tr} |")
    weak = [r for r in rows if r[2].level == "weak"]
    flagged = [r for r in rows if r[5] > 0]
    fa_all = sum(r[6] for r in rows)
    gr_all = sum(r[3] for r in rows)
    wk_same = sum(r[8] for r in weak), sum(r[9] for r in weak)
    nw = [r for r in rows if r[2].level != "weak"]
    nw_same = sum(r[8] for r in nw), sum(r[9] for r in nw)
    out += [
        "",
        f'Verdicts: {len(weak)} of {len(rows)} weak (every profile is a digit, one of ten). Does "weak" '
        f"predict the guesser who writes the same digit? Weak profiles let in {wk_same[0]} of {wk_same[1]} "
        f"other writers' attempts at their digit"
        + (
            f"; the {len(nw)} not called weak ({', '.join(f'{r[0]} {r[2].level}' for r in nw)}) "
            f"{nw_same[0]} of {nw_same[1]}"
            if nw
            else ""
        )
        + ".",
        "",
        "Other digits: "
        f"the finer signal is how many *other* digits' gallery drawings a profile accepts: {len(flagged)} profiles "
        f"accept some; they hold {sum(r[6] for r in flagged)} of the {fa_all} impostor frames accepted and "
        f"{sum(r[3] for r in flagged)} of the {gr_all} impostor attempts granted.",
    ]
    top = sorted(rows, key=lambda r: -r[5])[: max(1, len(rows) // 6)]
    out += [
        "",
        f"The {len(top)} profiles that accept the most other digits' drawings "
        f"({', '.join(f'{r[0]} ({r[5]})' for r in top)}) hold {sum(r[6] for r in top)} of the {fa_all} "
        f"impostor frames accepted and {sum(r[3] for r in top)} of the {gr_all} attempts granted.",
    ]
    return out


def symbol_label(rep) -> str:
    if rep.looks_like is None:
        return "-"
    k = rep.looks_like
    return f"{k.label} ({k.accepted}/{k.total})"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/mnist")
    ap.add_argument("--photos", default="../shared/data/real_photos")
    ap.add_argument("--model", default=None)
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    ap.add_argument("--strength", action="store_true", help="also the 30-profile strength comparison (slow)")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--section", default="identify", help="section of docs/benchmarks.md to write")
    a = ap.parse_args(argv)
    emb = Embedder(a.model, "cpu", intra_op_threads=a.threads)
    rng = np.random.default_rng(13)
    with tempfile.TemporaryDirectory() as td:
        cache = Path(td) / "db.sqlite3"
        load0 = os.getloadavg()[0]
        title = "## Identify, duplicates and symbol strength"
        if a.model:
            title += f": {Path(a.model).name}"
        body = [
            title,
            "",
            f"`python -m benchmarks.bench_identify --data-dir {a.data_dir} --photos {a.photos}"
            + (" --strength" if a.strength else "")
            + (f" --model {a.model}" if a.model else "")
            + (f" --section {a.section}" if a.section != "identify" else "")
            + f"` — model {emb.contract.short_fingerprint} "
            f"({Path(emb.path).name}), {machine()}, ONNX Runtime CPU with {a.threads} threads.",
            "",
            "### Identify: real phone photos (7 writers × 10 digits)",
            "",
        ]
        body += bench_photos(emb, Path(a.photos), cache)
        print("\n".join(body), file=sys.stderr)
        body += ["", "### Duplicates: throughput", ""]
        body += bench_duplicates(emb, a.data_dir, [int(s) for s in a.sizes.split(",")], rng)
        if a.strength:
            body += ["", "### Strength verdicts of the 30 benchmark profiles vs their impostor grants", ""]
            body += bench_strength(emb, a.data_dir, cache)
    body += [
        "",
        f"Load average of this shared machine (2 cores) at the start and the end: {load0:.1f} / "
        f"{os.getloadavg()[0]:.1f} (other jobs ran beside it: the times are upper bounds).",
    ]
    text = "\n".join(body)
    print(text)
    if not a.no_write:
        write_section(a.section, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
