"""Find the paper (card, page, sticky note) that the symbol is on.

With the pen strokes wiped off (a morphological closing wider than a stroke), the paper is
the region enclosed by sharp brightness steps: a card's edge is a sharp step, a soft shadow
or a light gradient is not (measured on the logarithm of brightness, so a shadow's depth
does not matter, only how sharp its edge is). The paper is the step-free region that covers
most of the middle of the view, holes filled, roughly convex, with pen strokes on it. A finger at the card's edge, the desk or the
wall beside it lie outside it."""

from __future__ import annotations

import cv2
import numpy as np


def find_paper(g: np.ndarray, polarity: str, cfg):
    """(mask uint8 0/1 of the paper, its outline as float32 [K, 2] in working pixels), or
    (None, None) when no paper edge is in view (the paper fills the region) or none is found."""
    if not cfg.find_paper:
        return None, None
    H, W = g.shape
    f = 2 if min(H, W) >= 120 else 1  # at half the working size (speed): the paper is large
    if f > 1:
        g = cv2.resize(g, (W // f, H // f), interpolation=cv2.INTER_AREA)
    mask, outline = _find_paper(g, polarity, cfg, f)
    if mask is None:
        return None, None
    if f > 1:
        mask = cv2.resize(mask, (W, H), interpolation=cv2.INTER_NEAREST)
        outline = outline * f
    return mask, outline


def _find_paper(g, polarity, cfg, f):
    """find_paper on ``g`` at 1/f of the working size (steps per pixel scale with f)."""
    h, w = g.shape
    s = min(h, w)
    k = max(3, int(cfg.paper_ink_kernel * s) | 1)
    el = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    clean = cv2.morphologyEx(g, cv2.MORPH_CLOSE if polarity == "dark_on_light" else cv2.MORPH_OPEN, el)
    lg = cv2.log(clean.astype(np.float32) + 8.0)
    lg = cv2.GaussianBlur(lg, (0, 0), 1.0 / f)
    gx = cv2.Sobel(lg, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(lg, cv2.CV_32F, 0, 1, ksize=3)
    mag = cv2.magnitude(gx, gy)
    strong = mag >= 8.0 * cfg.paper_edge * f
    if not strong.any():
        return None, None
    # hysteresis: a card's edge fades where the background behind it is lighter; the weaker
    # part still counts where it continues a sharp one (a lone soft shadow edge does not)
    weak = (mag >= 8.0 * cfg.paper_edge * f * cfg.paper_edge_weak).astype(np.uint8)
    nw, wl = cv2.connectedComponents(weak, connectivity=8)
    keep = np.zeros(nw, bool)
    keep[np.unique(wl[strong])] = True
    keep[0] = False
    edge = keep[wl].astype(np.uint8)
    edge = cv2.dilate(edge, np.ones((3, 3), np.uint8))
    n, lab, _stats, _ = cv2.connectedComponentsWithStats(1 - edge, connectivity=4)
    if n < 2:
        return None, None
    cy0, cy1, cx0, cx1 = h // 4, h - h // 4, w // 4, w - w // 4
    overlap = np.bincount(lab[cy0:cy1, cx0:cx1].ravel(), minlength=n)
    overlap[0] = 0
    best = int(np.argmax(overlap))
    if overlap[best] == 0:
        return None, None
    region = cv2.dilate((lab == best).astype(np.uint8), np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None, None
    c = max(contours, key=cv2.contourArea)
    mask = np.zeros((h, w), np.uint8)
    cv2.drawContours(mask, [c], -1, 1, thickness=-1)
    frac = float(mask.sum()) / float(h * w)
    if frac >= cfg.paper_full or frac < cfg.paper_min_area:
        return None, None
    hull = cv2.convexHull(c)
    if cv2.contourArea(c) < cfg.paper_solidity * max(1.0, cv2.contourArea(hull)):
        return None, None  # no card or page: the gaps between thick strokes?
    # the paper is lighter (in ink terms: less ink-like) than what lies around it; else the
    # "paper" is the inside of a big symbol's loops, and the ROI is all one sheet
    inkish = cv2.bitwise_not(clean) if polarity == "dark_on_light" else clean
    lv_in = float(np.median(inkish[mask > 0]))
    lv_out = float(np.median(inkish[mask == 0]))
    if lv_out - lv_in < cfg.paper_contrast:
        return None, None
    # the symbol is on the paper: a region with no pen stroke in it (a loop of a big digit) is not
    ink = cv2.subtract(clean, g) if polarity == "dark_on_light" else cv2.subtract(g, clean)
    inner = cv2.erode(mask, np.ones((5 // f + 1,) * 2, np.uint8))
    if int(np.count_nonzero((ink >= 0.5 * cfg.min_contrast) & (inner > 0))) < max(4, int(cfg.speck * h * w / 4)):
        return None, None
    outline = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True).reshape(-1, 2)
    return mask, outline.astype(np.float32)
