"""Synthetic "real-looking" digits: drawn with OpenCV fonts, reduced the MNIST way.

Used where MNIST is not available (tests, and as the clearly-labelled fallback
calibration source) and as the second kind of parity input next to random tensors.
Each image is 28x28 uint8, white ink on black, the glyph scaled so its longest side is
20 px and pasted centred by its centre of mass, like MNIST.
"""

from __future__ import annotations

import cv2
import numpy as np

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


def mnist_form(ink: np.ndarray) -> np.ndarray | None:
    """Grey ink image (any size, white on black) -> 28x28 uint8 in MNIST form, or None."""
    ys, xs = np.nonzero(ink > 30)
    if ys.size == 0:
        return None
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    h, w = crop.shape
    s = 20.0 / max(h, w)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA)
    m = small.astype(np.float64)
    total = m.sum()
    cy = (m.sum(1) * np.arange(nh)).sum() / total
    cx = (m.sum(0) * np.arange(nw)).sum() / total
    out = np.zeros((28, 28), np.uint8)
    oy, ox = int(round(14 - cy)), int(round(14 - cx))
    oy, ox = min(max(oy, 0), 28 - nh), min(max(ox, 0), 28 - nw)
    out[oy : oy + nh, ox : ox + nw] = small
    return out


def render_digit(digit: int, rng: np.random.Generator, jitter: bool = True) -> np.ndarray:
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
    img = mnist_form(canvas)
    assert img is not None
    return img


def synthetic_digits(n: int, seed: int = 0, jitter: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (uint8 [n,28,28]) and labels (uint8 [n]), classes balanced, seeded."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) % 10).astype(np.uint8)
    rng.shuffle(labels)
    images = np.stack([render_digit(int(d), rng, jitter) for d in labels]) if n else np.zeros((0, 28, 28), np.uint8)
    return images, labels
