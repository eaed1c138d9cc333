"""Step 7's geometry: the paper's tilt (:func:`paper_angle`), and a card held tilted or seen
at an angle taken out of the symbol's ink (:func:`upright`, :func:`warp_ink` through the
homography of the card's outline, :func:`rectifying_homography`), so the model sees the
symbol as it was drawn."""

from __future__ import annotations

import cv2
import numpy as np


def paper_angle(outline) -> float:
    """The paper's rotation (degrees, -45..45) from its outline, for printed-line removal."""
    if outline is None or len(outline) < 3:
        return 0.0
    (_, _), (_, _), ang = cv2.minAreaRect(outline.astype(np.float32))
    ang = float(ang) % 90.0
    return ang - 90.0 if ang > 45.0 else ang


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


def card_quad(outline):
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


def quad_skew(q) -> float:
    """How far a quadrilateral is from a parallelogram: the larger relative difference of its
    opposite sides (0 for a card seen square-on)."""
    side = [float(np.linalg.norm(q[(i + 1) % 4] - q[i])) for i in range(4)]
    return max(abs(side[0] - side[2]) / max(side[0], side[2]), abs(side[1] - side[3]) / max(side[1], side[3]))


def rectifying_homography(q):
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
