"""The store's image codec: uint8 images <-> PNG bytes (reference images, crops, snapshots)."""

from __future__ import annotations


import cv2
import numpy as np

from .errors import StoreError


def _png(img) -> bytes | None:
    if img is None:
        return None
    a = np.asarray(img)
    if a.dtype != np.uint8:
        raise ValueError("images must be uint8")
    ok, buf = cv2.imencode(".png", a)
    if not ok:
        raise ValueError("could not encode an image as PNG")
    return buf.tobytes()


def _unpng(data) -> np.ndarray | None:
    if data is None:
        return None
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if len(data) else None
    except cv2.error:
        img = None
    if img is None:
        raise StoreError("A stored image is damaged (cannot be decoded).")
    return img
