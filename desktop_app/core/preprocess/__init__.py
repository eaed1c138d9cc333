"""Camera frame or image file -> 28x28 model image (white ink on black, the MNIST recipe), or
"no symbol" with a reason.

Where to look: a camera frame is searched in a centred square region of interest (ROI,
:func:`roi_rect`) analysed at a small working size, so that a 640x480 frame takes a few
milliseconds; an image file (:func:`prepare_image`) is searched whole (a tight crop around a
symbol, or a phone photo of a page). The named steps, each a function of its own module:

1. gray: the darkest colour channel (:func:`loading.to_gray_u8`), so coloured pens and a
   highlighter show as dark as a black pen; the frame as a whole: uniform / too dark /
   too bright (:func:`checks.check_frame`); polarity (:func:`light.polarity`);
2. find the paper (:func:`paper.find_paper`): the card, page or sticky note the symbol is
   on, as the region enclosed by sharp brightness steps; ink is searched only on it, and
   its edge, the desk, the wall or a finger holding it are never ink;
3. normalise the light (:func:`light.normalise_light`): ink bright, the background (an
   opening wider than any stroke, on the paper only) subtracted: uneven light and soft
   shadows become flat black;
4. binarise (:func:`ink.binarise`) and remove printed ruled/grid lines
   (:func:`ink.remove_lines`); components, specks dropped (:func:`ink.components`);
5. group the ink (:func:`ink.group_ink`): the biggest component off the edge plus the
   components near it; clutter at the edge (soft shading, straight bars) dropped; a big
   piece at the edge next to the symbol means the symbol is cut (camera frames only: in an
   image file a symbol may touch the image border). When that finds the ink running into the
   edge, a rescue pass repeats steps 4-6 with the ink kept only within reach of a steep edge
   and a straight bar running in from the border (a pen, a cable) dropped; it asks for a
   sharper symbol and is used only if it acquires one (``quality["rescue"]``);
6. checks with reasons (:mod:`checks`): noise, too small, too large, too blurred, filled;
7. MNIST form (:mod:`form`): the ink cut from the full-resolution image, longest side to
   20 px, pasted into 28x28 centred by centre of mass.

A frame without a usable symbol gives ``ok=False`` with a human ``reason``: a failure to
acquire, never a decision. Every threshold is a :class:`PreprocessConfig` field.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .checks import check_filled, check_frame, check_symbol, rim_share
from .config import (
    FIT_SIZE,
    MODEL_SIZE,
    REASONS,
    PreprocessConfig,
    PreprocessResult,
    card_roi_rect,
    fail,
    roi_rect,
)
from .form import cut_ink, mnist_form, percentiles
from .ink import (
    View,
    binarise,
    components,
    frontier_mask,
    gap,
    group_card,
    group_ink,
    is_clutter,
    regrow_faint,
    remove_lines,
    sharpness,
)
from .light import ink_bright, normalise_light, polarity
from .loading import MAX_IMAGE_FILE_MB, MAX_IMAGE_MEGAPIXELS, ImageError, gray_pair, load_image, to_gray_u8
from .paper import find_paper

__all__ = [
    "FIT_SIZE",
    "MAX_IMAGE_FILE_MB",
    "MAX_IMAGE_MEGAPIXELS",
    "MODEL_SIZE",
    "REASONS",
    "ImageError",
    "PreprocessConfig",
    "PreprocessResult",
    "card_roi_rect",
    "load_image",
    "mnist_form",
    "prepare_card_image",
    "prepare_image",
    "preprocess",
    "preprocess_card",
    "roi_rect",
]


def preprocess(frame, cfg: PreprocessConfig | None = None) -> PreprocessResult:
    """A camera frame (BGR, gray, BGRA, float) -> :class:`PreprocessResult`, looking in the
    centred ROI. Never raises for odd frames."""
    t0 = time.perf_counter()
    cfg = cfg or PreprocessConfig()
    a = np.asarray(frame) if frame is not None else np.zeros((0, 0), np.uint8)
    shape = a.shape if a.ndim >= 2 else (0, 0)
    roi = roi_rect(shape, cfg) if min(shape[:2]) > 0 else (0, 0, 0, 0)
    if a.ndim < 2 or min(shape[:2]) < 16:
        return fail("bad_frame", roi, {}, reason="the frame is empty or too small to hold a symbol")
    x, y, side, _ = roi
    part = a[y : y + side, x : x + side]
    return _acquire(a, part, roi, min(cfg.work_size, side), cfg, t0, file_mode=False)


def prepare_image(img, cfg: PreprocessConfig | None = None) -> PreprocessResult:
    """For image files: a 28x28 image is taken as model form (inverted if dark on light);
    anything larger is searched whole (a symbol may fill a tight crop or sit small on a page)."""
    t0 = time.perf_counter()
    cfg = cfg or PreprocessConfig()
    a = np.asarray(img)
    if a.ndim >= 2 and a.shape[0] == MODEL_SIZE and a.shape[1] == MODEL_SIZE:
        return _model_form(a)
    if a.ndim < 2 or min(a.shape[:2]) < 16:
        return fail("bad_frame", (0, 0, 0, 0), {}, reason="the image is empty or too small to hold a symbol")
    h, w = a.shape[:2]
    res = _acquire(a, a, (0, 0, w, h), min(cfg.file_work_size, max(h, w)), cfg, t0, file_mode=True)
    if not res.ok and res.code in ("blank", "too_small") and max(h, w) > 1.5 * cfg.file_work_size:
        # a small symbol on a big page: a closer look, at twice the working size
        closer = _acquire(a, a, (0, 0, w, h), min(2 * cfg.file_work_size, max(h, w)), cfg, t0, file_mode=True)
        if closer.ok:
            closer.quality["closer"] = 1.0
            return closer
    return res


def preprocess_card(frame, symbols: int, cfg: PreprocessConfig | None = None) -> PreprocessResult:
    """A camera frame showing a passcode card -> its ``symbols`` symbols, left to right, each
    in model form (``result.images`` [symbols, 28, 28], ``result.boxes``), looking in the
    centred card region (:func:`card_roi_rect`, analysed at the one-symbol ROI's scale). A card
    with another number of symbols fails with code "card" (a failure to acquire, like a frame
    without a symbol; ``quality["card_found"]`` says how many were found, for enrollment)."""
    t0 = time.perf_counter()
    cfg = cfg or PreprocessConfig()
    a = np.asarray(frame) if frame is not None else np.zeros((0, 0), np.uint8)
    shape = a.shape if a.ndim >= 2 else (0, 0)
    roi = card_roi_rect(shape, cfg) if min(shape[:2]) > 0 else (0, 0, 0, 0)
    if a.ndim < 2 or min(shape[:2]) < 16:
        return fail("bad_frame", roi, {}, reason="the frame is empty or too small to hold a symbol")
    x, y, rw, rh = roi
    part = a[y : y + rh, x : x + rw]
    scale = rh / float(min(cfg.work_size, rh))
    work = max(1, int(round(max(rw, rh) / scale)))
    return _acquire(a, part, roi, work, cfg, t0, file_mode=False, symbols=_card_count(symbols))


def prepare_card_image(img, symbols: int, cfg: PreprocessConfig | None = None) -> PreprocessResult:
    """An image file of a passcode card, searched whole, as :func:`preprocess_card`."""
    t0 = time.perf_counter()
    cfg = cfg or PreprocessConfig()
    a = np.asarray(img)
    if a.ndim < 2 or min(a.shape[:2]) < 16:
        return fail("bad_frame", (0, 0, 0, 0), {}, reason="the image is empty or too small to hold a symbol")
    h, w = a.shape[:2]
    long_, short = max(h, w), min(h, w)
    work = min(long_, int(min(2 * cfg.file_work_size, cfg.file_work_size * long_ / short)))
    return _acquire(a, a, (0, 0, w, h), work, cfg, t0, file_mode=True, symbols=_card_count(symbols))


def _card_count(symbols) -> int:
    if isinstance(symbols, bool) or not isinstance(symbols, (int, np.integer)) or not 1 <= symbols <= 4:
        raise ValueError(f"a card holds 1 to 4 symbols, not {symbols!r:.20}")
    return int(symbols)


def _model_form(a) -> PreprocessResult:
    box = (0, 0, MODEL_SIZE, MODEL_SIZE)
    g = to_gray_u8(a)
    if g is None:
        return fail("bad_frame", box, {}, reason="the image has an unsupported pixel format")
    pol = "light_on_dark"
    if float(np.median(g)) > 127:
        g = 255 - g
        pol = "dark_on_light"
    q = {"contrast": float(g.max()) - float(np.median(g)), "ink_fraction": float((g > 127).mean())}
    if q["contrast"] < 40 or not (g > 127).any():
        return fail("blank", box, q, pol)
    return PreprocessResult(True, np.ascontiguousarray(g), "", "ok", box, box, g.copy(), pol, q)


def _acquire(a, part, roi, work, cfg, t0, file_mode, symbols: int = 0) -> PreprocessResult:
    """Steps 1-7 on ``part`` (the ROI, or the whole image) analysed with its longest side at
    ``work``; ``symbols`` > 0: a passcode card of that many symbols (0: one symbol, as always)."""
    quality: dict = {}
    H, W = part.shape[:2]
    scale = max(H, W) / float(work)
    size = (max(1, int(round(W / scale))), max(1, int(round(H / scale))))
    plain = part.dtype == np.uint8 and (part.ndim == 2 or part.shape[2] in (1, 3, 4))
    if plain and scale >= 2.0:
        # shrink first by a whole factor (fast), then the colour arithmetic on the small view,
        # then to the working size; the full resolution is read again only around the symbol
        # found (FullRes)
        k = int(scale)
        pre = cv2.resize(part, (W // k, H // k), interpolation=cv2.INTER_AREA)
        lum, g = gray_pair(pre, cfg.colour_ink)
        if (g.shape[1], g.shape[0]) != size:
            g = cv2.resize(g, size, interpolation=cv2.INTER_LINEAR)
    elif plain and scale != 1.0:
        lum, g = gray_pair(cv2.resize(part, size, interpolation=cv2.INTER_AREA), cfg.colour_ink)
    else:
        lum, g = to_gray_u8(part), to_gray_u8(part, cfg.colour_ink)
        if g is not None and scale != 1.0:
            lum = cv2.resize(lum, size, interpolation=cv2.INTER_AREA)
            g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    if g is None:
        return fail("bad_frame", roi, quality, reason="the frame has an unsupported pixel format")
    g_full = FullRes(part, cfg.colour_ink)

    # 1. the frame as a whole (in luminance: a saturated colour is not "dark")
    mean, std = cv2.meanStdDev(lum)
    mean, std = float(mean[0, 0]), float(std[0, 0])
    quality.update(mean=mean, std=std)
    code = check_frame(mean, std, cfg)
    if code:
        return fail(
            code,
            roi,
            quality,
            reason=None
            if code != "blank"
            else "the picture is uniform (no ink found): show the paper with your symbol",
        )
    # 2. the paper (found as for dark ink first: the polarity is then judged on the paper
    #    alone, as a page's edge or a dark table beside it stands out either way)
    paper, outline = find_paper(g, "dark_on_light" if cfg.polarity == "auto" else cfg.polarity, cfg)
    where = None
    if paper is not None:
        r = max(1, int(round(cfg.paper_margin * min(g.shape)))) * 2 + 1
        where = cv2.erode(paper, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (r, r)))
        where = where if where.any() else None
    pol = polarity(g, cfg, where)
    if pol != "dark_on_light" and cfg.polarity == "auto":
        paper, outline = find_paper(g, pol, cfg)
    if paper is not None:
        quality["paper"] = float(paper.mean())
    start = dict(quality)
    res, retry = _find_symbol(
        a, g, g_full, roi, scale, pol, quality, cfg, t0, False, paper, outline, file_mode, symbols=symbols
    )
    if retry and not file_mode:
        # the ink ran into the edge: once more, with soft shading and straight bars taken out
        q2 = dict(start)
        res2, _ = _find_symbol(
            a, g, g_full, roi, scale, pol, q2, cfg, t0, True, paper, outline, file_mode, symbols=symbols
        )
        if res2.ok:
            res2.quality["rescue"] = 1.0
            return res2
    return res


def upright(ink: np.ndarray, angle: float) -> np.ndarray:
    """``ink`` rotated by ``angle`` degrees (the paper's tilt, as cv2.minAreaRect reports it)
    on a canvas large enough to hold it: the symbol as drawn on the card."""
    h, w = ink.shape[:2]
    side = int(np.ceil(np.hypot(h, w))) + 2
    M = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    M[0, 2] += (side - w) / 2.0
    M[1, 2] += (side - h) / 2.0
    return cv2.warpAffine(
        ink.astype(np.float32), M, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def _quad(outline):
    """The outline's 4 corners as top-left, top-right, bottom-right, bottom-left (tilts up to
    45 degrees), or None when they are not a plausible card (convex, corners 90 +- 35 degrees)."""
    pts = np.asarray(outline, np.float64).reshape(-1, 2)
    sm, df = pts.sum(1), pts[:, 1] - pts[:, 0]
    q = np.array([pts[np.argmin(sm)], pts[np.argmin(df)], pts[np.argmax(sm)], pts[np.argmax(df)]])
    if len({tuple(p) for p in q}) < 4:
        return None
    for i in range(4):
        a, b, c = q[i - 1], q[i], q[(i + 1) % 4]
        u, v = a - b, c - b
        cos = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))
        if abs(cos) > np.cos(np.deg2rad(55)):
            return None
    if not cv2.isContourConvex(q.astype(np.float32).reshape(-1, 1, 2)):
        return None
    return q.astype(np.float32)


def _skew(q) -> float:
    """How far a quadrilateral is from a parallelogram: the larger relative difference of its
    opposite sides (0 for a card seen square-on)."""
    side = [float(np.linalg.norm(q[(i + 1) % 4] - q[i])) for i in range(4)]
    return max(abs(side[0] - side[2]) / max(side[0], side[2]), abs(side[1] - side[3]) / max(side[1], side[3]))


def _rectifying_homography(q):
    """Homography taking the quadrilateral ``q`` (full-resolution region pixels) to an
    upright rectangle of its mean side lengths."""
    w = 0.5 * (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3]))
    h = 0.5 * (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1]))
    if w < 8 or h < 8:
        return None
    dst = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    return cv2.getPerspectiveTransform(q.astype(np.float32), dst)


def warp_ink(ink: np.ndarray, H: np.ndarray, origin) -> np.ndarray:
    """``ink`` (a crop whose top-left is ``origin`` in the region) through the homography ``H``
    of the region, on a canvas just holding the result."""
    h, w = ink.shape[:2]
    T = np.array([[1, 0, origin[0]], [0, 1, origin[1]], [0, 0, 1]], np.float64)
    Hc = H @ T
    corners = cv2.perspectiveTransform(np.float32([[[0, 0], [w, 0], [w, h], [0, h]]]), Hc)[0]
    lo, hi = corners.min(0), corners.max(0)
    size = np.ceil(hi - lo).astype(int) + 2
    if size.min() < 2 or size.max() > 8 * max(h, w):
        return ink
    Hc = np.array([[1, 0, -lo[0] + 1], [0, 1, -lo[1] + 1], [0, 0, 1]], np.float64) @ Hc
    return cv2.warpPerspective(
        ink.astype(np.float32),
        Hc,
        (int(size[0]), int(size[1])),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )


class FullRes:
    """The full-resolution "gray" of the region, computed only for the part that is cut."""

    def __init__(self, part, colour_ink):
        self.part, self.colour_ink, self.shape = part, colour_ink, part.shape[:2]

    def __getitem__(self, idx):
        return to_gray_u8(self.part[idx], self.colour_ink)


def _paper_angle(outline) -> float:
    """The paper's rotation (degrees, -45..45) from its outline, for printed-line removal."""
    if outline is None or len(outline) < 3:
        return 0.0
    (_, _), (_, _), ang = cv2.minAreaRect(outline.astype(np.float32))
    ang = float(ang) % 90.0
    return ang - 90.0 if ang > 45.0 else ang


def _find_symbol(
    a,
    g,
    g_full,
    roi,
    scale,
    pol,
    quality,
    cfg,
    t0,
    rescue,
    paper,
    outline,
    file_mode,
    exclude=None,
    symbols=0,
    faint=False,
):
    """Steps 3-7 on the working-size view ``g``: (result, whether a failure is worth the
    rescue pass, i.e. the ink ran into the edge). ``exclude``: clutter found on a first look
    (a desk band, a sleeve), never ink and judged as an edge; the ink level is then taken
    from the rest, so a faint pencil symbol next to a dark desk is binarised at its own level.
    ``symbols`` > 0: a passcode card (:func:`_read_card`), else one symbol. A card on which
    fewer symbols were found is looked at once more with the ink threshold lowered
    (``faint``, ``card_faint``): one thin, light symbol beside bold ones is still ink. (A card
    with one symbol too faint for its ink level can still read as one symbol fewer.)"""
    x, y = roi[0], roi[1]
    h, w = g.shape
    s = min(h, w)
    paper_pts = None if outline is None else outline * scale + np.float32([x, y])

    def failed(code, bbox=None, reason=None):
        return fail(code, roi, quality, pol, bbox, reason, paper_pts)

    def to_frame(b):  # (x, y, w, h) working pixels -> frame pixels
        return (int(x + b[0] * scale), int(y + b[1] * scale), int(round(b[2] * scale)), int(round(b[3] * scale)))

    # 3. ink bright, background flattened
    inv = ink_bright(g, pol)
    norm, bg = normalise_light(inv, cfg, paper)
    smooth = cv2.GaussianBlur(norm, (3, 3), 0)
    if exclude is not None:
        smooth[exclude > 0] = 0
    margin = max(1, int(round(cfg.edge_margin * s)))
    frontier, band, inside = frontier_mask(h, w, margin, paper, int(round(cfg.paper_margin * s)), file_mode)
    if exclude is not None:
        frontier = frontier | (cv2.dilate(exclude, np.ones((2 * margin + 3,) * 2, np.uint8)) > 0)
    # the ink level: on the paper only, off the ROI border (its edge, a sliver of desk at
    # the border and what lies beyond are no ink)
    level_mask = (~band).astype(np.uint8) if inside is None else inside & (~band).astype(np.uint8)
    ink_level = percentiles(smooth, (99.9,), level_mask)[0]
    quality["contrast"] = ink_level
    if ink_level < cfg.min_contrast:
        return failed("too_dark" if quality["mean"] < cfg.dark_mean else "blank"), False
    grad = cv2.magnitude(cv2.Sobel(norm, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(norm, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    v = View(
        inv,
        norm,
        bg,
        smooth,
        grad,
        ink_level,
        frontier,
        band,
        inside,
        margin,
        max(4, int(cfg.speck * h * w)),
        file_mode,
    )

    # 4. binarise, printed lines out, components
    binary = binarise(v, replace(cfg, ink_threshold=cfg.ink_threshold * cfg.card_faint) if faint else cfg, rescue)
    if remove_lines(binary, cfg, _paper_angle(outline)):
        quality["lines"] = 1.0
    n, labels, stats, comps = components(binary, v, cfg, rescue)
    total_ink = int(stats[1:, cv2.CC_STAT_AREA].sum())
    quality["components"] = float(len(comps))
    quality["ink_fraction"] = total_ink / float(h * w)
    if not comps:
        return failed("blank"), False
    max_comps = cfg.max_components * max(1, symbols)
    if len(comps) > 3 * max_comps:
        return failed("noise"), False
    if quality["ink_fraction"] > cfg.max_ink_fraction:
        crowded = len(comps) > max_comps
        return failed(
            "noise" if crowded else "too_large",
            reason=None if crowded else "too much ink in the frame area: show a single symbol on plain paper",
        ), False
    kinds = {c.id: is_clutter(c, labels, v, cfg) for c in comps}
    clutter = [c for c in comps if kinds[c.id]]
    thick = [c for c in clutter if kinds[c.id] == "thick"]
    comps = [c for c in comps if not kinds[c.id]]
    if clutter and exclude is None:
        # a second look without the clutter, if the ink left is much fainter than it was
        rest = sum(c.area for c in comps)
        cl = np.isin(labels, [c.id for c in clutter]).astype(np.uint8)
        cl = cv2.dilate(cl, np.ones((2 * margin + 1,) * 2, np.uint8))
        level = percentiles(smooth, (99.9,), (1 - cl))[0]
        if level >= cfg.min_contrast and (level < cfg.faint_symbol * ink_level or rest < v.speck * 4):
            q2 = {k: quality[k] for k in ("mean", "std", "paper") if k in quality}
            res2, _retry2 = _find_symbol(
                a,
                g,
                g_full,
                roi,
                scale,
                pol,
                q2,
                cfg,
                t0,
                rescue,
                paper,
                outline,
                file_mode,
                exclude=cl,
                symbols=symbols,
            )
            if res2.ok:
                res2.quality["relook"] = 1.0
                return res2, False
    if not comps:
        return failed("blank"), True
    total_ink = sum(c.area for c in comps)
    ctx = _Ctx(a, g_full, roi, scale, pol, cfg, t0, rescue, outline, file_mode, exclude, paper_pts, v, thick)
    if symbols:
        start = dict(quality)
        res, retry = _read_card(ctx, comps, labels, stats, n, total_ink, quality, symbols)
        if not faint and res.code == "card" and res.quality.get("card_found", symbols) < symbols:
            res2, _ = _find_symbol(
                a, g, g_full, roi, scale, pol, start, cfg, t0, rescue, paper, outline, file_mode, exclude, symbols, True
            )
            if res2.ok:
                res2.quality["faint"] = 1.0
                return res2, False
        if res.ok and not faint:
            # a card of more symbols whose extra one is faint must not read as this card
            more = _card_count_faint(v, cfg, rescue, outline)
            if more > symbols:
                quality["card_found"] = float(more)
                return fail("card", roi, quality, pol, None, None, paper_pts), False
        return res, retry

    # 5. the symbol
    members, box, code, fbox = group_ink(comps, v, cfg)
    if code:
        return failed(code, None if fbox is None else to_frame(fbox)), True
    others = sum(1 for c in comps if c.id not in members and not c.at_border)
    return _one_symbol(ctx, members, box, labels, stats, n, quality, others, total_ink, h * w)


def _card_count_faint(v: View, cfg, rescue, outline) -> int:
    """How many symbols a card holds at the lowered (faint) ink threshold: steps 4-5 only."""
    binary = binarise(v, replace(cfg, ink_threshold=cfg.ink_threshold * cfg.card_faint), rescue)
    remove_lines(binary, cfg, _paper_angle(outline))
    _n, labels, _stats, comps = components(binary, v, cfg, rescue)
    comps = [c for c in comps if not is_clutter(c, labels, v, cfg)]
    if not comps:
        return 0
    groups, _strays, code, _ = group_card(comps, v, cfg, 4)
    return 0 if code else len(groups)


@dataclass
class _Ctx:
    """What steps 5b-7 need of the frame and of steps 1-4."""

    a: np.ndarray
    g_full: FullRes
    roi: tuple
    scale: float
    pol: str
    cfg: PreprocessConfig
    t0: float
    rescue: bool
    outline: np.ndarray | None
    file_mode: bool
    exclude: np.ndarray | None
    paper_pts: np.ndarray | None
    v: View
    thick: list


def _read_card(ctx: _Ctx, comps, labels, stats, n, total_ink, quality, symbols):
    """Step 5 for a passcode card: the ink grouped into separate symbols (ink.group_card),
    exactly ``symbols`` of them, left to right; each through steps 5b-7 as one symbol. The
    first symbol that fails fails the card with its own code and reason (no position named
    in the reason; ``quality["card_position"]`` keeps it, for enrollment)."""
    v, cfg = ctx.v, ctx.cfg
    h, w = v.inv.shape
    s = min(h, w)

    def to_frame(b):
        x, y = ctx.roi[0], ctx.roi[1]
        sc = ctx.scale
        return (int(x + b[0] * sc), int(y + b[1] * sc), int(round(b[2] * sc)), int(round(b[3] * sc)))

    groups, strays, code, fbox = group_card(comps, v, cfg, symbols)
    if code:
        return fail(
            code, ctx.roi, quality, ctx.pol, None if fbox is None else to_frame(fbox), None, ctx.paper_pts
        ), True
    quality["card_found"] = float(len(groups))
    if len(groups) != symbols:
        return fail("card", ctx.roi, quality, ctx.pol, None, None, ctx.paper_pts), False
    grouped = sum(c.area for c in comps if any(c.id in m for m, _ in groups))
    if grouped < cfg.min_group_share * total_ink:
        return fail("noise", ctx.roi, quality, ctx.pol, None, None, ctx.paper_pts), False
    results = []
    for i, (members, box) in enumerate(groups):
        q = dict(quality)
        res, retry = _one_symbol(ctx, members, box, labels, stats, n, q, strays, None, s * s)
        if not res.ok:
            quality.update({k: q[k] for k in ("extent", "sharpness", "fill", "rim") if k in q})
            quality["card_position"] = float(i)
            return fail(res.code, ctx.roi, quality, ctx.pol, res.bbox, REASONS.get(res.code), ctx.paper_pts), retry
        results.append(res)
    boxes = [r.bbox for r in results]
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    quality["extent"] = min(r.quality["extent"] for r in results)
    quality["sharpness"] = min(r.quality["sharpness"] for r in results)
    quality["ms"] = (time.perf_counter() - ctx.t0) * 1000.0
    fh, fw = ctx.a.shape[0], ctx.a.shape[1]
    crop = to_gray_u8(ctx.a[max(0, y0) : min(fh, y1), max(0, x0) : min(fw, x1)])
    return PreprocessResult(
        True,
        results[0].image,
        "",
        "ok",
        ctx.roi,
        (x0, y0, x1 - x0, y1 - y0),
        crop,
        ctx.pol,
        quality,
        ctx.paper_pts,
        images=np.stack([r.image for r in results]),
        boxes=boxes,
        crops=[r.crop for r in results],
    ), False


def _one_symbol(ctx: _Ctx, members, box, labels, stats, n, quality, others, total_ink, area):
    """Steps 5b-7 for the symbol ``members`` (ink component ids) in ``box`` (working pixels):
    (result, whether a failure is worth the rescue pass). ``total_ink`` None: the share of
    all the ink was judged already (a card); ``area``: what the ink fraction is a share of."""
    a, g_full, roi, scale, pol, cfg, t0 = ctx.a, ctx.g_full, ctx.roi, ctx.scale, ctx.pol, ctx.cfg, ctx.t0
    rescue, outline, file_mode, exclude, paper_pts, v, thick = (
        ctx.rescue,
        ctx.outline,
        ctx.file_mode,
        ctx.exclude,
        ctx.paper_pts,
        ctx.v,
        ctx.thick,
    )
    x, y = roi[0], roi[1]
    h, w = v.inv.shape
    s = min(h, w)

    def failed(code, bbox=None, reason=None):
        return fail(code, roi, quality, pol, bbox, reason, paper_pts)

    def to_frame(b):  # (x, y, w, h) working pixels -> frame pixels
        return (int(x + b[0] * scale), int(y + b[1] * scale), int(round(b[2] * scale)), int(round(b[3] * scale)))

    # the symbol right next to a solid piece of background may run on under it (a dark shadow)
    near = [c for c in thick if gap(c, box) <= cfg.group_distance * s]
    if near:
        return failed("edge", to_frame(near[0].box)), True
    sym = np.isin(labels, list(members)).astype(np.uint8)
    sym, box = regrow_faint(sym, box, labels, stats, n, members, v, cfg)
    group_area = int(sym.sum())
    x0, y0, x1, y1 = box
    bbox = to_frame((x0, y0, x1 - x0, y1 - y0))
    # (an image file: of the image's own sides, so a symbol filling a tight crop has extent 1)
    quality["extent"] = max((x1 - x0) / w, (y1 - y0) / h) if file_mode else max(x1 - x0, y1 - y0) / s
    quality["ink_fraction"] = group_area / float(area)
    quality["stray"] = float(others)

    # 6. checks
    code = check_symbol(quality, others, group_area, group_area if total_ink is None else total_ink, file_mode, cfg)
    if code:
        return failed(code, bbox), False
    sharp = sharpness(v, sym, box)
    if file_mode:
        # the model sees the symbol at 20 px: blur matters relative to the symbol's size, so a
        # symbol analysed larger than a camera's typical one may have proportionally softer edges
        sharp *= max(1.0, max(x1 - x0, y1 - y0) / cfg.sharpness_ref_px)
    quality["sharpness"] = sharp
    # (the rescue pass kept only ink near edges at least min_sharpness steep: it asks for more)
    # (a second look, too, is a second chance: it asks for a sharper symbol)
    if sharp < cfg.min_sharpness * (cfg.rescue_sharpness if rescue or exclude is not None else 1.0):
        return failed("blurred", bbox), False
    mask = sym[y0:y1, x0:x1]
    # (the rescue pass asks for sharp edges, which a filled shape's soft rim has not; and its
    #  symbols lie by shadows, which the rim test would take for the shape)
    quality["rim"] = 0.0 if rescue else rim_share(v.inv, sym, box, quality["contrast"])
    if check_filled(mask, quality, cfg) or quality["rim"] > cfg.max_rim:
        return failed("filled", bbox), False

    # 7. MNIST form
    ink = cut_ink(g_full, v.bg, mask, box, scale, pol, cfg, quality)
    angle = _paper_angle(outline) if cfg.rectify and outline is not None else 0.0
    quad = _quad(outline) if cfg.rectify and outline is not None and len(outline) == 4 else None
    Hq = None if quad is None else _rectifying_homography(quad * scale)
    if Hq is not None and (abs(angle) >= cfg.rectify_min_angle or _skew(quad) >= cfg.rectify_min_skew):
        # the card is a tilted or foreshortened quadrilateral: the symbol as drawn on it
        ink = warp_ink(ink, Hq, (int(x0 * scale), int(y0 * scale)))
        quality["rotated"] = angle
        quality["rectified"] = 1.0
    elif abs(angle) >= cfg.rectify_min_angle:
        ink = upright(ink, angle)  # the card was held tilted: the symbol upright again
        quality["rotated"] = angle
    image = mnist_form(ink)
    pad = max(2, int(0.05 * max(bbox[2], bbox[3])))
    fh, fw = a.shape[0], a.shape[1]
    cx0, cy0 = max(0, bbox[0] - pad), max(0, bbox[1] - pad)
    cx1, cy1 = min(fw, bbox[0] + bbox[2] + pad), min(fh, bbox[1] + bbox[3] + pad)
    crop = to_gray_u8(a[cy0:cy1, cx0:cx1])
    quality["ms"] = (time.perf_counter() - t0) * 1000.0
    return PreprocessResult(True, image, "", "ok", roi, bbox, crop, pol, quality, paper_pts), False
