"""Camera-like training data: MNIST TRAINING digits as the app sees them, plus non-digit negatives.

The app never sees clean MNIST: it sees a webcam frame reduced by ``core.preprocess``. This
module renders training digits with ``training.camera_sim.render_digit`` (ink on paper, light,
blur, noise, JPEG...) and runs the app's own ``preprocess`` on them, so the network trains on
the 28×28 images it will meet at unlock time. Only training-split indices are rendered (the
validation indices of the run are excluded), with seeds of their own: export calibration
renders validation digits and the benchmarks render TEST digits.

Negatives (experimental, off by default in training: ``--junk-per-batch 0``; with 32 or 8 per
batch they cost genuine camera matches far more than they saved, see docs/benchmarks.md
"Improvements"): printed text, symbols and shapes that preprocessing accepts as "a symbol" but
that are no digit. They are drawn by :func:`render_train_junk`, a generator DIFFERENT from the
benchmark's ``camera_sim.render_junk``: other fonts (never ``FONT_HERSHEY_SIMPLEX``), lower-case
letters and punctuation, and other shapes (triangles, stars, crosses, arrows, polygons, groups
of shapes; never a lone circle or square). When used, each negative is pushed away from every
digit (see ``losses.batch_contrastive_loss``: label < 0 = negative-only).

    python -m training.camera_data --data-dir ../shared/data/mnist --out runs/camera_data.npz
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from training import omniglot as O
from training.camera_sim import _finish, _paper, render_digit

FONTS = (
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
    cv2.FONT_HERSHEY_COMPLEX_SMALL,
)
# letters a digit could be mistaken for in handwriting (O/o ~ 0, I/l ~ 1) are left out on purpose
CHARS = list("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz#@&%?!+*=<>$")
TRAIN_JUNK_KINDS = ("text", "shapes")
SIZE = (400, 300)


def _text(rng, img, w, h):
    text = "".join(rng.choice(CHARS, int(rng.integers(1, 4))))
    font = FONTS[int(rng.integers(len(FONTS)))]
    thick = int(rng.integers(3, 12))
    scale = rng.uniform(2.5, 6.0) * (2.0 if font in (cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_COMPLEX_SMALL) else 1.0)
    (tw, th_), _ = cv2.getTextSize(text, font, scale, thick)
    if tw > 0.9 * w:
        scale *= 0.9 * w / tw
        (tw, th_), _ = cv2.getTextSize(text, font, scale, thick)
    org = (int(w / 2 - tw / 2 + rng.uniform(-0.05, 0.05) * w), int(h / 2 + th_ / 2 + rng.uniform(-0.05, 0.05) * h))
    col = tuple(float(c) for c in rng.uniform(15, 90, 3))
    cv2.putText(img, text, org, font, scale, col, thick, cv2.LINE_AA)


def _shape(rng, img, c, r, col, thick):
    kind = int(rng.integers(6))
    ang = rng.uniform(0, 2 * np.pi)
    if kind == 0:  # triangle / polygon (3-7 sides)
        k = int(rng.integers(3, 8))
        t = ang + np.linspace(0, 2 * np.pi, k, endpoint=False) + rng.uniform(-0.2, 0.2, k)
        pts = np.stack([c[0] + r * np.cos(t), c[1] + r * np.sin(t)], 1).astype(np.int32)
        cv2.polylines(img, [pts], True, col, thick, cv2.LINE_AA)
    elif kind == 1:  # star
        k = int(rng.integers(4, 7))
        t = ang + np.linspace(0, 2 * np.pi, 2 * k, endpoint=False)
        rad = np.where(np.arange(2 * k) % 2 == 0, r, r * rng.uniform(0.35, 0.55))
        pts = np.stack([c[0] + rad * np.cos(t), c[1] + rad * np.sin(t)], 1).astype(np.int32)
        cv2.polylines(img, [pts], True, col, thick, cv2.LINE_AA)
    elif kind == 2:  # cross (+ or x)
        for a in (ang, ang + np.pi / 2):
            d = np.array([np.cos(a), np.sin(a)]) * r
            cv2.line(
                img, tuple((np.array(c) - d).astype(int)), tuple((np.array(c) + d).astype(int)), col, thick, cv2.LINE_AA
            )
    elif kind == 3:  # arrow
        d = np.array([np.cos(ang), np.sin(ang)]) * r
        p0, p1 = (np.array(c) - d).astype(int), (np.array(c) + d).astype(int)
        cv2.arrowedLine(img, tuple(p0), tuple(p1), col, thick, cv2.LINE_AA, tipLength=rng.uniform(0.2, 0.45))
    elif kind == 4:  # flat ellipse / arc (never a near-circle)
        axes = (int(r), int(r * rng.uniform(0.2, 0.55)))
        a0 = rng.uniform(0, 360)
        cv2.ellipse(img, c, axes, np.degrees(ang), a0, a0 + rng.uniform(120, 360), col, thick, cv2.LINE_AA)
    else:  # zig-zag / scribble polyline
        k = int(rng.integers(3, 7))
        pts = np.array(c) + rng.uniform(-r, r, (k, 2))
        cv2.polylines(img, [pts.astype(np.int32)], False, col, thick, cv2.LINE_AA)


def render_train_junk(rng: np.random.Generator, size=SIZE) -> np.ndarray:
    """A camera-like frame with printed text or shapes and no digit (training negatives)."""
    w, h = size
    img = np.clip(_paper(rng, h, w), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        _text(rng, img, w, h)
    else:
        n = int(rng.integers(1, 4))
        col = tuple(float(c) for c in rng.uniform(15, 90, 3))
        thick = int(rng.integers(2, 10))
        for _ in range(n):
            c = (int(w / 2 + rng.uniform(-0.12, 0.12) * w), int(h / 2 + rng.uniform(-0.12, 0.12) * h))
            _shape(rng, img, c, rng.uniform(0.08, 0.25) * min(w, h), col, thick)
    return _finish(rng, img.astype(np.float32), h, w)


def _work(args):
    """One chunk: (kind, items, seed) -> (images [k,28,28] uint8, keep-mask)."""
    from desktop_app.core.preprocess import preprocess

    kind, payload, seed = args
    rng = np.random.default_rng(seed)
    out = np.zeros((len(payload), 28, 28), np.uint8)
    ok = np.zeros(len(payload), bool)
    for i, item in enumerate(payload):
        frame = render_digit(item, rng, size=SIZE) if kind == "digit" else render_train_junk(rng)
        r = preprocess(frame)
        if r.ok:
            out[i], ok[i] = r.image, True
    return out, ok


def build(
    images, labels, sources, n_junk: int, seed: int = 7, workers: int = 2, chunk: int = 250, progress: bool = True
) -> dict:
    """Render ``images[sources]`` and ``n_junk`` junk frames; keep what preprocessing acquires.

    Returns arrays: ``images`` uint8 [M,28,28], ``labels`` int64 [M], ``sources`` int64 [M]
    (index into the MNIST training set), ``junk`` uint8 [J,28,28], plus counts."""
    sources = np.asarray(sources, np.int64)
    jobs = [("digit", images[sources[s : s + chunk]], seed * 100003 + s) for s in range(0, len(sources), chunk)]
    jobs += [
        ("junk", [None] * min(chunk, n_junk - s), seed * 100003 + 7919 * 1000 + s) for s in range(0, n_junk, chunk)
    ]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(sources) + n_junk, desc="camera-like training data", unit="frame")
    results = []
    if workers > 1:
        with ProcessPoolExecutor(workers) as ex:
            for res, job in zip(ex.map(_work, jobs), jobs):
                results.append(res)
                if bar:
                    bar.update(len(job[1]))
    else:
        for job in jobs:
            results.append(_work(job))
            if bar:
                bar.update(len(job[1]))
    if bar:
        bar.close()
    nd = sum(1 for j in jobs if j[0] == "digit")
    dig_img = np.concatenate([r[0][r[1]] for r in results[:nd]]) if nd else np.zeros((0, 28, 28), np.uint8)
    dig_ok = np.concatenate([r[1] for r in results[:nd]]) if nd else np.zeros(0, bool)
    junk = np.concatenate([r[0][r[1]] for r in results[nd:]]) if len(results) > nd else np.zeros((0, 28, 28), np.uint8)
    return {
        "images": dig_img,
        "labels": np.asarray(labels)[sources][dig_ok].astype(np.int64),
        "sources": sources[dig_ok],
        "junk": junk,
        "rendered_digits": np.int64(len(sources)),
        "rendered_junk": np.int64(n_junk),
    }


def save(path, data: dict) -> None:
    import io

    from desktop_app.core.paths import atomic_write_bytes

    buf = io.BytesIO()
    np.savez_compressed(buf, **data)
    atomic_write_bytes(Path(path), buf.getvalue())


def load(path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ValueError(
            f"camera training data {p} not found: build it with `python -m training.camera_data --out {p}`"
        )
    try:
        with np.load(p) as z:
            d = {k: z[k] for k in z.files}
    except Exception as e:
        raise ValueError(
            f"camera training data {p} is damaged ({e}): build it again with `python -m training.camera_data --out {p}`"
        ) from e
    for k in ("images", "labels", "sources", "junk"):
        if k not in d:
            raise ValueError(f"camera training data {p} lacks '{k}': build it again")
    return d


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--out", required=True)
    ap.add_argument("--digits", type=int, default=30000, help="training digits to render (sampled)")
    ap.add_argument(
        "--junk",
        type=int,
        default=0,
        help="non-digit junk frames to render, for the experimental --junk-per-batch "
        "(default: none; the shipped model's command renders 10000 it does not use)",
    )
    ap.add_argument("--val-size", type=int, default=5000, help="as the training run: these indices are excluded")
    ap.add_argument("--split-seed", type=int, default=0, help="the training run's --seed (its validation split)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument(
        "--omniglot",
        metavar="NPZ",
        help="render the drawings of the TRAINING alphabets of this converted Omniglot file "
        "(python -m training.omniglot) instead of MNIST digits; the held-out alphabets are chosen "
        "as training chooses them (--omniglot-holdout, --omniglot-split-seed) and never rendered",
    )
    ap.add_argument("--omniglot-holdout", type=int, default=6)
    ap.add_argument("--omniglot-split-seed", type=int, default=0)
    a = ap.parse_args(argv)
    if a.omniglot:
        return _main_omniglot(a)
    from training.mnist import load_mnist
    from training.pairs import validation_split

    x, y = load_mnist(a.data_dir, "train")
    tr, _ = validation_split(len(y), a.val_size, a.split_seed)
    src = np.sort(np.random.default_rng(a.seed).permutation(tr)[: a.digits])
    d = build(x, y, src, a.junk, seed=a.seed, workers=a.workers)
    save(a.out, d)
    print(
        f"{a.out}: {len(d['images'])}/{len(src)} digit frames acquired, "
        f"{len(d['junk'])}/{a.junk} junk frames acquired (kept as negatives)"
    )
    return 0


def _main_omniglot(a) -> int:
    """Camera-like renders of Omniglot training drawings: ``sources`` are rows of the
    converted file, ``labels`` characters, ``held_out`` the alphabets left out."""
    o_tr, _, held = O.split(O.load(a.omniglot), a.omniglot_holdout, a.omniglot_split_seed)
    d = build(o_tr.images, o_tr.character, np.arange(len(o_tr.images)), a.junk, seed=a.seed, workers=a.workers)
    d["sources"] = o_tr.rows()[d["sources"]]
    d["held_out"] = np.array(sorted(held))
    save(a.out, d)
    print(f"{a.out}: {len(d['images'])}/{len(o_tr.images)} Omniglot training drawings acquired as camera frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
