"""Camera frame -> 28x28 model image (white ink on black, the MNIST recipe), or "no symbol".

The steps, all on a centred square region of interest (ROI) analysed at a small working
size so that a 640x480 frame takes a few milliseconds:

1. grayscale; polarity (dark ink on light paper or light on dark) from where the
   background (the median) lies between the darkest and the lightest pixels;
2. illumination normalisation: the ink is made bright, and the background, estimated by a
   morphological opening wider than any pen stroke, is subtracted, so uneven light and
   soft shadows become a flat black;
3. binarisation at a fraction of the ink level; connected components; specks dropped;
4. the ink is the largest plausible stroke group: the biggest component not touching the
   ROI border plus the components near it; clutter at the border is dropped, but a border
   component next to the symbol means the symbol is cut by the border;
   when that finds the ink running into the border, a rescue pass repeats steps 3-6 with
   the ink kept only within reach of a steep edge (a shadow's blurred edge is not ink) and
   with a straight bar that runs in from the border onto the symbol and is thinner than its
   strokes (a pen, a cable) dropped; it asks for a sharper symbol and is used only if it
   acquires one (``quality["rescue"]``), so every frame the first pass takes is unchanged;
5. checks with reasons: uniform/too dark/too bright frame, no ink, noise, too small,
   too large, cut by the border, too blurred;
6. crop, longest side to 20 px, pasted into 28x28 centred by centre of mass.

A frame without a usable symbol gives ``ok=False`` with a human ``reason``: a failure to
acquire, never a decision.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

MODEL_SIZE = 28
FIT_SIZE = 20


@dataclass
class PreprocessConfig:
    roi_fraction: float = 0.7        # side of the centred square ROI, as a fraction of min(H, W)
    work_size: int = 160             # the ROI is analysed at this side length (speed)
    polarity: str = "auto"           # "auto" | "dark_on_light" | "light_on_dark"
    min_contrast: float = 40.0       # grey levels between ink and paper
    min_ink_fraction: float = 0.0015 # of ROI area
    max_ink_fraction: float = 0.35   # of ROI area
    min_extent: float = 0.12         # longest ink-box side / ROI side
    max_extent: float = 0.85
    edge_margin: float = 0.01        # ink this close to the ROI border touches it
    min_sharpness: float = 12.0      # edge steepness of the strokes (see quality["sharpness"])
    max_components: int = 12         # more stroke-sized groups than this: noise / clutter
    group_distance: float = 0.12     # components this close (fraction of ROI) join the symbol
    normalize_stroke: bool = True    # thicken hair-thin pen strokes toward MNIST's stroke width
    background_kernel: float = 0.5   # background = opening this wide (fraction of the ROI)
    max_fill: float = 0.3            # widest ink (half-width / symbol side) a pen stroke may have

    def validate(self) -> "PreprocessConfig":
        if not 0.1 <= self.roi_fraction <= 1.0:
            raise ValueError("roi_fraction must be between 0.1 and 1.0")
        if not 48 <= self.work_size <= 1024:
            raise ValueError("work_size must be between 48 and 1024 pixels")
        if self.polarity not in ("auto", "dark_on_light", "light_on_dark"):
            raise ValueError("polarity must be 'auto', 'dark_on_light' or 'light_on_dark'")
        return self


@dataclass
class PreprocessResult:
    ok: bool
    image: np.ndarray | None
    reason: str
    code: str
    roi: tuple[int, int, int, int]
    bbox: tuple[int, int, int, int] | None = None
    crop: np.ndarray | None = None
    polarity: str = ""
    quality: dict = field(default_factory=dict)


REASONS = {
    "blank": "no ink found: show the paper with your symbol inside the frame",
    "too_dark": "the picture is too dark: add light",
    "too_bright": "the picture is washed out (too bright): reduce light or glare",
    "noise": "too much clutter or noise: show a single symbol on plain paper",
    "too_small": "the symbol is too small: bring it closer to the camera",
    "too_large": "the symbol is too large: move it away from the camera",
    "edge": "the symbol touches the edge of the frame area (or something runs from it to the edge): "
            "move it to the centre and clear the paper around it",
    "blurred": "the picture is too blurred: hold it still and in focus",
    "filled": "that is a filled shape, not a pen stroke (a hand or thumb in view?): show only the drawn symbol",
    "bad_frame": "the camera delivered an unusable frame",
}


def roi_rect(shape, cfg: PreprocessConfig | None = None) -> tuple[int, int, int, int]:
    """The centred square ROI (x, y, w, h) for a frame of ``shape`` (H, W[, C])."""
    cfg = cfg or PreprocessConfig()
    h, w = int(shape[0]), int(shape[1])
    side = max(1, int(round(min(h, w) * cfg.roi_fraction)))
    return (w - side) // 2, (h - side) // 2, side, side


def _fail(code, roi, quality, polarity="", bbox=None, reason=None) -> PreprocessResult:
    return PreprocessResult(False, None, reason or REASONS[code], code, roi, bbox, None, polarity, quality)


def _to_gray_u8(frame) -> np.ndarray | None:
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        if a.dtype == bool or a.size == 0:
            return None
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            return None
        if a.max(initial=0) <= 1.0:
            a = a * 255.0
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return a
    if a.ndim == 3 and a.shape[2] == 3:
        return cv2.cvtColor(a, cv2.COLOR_BGR2GRAY)
    if a.ndim == 3 and a.shape[2] == 4:
        return cv2.cvtColor(a, cv2.COLOR_BGRA2GRAY)
    return None


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
    out = cv2.warpAffine(small, M, (MODEL_SIZE, MODEL_SIZE), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    peak = float(out.max())
    if peak > 0:
        out = out * (255.0 / peak)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _percentiles(img_u8: np.ndarray, qs, mask=None) -> list[float]:
    """Percentiles (0..100) of a uint8 image from its histogram (much faster than np.percentile)."""
    hist = cv2.calcHist([img_u8], [0], mask, [256], [0, 256]).ravel()
    cum = np.cumsum(hist)
    total = cum[-1]
    if total <= 0:
        return [0.0 for _ in qs]
    return [float(np.searchsorted(cum, q / 100.0 * total)) for q in qs]


def _polarity(g: np.ndarray, cfg: PreprocessConfig) -> str:
    """Dark ink on light paper, or light on dark: which way do thin features stand out from
    the local background (a wide median, blind to polarity and to loops inside the symbol)?"""
    if cfg.polarity != "auto":
        return cfg.polarity
    ws = g.shape[0]
    small = cv2.resize(g, (max(8, ws // 4), max(8, ws // 4)), interpolation=cv2.INTER_AREA)
    med = cv2.medianBlur(small, max(3, (ws // 16) | 1))
    med = cv2.resize(med, (g.shape[1], g.shape[0]), interpolation=cv2.INTER_LINEAR)
    dark = _percentiles(cv2.subtract(med, g), (99.8,))[0]
    light = _percentiles(cv2.subtract(g, med), (99.8,))[0]
    return "dark_on_light" if dark >= 0.9 * light else "light_on_dark"


def _stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width (px) of a binary mask: twice the median ridge distance."""
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    ridge = dist[(dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8))) & (dist > 0)]
    if ridge.size == 0:
        return 0.0
    return float(2.0 * np.median(ridge))


RESCUE_EDGE_REACH = 0.05   # rescue pass: ink must lie this close (fraction of the ROI) to a steep edge
RESCUE_SHARPNESS = 1.2     # rescue pass: the symbol's sharpness must reach this x min_sharpness


def _at_border(st, ws, margin) -> bool:
    cx_, cy_, cw, ch = int(st[0]), int(st[1]), int(st[2]), int(st[3])
    return cx_ < margin or cy_ < margin or cx_ + cw > ws - margin or cy_ + ch > ws - margin


def _strip_border_bar(binary, labels, stats, i, ws, margin) -> bool:
    """Component ``i`` runs in from the ROI border: if it starts as a straight even bar (a pen
    or a cable) that is thinner than the rest of the ink it runs into, clear the bar's pixels
    in ``binary`` (up to where it ends) and say so. A symbol cut by the border is left alone:
    its strokes are as wide as the part they join, and curved strokes are no bar at all."""
    cx_, cy_, cw, ch = (int(v) for v in stats[i, :4])
    sub = labels[cy_:cy_ + ch, cx_:cx_ + cw] == i
    ys, xs = np.nonzero(sub)
    px, py = (xs + cx_).astype(np.float32), (ys + cy_).astype(np.float32)
    edge = (px < margin) | (py < margin) | (px >= ws - margin) | (py >= ws - margin)
    if not edge.any():
        return False
    ex, ey = px[edge], py[edge]
    max_w = 0.06 * ws
    if max(np.ptp(ex), np.ptp(ey)) > 3 * max_w:          # meets the border broadly: no bar
        return False
    p0 = np.float32([ex.mean(), ey.mean()])
    rel = np.stack([px - p0[0], py - p0[1]], 1)
    near = (rel ** 2).sum(1) <= (2.5 * max_w) ** 2
    for _ in range(2):                                     # fit, walk the bar, refit on the bar
        pts = rel[near]
        if len(pts) < 6:
            return False
        mu = pts.mean(0)
        _, vecs = np.linalg.eigh(np.cov((pts - mu).T))
        u = vecs[:, 1]
        if (pts @ u).mean() < 0:                           # pointing into the ROI
            u = -u
        nrm = np.float32([-u[1], u[0]])
        t, d = rel @ u, rel @ nrm - float(mu @ nrm)
        hw = float(np.percentile(np.abs(d[near]), 95)) + 0.5
        if 2 * hw > max_w:
            return False
        band = np.abs(d) <= hw + 1.0
        guard = ~band & (np.abs(d) <= hw + 4.0)
        tb = np.floor(t - t.min()).astype(np.int32)
        nb = int(tb.max()) + 1
        in_band = np.bincount(tb[band], minlength=nb)
        in_guard = np.bincount(tb[guard], minlength=nb)
        bar_slice = (in_band > 0) & (in_guard == 0)
        first = np.argmin(bar_slice) if not bar_slice.all() else nb   # the first run: the bar itself
        if first < max(6, 4 * hw):                         # too short to tell a bar
            return False
        near = band & (tb < first)
    ends = np.nonzero(in_band == 0)[0]
    stop = int(ends[0]) if ends.size else nb               # the bar's far end
    drop = band & bar_slice[tb] & (tb < stop)
    rest = ~drop
    if rest.sum() < drop.sum():                            # mostly bar: nothing left to keep
        return False
    m = np.zeros((ch, cw), np.uint8)
    m[ys[rest], xs[rest]] = 1
    if 2 * hw + 1 > 0.8 * _stroke_width(m):                 # as wide as the strokes it joins
        return False
    binary[py[drop].astype(np.int32), px[drop].astype(np.int32)] = 0
    return True


def preprocess(frame, cfg: PreprocessConfig | None = None) -> PreprocessResult:
    """Any BGR (or gray) frame -> :class:`PreprocessResult`. Never raises for odd frames."""
    t0 = time.perf_counter()
    cfg = cfg or PreprocessConfig()
    a = np.asarray(frame) if frame is not None else np.zeros((0, 0), np.uint8)
    shape = a.shape if a.ndim >= 2 else (0, 0)
    roi = roi_rect(shape, cfg) if min(shape[:2]) > 0 else (0, 0, 0, 0)
    quality: dict = {}
    if a.ndim < 2 or min(shape[:2]) < 16:
        return _fail("bad_frame", roi, quality, reason="the frame is empty or too small to hold a symbol")
    x, y, side, _ = roi
    g_full = _to_gray_u8(a[y:y + side, x:x + side])
    if g_full is None:
        return _fail("bad_frame", roi, quality, reason="the frame has an unsupported pixel format")
    ws = min(cfg.work_size, side)
    g = cv2.resize(g_full, (ws, ws), interpolation=cv2.INTER_AREA) if side != ws else g_full
    scale = side / ws

    # 1. the frame as a whole: uniform / too dark / too bright
    mean, std = cv2.meanStdDev(g)
    mean, std = float(mean[0, 0]), float(std[0, 0])
    quality.update(mean=mean, std=std)
    if std < 4.0:
        code = "too_dark" if mean < 30 else "too_bright" if mean > 240 else "blank"
        return _fail(code, roi, quality, reason=None if code != "blank" else
                     "the picture is uniform (no ink found): show the paper with your symbol")
    polarity = _polarity(g, cfg)
    start = dict(quality)
    res, retry = _find_symbol(a, g, g_full, roi, scale, polarity, quality, cfg, t0, rescue=False)
    if retry:
        # the ink ran into the border: once more, with soft shading and straight bars taken out
        q2 = dict(start)
        res2, _ = _find_symbol(a, g, g_full, roi, scale, polarity, q2, cfg, t0, rescue=True)
        if res2.ok:
            res2.quality["rescue"] = 1.0
            return res2
    return res


def _find_symbol(a, g, g_full, roi, scale, polarity, quality, cfg, t0, rescue):
    """Steps 2-6 of :func:`preprocess` on the working-size ROI ``g``: (result, whether a
    failure is worth the rescue pass, i.e. the ink ran into the ROI border)."""
    shape = a.shape
    x, y, side, _ = roi
    ws = g.shape[0]
    mean = quality["mean"]

    # 2. ink bright, background flattened
    inv = cv2.bitwise_not(g) if polarity == "dark_on_light" else g
    # an opening wider than the widest plausible stroke (~1/2 of the ROI) keeps only background
    small = cv2.resize(inv, (ws // 4, ws // 4), interpolation=cv2.INTER_AREA)
    kk = max(3, int(ws / 4 * cfg.background_kernel) | 1)
    kern = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kk, kk))
    bg = cv2.morphologyEx(small, cv2.MORPH_OPEN, kern)
    bg = cv2.blur(bg, (3, 3))
    bg = cv2.resize(bg, (ws, ws), interpolation=cv2.INTER_LINEAR)
    norm = cv2.subtract(inv, bg)
    smooth = cv2.GaussianBlur(norm, (3, 3), 0)
    ink_level = _percentiles(smooth, (99.9,))[0]
    quality["contrast"] = ink_level
    if ink_level < cfg.min_contrast:
        if mean < 30:
            return _fail("too_dark", roi, quality, polarity), False
        return _fail("blank", roi, quality, polarity), False

    # 3. binarise, components
    gxs = cv2.Sobel(norm, cv2.CV_32F, 1, 0, ksize=3)
    gys = cv2.Sobel(norm, cv2.CV_32F, 0, 1, ksize=3)
    grad = cv2.magnitude(gxs, gys) / 8.0
    thr = max(0.45 * ink_level, 0.5 * cfg.min_contrast)
    binary = (smooth >= thr).astype(np.uint8)
    speck = max(4, int(0.0008 * ws * ws))
    margin = max(1, int(round(cfg.edge_margin * ws)))
    if rescue:
        # a shadow's blurred edge is not ink: keep only the ink within reach of a steep edge
        # (or of the ROI border, whose far side is unseen: ink cut by the border stays cut)
        steep = (grad >= cfg.min_sharpness / 100.0 * ink_level).astype(np.uint8)
        r = max(1, int(round(RESCUE_EDGE_REACH * ws)))
        steep[[0, -1], :] = 1
        steep[:, [0, -1]] = 1
        binary &= cv2.dilate(steep, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if rescue:
        # a pen or cable running in from the border and onto the symbol: its bar is dropped
        cut = [_strip_border_bar(binary, labels, stats, i, ws, margin) for i in range(1, n)
               if stats[i, cv2.CC_STAT_AREA] >= 4 * speck and _at_border(stats[i], ws, margin)]
        if any(cut):
            n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    total_ink = int(stats[1:, cv2.CC_STAT_AREA].sum())
    comps = []
    for i in range(1, n):
        cx_, cy_, cw, ch, ar = stats[i]
        if ar < speck:
            continue
        at_border = cx_ < margin or cy_ < margin or cx_ + cw > ws - margin or cy_ + ch > ws - margin
        comps.append((i, int(ar), (int(cx_), int(cy_), int(cw), int(ch)), at_border))
    quality["components"] = float(len(comps))
    quality["ink_fraction"] = total_ink / float(ws * ws)
    if not comps:
        return _fail("blank", roi, quality, polarity), False
    if len(comps) > 3 * cfg.max_components:
        return _fail("noise", roi, quality, polarity), False
    if quality["ink_fraction"] > cfg.max_ink_fraction:
        return _fail("noise" if len(comps) > cfg.max_components else "too_large", roi, quality, polarity,
                     reason=None if len(comps) > cfg.max_components else
                     "too much ink in the frame area: show a single symbol on plain paper"), False

    # sharpness of a component: its steepest edges relative to the ink level ("percent of
    # contrast per pixel"); soft blobs touching the border are shading, not ink
    def sharpness(member_ids, bx0, by0, bx1, by1, full_mask=None) -> float:
        bx0, by0 = max(0, bx0 - 1), max(0, by0 - 1)
        bx1, by1 = min(ws, bx1 + 1), min(ws, by1 + 1)
        if full_mask is not None:
            m = full_mask[by0:by1, bx0:bx1]
        else:
            m = np.isin(labels[by0:by1, bx0:bx1], list(member_ids)).astype(np.uint8)
        ring = cv2.dilate(m, np.ones((3, 3), np.uint8)) > 0
        vals = grad[by0:by1, bx0:bx1][ring]
        return float(np.percentile(vals, 90)) / ink_level * 100.0 if vals.size else 0.0

    def soft(c) -> bool:
        cx_, cy_, cw, ch = c[2]
        return sharpness([c[0]], cx_, cy_, cx_ + cw, cy_ + ch) < cfg.min_sharpness

    def straight_bar(c) -> bool:
        """A long, straight, even bar (a pen or a cable lying in view), not a symbol's stroke."""
        cx_, cy_, cw, ch = c[2]
        pts = cv2.findNonZero((labels[cy_:cy_ + ch, cx_:cx_ + cw] == c[0]).astype(np.uint8))
        (_, _), (a_, b_), _ = cv2.minAreaRect(pts)
        long_, short = max(a_, b_), max(1.0, min(a_, b_))
        return long_ / short >= 6.0 and short <= 0.06 * ws and c[1] >= 0.6 * long_ * short

    # border blobs that are soft (shading) or straight bars (clutter lying in view) are not ink
    comps = [c for c in comps if not (c[3] and c[1] >= speck * 4 and (soft(c) or straight_bar(c)))]
    if not comps:
        return _fail("blank", roi, quality, polarity), True
    total_ink = sum(c[1] for c in comps)

    # 4. the symbol: the biggest interior component plus its neighbours
    interior = [c for c in comps if not c[3]]
    if not interior:
        return _fail("edge", roi, quality, polarity), True
    seed = max(interior, key=lambda c: c[1])
    border = [c for c in comps if c[3]]
    reach = cfg.group_distance * ws

    def near(c, box) -> bool:
        cx_, cy_, cw, ch = c[2]
        return max(box[0] - (cx_ + cw), cx_ - box[2], box[1] - (cy_ + ch), cy_ - box[3], 0) <= reach

    if border:
        big = max(border, key=lambda c: c[1])
        sx, sy, sw_, sh_ = seed[2]
        # the biggest ink runs off the border next to the symbol (or dwarfs it): the symbol is cut
        if big[1] > seed[1] and (near(big, (sx, sy, sx + sw_, sy + sh_)) or big[1] > 3 * seed[1]):
            bx, by, bw, bh = big[2]
            return _fail("edge", roi, quality, polarity,
                         (int(x + bx * scale), int(y + by * scale), int(bw * scale), int(bh * scale))), True
    gx, gy, gw, gh = seed[2]
    x0, y0, x1, y1 = gx, gy, gx + gw, gy + gh
    members = {seed[0]}
    changed = True
    while changed:
        changed = False
        for c in comps:
            if c[0] in members:
                continue
            cx_, cy_, cw, ch = c[2]
            dx = max(x0 - (cx_ + cw), cx_ - x1, 0)
            dy = max(y0 - (cy_ + ch), cy_ - y1, 0)
            if max(dx, dy) <= reach and (not c[3] or c[1] * 2 >= seed[1]):
                if c[3]:                       # a big piece next to the symbol runs off the border
                    bbox = (int(x + min(x0, cx_) * scale), int(y + min(y0, cy_) * scale),
                            int((max(x1, cx_ + cw) - min(x0, cx_)) * scale),
                            int((max(y1, cy_ + ch) - min(y0, cy_)) * scale))
                    return _fail("edge", roi, quality, polarity, bbox), True
                members.add(c[0])
                x0, y0 = min(x0, cx_), min(y0, cy_)
                x1, y1 = max(x1, cx_ + cw), max(y1, cy_ + ch)
                changed = True
    sym = np.isin(labels, list(members)).astype(np.uint8)
    group_area = int(sym.sum())
    # a symbol much fainter than the strongest ink in view (a dark pen lying beside a
    # light drawing) is binarised again at its own ink level, near where it was found
    sym_level = _percentiles(smooth, (99,), sym)[0]
    if sym_level < 0.75 * ink_level:
        local = (smooth >= max(0.45 * sym_level, 0.5 * cfg.min_contrast)).astype(np.uint8)
        _, llab = cv2.connectedComponents(local, connectivity=8)
        hit = np.unique(llab[(sym > 0) & (llab > 0)])
        grown = np.isin(llab, hit).astype(np.uint8)
        ys_, xs_ = np.nonzero(grown)
        # keep the regrown symbol unless it now runs into the border or into other ink
        big_other = np.zeros(n, bool)                # sizeable ink that is not the symbol
        big_other[1:] = stats[1:, cv2.CC_STAT_AREA] >= 4 * speck
        big_other[list(members)] = False
        others_ink = big_other[labels]
        if (ys_.size and ys_.min() >= margin and xs_.min() >= margin and ys_.max() < ws - margin
                and xs_.max() < ws - margin and not (grown.astype(bool) & others_ink).any()):
            sym = grown
            x0, y0, x1, y1 = int(xs_.min()), int(ys_.min()), int(xs_.max()) + 1, int(ys_.max()) + 1
            group_area = int(ys_.size)
    bbox = (int(x + x0 * scale), int(y + y0 * scale), int(round((x1 - x0) * scale)),
            int(round((y1 - y0) * scale)))
    extent = max(x1 - x0, y1 - y0) / ws
    quality["extent"] = extent
    quality["ink_fraction"] = group_area / float(ws * ws)
    others = sum(1 for c in comps if c[0] not in members and not c[3])
    quality["stray"] = float(others)

    # 5. checks
    if others > cfg.max_components or group_area < 0.35 * total_ink:
        return _fail("noise", roi, quality, polarity, bbox), False
    if extent < cfg.min_extent or quality["ink_fraction"] < cfg.min_ink_fraction:
        return _fail("too_small", roi, quality, polarity, bbox), False
    if extent > cfg.max_extent:
        return _fail("too_large", roi, quality, polarity, bbox), False
    mask = sym[y0:y1, x0:x1]
    region = norm[y0:y1, x0:x1]
    sharp = sharpness(members, x0, y0, x1, y1, full_mask=sym)
    quality["sharpness"] = sharp
    # (the rescue pass kept only ink near edges at least min_sharpness steep: it asks for more)
    if sharp < cfg.min_sharpness * (RESCUE_SHARPNESS if rescue else 1.0):
        return _fail("blurred", roi, quality, polarity, bbox), False
    # a pen stroke is thin next to the symbol; a filled blob (a hand, a thumb, a sticker) is not
    # (wide AND without the gaps and bays of a drawn symbol: thick marker digits stay in)
    core = float(cv2.distanceTransform(mask, cv2.DIST_L2, 3).max()) / max(1, max(mask.shape))
    quality["fill"] = core
    if core > cfg.max_fill:
        pts = cv2.findNonZero(mask)
        hull = cv2.contourArea(cv2.convexHull(pts)) if pts is not None else 0.0
        quality["solidity"] = float(mask.sum()) / max(1.0, hull)
        if quality["solidity"] > 0.9 or core > 1.5 * cfg.max_fill:
            return _fail("filled", roi, quality, polarity, bbox), False

    # 6. the ink, cut from the FULL-resolution ROI (thin pens and small symbols survive the
    #    working size), other components masked out, grey levels stretched, hair-thin
    #    strokes thickened toward MNIST's stroke width
    if scale > 1.0:
        fx0, fy0 = int(x0 * scale), int(y0 * scale)
        fx1, fy1 = min(side, int(np.ceil(x1 * scale))), min(side, int(np.ceil(y1 * scale)))
        size = (fx1 - fx0, fy1 - fy0)
        inv_f = g_full[fy0:fy1, fx0:fx1]
        if polarity == "dark_on_light":
            inv_f = cv2.bitwise_not(inv_f)
        bg_f = cv2.resize(bg[y0:y1, x0:x1], size, interpolation=cv2.INTER_LINEAR)
        region_f = cv2.subtract(inv_f, bg_f)
        r = int(np.ceil(scale))
        keep = cv2.dilate(cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST),
                          cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    else:
        region_f = region
        keep = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    hi = max(1.0, _percentiles(region_f, (97,), keep)[0])
    lo = 0.2 * hi
    ink = np.clip((region_f.astype(np.float32) - lo) / (hi - lo), 0, 1) * keep
    if cfg.normalize_stroke:
        strokes = ((region_f >= 0.5 * hi) & (keep > 0)).astype(np.uint8)
        sw = _stroke_width(strokes)
        target = 0.12 * max(ink.shape)                 # MNIST: 2-3 px strokes on a 20 px digit
        quality["stroke"] = sw / max(ink.shape)
        if 0 < sw < 0.7 * target:
            r = int(round((target - sw) / 2))
            if r >= 1:
                ink = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    image = mnist_form(ink)

    pad = max(2, int(0.05 * max(bbox[2], bbox[3])))
    fh, fw = shape[0], shape[1]
    cx0, cy0 = max(0, bbox[0] - pad), max(0, bbox[1] - pad)
    cx1, cy1 = min(fw, bbox[0] + bbox[2] + pad), min(fh, bbox[1] + bbox[3] + pad)
    crop = _to_gray_u8(a[cy0:cy1, cx0:cx1])
    quality["ms"] = (time.perf_counter() - t0) * 1000.0
    return PreprocessResult(True, image, "", "ok", roi, bbox, crop, polarity, quality), False


def prepare_image(img, cfg: PreprocessConfig | None = None) -> PreprocessResult:
    """For image files: a 28x28 image is taken as model form (inverted if dark on light);
    anything larger goes through :func:`preprocess`."""
    a = np.asarray(img)
    if a.ndim >= 2 and a.shape[0] == MODEL_SIZE and a.shape[1] == MODEL_SIZE:
        g = _to_gray_u8(a)
        if g is None:
            return _fail("bad_frame", (0, 0, MODEL_SIZE, MODEL_SIZE), {},
                         reason="the image has an unsupported pixel format")
        polarity = "light_on_dark"
        if float(np.median(g)) > 127:
            g = 255 - g
            polarity = "dark_on_light"
        q = {"contrast": float(g.max()) - float(np.median(g)), "ink_fraction": float((g > 127).mean())}
        if q["contrast"] < 40 or not (g > 127).any():
            return _fail("blank", (0, 0, MODEL_SIZE, MODEL_SIZE), q, polarity)
        return PreprocessResult(True, np.ascontiguousarray(g), "", "ok", (0, 0, MODEL_SIZE, MODEL_SIZE),
                                (0, 0, MODEL_SIZE, MODEL_SIZE), g.copy(), polarity, q)
    return preprocess(a, cfg)


class ImageError(ValueError):
    """An image file that twinlock cannot read: the message says what is wrong and what to do."""


MAX_IMAGE_MEGAPIXELS = 50       # larger images are refused before they are decoded (memory)
MAX_IMAGE_FILE_MB = 200         # a file this big is no photo of a symbol


def _image_header(data: bytes) -> tuple[tuple[int, int] | None, str]:
    """((width, height), Pillow mode) from the file's header without decoding the pixels,
    or (None, "") when Pillow does not know the format (OpenCV may still read it)."""
    import io
    import warnings

    from PIL import Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                mode = im.mode
                if mode == "P" and "transparency" in im.info:
                    mode = "PA"
                return (int(im.size[0]), int(im.size[1])), mode
    except Image.DecompressionBombError:
        return (1 << 20, 1 << 20), ""        # far beyond any limit; Pillow would not say its size
    except Exception:
        return None, ""


def _too_big(p, w, h) -> ImageError:
    return ImageError(f"{p} is {w}\u00d7{h} pixels; twinlock reads images up to "
                      f"{MAX_IMAGE_MEGAPIXELS} megapixels: scale it down")


def _to_bgr_u8(img: np.ndarray) -> np.ndarray | None:
    """A decoded image of any depth (8/16-bit, float) and channel count (gray, gray+alpha,
    BGR, BGRA) -> 8-bit BGR; transparent pixels become white paper."""
    a = img
    if a.dtype == np.uint16:
        a = (a.astype(np.float32) / 257.0)
    elif a.dtype != np.uint8:
        a = a.astype(np.float32)
        if not np.all(np.isfinite(a)):
            return None
        if a.max(initial=0) <= 1.0:
            a = a * 255.0
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4):
        return None
    c = a.shape[2]
    alpha = None
    if c in (2, 4):
        alpha = np.clip(a[..., -1:].astype(np.float32) / 255.0, 0.0, 1.0)
        a = a[..., :-1]
    a = a.astype(np.float32)
    if alpha is not None:
        a = a * alpha + 255.0 * (1.0 - alpha)
    a = np.clip(a + 0.5, 0, 255).astype(np.uint8)
    if a.shape[2] == 1:
        a = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(a)


def load_image(path) -> np.ndarray:
    """Read an image file as an 8-bit BGR frame (16-bit and float images scaled, transparency
    composited on white, EXIF orientation applied). Raises :class:`ImageError` (a ValueError)
    with one clear message when it cannot: no such file, a directory or other non-regular
    file, unreadable, not an image, or more than ``MAX_IMAGE_MEGAPIXELS``."""
    import os
    import stat as stat_

    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ImageError(f"cannot read image {p}: no such file") from None
    except NotADirectoryError:
        raise ImageError(f"cannot read image {p}: no such file (a part of the path is not a folder)") from None
    except PermissionError:
        raise ImageError(f"cannot read image {p}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"cannot read image {p}: {exc.strerror or exc}") from None
    if stat_.S_ISDIR(st.st_mode):
        raise ImageError(f"cannot read image {p}: is a directory, not an image file")
    if not stat_.S_ISREG(st.st_mode):
        kind = "FIFO" if stat_.S_ISFIFO(st.st_mode) else "device" if (
            stat_.S_ISCHR(st.st_mode) or stat_.S_ISBLK(st.st_mode)) else "socket" if stat_.S_ISSOCK(
            st.st_mode) else "special file"
        raise ImageError(f"cannot read image {p}: is not a regular file ({kind})")
    if st.st_size > MAX_IMAGE_FILE_MB * 1024 * 1024:
        raise ImageError(f"cannot read image {p}: the file is {st.st_size / 2**20:.0f} MB; twinlock "
                         f"reads image files up to {MAX_IMAGE_FILE_MB} MB: scale it down")
    try:
        data = p.read_bytes()
    except PermissionError:
        raise ImageError(f"cannot read image {p}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"cannot read image {p}: {exc.strerror or exc}") from None
    if not data:
        raise ImageError(f"cannot read image {p}: the file is empty")
    size, mode = _image_header(data)
    if size is not None and size[0] * size[1] > MAX_IMAGE_MEGAPIXELS * 1e6:
        raise _too_big(p, *size)
    buf = np.frombuffer(data, np.uint8)
    # plain 8-bit colour/grey (most photos): IMREAD_COLOR, which applies the EXIF orientation
    # phones write; anything else (alpha, 16-bit, float, unknown to Pillow) is read unchanged
    plain = mode in ("RGB", "L", "P", "CMYK", "YCbCr", "1")
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR if plain else cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is not None and img.ndim >= 2 and img.shape[0] * img.shape[1] > MAX_IMAGE_MEGAPIXELS * 1e6:
        raise _too_big(p, img.shape[1], img.shape[0])
    out = _to_bgr_u8(img) if img is not None and img.size else None
    if out is None:
        raise ImageError(f"cannot read image {p}: not a PNG/JPEG/BMP/TIFF/WebP image, or the file is damaged")
    return out
