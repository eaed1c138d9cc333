"""Steps 5b-7 for one symbol (:func:`one_symbol`: the checks with reasons, then the MNIST
form), and for each symbol of a passcode card (:func:`read_card`: the ink grouped into
separate symbols, left to right). :class:`Found` is what they need of the frame and of
steps 1-4 (:mod:`.acquire`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from .checks import check_filled, check_symbol, rim_share
from .config import REASONS, PreprocessConfig, PreprocessResult, fail
from .form import FullRes, cut_ink, mnist_form
from .ink import View, binarise, components, gap, group_card, is_clutter, regrow_faint, remove_lines, sharpness
from .loading import to_gray_u8
from .rectify import card_quad, paper_angle, quad_skew, rectifying_homography, upright, warp_ink


def card_count_faint(v: View, cfg, rescue, outline) -> int:
    """How many symbols a card holds at the lowered (faint) ink threshold: steps 4-5 only."""
    binary = binarise(v, replace(cfg, ink_threshold=cfg.ink_threshold * cfg.card_faint), rescue)
    remove_lines(binary, cfg, paper_angle(outline))
    _n, labels, _stats, comps = components(binary, v, cfg, rescue)
    comps = [c for c in comps if not is_clutter(c, labels, v, cfg)]
    if not comps:
        return 0
    groups, _strays, code, _ = group_card(comps, v, cfg, 4)
    return 0 if code else len(groups)


def frame_box(roi, scale: float, b) -> tuple:
    """(x, y, w, h) in working pixels of the region ``roi`` -> frame pixels."""
    x, y = roi[0], roi[1]
    return (int(x + b[0] * scale), int(y + b[1] * scale), int(round(b[2] * scale)), int(round(b[3] * scale)))


@dataclass
class Found:
    """What steps 5b-7 need of the frame and of steps 1-4."""

    a: np.ndarray  # the whole frame: crops are cut from it
    g_full: FullRes  # the region at full resolution, read only where the ink is cut
    roi: tuple  # the region in frame pixels
    scale: float  # frame pixels per working pixel
    pol: str
    cfg: PreprocessConfig
    t0: float
    rescue: bool
    outline: np.ndarray | None  # the paper's outline, working pixels
    file_mode: bool
    exclude: np.ndarray | None
    paper_pts: np.ndarray | None  # the paper's outline, frame pixels
    v: View  # the working view (steps 3-4)
    thick: list  # thick clutter (solid background) beside which a symbol may be cut

    def failed(self, quality, code, bbox=None, reason=None) -> PreprocessResult:
        return fail(code, self.roi, quality, self.pol, bbox, reason, self.paper_pts)

    def crop(self, x0, y0, x1, y1) -> np.ndarray:
        """The frame's gray between (x0, y0) and (x1, y1), clipped to the frame."""
        fh, fw = self.a.shape[0], self.a.shape[1]
        return to_gray_u8(self.a[max(0, y0) : min(fh, y1), max(0, x0) : min(fw, x1)])


def read_card(ctx: Found, comps, labels, stats, n, total_ink, quality, symbols):
    """Step 5 for a passcode card: the ink grouped into separate symbols (ink.group_card),
    exactly ``symbols`` of them, left to right; each through steps 5b-7 as one symbol. The
    first symbol that fails fails the card with its own code and reason (no position named
    in the reason; ``quality["card_position"]`` keeps it, for enrollment)."""
    groups, strays, code, fbox = group_card(comps, ctx.v, ctx.cfg, symbols)
    if code:
        return ctx.failed(quality, code, None if fbox is None else frame_box(ctx.roi, ctx.scale, fbox)), True
    quality["card_found"] = float(len(groups))
    if len(groups) != symbols:
        return ctx.failed(quality, "card"), False
    grouped = sum(c.area for c in comps if any(c.id in m for m, _ in groups))
    if grouped < ctx.cfg.min_group_share * total_ink:
        return ctx.failed(quality, "noise"), False
    s = ctx.v.side
    results = []
    for i, (members, box) in enumerate(groups):
        q = dict(quality)
        res, retry = one_symbol(ctx, members, box, labels, stats, n, q, strays, None, s * s)
        if not res.ok:
            quality.update({k: q[k] for k in ("extent", "sharpness", "fill", "rim") if k in q})
            quality["card_position"] = float(i)
            return ctx.failed(quality, res.code, res.bbox, REASONS.get(res.code)), retry
        results.append(res)
    boxes = [r.bbox for r in results]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
    quality["extent"] = min(r.quality["extent"] for r in results)
    quality["sharpness"] = min(r.quality["sharpness"] for r in results)
    quality["ms"] = (time.perf_counter() - ctx.t0) * 1000.0
    return PreprocessResult(
        True,
        results[0].image,
        "",
        "ok",
        ctx.roi,
        (x0, y0, x1 - x0, y1 - y0),
        ctx.crop(x0, y0, x1, y1),
        ctx.pol,
        quality,
        ctx.paper_pts,
        images=np.stack([r.image for r in results]),
        boxes=boxes,
        crops=[r.crop for r in results],
    ), False


def one_symbol(ctx: Found, members, box, labels, stats, n, quality, others, total_ink, area):
    """Steps 5b-7 for the symbol ``members`` (ink component ids) in ``box`` (working pixels):
    (result, whether a failure is worth the rescue pass). ``total_ink`` None: the share of
    all the ink was judged already (a card); ``area``: what the ink fraction is a share of."""
    cfg, v = ctx.cfg, ctx.v
    # the symbol right next to a solid piece of background may run on under it (a dark shadow)
    near = [c for c in ctx.thick if gap(c, box) <= cfg.group_distance * v.side]
    if near:
        return ctx.failed(quality, "edge", frame_box(ctx.roi, ctx.scale, near[0].box)), True
    sym = np.isin(labels, list(members)).astype(np.uint8)
    sym, box = regrow_faint(sym, box, labels, stats, n, members, v, cfg)
    x0, y0, x1, y1 = box
    bbox = frame_box(ctx.roi, ctx.scale, (x0, y0, x1 - x0, y1 - y0))
    code = symbol_checks(ctx, sym, box, quality, others, total_ink, area)
    if code:
        return ctx.failed(quality, code, bbox), False
    image = model_image(ctx, sym[y0:y1, x0:x1], box, quality)
    pad = max(2, int(0.05 * max(bbox[2], bbox[3])))
    crop = ctx.crop(bbox[0] - pad, bbox[1] - pad, bbox[0] + bbox[2] + pad, bbox[1] + bbox[3] + pad)
    quality["ms"] = (time.perf_counter() - ctx.t0) * 1000.0
    return PreprocessResult(True, image, "", "ok", ctx.roi, bbox, crop, ctx.pol, quality, ctx.paper_pts), False


def symbol_checks(ctx: Found, sym, box, quality, others, total_ink, area) -> str:
    """Step 6, the checks with reasons: stray ink, too small or large, too blurred, filled
    (the failure's code; "" when the symbol passes). Its figures go into ``quality``."""
    cfg, v, file_mode = ctx.cfg, ctx.v, ctx.file_mode
    h, w = v.inv.shape
    x0, y0, x1, y1 = box
    group_area = int(sym.sum())
    # (an image file: of the image's own sides, so a symbol filling a tight crop has extent 1)
    quality["extent"] = max((x1 - x0) / w, (y1 - y0) / h) if file_mode else max(x1 - x0, y1 - y0) / v.side
    quality["ink_fraction"] = group_area / float(area)
    quality["stray"] = float(others)
    code = check_symbol(quality, others, group_area, group_area if total_ink is None else total_ink, file_mode, cfg)
    if code:
        return code
    sharp = sharpness(v, sym, box)
    if file_mode:
        # the model sees the symbol at 20 px: blur matters relative to the symbol's size, so a
        # symbol analysed larger than a camera's typical one may have proportionally softer edges
        sharp *= max(1.0, max(x1 - x0, y1 - y0) / cfg.sharpness_ref_px)
    quality["sharpness"] = sharp
    # (the rescue pass kept only ink near edges at least min_sharpness steep: it asks for more)
    # (a second look, too, is a second chance: it asks for a sharper symbol)
    if sharp < cfg.min_sharpness * (cfg.rescue_sharpness if ctx.rescue or ctx.exclude is not None else 1.0):
        return "blurred"
    # (the rescue pass asks for sharp edges, which a filled shape's soft rim has not; and its
    #  symbols lie by shadows, which the rim test would take for the shape)
    quality["rim"] = 0.0 if ctx.rescue else rim_share(v.inv, sym, box, quality["contrast"])
    if check_filled(sym[y0:y1, x0:x1], quality, cfg) or quality["rim"] > cfg.max_rim:
        return "filled"
    return ""


def model_image(ctx: Found, mask, box, quality) -> np.ndarray:
    """Step 7: the ink under ``mask`` cut from the full-resolution region, a card held tilted
    or seen at an angle taken out (:mod:`.rectify`), then the 28x28 MNIST form."""
    cfg, outline, scale = ctx.cfg, ctx.outline, ctx.scale
    ink = cut_ink(ctx.g_full, ctx.v.bg, mask, box, scale, ctx.pol, cfg, quality)
    angle = paper_angle(outline) if cfg.rectify and outline is not None else 0.0
    quad = card_quad(outline) if cfg.rectify and outline is not None and len(outline) == 4 else None
    Hq = None if quad is None else rectifying_homography(quad * scale)
    if Hq is not None and (abs(angle) >= cfg.rectify_min_angle or quad_skew(quad) >= cfg.rectify_min_skew):
        # the card is a tilted or foreshortened quadrilateral: the symbol as drawn on it
        ink = warp_ink(ink, Hq, (int(box[0] * scale), int(box[1] * scale)))
        quality["rotated"] = angle
        quality["rectified"] = 1.0
    elif abs(angle) >= cfg.rectify_min_angle:
        ink = upright(ink, angle)  # the card was held tilted: the symbol upright again
        quality["rotated"] = angle
    return mnist_form(ink)
