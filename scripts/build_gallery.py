"""Build the shipped gallery of common symbols: assets/gallery/gallery.npz (reproducible).

The gallery is what an enrolled symbol is compared with to judge its strength
(desktop_app/core/strength.py) and what ``twinlock identify`` labels images against:

- digits: 300 MNIST *training* images of each digit (many hands), in MNIST's own 28x28 form,
  and 50 more of each as camera-like photos (training/camera_sim.py: paper, perspective, light,
  blur, noise, JPEG) through the app's preprocessing, as an enrollment sees them;
- letters: A-Z and a-z rendered with OpenCV's Hershey fonts (plain, italic and script faces)
  with handwriting-like distortion (random affine, elastic wobble, stroke width), 10 each;
- shapes: circle, cross, plus, tick, arrow, star, heart drawn as wobbly pen strokes, 20 each;
- Omniglot: one drawing of each of the 964 characters of the Omniglot *background* set
  (never the evaluation alphabets).

Every rendered or photographed image is put on white paper and turned into the model form by
the app's own code (:func:`desktop_app.core.preprocess.prepare_image`), exactly as a camera
frame is; images it rejects are left out and counted.

    python scripts/build_gallery.py --mnist ../shared/data/mnist \
        --omniglot ../shared/data/omniglot/images_background.zip --out assets/gallery/gallery.npz
"""

from __future__ import annotations

import argparse
import string
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from desktop_app.core.calibration import load_mnist_dir  # noqa: E402
from desktop_app.core.gallery import save_gallery  # noqa: E402
from desktop_app.core.preprocess import prepare_image  # noqa: E402

CANVAS = 240  # rendered symbols are drawn on a CANVAS x CANVAS white sheet
SYMBOL = 110  # ... about this tall, in the middle (inside the 70% region of interest)
FONTS = [
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
    cv2.FONT_HERSHEY_SIMPLEX | cv2.FONT_ITALIC,
    cv2.FONT_HERSHEY_COMPLEX | cv2.FONT_ITALIC,
    cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
    cv2.FONT_HERSHEY_DUPLEX | cv2.FONT_ITALIC,
]
SHAPES = ("circle", "cross", "plus", "tick", "arrow", "star", "heart")


def _distort(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Handwriting-like distortion of a white-on-black float image: affine + elastic wobble."""
    h, w = ink.shape
    ang = rng.uniform(-12, 12)
    sc = rng.uniform(0.85, 1.1)
    M = cv2.getRotationMatrix2D((w / 2, h / 2), ang, sc)
    M[0, 1] += rng.uniform(-0.25, 0.25)  # shear
    M[0, 2] -= M[0, 1] * h / 2
    out = cv2.warpAffine(ink, M, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    # elastic: a smooth random displacement field a few pixels strong
    amp = rng.uniform(2.0, 5.0)
    dx = cv2.resize(rng.normal(0, 1, (5, 5)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    dy = cv2.resize(rng.normal(0, 1, (5, 5)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = cv2.remap(out, xx + amp * dx, yy + amp * dy, cv2.INTER_LINEAR, borderValue=0)
    return out


def _on_paper(ink: np.ndarray) -> np.ndarray:
    """White-on-black float ink [0..1] -> a BGR photo-like sheet (dark ink on white paper)."""
    g = np.clip(245 - 215 * np.clip(ink, 0, 1), 0, 255).astype(np.uint8)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)


def render_letter(ch: str, rng: np.random.Generator) -> np.ndarray:
    font = FONTS[int(rng.integers(len(FONTS)))]
    thick = int(rng.integers(2, 5))
    (tw, th), base = cv2.getTextSize(ch, font, 1.0, thick)
    scale = SYMBOL / max(th + base, tw, 1)
    (tw, th), base = cv2.getTextSize(ch, font, scale, thick)
    img = np.zeros((CANVAS, CANVAS), np.uint8)
    org = (int(CANVAS / 2 - tw / 2), int(CANVAS / 2 + (th - base) / 2))
    cv2.putText(img, ch, org, font, scale, 255, thick, cv2.LINE_AA)
    return _on_paper(_distort(img.astype(np.float32) / 255.0, rng))


def _wobble(pts: np.ndarray, rng: np.random.Generator, amp: float) -> np.ndarray:
    """Resample a polyline and add a smooth hand tremor."""
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    t = np.concatenate([[0], np.cumsum(seg)])
    n = max(8, int(t[-1] / 3))
    u = np.linspace(0, t[-1], n)
    p = np.stack([np.interp(u, t, pts[:, 0]), np.interp(u, t, pts[:, 1])], 1)
    k = max(3, n // 6)
    noise = rng.normal(0, amp, (k, 2))
    noise = np.stack([np.interp(np.linspace(0, k - 1, n), np.arange(k), noise[:, j]) for j in range(2)], 1)
    return p + noise


def shape_strokes(name: str, rng: np.random.Generator) -> list[np.ndarray]:
    """The pen strokes of a simple shape, in a unit box centred on 0."""
    j = lambda s=0.06: rng.normal(0, s)  # noqa: E731
    if name == "circle":
        a0 = rng.uniform(0, 2 * np.pi)
        a = np.linspace(a0, a0 + 2 * np.pi * rng.uniform(1.0, 1.08), 60)
        rx, ry = 0.5 + j(), 0.5 + j()
        return [np.stack([rx * np.cos(a), ry * np.sin(a)], 1)]
    if name == "cross":
        return [
            np.array([[-0.45 + j(), -0.5 + j()], [0.45 + j(), 0.5 + j()]]),
            np.array([[0.45 + j(), -0.5 + j()], [-0.45 + j(), 0.5 + j()]]),
        ]
    if name == "plus":
        return [np.array([[j(), -0.5 + j()], [j(), 0.5 + j()]]), np.array([[-0.5 + j(), j()], [0.5 + j(), j()]])]
    if name == "tick":
        return [np.array([[-0.45 + j(), j()], [-0.1 + j(), 0.4 + j()], [0.5 + j(), -0.5 + j()]])]
    if name == "arrow":
        tip = np.array([0.5 + j(), j()])
        return [np.array([[-0.5 + j(), j()], tip]), np.array([[0.15 + j(), -0.3 + j()], tip, [0.15 + j(), 0.3 + j()]])]
    if name == "star":
        a = -np.pi / 2 + np.arange(6) * 4 * np.pi / 5 + rng.normal(0, 0.05, 6)
        return [np.stack([0.5 * np.cos(a), 0.5 * np.sin(a)], 1)]
    if name == "heart":
        t = np.linspace(0, 2 * np.pi, 80)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return [np.stack([x / 34 + j(0.02), y / 34 + j(0.02)], 1)]
    raise ValueError(name)


def render_shape(name: str, rng: np.random.Generator) -> np.ndarray:
    img = np.zeros((CANVAS, CANVAS), np.uint8)
    thick = int(rng.integers(6, 12))
    for s in shape_strokes(name, rng):
        p = _wobble(s * (0.8 * SYMBOL) + CANVAS / 2, rng, amp=rng.uniform(0.5, 2.0))
        cv2.polylines(img, [np.round(p).astype(np.int32)], False, 255, thick, cv2.LINE_AA)
    return _on_paper(_distort(img.astype(np.float32) / 255.0, rng))


def omniglot_sheets(zip_path: Path, per_character: int, rng: np.random.Generator):
    """(label, BGR sheet) for ``per_character`` drawings of each background-set character."""
    with zipfile.ZipFile(zip_path) as z:
        names = sorted(n for n in z.namelist() if n.endswith(".png"))
        if any("images_evaluation" in n for n in names):
            raise SystemExit("refusing an archive that holds the Omniglot evaluation set")
        by_char: dict[tuple[str, str], list[str]] = {}
        for n in names:
            parts = n.split("/")
            if len(parts) >= 4 and parts[0] == "images_background":
                by_char.setdefault((parts[1], parts[2]), []).append(n)
        for (alphabet, char), files in sorted(by_char.items()):
            pick = rng.choice(len(files), size=min(per_character, len(files)), replace=False)
            for i in sorted(pick):
                data = np.frombuffer(z.read(files[i]), np.uint8)
                g = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)  # 105x105, black ink on white
                # Omniglot strokes are hair-thin at 105 px: thicken them to a pen's width
                ink = cv2.dilate((g < 128).astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
                side = int(round(g.shape[0] / 0.55))  # symbol well inside the ROI
                sheet = np.zeros((side, side), np.uint8)
                o = (side - g.shape[0]) // 2
                sheet[o : o + g.shape[0], o : o + g.shape[1]] = ink
                sheet = cv2.resize(sheet, (CANVAS, CANVAS), interpolation=cv2.INTER_AREA)
                label = f"{alphabet.replace('_', ' ')} {char.replace('character', '#')}"
                yield label, _on_paper(sheet.astype(np.float32) / 255.0)


def build(
    mnist: Path,
    omniglot: Path,
    digits_per_class: int = 300,
    letters_per_char: int = 10,
    shapes_per_kind: int = 20,
    omniglot_per_char: int = 1,
    seed: int = 13,
    camera_digits_per_class: int = 50,
):
    rng = np.random.default_rng(seed)
    images, labels, kinds = [], [], []
    rejected: dict[str, int] = {}

    def add(img_or_frame, label, kind):
        res = prepare_image(img_or_frame)
        if not res.ok:
            rejected[kind] = rejected.get(kind, 0) + 1
            return
        images.append(res.image)
        labels.append(label)
        kinds.append(kind)

    x, y = load_mnist_dir(mnist, "train")
    for d in range(10):
        idx = rng.choice(np.flatnonzero(y == d), size=digits_per_class, replace=False)
        for i in sorted(idx):
            add(x[i], str(d), "digit")
    from training.camera_sim import render_digit  # numpy + OpenCV only

    for d in range(10):
        idx = rng.choice(np.flatnonzero(y == d), size=camera_digits_per_class, replace=False)
        for i in sorted(idx):
            add(render_digit(x[i], rng), str(d), "digit")
    for ch in string.ascii_uppercase + string.ascii_lowercase:
        kind = "capital letter" if ch.isupper() else "lower-case letter"
        for _ in range(letters_per_char):
            add(render_letter(ch, rng), ch, kind)
    for name in SHAPES:
        for _ in range(shapes_per_kind):
            add(render_shape(name, rng), name, "shape")
    for label, sheet in omniglot_sheets(omniglot, omniglot_per_char, rng):
        add(sheet, label, "Omniglot character")
    return np.stack(images), np.array(labels), np.array(kinds), rejected


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mnist", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    ap.add_argument("--omniglot", default=str(ROOT.parent / "shared" / "data" / "omniglot" / "images_background.zip"))
    ap.add_argument("--out", default=str(ROOT / "assets" / "gallery" / "gallery.npz"))
    ap.add_argument("--digits-per-class", type=int, default=300)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--preview", metavar="PNG", help="also write a contact sheet of some gallery images")
    a = ap.parse_args(argv)
    imgs, labels, kinds, rejected = build(Path(a.mnist), Path(a.omniglot), a.digits_per_class, seed=a.seed)
    out = save_gallery(a.out, imgs, labels, kinds)
    u, c = np.unique(kinds, return_counts=True)
    print(
        f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB): {len(imgs)} images; "
        + ", ".join(f"{k}: {n}" for k, n in zip(u, c))
        + (f"; rejected by preprocessing: {rejected}" if rejected else "")
    )
    if a.preview:
        from desktop_app.core.duplicates import contact_sheet

        pick = np.concatenate([np.flatnonzero(kinds == k)[:40] for k in u])
        cv2.imwrite(a.preview, contact_sheet(imgs[pick], [str(s) for s in labels[pick]], cols=20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
