"""Steps 1-5 of acquiring a symbol, each a named function, and the entry points that run them
(:func:`preprocess`, :func:`prepare_image`, :func:`preprocess_card`,
:func:`prepare_card_image`; the package docstring lists the steps).

:func:`acquire` makes the working-size view of the region (:func:`working_view`), checks the
frame as a whole and finds the paper and the polarity (:func:`paper_and_polarity`), then
looks for the symbol (:func:`find_symbol`), once more in the rescue pass when the ink ran
into the edge. A look (:class:`Look`: the frame, what steps 1-2 found, and how this look
differs) goes: the light flattened (:func:`flatten_light`), the ink binarised into
components (:func:`ink_components`), clutter dropped with a second look without it
(:func:`drop_clutter`), then the symbol grouped (:func:`group_symbol`) or a card's symbols
read (:func:`read_card_symbols`); steps 5b-7 are :mod:`.symbol`'s."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import cv2
import numpy as np

from .checks import check_frame
from .config import MODEL_SIZE, PreprocessConfig, PreprocessResult, card_roi_rect, fail, roi_rect
from .form import FullRes, percentiles
from .ink import View, binarise, components, frontier_mask, group_ink, is_clutter, remove_lines
from .light import ink_bright, normalise_light, polarity
from .loading import gray_pair, to_gray_u8
from .paper import find_paper
from .rectify import paper_angle
from .symbol import Found, card_count_faint, frame_box, one_symbol, read_card


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
    return acquire(a, part, roi, min(cfg.work_size, side), cfg, t0, file_mode=False)


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
    res = acquire(a, a, (0, 0, w, h), min(cfg.file_work_size, max(h, w)), cfg, t0, file_mode=True)
    if not res.ok and res.code in ("blank", "too_small") and max(h, w) > 1.5 * cfg.file_work_size:
        # a small symbol on a big page: a closer look, at twice the working size
        closer = acquire(a, a, (0, 0, w, h), min(2 * cfg.file_work_size, max(h, w)), cfg, t0, file_mode=True)
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
    return acquire(a, part, roi, work, cfg, t0, file_mode=False, symbols=_card_count(symbols))


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
    return acquire(a, a, (0, 0, w, h), work, cfg, t0, file_mode=True, symbols=_card_count(symbols))


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


def working_view(part, work, cfg) -> tuple[np.ndarray, np.ndarray] | None:
    """(luminance, "gray") of ``part`` with its longest side at ``work`` (None: an unsupported
    pixel format). "Gray" is the darkest colour channel (with ``cfg.colour_ink``), so coloured
    pens show as dark as a black pen."""
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
    return None if g is None else (lum, g)


def paper_and_polarity(g, cfg) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """Step 2: (the paper's mask, its outline, the polarity). The paper is found as for dark
    ink first: the polarity is then judged on the paper alone, as a page's edge or a dark
    table beside it stands out either way."""
    paper, outline = find_paper(g, "dark_on_light" if cfg.polarity == "auto" else cfg.polarity, cfg)
    where = None
    if paper is not None:
        r = max(1, int(round(cfg.paper_margin * min(g.shape)))) * 2 + 1
        where = cv2.erode(paper, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (r, r)))
        where = where if where.any() else None
    pol = polarity(g, cfg, where)
    if pol != "dark_on_light" and cfg.polarity == "auto":
        paper, outline = find_paper(g, pol, cfg)
    return paper, outline, pol


def acquire(a, part, roi, work, cfg, t0, file_mode, symbols: int = 0) -> PreprocessResult:
    """Steps 1-7 on ``part`` (the ROI, or the whole image) analysed with its longest side at
    ``work``; ``symbols`` > 0: a passcode card of that many symbols (0: one symbol, as always)."""
    quality: dict = {}
    view = working_view(part, work, cfg)
    if view is None:
        return fail("bad_frame", roi, quality, reason="the frame has an unsupported pixel format")
    lum, g = view
    # 1. the frame as a whole (in luminance: a saturated colour is not "dark")
    mean, std = cv2.meanStdDev(lum)
    mean, std = float(mean[0, 0]), float(std[0, 0])
    quality.update(mean=mean, std=std)
    code = check_frame(mean, std, cfg)
    if code:
        blank = "the picture is uniform (no ink found): show the paper with your symbol"
        return fail(code, roi, quality, reason=blank if code == "blank" else None)
    # 2. the paper and the polarity
    paper, outline, pol = paper_and_polarity(g, cfg)
    if paper is not None:
        quality["paper"] = float(paper.mean())
    scale = max(part.shape[:2]) / float(work)
    look = Look(a, g, FullRes(part, cfg.colour_ink), roi, scale, pol, cfg, t0, paper, outline, file_mode, symbols)
    start = dict(quality)
    res, retry = find_symbol(look, quality)
    if retry and not file_mode:
        # the ink ran into the edge: once more, with soft shading and straight bars taken out
        res2, _ = find_symbol(replace(look, rescue=True), dict(start))
        if res2.ok:
            res2.quality["rescue"] = 1.0
            return res2
    return res


@dataclass
class Look:
    """One look for the symbol (steps 3-7): the frame and what steps 1-2 found of it, and how
    this look differs from the first (the rescue pass, clutter excluded, a faint card)."""

    a: np.ndarray  # the whole frame: crops are cut from it
    g: np.ndarray  # the region's "gray" at the working size
    g_full: FullRes  # the region at full resolution, read only where the ink is cut
    roi: tuple  # the region in frame pixels (x, y, w, h)
    scale: float  # frame pixels per working pixel
    pol: str  # "dark_on_light" or "light_on_dark"
    cfg: PreprocessConfig
    t0: float  # when the frame came in (quality["ms"])
    paper: np.ndarray | None  # the paper's mask (None: not found)
    outline: np.ndarray | None  # its outline, working pixels
    file_mode: bool  # an image file: ink may touch the image border
    symbols: int = 0  # > 0: a passcode card of that many symbols
    rescue: bool = False  # the rescue pass: only ink near steep edges, bars from the border out
    exclude: np.ndarray | None = None  # clutter found on a first look: never ink, an edge
    faint: bool = False  # a card looked at with the ink threshold lowered

    @property
    def paper_pts(self) -> np.ndarray | None:
        """The paper's outline in frame pixels (shown in the preview)."""
        return None if self.outline is None else self.outline * self.scale + np.float32(self.roi[:2])

    def failed(self, quality, code, bbox=None, reason=None) -> PreprocessResult:
        return fail(code, self.roi, quality, self.pol, bbox, reason, self.paper_pts)


def find_symbol(look: Look, quality: dict) -> tuple[PreprocessResult, bool]:
    """Steps 3-7 on the working-size view: (result, whether a failure is worth the rescue
    pass, i.e. the ink ran into the edge). With ``look.exclude`` (clutter found on a first
    look: a desk band, a sleeve) the ink level is taken from the rest, so a faint pencil
    symbol next to a dark desk is binarised at its own level. ``look.symbols`` > 0: a
    passcode card (:func:`read_card_symbols`), else one symbol (:func:`group_symbol`)."""
    v = flatten_light(look, quality)
    if v is None:
        return look.failed(quality, "too_dark" if quality["mean"] < look.cfg.dark_mean else "blank"), False
    ink, failure = ink_components(look, v, quality)
    if failure is not None:
        return failure, False
    n, labels, stats, comps = ink
    comps, thick, relook = drop_clutter(look, v, quality, labels, comps)
    if relook is not None:
        return relook, False
    if not comps:
        return look.failed(quality, "blank"), True
    found = Found(
        look.a,
        look.g_full,
        look.roi,
        look.scale,
        look.pol,
        look.cfg,
        look.t0,
        look.rescue,
        look.outline,
        look.file_mode,
        look.exclude,
        look.paper_pts,
        v,
        thick,
    )
    if look.symbols:
        return read_card_symbols(look, found, comps, labels, stats, n, quality)
    return group_symbol(look, found, comps, labels, stats, n, quality)


def flatten_light(look: Look, quality: dict) -> View | None:
    """Step 3: ink bright and the background flattened, where ink counts as cut (the
    frontier), and the ink level, taken on the paper only and off the region's border (its
    edge, a sliver of desk and what lies beyond are no ink). None: too little contrast."""
    cfg, g, exclude = look.cfg, look.g, look.exclude
    h, w = g.shape
    s = min(h, w)
    inv = ink_bright(g, look.pol)
    norm, bg = normalise_light(inv, cfg, look.paper)
    smooth = cv2.GaussianBlur(norm, (3, 3), 0)
    if exclude is not None:
        smooth[exclude > 0] = 0
    margin = max(1, int(round(cfg.edge_margin * s)))
    frontier, band, inside = frontier_mask(h, w, margin, look.paper, int(round(cfg.paper_margin * s)), look.file_mode)
    if exclude is not None:
        frontier = frontier | (cv2.dilate(exclude, np.ones((2 * margin + 3,) * 2, np.uint8)) > 0)
    level_mask = (~band).astype(np.uint8) if inside is None else inside & (~band).astype(np.uint8)
    ink_level = percentiles(smooth, (99.9,), level_mask)[0]
    quality["contrast"] = ink_level
    if ink_level < cfg.min_contrast:
        return None
    grad = cv2.magnitude(cv2.Sobel(norm, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(norm, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    speck = max(4, int(cfg.speck * h * w))
    return View(inv, norm, bg, smooth, grad, ink_level, frontier, band, inside, margin, speck, look.file_mode)


def ink_components(look: Look, v: View, quality: dict) -> tuple[tuple | None, PreprocessResult | None]:
    """Step 4: binarised (lower for a faint card), printed lines out, components: ((n,
    labels, stats, components), None), or (None, the failure: no ink, noise, too much ink)."""
    cfg = look.cfg
    h, w = look.g.shape
    binary = binarise(
        v, replace(cfg, ink_threshold=cfg.ink_threshold * cfg.card_faint) if look.faint else cfg, look.rescue
    )
    if remove_lines(binary, cfg, paper_angle(look.outline)):
        quality["lines"] = 1.0
    n, labels, stats, comps = components(binary, v, cfg, look.rescue)
    total_ink = int(stats[1:, cv2.CC_STAT_AREA].sum())
    quality["components"] = float(len(comps))
    quality["ink_fraction"] = total_ink / float(h * w)
    if not comps:
        return None, look.failed(quality, "blank")
    max_comps = cfg.max_components * max(1, look.symbols)
    if len(comps) > 3 * max_comps:
        return None, look.failed(quality, "noise")
    if quality["ink_fraction"] > cfg.max_ink_fraction:
        crowded = len(comps) > max_comps
        reason = None if crowded else "too much ink in the frame area: show a single symbol on plain paper"
        return None, look.failed(quality, "noise" if crowded else "too_large", reason=reason)
    return (n, labels, stats, comps), None


def drop_clutter(look: Look, v: View, quality: dict, labels, comps) -> tuple[list, list, PreprocessResult | None]:
    """(the components that are no clutter, the thick clutter, the result of a second look
    or None). Clutter (soft shading, straight bars) is dropped; on a first look, when the ink
    left is much fainter than the clutter, the symbol is looked for once more without it."""
    cfg = look.cfg
    kinds = {c.id: is_clutter(c, labels, v, cfg) for c in comps}
    clutter = [c for c in comps if kinds[c.id]]
    thick = [c for c in clutter if kinds[c.id] == "thick"]
    comps = [c for c in comps if not kinds[c.id]]
    if clutter and look.exclude is None:
        rest = sum(c.area for c in comps)
        cl = np.isin(labels, [c.id for c in clutter]).astype(np.uint8)
        cl = cv2.dilate(cl, np.ones((2 * v.margin + 1,) * 2, np.uint8))
        level = percentiles(v.smooth, (99.9,), (1 - cl))[0]
        if level >= cfg.min_contrast and (level < cfg.faint_symbol * v.ink_level or rest < v.speck * 4):
            q2 = {k: quality[k] for k in ("mean", "std", "paper") if k in quality}
            res2, _retry2 = find_symbol(replace(look, exclude=cl, faint=False), q2)
            if res2.ok:
                res2.quality["relook"] = 1.0
                return comps, thick, res2
    return comps, thick, None


def group_symbol(look: Look, found: Found, comps, labels, stats, n, quality) -> tuple[PreprocessResult, bool]:
    """Step 5: the biggest component off the edge plus the components near it
    (:func:`ink.group_ink`), then steps 5b-7 (:func:`symbol.one_symbol`)."""
    members, box, code, fbox = group_ink(comps, found.v, look.cfg)
    if code:
        return look.failed(quality, code, None if fbox is None else frame_box(look.roi, look.scale, fbox)), True
    others = sum(1 for c in comps if c.id not in members and not c.at_border)
    h, w = look.g.shape
    return one_symbol(found, members, box, labels, stats, n, quality, others, sum(c.area for c in comps), h * w)


def read_card_symbols(look: Look, found: Found, comps, labels, stats, n, quality) -> tuple[PreprocessResult, bool]:
    """Step 5 for a passcode card (:func:`symbol.read_card`). A card on which fewer symbols
    were found is looked at once more with the ink threshold lowered (``faint``,
    ``card_faint``): one thin, light symbol beside bold ones is still ink; and a card of
    more symbols whose extra one is faint must not read as this card. (A card with one
    symbol too faint for its ink level can still read as one symbol fewer.)"""
    symbols = look.symbols
    start = dict(quality)
    res, retry = read_card(found, comps, labels, stats, n, sum(c.area for c in comps), quality, symbols)
    if not look.faint and res.code == "card" and res.quality.get("card_found", symbols) < symbols:
        res2, _ = find_symbol(replace(look, faint=True), start)
        if res2.ok:
            res2.quality["faint"] = 1.0
            return res2, False
    if res.ok and not look.faint:
        more = card_count_faint(found.v, look.cfg, look.rescue, look.outline)
        if more > symbols:
            quality["card_found"] = float(more)
            return look.failed(quality, "card"), False
    return res, retry
