"""Camera-realistic frames from MNIST digits, for calibration and benchmarks.

Each digit (a 28×28 MNIST test image, white ink on black) is drawn as ink on paper inside a
640×480 (or any size) BGR frame with: varied stroke width and ink colour, paper tint and
texture, perspective and rotation (±15°), scale, uneven light and a shadow, defocus or motion
blur, sensor noise, JPEG compression, and clutter at the frame edges. Junk frames hold no
symbol: blank paper, uniform colour, noise, skin-toned blobs, printed letters, shapes.

``render_scene`` draws the named SCENE_KINDS: a card smaller than the view on a coloured
background, rotated (±30°) or in perspective, dark and textured backgrounds, ruled and squared
paper, red/blue pens, pencil, felt pen, highlighter, a thumb at the card's edge.

Everything is driven by a numpy Generator, so ``seed`` reproduces a set exactly. Export uses
it to calibrate thresholds on camera-like frames of held-out TRAINING-set digits; the
benchmarks use it on TEST-set digits. (numpy + OpenCV only: no torch.)

    python -m training.camera_sim --out /tmp/frames --count 20 --seed 0   # look at some
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

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
    src = np.float32([[0, 0], [sheet_w, 0], [sheet_w, sheet_h], [0, sheet_h]])
    c = np.array([w / 2 + rng.uniform(-0.04, 0.04) * w, h / 2 + rng.uniform(-0.04, 0.04) * h])
    th = np.deg2rad(rng.uniform(-15, 15))
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    corners = (src - [sheet_w / 2, sheet_h / 2]) @ rot.T + c
    corners += rng.uniform(-0.05, 0.05, (4, 2)) * [w, h]  # perspective
    M = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    warped = cv2.warpPerspective(
        sheet, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(-1, -1, -1)
    )
    mask = (warped[..., 0] >= 0)[..., None]
    frame = np.where(mask, warped, frame)
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
    src = np.float32([[0, 0], [card_w, 0], [card_w, card_h], [0, card_h]])
    c = np.array([w / 2 + rng.uniform(-0.03, 0.03) * w, h / 2 + rng.uniform(-0.03, 0.03) * h])
    th = np.deg2rad(rng.uniform(-8, 8))
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    corners = (src - [card_w / 2, card_h / 2]) @ rot.T + c
    corners += rng.uniform(-0.03, 0.03, (4, 2)) * [card_w, card_h]  # perspective
    M = cv2.getPerspectiveTransform(src, corners.astype(np.float32))
    warped = cv2.warpPerspective(
        sheet, M, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(-1, -1, -1)
    )
    mask = (warped[..., 0] >= 0)[..., None]
    frame = np.where(mask, warped, frame)
    return _finish(rng, frame, h, w)


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
