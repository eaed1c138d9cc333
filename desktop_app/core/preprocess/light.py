"""Polarity (dark ink on light paper, or light on dark) and illumination normalisation."""

from __future__ import annotations

import cv2
import numpy as np

from .form import percentiles


def polarity(g: np.ndarray, cfg, where: np.ndarray | None = None) -> str:
    """Dark ink on light paper, or light on dark: which way do thin features stand out from
    the local background (a wide median, blind to polarity and to loops inside the symbol)?
    ``where``: only there (the paper, away from its edge, whose step is either way)."""
    if cfg.polarity != "auto":
        return cfg.polarity
    h, w = g.shape
    s = min(h, w)
    size = (max(8, w // 4), max(8, h // 4))
    small = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    med = cv2.medianBlur(small, max(3, (s // 16) | 1))
    med = cv2.resize(med, (w, h), interpolation=cv2.INTER_LINEAR)
    dark = percentiles(cv2.subtract(med, g), (99.8,), where)[0]
    light = percentiles(cv2.subtract(g, med), (99.8,), where)[0]
    if dark >= 0.9 * light:
        return "dark_on_light"
    # light thin features also show where thick dark strokes leave light gaps (the loops of
    # a marker digit): light ink needs a dark background, i.e. most of the view dark
    lo, mid, hi = percentiles(g, (2, 50, 98), where)
    return "light_on_dark" if mid <= (lo + hi) / 2 else "dark_on_light"


def ink_bright(g: np.ndarray, polarity_: str) -> np.ndarray:
    """The frame with the ink bright and the paper dark, whatever the polarity."""
    return cv2.bitwise_not(g) if polarity_ == "dark_on_light" else g


def normalise_light(inv: np.ndarray, cfg, paper=None):
    """(ink over a flat black background, the background estimate). The background is a
    morphological opening wider than any pen stroke (computed at 1/4 size for speed), so
    uneven light and soft shadows become flat; outside the ``paper`` mask the frame is
    first set to the paper's level, so a desk or wall next to the card leaves no step."""
    h, w = inv.shape
    s = min(h, w)
    src = inv
    if paper is not None:
        level = np.uint8(percentiles(inv, (50,), paper)[0])
        src = inv.copy()
        src[paper == 0] = level
    small = cv2.resize(src, (max(4, w // 4), max(4, h // 4)), interpolation=cv2.INTER_AREA)
    kk = max(3, int(s / 4 * cfg.background_kernel) | 1)
    bg = cv2.morphologyEx(small, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kk, kk)))
    bg = cv2.blur(bg, (3, 3))
    bg = cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.subtract(src, bg), bg
