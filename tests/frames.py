"""Synthetic camera frames for tests (no webcam, no MNIST).

A digit is drawn as pen strokes (polylines with a pen width, slightly jittered like handwriting) on a
paper-like sheet, the sheet is warped in perspective onto a desk, then the camera's
faults are added: uneven light, a soft shadow, blur, sensor noise and JPEG compression.
Junk frames hold no symbol. Everything is driven by a seed, so a test is reproducible.
"""

from __future__ import annotations

import cv2
import numpy as np


def _arc(cx, cy, rx, ry, a0, a1, steps=None):
    steps = steps or max(6, int(abs(a1 - a0) / 12))
    a = np.deg2rad(np.linspace(a0, a1, steps))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def _bezier(p0, p1, p2, steps=12):
    t = np.linspace(0, 1, steps)[:, None]
    return (1 - t) ** 2 * np.float64(p0) + 2 * (1 - t) * t * np.float64(p1) + t**2 * np.float64(p2)


# each digit as pen strokes (polylines) in a unit box, x right, y down
STROKES = {
    "0": lambda: [_arc(0.5, 0.5, 0.3, 0.45, -90, 275)],
    "1": lambda: [np.float64([[0.42, 0.15], [0.56, 0.04], [0.5, 0.96]])],
    "2": lambda: [np.concatenate([_arc(0.5, 0.3, 0.28, 0.25, 180, 385), np.float64([[0.2, 0.95], [0.84, 0.95]])])],
    "3": lambda: [np.concatenate([_arc(0.47, 0.27, 0.24, 0.22, 200, 450), _arc(0.47, 0.72, 0.27, 0.23, -90, 160)])],
    "4": lambda: [np.float64([[0.66, 0.96], [0.66, 0.04], [0.14, 0.66], [0.86, 0.66]])],
    "5": lambda: [
        np.concatenate([np.float64([[0.76, 0.05], [0.3, 0.05], [0.27, 0.45]]), _arc(0.48, 0.69, 0.27, 0.26, -130, 150)])
    ],
    "6": lambda: [
        np.concatenate([_bezier((0.7, 0.04), (0.24, 0.22), (0.25, 0.7)), _arc(0.5, 0.7, 0.25, 0.25, 180, 540)])
    ],
    "7": lambda: [np.float64([[0.18, 0.06], [0.82, 0.06], [0.42, 0.96]])],
    "8": lambda: [_arc(0.5, 0.27, 0.21, 0.22, 90, 450), _arc(0.5, 0.72, 0.26, 0.24, -90, 270)],
    "9": lambda: [_arc(0.5, 0.3, 0.24, 0.25, 0, 360), np.float64([[0.74, 0.3], [0.66, 0.96]])],
}


def digit_strokes(
    digit: int | str,
    size: int = 200,
    thickness: int | None = None,
    slant: float = 0.0,
    jitter: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """A white-on-black float32 [size, size] alpha map of ``digit`` drawn as pen strokes.

    The digit fills ~90% of the height; ``thickness`` is the pen width in pixels (default
    ~9% of the height, like MNIST); ``jitter`` moves each stroke point by up to that
    fraction of the box (handwriting variation); ``slant`` shears it."""
    rng = np.random.default_rng(seed)
    th = thickness or max(2, int(round(size * 0.085)))
    box_h = 0.86 * size
    box_w = 0.62 * size
    ox, oy = (size - box_w) / 2, (size - box_h) / 2
    canvas = np.zeros((size * 2, size * 2), np.uint8)  # 2x supersampled for smooth curves
    for stroke in STROKES[str(digit)]():
        pts = stroke + rng.uniform(-jitter, jitter, stroke.shape) if jitter else stroke
        xy = np.stack([ox + (pts[:, 0] + slant * (0.5 - pts[:, 1])) * box_w, oy + pts[:, 1] * box_h], 1)
        cv2.polylines(canvas, [np.round(xy * 2 * 16).astype(np.int32)], False, 255, th * 2, cv2.LINE_AA, 4)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


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
    """Frames that hold no usable symbol, by name."""
    rng = np.random.default_rng(seed)
    w, h = size
    out = {
        "black": np.zeros((h, w, 3), np.uint8),
        "white": np.full((h, w, 3), 255, np.uint8),
        "uniform_grey": np.full((h, w, 3), 128, np.uint8),
        "noise": rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
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
