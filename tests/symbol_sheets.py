"""Synthetic symbol photos for the strength / identify / duplicates tests (numpy + OpenCV only):
dark ink on light paper, BGR, like a camera frame of a sheet; deterministic per seed."""

from __future__ import annotations

import cv2
import numpy as np

SIDE = 240


def _paper(rng) -> np.ndarray:
    img = np.full((SIDE, SIDE), 240, np.float32) + rng.normal(0, 2.0, (SIDE, SIDE)).astype(np.float32)
    return img


def _finish(img) -> np.ndarray:
    return cv2.cvtColor(np.clip(img, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)


def digit(d: int, seed: int = 0) -> np.ndarray:
    """The digit ``d`` written with a Hershey font, slightly rotated, on paper."""
    rng = np.random.default_rng(1000 * d + seed)
    ink = np.zeros((SIDE, SIDE), np.uint8)
    font = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX][seed % 3]
    thick = int(rng.integers(8, 13))
    scale = 4.0 + rng.uniform(-0.3, 0.3)
    (tw, th), _ = cv2.getTextSize(str(d), font, scale, thick)
    cv2.putText(ink, str(d), (SIDE // 2 - tw // 2, SIDE // 2 + th // 2), font, scale, 255, thick, cv2.LINE_AA)
    M = cv2.getRotationMatrix2D((SIDE / 2, SIDE / 2), rng.uniform(-8, 8), 1.0)
    ink = cv2.warpAffine(ink, M, (SIDE, SIDE))
    return _finish(_paper(rng) - 0.85 * ink)


def seven(seed: int = 0) -> np.ndarray:
    """A hand-drawn 7: a bar and a slanted stroke, with jitter."""
    rng = np.random.default_rng(seed)
    j = lambda: int(rng.integers(-6, 7))  # noqa: E731
    img = _paper(rng)
    pts = np.array([[75 + j(), 70 + j()], [165 + j(), 70 + j()], [110 + j(), 175 + j()]], np.int32)
    cv2.polylines(img, [pts], False, 20, int(rng.integers(6, 9)), cv2.LINE_AA)
    return _finish(img)


def crossed_spirals(seed: int = 0) -> np.ndarray:
    """Two spirals winding in opposite directions over each other: a distinctive glyph."""
    rng = np.random.default_rng(seed)
    img = _paper(rng)
    for sgn, ang in ((1, 0.0), (-1, np.pi / 2)):
        a = np.linspace(0, 5 * np.pi, 200)
        r = 8 + 45 * a / (5 * np.pi)
        x = 120 + sgn * r * np.cos(a + ang + rng.normal(0, 0.05))
        y = 120 + r * np.sin(a + ang)
        cv2.polylines(img, [np.stack([x, y], 1).round().astype(np.int32)], False, 20, 7, cv2.LINE_AA)
    return _finish(img)


def from_model_form(
    img28: np.ndarray, offset=(0, 0), scale: float = 1.0, jpeg: int | None = None, side: int = 200
) -> np.ndarray:
    """A 28x28 white-on-black image as a photo of a sheet: upsampled, dark on light, placed at
    ``offset`` from the centre at ``scale``, optionally JPEG re-encoded."""
    size = int(round(84 * scale))
    big = cv2.resize(np.asarray(img28, np.uint8), (size, size), interpolation=cv2.INTER_CUBIC)
    sheet = np.full((side, side), 245, np.uint8)
    y, x = (side - size) // 2 + offset[1], (side - size) // 2 + offset[0]
    sheet[y : y + size, x : x + size] = np.clip(245 - big.astype(np.float32) * 0.85, 0, 255).astype(np.uint8)
    bgr = cv2.cvtColor(sheet, cv2.COLOR_GRAY2BGR)
    if jpeg:
        _ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return bgr
