"""The checks a found symbol must pass, each failure a code with a clear reason."""

from __future__ import annotations

import cv2
import numpy as np


def check_frame(mean: float, std: float, cfg) -> str:
    """The frame as a whole: "" or too_dark / too_bright / blank (uniform)."""
    if std < cfg.min_std:
        return "too_dark" if mean < cfg.dark_mean else "too_bright" if mean > cfg.bright_mean else "blank"
    return ""


def check_symbol(quality: dict, others: int, group_area: int, total_ink: int, file_mode: bool, cfg) -> str:
    """Clutter, size: "" or noise / too_small / too_large."""
    if others > cfg.max_components or group_area < cfg.min_group_share * total_ink:
        return "noise"
    lo = cfg.file_min_extent if file_mode else cfg.min_extent
    hi = cfg.file_max_extent if file_mode else cfg.max_extent
    if quality["extent"] < lo or quality["ink_fraction"] < (
        cfg.file_min_ink_fraction if file_mode else cfg.min_ink_fraction
    ):
        return "too_small"
    if quality["extent"] > hi:
        return "too_large"
    return ""


def check_filled(mask: np.ndarray, quality: dict, cfg) -> bool:
    """A pen stroke is thin next to the symbol; a filled blob (a hand, a thumb, a sticker)
    is not: wide AND without the gaps and bays of a drawn symbol (thick marker digits stay in)."""
    # (padded: the crop is tight around the ink, and outside the image does not count as paper)
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    core = float(cv2.distanceTransform(padded, cv2.DIST_L2, 3).max()) / max(1, max(mask.shape))
    quality["fill"] = core
    if core > cfg.max_fill:
        pts = cv2.findNonZero(mask)
        hull = cv2.contourArea(cv2.convexHull(pts)) if pts is not None else 0.0
        quality["solidity"] = float(mask.sum()) / max(1.0, hull)
        if quality["solidity"] > cfg.max_solidity or core > 1.5 * cfg.max_fill:
            return True
    return False


def rim_share(inv: np.ndarray, sym: np.ndarray, box, contrast: float) -> float:
    """The share of the ring just around the symbol that is as dark as its ink. A pen stroke
    has paper around it (also in a shadow: the ink is darker than the shadow by its contrast);
    the rim left of a filled shape wider than the background's opening (a hand, a thumb) has
    the shape itself on its inner side."""
    x0, y0, x1, y1 = box
    h, w = inv.shape
    r = max(2, int(round(0.04 * max(x1 - x0, y1 - y0))))  # the ring: from r to 2r off the ink,
    R = 2 * r  # beyond the blur of the stroke's edge
    bx0, by0, bx1, by1 = max(0, x0 - R), max(0, y0 - R), min(w, x1 + R), min(h, y1 + R)
    m = sym[by0:by1, bx0:bx1]
    ring = (cv2.dilate(m, np.ones((2 * R + 1, 2 * R + 1), np.uint8)) > 0) & (
        cv2.dilate(m, np.ones((2 * r + 1, 2 * r + 1), np.uint8)) == 0
    )
    if not ring.any() or not m.any():
        return 0.0
    region = inv[by0:by1, bx0:bx1]
    level = float(np.median(region[m > 0])) - 0.3 * contrast
    return float(np.count_nonzero(region[ring] >= level)) / float(np.count_nonzero(ring))
