"""Reading image files and turning any frame into one 8-bit "gray" (darkness) channel."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ..store.open_files import refuse_if_open_database


def to_gray_u8(frame, colour_ink: float = 0.0) -> np.ndarray | None:
    """Any frame (uint8/float/bool-free; gray, BGR or BGRA) -> 8-bit gray, or None when the
    pixel format is unusable. ``colour_ink`` (0..1): this much of the darkest colour channel
    mixed into luminance, so red and blue pens and a yellow highlighter stand out from white
    paper nearly as a black pen does (a neutral grey pixel has the same value either way)."""
    a = np.asarray(frame)
    if a.dtype != np.uint8:
        if a.dtype == bool or a.size == 0 or a.dtype.kind not in "uif":
            return None
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            return None
        if a.max(initial=0) <= 1.0:
            a = a * 255.0
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return a
    if a.ndim == 3 and a.shape[2] in (3, 4):
        luma = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY if a.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
        if colour_ink > 0:
            b, g, r = cv2.split(a)[:3]
            return cv2.addWeighted(luma, 1.0 - colour_ink, cv2.min(cv2.min(b, g), r), colour_ink, 0.0)
        return luma
    return None


def gray_pair(a: np.ndarray, colour_ink: float):
    """(luminance, "gray" with ``colour_ink`` of the darkest channel) of a uint8 gray/BGR/BGRA
    image, the luminance computed once."""
    if a.ndim == 2 or a.shape[2] == 1:
        g = a if a.ndim == 2 else a[..., 0]
        return g, g
    luma = cv2.cvtColor(a, cv2.COLOR_BGR2GRAY if a.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)
    if colour_ink <= 0:
        return luma, luma
    b, g, r = cv2.split(a)[:3]
    return luma, cv2.addWeighted(luma, 1.0 - colour_ink, cv2.min(cv2.min(b, g), r), colour_ink, 0.0)


class ImageError(ValueError):
    """An image file that twinlock cannot read: the message says what is wrong and what to do."""


MAX_IMAGE_MEGAPIXELS = 50  # larger images are refused before they are decoded (memory)
MAX_IMAGE_FILE_MB = 200  # a file this big is no photo of a symbol
# a decoded image larger than this is scaled down (INTER_AREA) before any conversion: the
# symbol search works on a few hundred pixels anyway, and a 50 MP photo would otherwise cost
# seconds and gigabytes in float copies
WORK_MEGAPIXELS = 12


def _image_header(data: bytes) -> tuple[tuple[int, int] | None, str]:
    """((width, height), Pillow mode) from the file's header without decoding the pixels,
    or (None, "") when Pillow cannot read the header (the file is then refused: its size
    would only be known after decoding it)."""
    import io
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as im:
                mode = im.mode
                if mode == "P" and "transparency" in im.info:
                    mode = "PA"
                return (int(im.size[0]), int(im.size[1])), mode
    except Image.DecompressionBombError:
        return (1 << 20, 1 << 20), ""  # far beyond any limit; Pillow would not say its size
    except Exception:
        return None, ""


def _too_big(p, w, h) -> ImageError:
    return ImageError(
        f"{p} is {w}\u00d7{h} pixels; twinlock reads images up to {MAX_IMAGE_MEGAPIXELS} megapixels: scale it down"
    )


def _unsized(p) -> ImageError:
    return ImageError(
        f"cannot read image {p}: not a PNG/JPEG/BMP/TIFF/WebP/PGM/PPM image, or the file is damaged "
        "(twinlock reads an image's size from its header before decoding it, and this file's header "
        "could not be read): save it as PNG or JPEG"
    )


def _fit_work_size(a: np.ndarray) -> np.ndarray:
    """``a`` scaled down (area averaging) to at most :data:`WORK_MEGAPIXELS`, any depth."""
    h, w = a.shape[:2]
    limit = WORK_MEGAPIXELS * 1e6
    if h * w <= limit:
        return a
    s = (limit / (h * w)) ** 0.5
    return cv2.resize(a, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)


def _to_bgr_u8(img: np.ndarray) -> np.ndarray | None:
    """A decoded image of any depth (8/16-bit, float) and channel count (gray, gray+alpha,
    BGR, BGRA) -> 8-bit BGR; transparent pixels become white paper. Scaled down to
    :data:`WORK_MEGAPIXELS` first, so no float copy of a large image is ever made."""
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 2, 3, 4)):
        return None
    a = _fit_work_size(img)
    if a.dtype == np.uint8 and (a.ndim == 2 or a.shape[2] in (1, 3)):  # plain 8-bit: no float copy
        if a.ndim == 3 and a.shape[2] == 3:
            return np.ascontiguousarray(a)
        return cv2.cvtColor(a if a.ndim == 2 else a[..., 0], cv2.COLOR_GRAY2BGR)
    if a.dtype == np.uint16:
        a = a.astype(np.float32) / 257.0
    elif a.dtype != np.uint8:
        a = a.astype(np.float32)
        if not np.all(np.isfinite(a)):
            return None
        if a.max(initial=0) <= 1.0:
            a = a * 255.0
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[..., None]
    c = a.shape[2]
    alpha = None
    if c in (2, 4):
        alpha = np.clip(a[..., -1:].astype(np.float32) / 255.0, 0.0, 1.0)
        a = a[..., :-1]
    a = a.astype(np.float32)
    if alpha is not None:
        a = a * alpha + 255.0 * (1.0 - alpha)
    a = np.clip(a + 0.5, 0, 255).astype(np.uint8)
    if a.shape[2] == 1:
        a = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
    return np.ascontiguousarray(a)


def _regular_file(path) -> Path:
    """``path`` when it is a regular file of at most MAX_IMAGE_FILE_MB; ImageError otherwise."""
    import os
    import stat as stat_

    p = Path(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ImageError(f"cannot read image {p}: no such file") from None
    except NotADirectoryError:
        raise ImageError(f"cannot read image {p}: no such file (a part of the path is not a folder)") from None
    except PermissionError:
        raise ImageError(f"cannot read image {p}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"cannot read image {p}: {exc.strerror or exc}") from None
    if stat_.S_ISDIR(st.st_mode):
        raise ImageError(f"cannot read image {p}: is a directory, not an image file")
    refuse_if_open_database(p, "an image file", ImageError)  # reading it would drop the database's locks
    if not stat_.S_ISREG(st.st_mode):
        kind = (
            "FIFO"
            if stat_.S_ISFIFO(st.st_mode)
            else "device"
            if (stat_.S_ISCHR(st.st_mode) or stat_.S_ISBLK(st.st_mode))
            else "socket"
            if stat_.S_ISSOCK(st.st_mode)
            else "special file"
        )
        raise ImageError(f"cannot read image {p}: is not a regular file ({kind})")
    if st.st_size > MAX_IMAGE_FILE_MB * 1024 * 1024:
        raise ImageError(
            f"cannot read image {p}: the file is {st.st_size / 2**20:.0f} MB; twinlock "
            f"reads image files up to {MAX_IMAGE_FILE_MB} MB: scale it down"
        )
    return p


def image_file_size(path) -> tuple[int, int]:
    """(width, height) of an image file read from its header, nothing decoded: the checks
    of :func:`load_image` that need no pixels (a caller checks every file before it starts
    an attempt). ImageError as load_image raises it."""
    p = _regular_file(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(1 << 20)  # every supported format says its size in its first bytes
    except OSError as exc:
        raise ImageError(f"cannot read image {p}: {exc.strerror or exc}") from None
    if not head:
        raise ImageError(f"cannot read image {p}: the file is empty")
    size, _ = _image_header(head)
    if size is None:
        size, _ = _image_header(p.read_bytes())  # a header further in (rare): the whole file
    if size is None:
        raise _unsized(p)
    if size[0] * size[1] > MAX_IMAGE_MEGAPIXELS * 1e6:
        raise _too_big(p, *size)
    return size


def load_image(path) -> np.ndarray:
    """Read an image file as an 8-bit BGR frame (16-bit and float images scaled, transparency
    composited on white, EXIF orientation applied). Raises :class:`ImageError` (a ValueError)
    with one clear message when it cannot: no such file, a directory or other non-regular
    file, unreadable, not an image, a format whose size cannot be read from its header before
    decoding (Radiance .hdr, OpenEXR, PFM: the pixels are never decoded), or more than
    ``MAX_IMAGE_MEGAPIXELS``. An image above ``WORK_MEGAPIXELS`` is returned scaled down."""
    p = _regular_file(path)
    try:
        data = p.read_bytes()
    except PermissionError:
        raise ImageError(f"cannot read image {p}: permission denied") from None
    except OSError as exc:
        raise ImageError(f"cannot read image {p}: {exc.strerror or exc}") from None
    if not data:
        raise ImageError(f"cannot read image {p}: the file is empty")
    size, mode = _image_header(data)
    if size is None:
        raise _unsized(p)
    if size[0] * size[1] > MAX_IMAGE_MEGAPIXELS * 1e6:
        raise _too_big(p, *size)
    buf = np.frombuffer(data, np.uint8)
    # plain 8-bit colour/grey (most photos): IMREAD_COLOR, which applies the EXIF orientation
    # phones write; anything else (alpha, 16-bit, float, unknown to Pillow) is read unchanged
    plain = mode in ("RGB", "L", "P", "CMYK", "YCbCr", "1")
    try:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR if plain else cv2.IMREAD_UNCHANGED)
    except cv2.error:
        img = None
    if img is not None and img.ndim >= 2 and img.shape[0] * img.shape[1] > MAX_IMAGE_MEGAPIXELS * 1e6:
        raise _too_big(p, img.shape[1], img.shape[0])
    out = _to_bgr_u8(img) if img is not None and img.size else None
    if out is None:
        raise ImageError(f"cannot read image {p}: not a PNG/JPEG/BMP/TIFF/WebP image, or the file is damaged")
    return out
