"""numpy images -> Qt images (copies, so the numpy buffer may be reused at once)."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage, QPixmap


def to_qimage(img: np.ndarray) -> QImage:
    """uint8 grayscale [H,W] or BGR [H,W,3] -> an independent QImage."""
    a = np.ascontiguousarray(img)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        h, w = a.shape
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8).copy()
    if a.ndim == 3 and a.shape[2] == 3:
        h, w, _ = a.shape
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_BGR888).copy()
    if a.ndim == 3 and a.shape[2] == 4:
        h, w, _ = a.shape
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_ARGB32).copy()
    raise ValueError(f"cannot show an image of shape {a.shape}")


def to_pixmap(img: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(img))
