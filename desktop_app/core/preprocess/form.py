"""The last step: the symbol's ink -> the 28x28 MNIST form (white ink on black)."""

from __future__ import annotations

import cv2
import numpy as np

from .config import FIT_SIZE, MODEL_SIZE
from .loading import to_gray_u8


def percentiles(img_u8: np.ndarray, qs, mask=None) -> list[float]:
    """Percentiles (0..100) of a uint8 image from its histogram (much faster than np.percentile)."""
    hist = cv2.calcHist([img_u8], [0], mask, [256], [0, 256]).ravel()
    cum = np.cumsum(hist)
    total = cum[-1]
    if total <= 0:
        return [0.0 for _ in qs]
    return [float(np.searchsorted(cum, q / 100.0 * total)) for q in qs]


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width (px) of a binary mask: twice the median ridge distance."""
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ridge = dist[(dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8))) & (dist > 0)]
    if ridge.size == 0:
        return 0.0
    return float(2.0 * np.median(ridge))


def mnist_form(ink: np.ndarray) -> np.ndarray:
    """White-on-black crop (any size, tight around the ink) -> [28,28] uint8.

    Longest side scaled to 20 px (aspect kept), then pasted into 28x28 so that the centre
    of mass of the ink sits at the centre (the MNIST recipe)."""
    a = np.asarray(ink, dtype=np.float32)
    h, w = a.shape[:2]
    if h == 0 or w == 0 or float(a.max(initial=0)) <= 0:
        return np.zeros((MODEL_SIZE, MODEL_SIZE), np.uint8)
    s = FIT_SIZE / max(h, w)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    small = cv2.resize(a, (nw, nh), interpolation=interp)
    m = cv2.moments(small)
    if m["m00"] > 1e-6:
        cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    else:
        cx, cy = (nw - 1) / 2, (nh - 1) / 2
    # place so the centre of mass lands on pixel centre 13.5 (of 0..27), clamped inside
    dx = float(np.clip(13.5 - cx, 0, MODEL_SIZE - nw))
    dy = float(np.clip(13.5 - cy, 0, MODEL_SIZE - nh))
    M = np.float32([[1, 0, dx], [0, 1, dy]])
    out = cv2.warpAffine(
        small, M, (MODEL_SIZE, MODEL_SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    peak = float(out.max())
    if peak > 0:
        out = out * (255.0 / peak)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def cut_ink(g_full, bg, mask, box, scale, polarity, cfg, quality) -> np.ndarray:
    """The symbol's ink as a float image in [0, 1], cut from the FULL-resolution region (thin
    pens and small symbols survive the working size): background subtracted, other ink masked
    out, grey levels stretched, hair-thin strokes thickened toward MNIST's stroke width.
    ``box`` = (x0, y0, x1, y1) in working pixels, ``mask`` the symbol inside it."""
    x0, y0, x1, y1 = box
    H, W = g_full.shape[:2]
    fx0, fy0 = int(x0 * scale), int(y0 * scale)
    fx1, fy1 = min(W, int(np.ceil(x1 * scale))), min(H, int(np.ceil(y1 * scale)))
    size = (max(1, fx1 - fx0), max(1, fy1 - fy0))
    inv_f = g_full[fy0 : fy0 + size[1], fx0 : fx0 + size[0]]
    if polarity == "dark_on_light":
        inv_f = cv2.bitwise_not(inv_f)
    size = (inv_f.shape[1], inv_f.shape[0])
    if scale > 1.0:
        bg_f = cv2.resize(bg[y0:y1, x0:x1], size, interpolation=cv2.INTER_LINEAR)
        r = int(np.ceil(scale))
        keep = cv2.dilate(
            cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST),
            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)),
        )
    else:
        bg_f = bg[y0:y1, x0:x1]
        keep = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    region_f = cv2.subtract(inv_f, bg_f)
    hi = max(1.0, percentiles(region_f, (97,), keep)[0])
    lo = 0.2 * hi
    ink = np.clip((region_f.astype(np.float32) - lo) / (hi - lo), 0, 1) * keep
    if cfg.normalize_stroke:
        strokes = ((region_f >= 0.5 * hi) & (keep > 0)).astype(np.uint8)
        sw = stroke_width(strokes)
        target = cfg.stroke_target * max(ink.shape)
        quality["stroke"] = sw / max(ink.shape)
        if 0 < sw < 0.7 * target:
            r = int(round((target - sw) / 2))
            if r >= 1:
                ink = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return ink


class FullRes:
    """The full-resolution "gray" of the region, computed only for the part that is cut."""

    def __init__(self, part, colour_ink):
        self.part, self.colour_ink, self.shape = part, colour_ink, part.shape[:2]

    def __getitem__(self, idx):
        return to_gray_u8(self.part[idx], self.colour_ink)
