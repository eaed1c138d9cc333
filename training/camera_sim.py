"""The camera simulator: frames as a webcam sees a symbol written on paper (numpy + OpenCV
only: no torch). Training, export, the benchmarks and the tests all take their frames here.

Random frames (training, export, benchmarks): ``render_digit`` draws a 28×28 image (MNIST,
an Omniglot drawing, white ink on black) as ink on paper inside a 640×480 (or any size) BGR
frame with: varied stroke width and ink colour, paper tint and texture, perspective and
rotation (±15°), scale, uneven light and a shadow, defocus or motion blur, sensor noise, JPEG
compression, and clutter at the frame edges; ``session`` films one scene several times.
``render_junk`` draws frames that hold no symbol: blank paper, uniform colour, noise,
skin-toned blobs, printed letters, shapes. ``render_scene`` draws the named SCENE_KINDS: a
card smaller than the view on a coloured background, rotated (±30°) or in perspective, dark
and textured backgrounds, ruled and squared paper, red/blue pens, pencil, felt pen,
highlighter, a thumb at the card's edge; ``render_card_frame`` a passcode card.
Everything is driven by a numpy Generator, so ``seed`` reproduces a set exactly. Export uses
it to calibrate thresholds on camera-like frames of held-out TRAINING-set digits; the
benchmarks use it on TEST-set digits.

Controlled frames (tests, and benchmarks that need no dataset): ``render_frame`` films a
digit drawn as pen strokes with each fault a parameter (one at a time when a test needs it),
``junk_frames`` the named frames the app must refuse (blank, tiny, huge, cut by the border,
blurred, noise, ...), ``render_card`` a card held up, ``photo_of_page`` a phone photo.

    python -m training.camera_sim --out /tmp/frames --count 20 --seed 0   # look at some
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from training.synthetic_digits import digit_strokes

INKS = [(25, 25, 25), (90, 30, 20), (20, 20, 120), (60, 60, 60), (110, 40, 30)]  # BGR: black, blue, red, grey, navy


def _paper(rng, h, w):
    tint = np.array([rng.uniform(200, 250), rng.uniform(205, 250), rng.uniform(210, 255)])
    low = cv2.resize(rng.normal(0, 1, (6, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, rng.uniform(1, 4), (h, w)).astype(np.float32)
    tex = low * rng.uniform(2, 8) + grain
    return np.clip(tint[None, None, :] + tex[..., None], 0, 255).astype(np.float32)


def _desk(rng, h, w):
    base = np.array([rng.uniform(30, 160), rng.uniform(30, 150), rng.uniform(30, 140)])
    low = cv2.resize(rng.normal(0, 1, (4, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(base[None, None, :] + 15 * low[..., None], 0, 255).astype(np.float32)


def _ink_alpha(rng, digit28, size_px):
    """Upsample the digit to ``size_px`` high, sharpen to a pen-like stroke, vary its width."""
    big = cv2.resize(digit28.astype(np.float32) / 255.0, (size_px, size_px), interpolation=cv2.INTER_CUBIC)
    big = np.clip((big - 0.35) * 3.0, 0, 1)  # crisp pen edges
    k = int(rng.integers(-2, 4)) * max(1, size_px // 90)  # stroke width change
    if k > 0:
        big = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
    elif k < 0:
        big = cv2.erode(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * -k + 1, 2 * -k + 1)))
    return cv2.GaussianBlur(big, (3, 3), 0.8)


def _finish(rng, img, h, w, clutter=True):
    """Light, shadow, blur, noise, JPEG (img float32 BGR 0..255)."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    grad = 1 + rng.uniform(0.1, 0.45) * (np.cos(ang) * (xx / w - 0.5) + np.sin(ang) * (yy / h - 0.5))
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
    vign = 1 - rng.uniform(0.05, 0.3) * (((xx - cx) / w) ** 2 + ((yy - cy) / h) ** 2) * 2
    light = grad * vign * rng.uniform(0.6, 1.1)
    if rng.random() < 0.6:  # a soft shadow (hand/phone) over part of the frame
        mask = np.zeros((h, w), np.float32)
        pts = np.array([[rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h] for _ in range(4)], np.int32)
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 1.0)
        mask = cv2.GaussianBlur(mask, (0, 0), rng.uniform(8, 30))
        light *= 1 - rng.uniform(0.15, 0.45) * mask
    img = img * light[..., None]
    if clutter and rng.random() < 0.7:  # things at the frame edges: a pen, a cable, the desk edge
        for _ in range(int(rng.integers(1, 4))):
            side = rng.integers(4)
            x0 = (
                rng.uniform(0, w) if side < 2 else (rng.uniform(0, 0.08) * w if side == 2 else rng.uniform(0.92, 1) * w)
            )
            y0 = (
                rng.uniform(0, 0.08) * h
                if side == 0
                else (rng.uniform(0.92, 1) * h if side == 1 else rng.uniform(0, h))
            )
            x1, y1 = x0 + rng.uniform(-150, 150), y0 + rng.uniform(-150, 150)
            col = tuple(float(c) for c in rng.uniform(0, 120, 3))
            cv2.line(img, (int(x0), int(y0)), (int(x1), int(y1)), col, int(rng.integers(3, 14)))
    if rng.random() < 0.5:
        s = rng.uniform(0.3, 1.6)
        img = cv2.GaussianBlur(img, (0, 0), s)
    else:
        L = int(rng.integers(3, 10))
        kern = np.zeros((L, L), np.float32)
        kern[L // 2, :] = 1.0 / L
        rot = cv2.getRotationMatrix2D((L / 2 - 0.5, L / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kern = cv2.warpAffine(kern, rot, (L, L))
        kern /= max(kern.sum(), 1e-6)
        img = cv2.filter2D(img, -1, kern)
    img = img + rng.normal(0, rng.uniform(2, 8), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    q = int(rng.integers(50, 95))
    _ok, enc = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(enc, cv2.IMREAD_COLOR)


def render_digit(digit28: np.ndarray, rng: np.random.Generator, size=(640, 480)) -> np.ndarray:
    """One camera-like BGR frame showing ``digit28`` written in ink on a sheet of paper."""
    w, h = size
    # paper sheet larger than the digit, placed near the centre, then perspective-warped
    frame = _desk(rng, h, w)
    sheet_w, sheet_h = int(w * rng.uniform(0.75, 1.1)), int(h * rng.uniform(0.8, 1.15))
    sheet = _paper(rng, sheet_h, sheet_w)
    size_px = int(min(h, w) * rng.uniform(0.28, 0.5))
    alpha = _ink_alpha(rng, digit28, size_px)
    ink = np.array(INKS[int(rng.integers(len(INKS)))], np.float32) + rng.uniform(-10, 10, 3)
    ox = int(sheet_w / 2 - size_px / 2 + rng.uniform(-0.06, 0.06) * w)
    oy = int(sheet_h / 2 - size_px / 2 + rng.uniform(-0.06, 0.06) * h)
    region = sheet[oy : oy + size_px, ox : ox + size_px]
    a = alpha[: region.shape[0], : region.shape[1], None] * rng.uniform(0.75, 1.0)
    sheet[oy : oy + size_px, ox : ox + size_px] = region * (1 - a) + ink * a
    # place the sheet: rotation ±15°, perspective jitter, centred on the frame with an offset
    frame = _hold(frame, sheet, rng, offset=0.04, max_deg=15, persp=0.05, persp_scale=(w, h))
    return _finish(rng, frame, h, w)


def render_card_frame(symbols28, rng: np.random.Generator, size=(640, 480)) -> np.ndarray:
    """One camera-like BGR frame of a passcode card: the 28x28 images ``symbols28`` (white ink
    on black) drawn in ink side by side, left to right, on a card held in front of a desk,
    with the faults of :func:`render_digit` (tilt up to 8 degrees, perspective, light, shadow,
    blur, noise, JPEG, clutter at the frame edges). The card fits the card region
    (desktop_app.core.preprocess.card_roi_rect: 0.9 of the width, 0.7 of the height)."""
    w, h = size
    count = len(symbols28)
    frame = _desk(rng, h, w)
    gap_f = rng.uniform(0.45, 0.7)  # the gap between symbols, as a share of a symbol's side
    room = 0.78 * w / (count + (count - 1) * gap_f + 0.5)  # the card (with margins) fits the region
    size_px = int(min(h * rng.uniform(0.2, 0.3), room))
    gap = int(gap_f * size_px)
    margin = int(0.25 * size_px)
    card_w, card_h = count * size_px + (count - 1) * gap + 2 * margin, size_px + 2 * margin
    sheet = _paper(rng, card_h, card_w)
    ink = np.array(INKS[int(rng.integers(len(INKS)))], np.float32) + rng.uniform(-10, 10, 3)
    for i, img in enumerate(symbols28):
        alpha = _ink_alpha(rng, img, size_px)
        ox = margin + i * (size_px + gap) + int(rng.uniform(-0.05, 0.05) * size_px)
        oy = margin + int(rng.uniform(-0.05, 0.05) * size_px)
        ox, oy = max(0, ox), max(0, oy)
        region = sheet[oy : oy + size_px, ox : ox + size_px]
        a = alpha[: region.shape[0], : region.shape[1], None] * rng.uniform(0.75, 1.0)
        sheet[oy : oy + size_px, ox : ox + size_px] = region * (1 - a) + ink * a
    frame = _hold(frame, sheet, rng, offset=0.03, max_deg=8, persp=0.03, persp_scale=(card_w, card_h))
    return _finish(rng, frame, h, w)


def _hold(frame, sheet, rng, offset: float, max_deg: float, persp: float, persp_scale) -> np.ndarray:
    """``sheet`` held in front of ``frame``: centred with an offset of up to ``offset`` of the
    frame, turned by up to ``max_deg`` degrees, its corners moved by up to ``persp`` of
    ``persp_scale`` (perspective), warped onto the frame."""
    h, w = frame.shape[:2]
    sh, sw = sheet.shape[:2]
    src = np.float32([[0, 0], [sw, 0], [sw, sh], [0, sh]])
    c = np.array([w / 2 + rng.uniform(-offset, offset) * w, h / 2 + rng.uniform(-offset, offset) * h])
    th = np.deg2rad(rng.uniform(-max_deg, max_deg))
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    corners = (src - [sw / 2, sh / 2]) @ rot.T + c
    corners += rng.uniform(-persp, persp, (4, 2)) * list(persp_scale)  # perspective
    M = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    warped = cv2.warpPerspective(
        sheet, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(-1, -1, -1)
    )
    mask = (warped[..., 0] >= 0)[..., None]
    return np.where(mask, warped, frame)


def session(base: np.ndarray, rng: np.random.Generator, count: int) -> list[np.ndarray]:
    """``count`` frames of one capture: the same scene with hand jitter and fresh noise."""
    h, w = base.shape[:2]
    out = []
    for _ in range(count):
        m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-1.5, 1.5), rng.uniform(0.98, 1.02))
        m[:, 2] += rng.uniform(-4, 4, 2)
        f = cv2.warpAffine(base, m, (w, h), borderMode=cv2.BORDER_REFLECT)
        f = np.clip(f.astype(np.float32) + rng.normal(0, 3, f.shape), 0, 255).astype(np.uint8)
        _ok, enc = cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 95))])
        out.append(cv2.imdecode(enc, cv2.IMREAD_COLOR))
    return out


# ---------------------------------------------------------------------------------------------
# Named scene kinds: a card, page or sticky note held up or lying in view, as people show them.
# Each kind varies one thing from a common base (a card about the size of the ROI, centred,
# on a plain desk); ``render_scene(kind, digit28, rng)`` draws one, ``digit28=None`` the same
# scene without a symbol (a blank card: must never be acquired).

SCENE_KINDS = (
    "card_small_on_colour",
    "card_rotated",
    "card_perspective",
    "dark_background",
    "textured_background",
    "ruled_paper",
    "grid_paper",
    "pen_red",
    "pen_blue",
    "pencil",
    "felt_pen",
    "highlighter",
    "thumb_at_edge",
)

PENS = {  # BGR ink colour, stroke width change (see _ink_alpha), opacity
    "black": ((25, 25, 25), 0, 1.0),
    "red": ((40, 40, 190), 0, 1.0),
    "blue": ((160, 70, 25), 0, 1.0),
    "pencil": ((115, 110, 105), -2, 0.8),
    "felt": ((20, 20, 20), 3, 1.0),
    "highlighter": ((60, 215, 235), 2, 0.85),  # a chisel tip, about a felt pen's width
}


def _background(rng, h, w, kind):
    if kind == "dark":
        base = rng.uniform(8, 45, 3)
        return np.clip(base[None, None, :] + rng.normal(0, 2, (h, w, 1)), 0, 255).astype(np.float32)
    if kind == "textured":  # wood grain / fabric: stripes and blotches
        base = np.array([rng.uniform(40, 120), rng.uniform(60, 140), rng.uniform(80, 170)])
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ang = rng.uniform(0, np.pi)
        f = rng.uniform(0.05, 0.3)
        stripes = np.sin((np.cos(ang) * xx + np.sin(ang) * yy) * f + 3 * np.sin(yy * 0.01))
        blot = cv2.resize(rng.normal(0, 1, (h // 16, w // 16)).astype(np.float32), (w, h))
        tex = 18 * stripes + 14 * blot + rng.normal(0, 6, (h, w))
        return np.clip(base[None, None, :] + tex[..., None], 0, 255).astype(np.float32)
    # "colour": a saturated wall, shirt or desk
    base = rng.uniform(0, 255, 3)
    base[int(rng.integers(3))] = rng.uniform(0, 60)  # at least one channel low: a real colour
    low = cv2.resize(rng.normal(0, 1, (4, 6)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    return np.clip(base[None, None, :] * 0.8 + 12 * low[..., None], 0, 255).astype(np.float32)


def _lines(card, rng, grid):
    """Ruled (or squared) paper: thin light-blue/grey printed lines across the card."""
    ch, cw = card.shape[:2]
    step = int(min(ch, cw) * rng.uniform(0.06, 0.1))
    col = np.array([rng.uniform(150, 220), rng.uniform(140, 200), rng.uniform(110, 180)], np.float32)
    th = 1 if rng.random() < 0.6 else 2
    off = int(rng.integers(step))
    for y in range(off, ch, step):
        cv2.line(card, (0, y), (cw, y), tuple(float(c) for c in col), th, cv2.LINE_AA)
    if grid:
        for x in range(off, cw, step):
            cv2.line(card, (x, 0), (x, ch), tuple(float(c) for c in col), th, cv2.LINE_AA)


def render_scene(kind: str, digit28: np.ndarray | None, rng: np.random.Generator, size=(640, 480)) -> np.ndarray:
    """One camera-like BGR frame of scene ``kind`` (see SCENE_KINDS) showing ``digit28``
    (an MNIST image, white on black) written on a card; None: the same scene, blank card."""
    if kind not in SCENE_KINDS:
        raise ValueError(f"unknown scene kind {kind!r}: one of {', '.join(SCENE_KINDS)}")
    w, h = size
    roi = 0.7 * min(w, h)
    bg_kind = {"dark_background": "dark", "textured_background": "textured", "card_small_on_colour": "colour"}.get(
        kind, "colour" if rng.random() < 0.5 else "dark"
    )
    frame = _background(rng, h, w, bg_kind)
    # the card: about the ROI's size (a quarter of it for card_small_on_colour), near the centre
    if kind == "card_small_on_colour":
        side = roi * rng.uniform(0.5, 0.95)
    elif kind in ("ruled_paper", "grid_paper"):
        side = roi * rng.uniform(0.9, 1.6)
    else:
        side = roi * rng.uniform(0.7, 1.3)
    aspect = rng.uniform(0.7, 1.0) if rng.random() < 0.7 else 1.0
    cw, ch = int(side), int(side * aspect)
    card = _paper(rng, ch, cw)
    if kind in ("ruled_paper", "grid_paper"):
        _lines(card, rng, grid=kind == "grid_paper")
    pen = {
        "pen_red": "red",
        "pen_blue": "blue",
        "pencil": "pencil",
        "felt_pen": "felt",
        "highlighter": "highlighter",
    }.get(kind, str(rng.choice(["black", "blue", "black", "red"])))
    if digit28 is not None:
        col, dk, opacity = PENS[pen]
        dsz = int(min(cw, ch) * rng.uniform(0.5, 0.7))
        dsz = int(np.clip(dsz, 0.2 * roi, 0.6 * roi))
        big = cv2.resize(digit28.astype(np.float32) / 255.0, (dsz, dsz), interpolation=cv2.INTER_CUBIC)
        big = np.clip((big - 0.35) * 3.0, 0, 1)
        k = (dk + int(rng.integers(-1, 2))) * max(1, dsz // 90)
        if k > 0:
            big = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1)))
        elif k < 0:
            big = cv2.erode(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (-2 * k + 1, -2 * k + 1)))
        alpha = cv2.GaussianBlur(big, (3, 3), 0.8)[..., None] * opacity
        ink = np.array(col, np.float32) + rng.uniform(-10, 10, 3)
        ox = int((cw - dsz) / 2 + rng.uniform(-0.08, 0.08) * cw)
        oy = int((ch - dsz) / 2 + rng.uniform(-0.08, 0.08) * ch)
        ox, oy = int(np.clip(ox, 0, cw - dsz)), int(np.clip(oy, 0, ch - dsz))
        region = card[oy : oy + dsz, ox : ox + dsz]
        if pen == "highlighter":  # transparent ink multiplies the paper
            card[oy : oy + dsz, ox : ox + dsz] = region * (1 - alpha) + region * (ink / 255.0) * alpha
        else:
            card[oy : oy + dsz, ox : ox + dsz] = region * (1 - alpha) + ink * alpha
    # place the card: rotation (±30° for card_rotated, else ±8°), perspective for card_perspective
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    c = np.array([w / 2 + rng.uniform(-0.05, 0.05) * w, h / 2 + rng.uniform(-0.05, 0.05) * h])
    th = np.deg2rad(rng.uniform(-30, 30) if kind == "card_rotated" else rng.uniform(-8, 8))
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    corners = (src - [cw / 2, ch / 2]) @ rot.T + c
    jit = 0.14 if kind == "card_perspective" else 0.03
    corners += rng.uniform(-jit, jit, (4, 2)) * side
    M = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    warped = cv2.warpPerspective(
        card, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(-1, -1, -1)
    )
    mask = (warped[..., 0] >= 0).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (3, 3), 0.7)[..., None]
    frame = np.where(mask > 0, np.maximum(warped, 0) * mask + frame * (1 - mask), frame)
    if kind == "thumb_at_edge":  # a thumb holding the card's edge, from the frame edge
        e = int(rng.integers(4))
        p = corners[[0, 1, 2, 3]]
        a, b = p[e], p[(e + 1) % 4]  # one card edge
        t = rng.uniform(0.25, 0.75)
        at = a + t * (b - a)
        out = (at - c) / (np.linalg.norm(at - c) + 1e-6)
        centre = at + out * rng.uniform(-0.02, 0.06) * side
        col = (rng.uniform(90, 160), rng.uniform(120, 190), rng.uniform(170, 235))
        ang = np.degrees(np.arctan2(out[1], out[0]))
        axes = (int(side * rng.uniform(0.1, 0.16)), int(side * rng.uniform(0.07, 0.1)))  # reaches ~15% in
        thumb = np.zeros((h, w), np.float32)
        cv2.ellipse(thumb, (int(centre[0]), int(centre[1])), axes, ang, 0, 360, 1.0, -1)
        # the rest of the hand: from the thumb out to the frame edge
        far = centre + out * 2 * max(w, h)
        cv2.line(thumb, (int(centre[0]), int(centre[1])), (int(far[0]), int(far[1])), 1.0, int(1.6 * axes[1]))
        thumb = cv2.GaussianBlur(thumb, (0, 0), 2.0)[..., None]
        shade = 0.85 + 0.15 * rng.random()
        frame = frame * (1 - thumb) + np.array(col, np.float32) * shade * thumb
    return _finish(rng, frame, h, w, clutter=False)


JUNK_KINDS = ("blank_paper", "uniform", "noise", "skin_blob", "letters", "shapes")


def render_junk(kind: str, rng: np.random.Generator, size=(640, 480)) -> np.ndarray:
    """A frame with no digit in it."""
    w, h = size
    if kind == "uniform":
        col = rng.uniform(0, 255, 3)
        img = np.ones((h, w, 3), np.float32) * col
        return _finish(rng, img, h, w, clutter=False)
    if kind == "noise":
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    img = _paper(rng, h, w)
    if kind == "skin_blob":
        for _ in range(int(rng.integers(1, 3))):
            col = (rng.uniform(90, 160), rng.uniform(120, 190), rng.uniform(170, 235))  # BGR skin tones
            centre = (int(rng.uniform(0.2, 0.8) * w), int(rng.uniform(0.2, 0.8) * h))
            axes = (int(rng.uniform(0.1, 0.35) * w), int(rng.uniform(0.1, 0.3) * h))
            cv2.ellipse(img, centre, axes, rng.uniform(0, 180), 0, 360, col, -1)
        img = cv2.GaussianBlur(img, (0, 0), 6)
    elif kind == "letters":
        text = "".join(rng.choice(list("ABCEFHKLMNPRTUVWXYZ"), int(rng.integers(1, 4))))
        scale = rng.uniform(3, 6)
        (tw, th_), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 8)
        org = (int(w / 2 - tw / 2), int(h / 2 + th_ / 2))
        u8 = np.clip(img, 0, 255).astype(np.uint8)
        cv2.putText(u8, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (30, 30, 30), int(rng.integers(6, 14)), cv2.LINE_AA)
        img = u8.astype(np.float32)
    elif kind == "shapes":
        for _ in range(int(rng.integers(1, 4))):
            c = (int(rng.uniform(0.3, 0.7) * w), int(rng.uniform(0.3, 0.7) * h))
            if rng.random() < 0.5:
                cv2.circle(img, c, int(rng.uniform(30, 120)), (40, 40, 40), int(rng.integers(4, 12)))
            else:
                d = int(rng.uniform(30, 120))
                cv2.rectangle(img, (c[0] - d, c[1] - d), (c[0] + d, c[1] + d), (40, 40, 40), int(rng.integers(4, 12)))
    return _finish(rng, img, h, w)


# ---------------------------------------------------------------------------------------------
# Controlled frames (tests): every fault is a parameter, so a test can show one at a time: a
# digit drawn as pen strokes (synthetic_digits.digit_strokes) on a sheet on a desk, ``scale``,
# ``offset``, ``tilt``, light, shadow, blur, noise and JPEG as given; junk by name; a card held
# up; a phone photo of a page. Seeded: the same arguments give the same frame.


def render_frame(
    digit: int | str | None,
    seed: int = 0,
    size=(640, 480),
    *,
    scale: float = 0.35,
    polarity: str = "dark_on_light",
    light: float = 0.35,
    shadow: bool = True,
    blur: float = 0.8,
    noise: float = 3.0,
    jpeg: int | None = 80,
    tilt: float = 0.08,
    offset=(0.0, 0.0),
    thickness: int | None = None,
    handwriting: float = 0.03,
    clutter: bool = True,
) -> np.ndarray:
    """A BGR uint8 camera-like frame [H, W, 3] with ``digit`` (None = blank paper).

    ``scale``: the digit's box side as a fraction of min(H, W); ``offset``: shift of the
    digit from the centre, as a fraction of min(H, W); ``light``: strength of the light
    gradient; ``blur``: Gaussian sigma in pixels; ``noise``: sensor noise sigma;
    ``handwriting``: jitter of the stroke points (fraction of the digit box);
    ``polarity``: "dark_on_light" (pen on paper) or "light_on_dark" (chalk on slate).
    """
    rng = np.random.default_rng(seed)
    w, h = size
    m = min(w, h)
    # the sheet (paper or slate) with texture, on a desk
    if polarity == "dark_on_light":
        paper = np.array([rng.uniform(205, 245), rng.uniform(210, 245), rng.uniform(215, 250)])
        ink = np.array([rng.uniform(15, 70), rng.uniform(15, 50), rng.uniform(15, 50)])
    else:
        paper = np.array([rng.uniform(25, 60)] * 3) + rng.uniform(-5, 5, 3)
        ink = np.array([rng.uniform(200, 240)] * 3)
    img = np.empty((h, w, 3), np.float32)
    img[:] = rng.uniform(60, 140, 3)  # desk
    sw, sh = 0.62 * w + 0.3 * m, 0.9 * h
    cx, cy = w / 2 + offset[0] * m, h / 2 + offset[1] * m
    jit = lambda: rng.uniform(-tilt, tilt) * m  # noqa: E731
    corners = np.float32(
        [
            [cx - sw / 2 + jit(), cy - sh / 2 + jit()],
            [cx + sw / 2 + jit(), cy - sh / 2 + jit()],
            [cx + sw / 2 + jit(), cy + sh / 2 + jit()],
            [cx - sw / 2 + jit(), cy + sh / 2 + jit()],
        ]
    )
    sheet = _fill_quad(h, w, corners)
    tex = cv2.resize(rng.normal(0, 1, (6, 8)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    cv2.setRNGSeed(int(seed))  # reproducible grain and sensor noise
    grain = np.empty((h, w), np.float32)
    cv2.randn(grain, 0.0, 1.5)
    tex = cv2.scaleAdd(tex, 4.0, grain)
    paper_img = cv2.merge([tex + np.float32(c) for c in paper])
    img = cv2.blendLinear(img, paper_img, 1 - sheet, sheet)
    if digit is not None:
        dsz = max(8, int(scale * m))
        alpha = digit_strokes(
            digit, 256, thickness=thickness, slant=float(rng.uniform(-0.2, 0.2)), jitter=handwriting, seed=seed
        )
        dst = np.float32(
            [
                [cx - dsz / 2 + jit() * 0.3, cy - dsz / 2 + jit() * 0.3],
                [cx + dsz / 2 + jit() * 0.3, cy - dsz / 2 + jit() * 0.3],
                [cx + dsz / 2 + jit() * 0.3, cy + dsz / 2 + jit() * 0.3],
                [cx - dsz / 2 + jit() * 0.3, cy + dsz / 2 + jit() * 0.3],
            ]
        )
        Hd = cv2.getPerspectiveTransform(np.float32([[0, 0], [256, 0], [256, 256], [0, 256]]), dst)
        a = cv2.warpPerspective(alpha, Hd, (w, h), flags=cv2.INTER_LINEAR)
        ink_img = np.empty_like(img)
        ink_img[:] = ink.astype(np.float32)
        img = cv2.blendLinear(img, ink_img, 1 - a, a)
    if clutter:
        # something at the frame edge (a finger, the desk's edge): outside the ROI
        x0 = int(rng.uniform(0, 0.06) * w)
        cv2.rectangle(img, (x0, int(0.7 * h)), (x0 + int(0.05 * w), h), (70, 90, 150), -1)
    yy, xx = np.ogrid[0:h, 0:w]
    ang = rng.uniform(0, 2 * np.pi)
    gain = (1 + light * (np.cos(ang) * (xx / w - 0.5) + np.sin(ang) * (yy / h - 0.5))).astype(np.float32)
    gain *= np.float32(rng.uniform(0.85, 1.05))
    if shadow:
        mask = np.zeros((h // 4, w // 4), np.float32)  # soft: drawn and blurred at 1/4 size
        pts = np.int32([[rng.uniform(0.5, 1.2) * w / 4, rng.uniform(-0.2, 1.2) * h / 4] for _ in range(4)])
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 1.0)
        mask = cv2.resize(cv2.GaussianBlur(mask, (0, 0), 25 / 4), (w, h), interpolation=cv2.INTER_LINEAR)
        gain *= 1 - 0.35 * mask
    img = cv2.multiply(img, cv2.merge([gain, gain, gain]))
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if noise > 0:
        grain = np.empty_like(img)
        cv2.randn(grain, (0, 0, 0), (noise, noise, noise))
        img = cv2.add(img, grain)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if jpeg:
        _ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def _fill_quad(h, w, corners) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(m, np.round(corners).astype(np.int32), 1.0, cv2.LINE_AA)
    return m


def junk_frames(size=(640, 480), seed: int = 0) -> dict[str, np.ndarray]:
    """Frames that hold no usable symbol, by name: each one a reason the app refuses a frame
    (seeded; ``render_junk`` draws junk at random)."""
    rng = np.random.default_rng(seed)
    w, h = size
    out = {
        "black": np.zeros((h, w, 3), np.uint8),
        "white": np.full((h, w, 3), 255, np.uint8),
        "uniform_grey": np.full((h, w, 3), 128, np.uint8),
        "noise": render_junk("noise", rng, size),
        "blank_paper": render_frame(None, seed=seed, size=size),
        "tiny": render_frame(7, seed=seed, size=size, scale=0.05),
        "huge": render_frame(8, seed=seed, size=size, scale=0.95, tilt=0.0),
        "cut_by_border": render_frame(4, seed=seed, size=size, scale=0.35, offset=(0.3, 0.0)),
        "blurred": render_frame(3, seed=seed, size=size, blur=14.0),
    }
    g = rng.normal(128, 40, (h // 8, w // 8)).astype(np.float32)
    out["smooth_noise"] = (
        np.clip(cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)[..., None].repeat(3, 2)
    )
    return out


def render_card(
    digit: int | str | None,
    seed: int = 0,
    size=(640, 480),
    *,
    card: float = 0.6,
    background=(40, 140, 60),
    angle: float = 0.0,
    perspective: float = 0.0,
    ink=(30, 30, 30),
    thickness: int | None = None,
    digit_frac: float = 0.6,
    lines: str = "",
    thumb: bool = False,
    blur: float = 0.8,
    noise: float = 3.0,
    jpeg: int | None = 85,
    card_colour=(225, 230, 235),
    line_colour=(215, 180, 150),
    line_width: int = 1,
) -> np.ndarray:
    """A card (index card / sticky note) held up in front of a plain ``background`` (BGR),
    ``card`` = its side as a fraction of min(H, W), rotated by ``angle`` degrees, its corners
    moved by up to ``perspective`` x its side; ``digit`` drawn on it in ``ink`` (None: blank),
    ``digit_frac`` of the card's side; ``lines`` "ruled" or "grid": printed lines (light blue
    unless ``line_colour``, ``line_width`` px);
    ``thumb``: a skin-coloured thumb over the card's right edge, from the frame edge."""
    rng = np.random.default_rng(seed)
    w, h = size
    side = int(card * min(w, h))
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.float32(background)
    sheet = np.empty((side, side, 3), np.float32)
    sheet[:] = np.float32(card_colour) + rng.normal(0, 2, (side, side, 1)).astype(np.float32)
    if lines:
        step = max(6, side // 12)
        for t in range(step // 2, side, step):
            cv2.line(sheet, (0, t), (side, t), line_colour, line_width, cv2.LINE_AA)
            if lines == "grid":
                cv2.line(sheet, (t, 0), (t, side), line_colour, line_width, cv2.LINE_AA)
    if digit is not None:
        dsz = int(digit_frac * side)
        a = digit_strokes(digit, dsz, thickness=thickness, jitter=0.03, seed=seed)[..., None]
        o = (side - dsz) // 2
        sheet[o : o + dsz, o : o + dsz] = sheet[o : o + dsz, o : o + dsz] * (1 - a) + np.float32(ink) * a
    src = np.float32([[0, 0], [side, 0], [side, side], [0, side]])
    th = np.deg2rad(angle)
    rot = np.float32([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    dst = (src - side / 2) @ rot.T + np.float32([w / 2, h / 2])
    dst += rng.uniform(-perspective, perspective, (4, 2)).astype(np.float32) * side
    M = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    warped = cv2.warpPerspective(sheet, M, (w, h), flags=cv2.INTER_LINEAR, borderValue=(-1, -1, -1))
    m = (warped[..., :1] >= 0).astype(np.float32)
    img = np.maximum(warped, 0) * m + img * (1 - m)
    if thumb:
        t = np.zeros((h, w), np.float32)
        cx, cy = int(dst[1:3, 0].mean()), int(h / 2 + 0.15 * side)
        cv2.ellipse(t, (cx, cy), (int(0.16 * side), int(0.09 * side)), 0, 0, 360, 1.0, -1)
        cv2.rectangle(t, (cx, cy - int(0.09 * side)), (w, cy + int(0.09 * side)), 1.0, -1)
        t = cv2.GaussianBlur(t, (0, 0), 1.5)[..., None]
        img = img * (1 - t) + np.float32((120, 150, 205)) * t
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img = img + rng.normal(0, noise, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if jpeg:
        _ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg)])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


def photo_of_page(
    digit: int | str | None, seed: int = 0, size=(1600, 1200), *, symbol: float = 0.12, crop: bool = False
) -> np.ndarray:
    """A phone photo of a page on a table: the page covers most of the frame with its edge
    and the dark table at the left and bottom, vignetting and a soft shadow, a ``symbol``
    (fraction of the image height) high digit; ``crop``: the photo cropped tight around the
    digit (the symbol then fills ~90% of the image, touching its border)."""
    rng = np.random.default_rng(seed)
    w, h = size
    img = np.empty((h, w, 3), np.float32)
    img[:] = np.float32((60, 80, 110))  # the table
    page = np.float32([[0.12 * w, -0.1 * h], [1.1 * w, -0.1 * h], [1.1 * w, 0.86 * h], [0.1 * w, 0.9 * h]])
    m = _fill_quad(h, w, page)[..., None]
    img = img * (1 - m) + np.float32((228, 232, 236)) * m
    dsz = int(symbol * h)
    cx, cy = int(0.55 * w), int(0.45 * h)
    a = np.zeros((h, w), np.float32)
    a[cy - dsz // 2 : cy - dsz // 2 + dsz, cx - dsz // 2 : cx - dsz // 2 + dsz] = (
        digit_strokes(digit, dsz, thickness=max(2, dsz // 14), jitter=0.03, seed=seed) if digit is not None else 0
    )
    img = img * (1 - a[..., None]) + np.float32((35, 30, 30)) * a[..., None]
    yy, xx = np.ogrid[0:h, 0:w]
    vign = 1 - 0.35 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2) * 2
    sh = np.zeros((h, w), np.float32)
    cv2.fillConvexPoly(sh, np.int32([[0.6 * w, 0], [w, 0], [w, 0.5 * h], [0.8 * w, 0.6 * h]]), 1.0)
    sh = cv2.GaussianBlur(sh, (0, 0), 0.04 * w)
    img = img * (vign * (1 - 0.35 * sh))[..., None].astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 1.2) + rng.normal(0, 3, img.shape).astype(np.float32)
    out = np.clip(img, 0, 255).astype(np.uint8)
    if crop:
        r = int(0.55 * dsz)
        out = out[cy - r : cy + r, cx - int(0.8 * r) : cx + int(0.8 * r)].copy()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data-dir", default="../shared/data/mnist")
    a = ap.parse_args(argv)
    from desktop_app.core.calibration import load_mnist_dir as load_mnist

    x, y = load_mnist(a.data_dir, "test")
    rng = np.random.default_rng(a.seed)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for i in range(a.count):
        j = int(rng.integers(len(x)))
        cv2.imwrite(str(out / f"digit_{i:03d}_label{y[j]}.jpg"), render_digit(x[j], rng))
    for kind in JUNK_KINDS:
        cv2.imwrite(str(out / f"junk_{kind}.jpg"), render_junk(kind, rng))
    for kind in SCENE_KINDS:
        j = int(rng.integers(len(x)))
        cv2.imwrite(str(out / f"scene_{kind}_label{y[j]}.jpg"), render_scene(kind, x[j], rng))


if __name__ == "__main__":
    main()
