"""Binarise the normalised view, remove printed lines, find the components and group the
symbol's ink. Works on the working-size view; fractions are of its short side."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .form import percentiles, stroke_width


@dataclass
class View:
    """The working-size region and what the steps derived from it."""

    inv: np.ndarray  # ink bright, paper dark (uint8)
    norm: np.ndarray  # inv minus background: ink over flat black
    bg: np.ndarray  # the background estimate
    smooth: np.ndarray  # norm, lightly smoothed (binarised)
    grad: np.ndarray  # gradient magnitude of norm (per pixel)
    ink_level: float  # the strongest ink (99.9th percentile of smooth)
    frontier: np.ndarray  # bool: where ink counts as cut: the ROI border band (camera) and off the paper
    band: np.ndarray  # bool: the ROI (or image) border band
    inside: np.ndarray | None  # uint8: the paper minus its margin (None: the whole region)
    margin: int  # px: ink this close to the border touches it
    speck: int  # px: smaller components are specks
    file_mode: bool  # image file: ink may touch the image border

    @property
    def side(self) -> int:
        return min(self.inv.shape)


def frontier_mask(h, w, margin, paper, paper_margin_px, file_mode=False):
    """(frontier, band, inside): where ink counts as cut by an edge (the ROI border band for
    camera frames, not for image files; and with a paper found everything within
    ``paper_margin_px`` of the paper's edge or off it), the border band itself, and the
    paper's inside (uint8) where ink is searched, or None."""
    band = np.zeros((h, w), bool)
    band[:margin, :] = band[-margin:, :] = True
    band[:, :margin] = band[:, -margin:] = True
    f = np.zeros((h, w), bool) if file_mode else band
    if paper is None:
        return f, band, None
    r = max(1, paper_margin_px)
    inside = cv2.erode(paper, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    off = cv2.erode(paper, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 2 * margin + 1,) * 2))
    return f | (off == 0), band, inside


def binarise(v: View, cfg, rescue: bool) -> np.ndarray:
    """Ink = at least ``ink_threshold`` of the ink level, on the paper. In the rescue pass,
    only ink within reach of a steep edge (a shadow's blurred edge is not ink); the ROI
    border counts as steep (its far side is unseen: ink cut by the border stays cut)."""
    thr = max(cfg.ink_threshold * v.ink_level, 0.5 * cfg.min_contrast)
    binary = (v.smooth >= thr).astype(np.uint8)
    if v.inside is not None:
        binary &= v.inside
    if rescue:
        steep = (v.grad >= cfg.min_sharpness / 100.0 * v.ink_level).astype(np.uint8)
        r = max(1, int(round(cfg.rescue_edge_reach * v.side)))
        steep[[0, -1], :] = 1
        steep[:, [0, -1]] = 1
        binary &= cv2.dilate(steep, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return binary


def remove_lines(binary: np.ndarray, cfg, angle: float = 0.0) -> bool:
    """Ruled or squared paper: straight runs at least ``line_length`` long (horizontal and
    vertical, in the paper's own orientation ``angle``), two or more of them, are printed
    lines, not ink: cleared in place. A symbol's strokes are shorter and never perfectly
    straight for that long; a single straight stroke (a "1", a "|") is left alone."""
    if not cfg.remove_lines:
        return False
    h, w = binary.shape
    L = max(9, int(cfg.line_length * min(h, w)))
    b = binary
    rot = None
    if (
        abs(angle) <= 2.0
        and binary.sum(axis=1, dtype=np.int32).max() < L
        and binary.sum(axis=0, dtype=np.int32).max() < L
    ):
        return False  # no row or column holds that much ink: no line (fast path)
    if abs(angle) > 2.0:
        rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        b = cv2.warpAffine(binary, rot, (w, h), flags=cv2.INTER_NEAREST)
    t = max(3, int(cfg.line_width * min(h, w)))
    lines = np.zeros_like(b)
    for long_k, thick_k in (((L, 1), (1, t)), ((1, L), (t, 1))):
        # (zero outside the view: a stroke cut by the border is not a longer run)
        # (a printed line broken by a pixel or two of noise is still one line: gaps closed first)
        bridged = cv2.morphologyEx(b, cv2.MORPH_CLOSE, np.ones((5, 1) if long_k[0] == 1 else (1, 5), np.uint8))
        run = (
            cv2.morphologyEx(
                bridged,
                cv2.MORPH_OPEN,
                cv2.getStructuringElement(cv2.MORPH_RECT, long_k),
                borderType=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
            & b
        )
        # thin runs only: a band, a blob or the desk also has long runs, but is thick
        thick = cv2.morphologyEx(
            run,
            cv2.MORPH_OPEN,
            cv2.getStructuringElement(cv2.MORPH_RECT, thick_k),
            borderType=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        found = run & (1 - cv2.dilate(thick, np.ones((3, 3), np.uint8)))
        # printed lines come as a family of parallel lines; one long straight stroke is a symbol
        if cv2.connectedComponents(cv2.dilate(found, np.ones((3, 3), np.uint8)), connectivity=8)[0] - 1 >= 2:
            lines |= found
    if not lines.any():
        return False
    lines = cv2.dilate(lines, np.ones((3, 3), np.uint8))  # the lines' anti-aliased sides too
    if rot is not None:
        lines = cv2.warpAffine(lines, cv2.invertAffineTransform(rot), (w, h), flags=cv2.INTER_NEAREST)
    binary &= 1 - lines
    return True


@dataclass
class Comp:
    id: int
    area: int
    box: tuple[int, int, int, int]  # x, y, w, h
    at_border: bool  # touches the frontier: cut by the edge
    on_band: bool  # touches the ROI/image border band


def components(binary: np.ndarray, v: View, cfg, rescue: bool):
    """(n, labels, stats, [Comp]) of the ink, specks dropped. In the rescue pass, a pen or
    cable running in from the border onto the symbol has its straight bar dropped first."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    touch = np.bincount(labels[v.frontier], minlength=n) > 0
    if rescue:
        cut = [
            strip_border_bar(binary, labels, stats, i, v.margin, cfg.bar_width)
            for i in range(1, n)
            if stats[i, cv2.CC_STAT_AREA] >= 4 * v.speck and touch[i]
        ]
        if any(cut):
            n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
            touch = np.bincount(labels[v.frontier], minlength=n) > 0
    on_band = np.bincount(labels[v.band], minlength=n) > 0
    comps = [
        Comp(i, int(stats[i, 4]), tuple(int(t) for t in stats[i, :4]), bool(touch[i]), bool(on_band[i]))
        for i in range(1, n)
        if stats[i, cv2.CC_STAT_AREA] >= v.speck
    ]
    return n, labels, stats, comps


def sharpness(v: View, mask: np.ndarray, box) -> float:
    """The steepest edges (90th percentile of the gradient around the ink) relative to the
    ink level: "percent of contrast per pixel". Soft blobs are shading, not ink."""
    bx0, by0, bx1, by1 = box
    h, w = v.inv.shape
    bx0, by0 = max(0, bx0 - 1), max(0, by0 - 1)
    bx1, by1 = min(w, bx1 + 1), min(h, by1 + 1)
    m = mask[by0:by1, bx0:bx1]
    ring = cv2.dilate(m, np.ones((3, 3), np.uint8)) > 0
    vals = v.grad[by0:by1, bx0:bx1][ring]
    return float(np.percentile(vals, 90)) / v.ink_level * 100.0 if vals.size else 0.0


def _comp_mask(labels, c: Comp):
    x, y, w, h = c.box
    m = np.zeros(labels.shape, np.uint8)
    m[y : y + h, x : x + w] = labels[y : y + h, x : x + w] == c.id
    return m


def is_clutter(c: Comp, labels, v: View, cfg) -> str:
    """A sizeable component touching the edge that is no ink: "soft" (shading), "bar" (a
    long, straight, even bar: a pen or a cable lying in view) or "thick" (a solid piece: the
    desk, a wall, a sleeve) or "sliver" (a thin strip along the ROI border); "" when it may
    be ink."""
    if not ((c.at_border or c.on_band) and c.area >= 4 * v.speck):
        return ""
    x, y, w, h = c.box
    m = _comp_mask(labels, c)
    if sharpness(v, m, (x, y, x + w, y + h)) < cfg.min_sharpness:
        return "soft"
    sub = m[y : y + h, x : x + w]
    # a sliver along the ROI border (the desk beyond a card that nearly fills the view, the
    # page's edge): nearly all of it within a bar's width of the border, and long along it
    if c.on_band:
        H, W = labels.shape
        d = max(2, int(cfg.bar_width * v.side))
        near = sub.copy()
        near[max(0, d - y) : max(0, H - d - y), max(0, d - x) : max(0, W - d - x)] = 0
        if int(near.sum()) >= cfg.sliver_share * c.area and max(w, h) >= cfg.sliver_length * v.side:
            return "sliver"
    # thick and solid at the edge: the desk, a wall, a sleeve; no pen stroke is that wide
    if float(cv2.distanceTransform(sub, cv2.DIST_L2, 3).max()) >= cfg.clutter_thickness * v.side:
        pts = cv2.findNonZero(sub)
        r = max(2, int(cfg.clutter_thickness * v.side))
        body = cv2.morphologyEx(sub, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2))
        # ... with no strokes attached (a shadow band running onto the symbol takes ink with it)
        if (
            c.area >= cfg.max_solidity * cv2.contourArea(cv2.convexHull(pts))
            and int(sub.sum()) - int(body.sum()) <= 0.15 * c.area
        ):
            return "thick"
    pts = cv2.findNonZero((labels[y : y + h, x : x + w] == c.id).astype(np.uint8))
    (_, _), (a_, b_), _ = cv2.minAreaRect(pts)
    long_, short = max(a_, b_), max(1.0, min(a_, b_))
    bar = long_ / short >= cfg.bar_ratio and short <= cfg.bar_width * v.side and c.area >= 0.6 * long_ * short
    return "bar" if bar else ""


def gap(c: Comp, box) -> float:
    """Distance between ``c``'s box and ``box`` (x0, y0, x1, y1), 0 when they overlap."""
    return _gap(c, box)


def _gap(c: Comp, box) -> float:
    cx, cy, cw, ch = c.box
    return max(box[0] - (cx + cw), cx - box[2], box[1] - (cy + ch), cy - box[3], 0)


def group_ink(comps: list[Comp], v: View, cfg):
    """The symbol: the biggest component off the edge plus the components near it.
    Returns (member ids, box (x0, y0, x1, y1), failure code or "", the box to show on failure).
    Camera: a big piece at the edge next to the symbol (or dwarfing it) means the symbol
    is cut by the edge. Image files: ink may touch the image border (a tight crop)."""
    reach = cfg.group_distance * v.side
    interior = [c for c in comps if not c.at_border]
    if not interior:
        return set(), None, "edge", None
    seed = max(interior, key=lambda c: c.area)
    sx, sy, sw, sh = seed.box
    x0, y0, x1, y1 = sx, sy, sx + sw, sy + sh
    border = [c for c in comps if c.at_border and c is not seed]
    if border:
        big = max(border, key=lambda c: c.area)
        if big.area > seed.area and (_gap(big, (x0, y0, x1, y1)) <= reach or big.area > 3 * seed.area):
            return set(), None, "edge", big.box
    members = {seed.id}
    changed = True
    while changed:
        changed = False
        for c in comps:
            if c.id in members:
                continue
            if _gap(c, (x0, y0, x1, y1)) <= reach and (not c.at_border or c.area * 2 >= seed.area):
                cx, cy, cw, ch = c.box
                nb = (min(x0, cx), min(y0, cy), max(x1, cx + cw), max(y1, cy + ch))
                if c.at_border:  # a big piece next to the symbol runs off the edge
                    return set(), None, "edge", (nb[0], nb[1], nb[2] - nb[0], nb[3] - nb[1])
                members.add(c.id)
                x0, y0, x1, y1 = nb
                changed = True
    return members, (x0, y0, x1, y1), "", None


def regrow_faint(sym, box, labels, stats, n, members, v: View, cfg):
    """A symbol much fainter than the strongest ink in view (a dark pen lying beside a light
    drawing) is binarised again at its own ink level, near where it was found; kept unless
    it then runs into the edge or into other ink. Returns (mask, box)."""
    sym_level = percentiles(v.smooth, (99,), sym)[0]
    if sym_level >= cfg.faint_symbol * v.ink_level:
        return sym, box
    local = (v.smooth >= max(cfg.ink_threshold * sym_level, 0.5 * cfg.min_contrast)).astype(np.uint8)
    if v.inside is not None:
        local &= v.inside
    _, llab = cv2.connectedComponents(local, connectivity=8)
    hit = np.unique(llab[(sym > 0) & (llab > 0)])
    grown = np.isin(llab, hit).astype(np.uint8)
    ys, xs = np.nonzero(grown)
    big_other = np.zeros(n, bool)
    big_other[1:] = stats[1:, cv2.CC_STAT_AREA] >= 4 * v.speck
    big_other[list(members)] = False
    if ys.size and not (grown.astype(bool) & (big_other[labels] | v.frontier)).any():
        return grown, (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return sym, box


def strip_border_bar(binary, labels, stats, i, margin, bar_width) -> bool:
    """Component ``i`` runs in from the ROI border: if it starts as a straight even bar (a pen
    or a cable) that is thinner than the rest of the ink it runs into, clear the bar's pixels
    in ``binary`` (up to where it ends) and say so. A symbol cut by the border is left alone:
    its strokes are as wide as the part they join, and curved strokes are no bar at all."""
    cx_, cy_, cw, ch = (int(v) for v in stats[i, :4])
    sub = labels[cy_ : cy_ + ch, cx_ : cx_ + cw] == i
    ys, xs = np.nonzero(sub)
    px, py = (xs + cx_).astype(np.float32), (ys + cy_).astype(np.float32)
    hh, ww = binary.shape
    edge = (px < margin) | (py < margin) | (px >= ww - margin) | (py >= hh - margin)
    if not edge.any():
        return False
    ex, ey = px[edge], py[edge]
    max_w = bar_width * min(hh, ww)
    if max(np.ptp(ex), np.ptp(ey)) > 3 * max_w:  # meets the border broadly: no bar
        return False
    p0 = np.float32([ex.mean(), ey.mean()])
    rel = np.stack([px - p0[0], py - p0[1]], 1)
    near = (rel**2).sum(1) <= (2.5 * max_w) ** 2
    for _ in range(2):  # fit, walk the bar, refit on the bar
        pts = rel[near]
        if len(pts) < 6:
            return False
        mu = pts.mean(0)
        _, vecs = np.linalg.eigh(np.cov((pts - mu).T))
        u = vecs[:, 1]
        if (pts @ u).mean() < 0:  # pointing into the ROI
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
        first = np.argmin(bar_slice) if not bar_slice.all() else nb  # the first run: the bar itself
        if first < max(6, 4 * hw):  # too short to tell a bar
            return False
        near = band & (tb < first)
    ends = np.nonzero(in_band == 0)[0]
    stop = int(ends[0]) if ends.size else nb  # the bar's far end
    drop = band & bar_slice[tb] & (tb < stop)
    rest = ~drop
    if rest.sum() < drop.sum():  # mostly bar: nothing left to keep
        return False
    m = np.zeros((ch, cw), np.uint8)
    m[ys[rest], xs[rest]] = 1
    if 2 * hw + 1 > 0.8 * stroke_width(m):  # as wide as the strokes it joins
        return False
    binary[py[drop].astype(np.int32), px[drop].astype(np.int32)] = 0
    return True


def group_card(comps: list[Comp], v: View, cfg, symbols: int):
    """A passcode card: the ink grouped into separate symbols, left to right. Components
    within ``card_group_distance`` of each other (fraction of the short side) are one symbol;
    a group much shorter than the largest (a dot, a speck of dirt: by the longer side of its
    box, so that a thin "1" beside a bold symbol still counts) is stray ink, not a symbol.
    Returns ([(member ids, box (x0, y0, x1, y1))] sorted by the box's centre from left to
    right, stray count, failure code or "", the box to show on failure). As for one symbol,
    a big piece at the edge next to a symbol means it is cut ("edge")."""
    reach = cfg.card_group_distance * v.side
    interior = [c for c in comps if not c.at_border]
    if not interior:
        return [], 0, "edge", None
    parent = list(range(len(interior)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    boxes = [(c.box[0], c.box[1], c.box[0] + c.box[2], c.box[1] + c.box[3]) for c in interior]
    for i in range(len(interior)):
        for j in range(i + 1, len(interior)):
            if _gap(interior[j], boxes[i]) <= reach:
                parent[root(i)] = root(j)
    groups: dict = {}
    for i in range(len(interior)):
        groups.setdefault(root(i), []).append(i)
    found = []
    for idx in groups.values():
        x0 = min(boxes[i][0] for i in idx)
        y0 = min(boxes[i][1] for i in idx)
        x1 = max(boxes[i][2] for i in idx)
        y1 = max(boxes[i][3] for i in idx)
        found.append(({interior[i].id for i in idx}, (x0, y0, x1, y1), sum(interior[i].area for i in idx)))
    extent = [max(b[2] - b[0], b[3] - b[1]) for _, b, _ in found]
    longest = max(extent)
    kept = [g for g, e in zip(found, extent) if e >= cfg.card_min_symbol_share * longest]
    strays = len(found) - len(kept)
    for c in comps:
        if not c.at_border:
            continue
        for _, box, area in kept:
            if c.area * 2 >= area and _gap(c, box) <= reach:
                return [], strays, "edge", c.box
    kept.sort(key=lambda g: 0.5 * (g[1][0] + g[1][2]))
    return [(m, b) for m, b, _ in kept], strays, "", None
