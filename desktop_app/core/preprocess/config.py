"""The settings of preprocessing (every threshold, with its reason), its result and its reasons."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MODEL_SIZE = 28
FIT_SIZE = 20


@dataclass
class PreprocessConfig:
    """Every threshold of the front end. Fractions "of the ROI" are of the region's short side."""

    # --- where to look
    roi_fraction: float = 0.7  # camera: side of the centred square ROI, fraction of min(H, W)
    work_size: int = 160  # camera: the ROI is analysed at this side length (speed)
    file_work_size: int = 360  # image files: the whole image, longest side analysed at this size
    polarity: str = "auto"  # "auto" | "dark_on_light" | "light_on_dark"
    colour_ink: float = 0.5  # share of the darkest colour channel in "gray": red/blue pens, highlighter
    # show dark (all of it: skin shows as dark as ink, and thumbs pass)
    # --- the frame as a whole
    min_std: float = 4.0  # grey-level spread below which a frame is uniform
    dark_mean: float = 30.0  # mean grey below which a uniform frame is "too dark"
    bright_mean: float = 240.0  # mean grey above which a uniform frame is "too bright"
    # --- find the paper (camera and files): the light region the symbol is on
    find_paper: bool = True  # off: the whole ROI is taken as paper (the old rule)
    paper_ink_kernel: float = 0.09  # closing this wide (fraction of ROI) wipes pen strokes off the paper
    paper_edge: float = 0.10  # log-brightness step per pixel that is a paper edge (soft shadows are less)
    paper_edge_weak: float = 0.5  # ... and this fraction of it where it continues such a step (hysteresis)
    paper_min_area: float = 0.06  # a paper smaller than this (fraction of the ROI area) is not one
    paper_contrast: float = 25.0  # what lies around the paper is this much darker (grey levels)
    paper_solidity: float = 0.8  # a card or page is roughly convex (a thumb's bay allowed)
    paper_full: float = 0.97  # paper covering this much of the ROI: no paper edge in view
    paper_margin: float = 0.025  # ink this close to the paper's edge is the edge, not ink (fraction of ROI)
    rectify: bool = True  # a card held tilted: its symbol is turned upright (rotation only)
    rectify_min_angle: float = 4.0  # degrees: a smaller tilt is left as it is (handwriting slants too)
    rectify_min_skew: float = 0.08  # a card foreshortened more (opposite sides differing) is rectified
    # --- normalise the light
    background_kernel: float = 0.5  # background = opening this wide (fraction of the ROI), wider than strokes
    min_contrast: float = 40.0  # grey levels between ink and paper
    # --- binarise
    ink_threshold: float = 0.45  # ink = at least this fraction of the ink level (99.9th percentile)
    speck: float = 0.0008  # components smaller than this (fraction of ROI area) are specks
    remove_lines: bool = True  # ruled/squared paper: long straight thin lines are not ink
    line_length: float = 0.6  # a straight run this long (fraction of the ROI) is a printed line ...
    line_width: float = 0.03  # ... when thinner than this (fraction of the ROI)
    # --- group the ink
    edge_margin: float = 0.01  # ink this close to the ROI border touches it
    group_distance: float = 0.12  # components this close (fraction of ROI) join the symbol
    bar_ratio: float = 6.0  # border bar: long/short side of its box at least this ...
    bar_width: float = 0.06  # ... and its width at most this (fraction of ROI): a pen or cable
    clutter_thickness: float = 0.035  # a solid piece at the edge this thick (half-width, fraction of ROI): background
    sliver_share: float = 0.9  # a border piece with this share within bar_width of the ROI border ...
    sliver_length: float = 0.25  # ... and this long along it (fraction of ROI) is background, not ink
    faint_symbol: float = 0.75  # a symbol fainter than this x the strongest ink is binarised again
    min_group_share: float = 0.35  # the symbol must hold this share of all the ink in view (else clutter)
    # --- a passcode card: several symbols side by side, read left to right
    card_roi_width: float = 0.9  # camera: the card's region is this share of the frame's width ...
    # ... and roi_fraction of its height (wider than the square ROI: the symbols lie side by side)
    card_group_distance: float = 0.06  # ink this close (fraction of the short side) is one symbol
    card_faint: float = 0.5  # a card with symbols missing: looked at again with the ink threshold x this
    card_min_symbol_share: float = 0.35  # a group shorter than this x the tallest/widest is stray ink
    # --- checks
    min_ink_fraction: float = 0.0015  # of ROI area
    file_min_ink_fraction: float = 0.0002  # image files: of the image's area (a small symbol on a big page)
    max_ink_fraction: float = 0.35  # of ROI area
    min_extent: float = 0.12  # camera: longest ink-box side / ROI side
    max_extent: float = 0.85  # camera: larger means too close (or cut)
    file_min_extent: float = 0.05  # image files: a small symbol on a big page is fine
    file_max_extent: float = 1.0  # image files: a symbol may fill a tight crop
    min_sharpness: float = 12.0  # edge steepness of the strokes (see quality["sharpness"])
    sharpness_ref_px: float = 56.0  # image files: sharpness is judged as on a symbol this size (px)
    max_components: int = 12  # more stroke-sized groups than this: noise / clutter
    max_fill: float = 0.3  # widest ink (half-width / symbol side) a pen stroke may have
    max_solidity: float = 0.9  # ... and a wide shape this solid (area / hull) is a filled blob
    max_rim: float = 0.3  # more of the ring around the ink as dark as the ink: the rim of a filled shape
    rescue_edge_reach: float = 0.05  # rescue pass: ink must lie this close (fraction of ROI) to a steep edge
    rescue_sharpness: float = 1.2  # rescue pass: the symbol's sharpness must reach this x min_sharpness
    # --- MNIST form
    normalize_stroke: bool = True  # thicken hair-thin pen strokes toward MNIST's stroke width
    stroke_target: float = 0.12  # MNIST: 2-3 px strokes on a 20 px digit

    def validate(self) -> PreprocessConfig:
        if not 0.1 <= self.roi_fraction <= 1.0:
            raise ValueError("roi_fraction must be between 0.1 and 1.0")
        if not 48 <= self.work_size <= 1024 or not 48 <= self.file_work_size <= 2048:
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
    paper: np.ndarray | None = None  # the paper's outline found (float32 [K, 2], frame pixels), if any
    # a passcode card (preprocess_card / prepare_card_image): one entry per symbol, left to right
    images: np.ndarray | None = None  # [symbols, 28, 28] uint8 model images
    boxes: list | None = None  # each symbol's box (x, y, w, h) in frame pixels
    crops: list | None = None  # each symbol's camera crop (gray uint8)

    @property
    def symbols(self) -> int:
        """How many symbols the result holds: 1 for one symbol, the card's count for a card."""
        return 1 if self.images is None else int(len(self.images))


REASONS = {
    "blank": "no ink found: show the paper with your symbol inside the frame",
    "too_dark": "the picture is too dark: add light",
    "too_bright": "the picture is washed out (too bright): reduce light or glare",
    "noise": "too much clutter or noise: show a single symbol on plain paper",
    "too_small": "the symbol is too small: bring it closer to the camera",
    "too_large": "the symbol is too large: move it away from the camera",
    "edge": "the symbol touches the edge of the frame area or of the paper (or something runs from it to "
    "the edge): move it to the centre and clear the paper around it",
    "blurred": "the picture is too blurred: hold it still and in focus",
    "filled": "that is a filled shape, not a pen stroke (a hand or thumb in view?): show only the drawn symbol",
    "bad_frame": "the camera delivered an unusable frame",
    # a passcode card with another number of symbols than the passcode: during an attempt it
    # is told only this (never how many symbols were found or are wanted)
    "card": "no card found: show the whole card, every symbol inside the frame, side by side",
}


def card_roi_rect(shape, cfg: PreprocessConfig | None = None) -> tuple[int, int, int, int]:
    """The centred region (x, y, w, h) a passcode card is searched in: ``card_roi_width`` of
    the frame's width, ``roi_fraction`` of its height (as tall as the one-symbol ROI)."""
    cfg = cfg or PreprocessConfig()
    h, w = int(shape[0]), int(shape[1])
    rh = max(1, int(round(min(h, w) * cfg.roi_fraction)))
    rw = max(rh, int(round(w * cfg.card_roi_width)))
    rw = min(rw, w)
    return (w - rw) // 2, (h - rh) // 2, rw, rh


def roi_rect(shape, cfg: PreprocessConfig | None = None) -> tuple[int, int, int, int]:
    """The centred square ROI (x, y, w, h) for a frame of ``shape`` (H, W[, C])."""
    cfg = cfg or PreprocessConfig()
    h, w = int(shape[0]), int(shape[1])
    side = max(1, int(round(min(h, w) * cfg.roi_fraction)))
    return (w - side) // 2, (h - side) // 2, side, side


def fail(code, roi, quality, polarity="", bbox=None, reason=None, paper=None) -> PreprocessResult:
    return PreprocessResult(False, None, reason or REASONS[code], code, roi, bbox, None, polarity, quality, paper)
