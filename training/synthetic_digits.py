"""Digit images made without any dataset: pen strokes and fonts (numpy + OpenCV only).

- ``digit_strokes``: a digit drawn as pen strokes (polylines with a pen width, jittered like
  handwriting), any size; ``training.camera_sim.render_frame`` films it.
- ``synthetic_digits``: digits drawn with OpenCV's Hershey fonts (random font, stroke,
  rotation, shear), reduced to 28x28 by the app's own MNIST recipe
  (``desktop_app.core.preprocess.form.mnist_form``). Export calibrates on them, clearly
  labelled, where MNIST is not available, and uses them as parity inputs next to random
  tensors; tests train on them.
Everything is driven by a seed.
"""

from __future__ import annotations

import cv2
import numpy as np

from desktop_app.core.preprocess.form import mnist_form

FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)

DESCRIPTION = (
    "synthetic digits 0-9 drawn with OpenCV Hershey fonts (random font, stroke, "
    "rotation, shear), reduced to 28x28 the MNIST way"
)


def font_digit(digit: int, rng: np.random.Generator, jitter: bool = True) -> np.ndarray:
    """One digit drawn on a 96x96 canvas, distorted a little, reduced to MNIST form."""
    canvas = np.zeros((96, 96), np.uint8)
    font = FONTS[int(rng.integers(len(FONTS)))] if jitter else cv2.FONT_HERSHEY_SIMPLEX
    thick = int(rng.integers(4, 9)) if jitter else 6
    scale = 2.6 if font != cv2.FONT_HERSHEY_PLAIN else 5.0
    (tw, th), _ = cv2.getTextSize(str(digit), font, scale, thick)
    cv2.putText(canvas, str(digit), ((96 - tw) // 2, (96 + th) // 2), font, scale, 255, thick, cv2.LINE_AA)
    if jitter:
        angle = float(rng.uniform(-12, 12))
        shear = float(rng.uniform(-0.2, 0.2))
        m = cv2.getRotationMatrix2D((48, 48), angle, float(rng.uniform(0.9, 1.1)))
        m[0, 1] += shear
        canvas = cv2.warpAffine(canvas, m, (96, 96), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(canvas > 30)
    return mnist_form(canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1])  # the app's recipe


def synthetic_digits(n: int, seed: int = 0, jitter: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (uint8 [n,28,28]) and labels (uint8 [n]), classes balanced, seeded."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = np.stack([font_digit(int(d), rng, jitter) for d in labels]) if n else np.zeros((0, 28, 28), np.uint8)
    return images, labels


# ---------------------------------------------------------------------------------------------
# pen strokes
def _arc(cx, cy, rx, ry, a0, a1, steps=None):
    steps = steps or max(6, int(abs(a1 - a0) / 12))
    a = np.deg2rad(np.linspace(a0, a1, steps))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def _bezier(p0, p1, p2, steps=12):
    t = np.linspace(0, 1, steps)[:, None]
    return (1 - t) ** 2 * np.float64(p0) + 2 * (1 - t) * t * np.float64(p1) + t**2 * np.float64(p2)


# each digit as pen strokes (polylines) in a unit box, x right, y down
STROKES = {
    "0": lambda: [_arc(0.5, 0.5, 0.3, 0.45, -90, 275)],
    "1": lambda: [np.float64([[0.42, 0.15], [0.56, 0.04], [0.5, 0.96]])],
    "2": lambda: [np.concatenate([_arc(0.5, 0.3, 0.28, 0.25, 180, 385), np.float64([[0.2, 0.95], [0.84, 0.95]])])],
    "3": lambda: [np.concatenate([_arc(0.47, 0.27, 0.24, 0.22, 200, 450), _arc(0.47, 0.72, 0.27, 0.23, -90, 160)])],
    "4": lambda: [np.float64([[0.66, 0.96], [0.66, 0.04], [0.14, 0.66], [0.86, 0.66]])],
    "5": lambda: [
        np.concatenate([np.float64([[0.76, 0.05], [0.3, 0.05], [0.27, 0.45]]), _arc(0.48, 0.69, 0.27, 0.26, -130, 150)])
    ],
    "6": lambda: [
        np.concatenate([_bezier((0.7, 0.04), (0.24, 0.22), (0.25, 0.7)), _arc(0.5, 0.7, 0.25, 0.25, 180, 540)])
    ],
    "7": lambda: [np.float64([[0.18, 0.06], [0.82, 0.06], [0.42, 0.96]])],
    "8": lambda: [_arc(0.5, 0.27, 0.21, 0.22, 90, 450), _arc(0.5, 0.72, 0.26, 0.24, -90, 270)],
    "9": lambda: [_arc(0.5, 0.3, 0.24, 0.25, 0, 360), np.float64([[0.74, 0.3], [0.66, 0.96]])],
}


def digit_strokes(
    digit: int | str,
    size: int = 200,
    thickness: int | None = None,
    slant: float = 0.0,
    jitter: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A white-on-black float32 [size, size] alpha map of ``digit`` drawn as pen strokes.

    The digit fills ~90% of the height; ``thickness`` is the pen width in pixels (default
    ~9% of the height, like MNIST); ``jitter`` moves each stroke point by up to that
    fraction of the box (handwriting variation); ``slant`` shears it."""
    rng = np.random.default_rng(seed)
    th = thickness or max(2, int(round(size * 0.085)))
    box_h = 0.86 * size
    box_w = 0.62 * size
    ox, oy = (size - box_w) / 2, (size - box_h) / 2
    canvas = np.zeros((size * 2, size * 2), np.uint8)  # 2x supersampled for smooth curves
    for stroke in STROKES[str(digit)]():
        pts = stroke + rng.uniform(-jitter, jitter, stroke.shape) if jitter else stroke
        xy = np.stack([ox + (pts[:, 0] + slant * (0.5 - pts[:, 1])) * box_w, oy + pts[:, 1] * box_h], 1)
        cv2.polylines(canvas, [np.round(xy * 2 * 16).astype(np.int32)], False, 255, th * 2, cv2.LINE_AA, 4)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0
