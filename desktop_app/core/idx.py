"""Reader for IDX files (the MNIST format), gzipped or raw; numpy only.

An IDX file is a 4-byte magic (0, 0, type code, number of dimensions), one big-endian
uint32 per dimension, then the data. MNIST uses unsigned bytes (type 0x08): labels are
``[N]`` (magic 0x00000801), images ``[N, 28, 28]`` (magic 0x00000803).

Any problem (missing, truncated, corrupt gzip, wrong magic, wrong shape, counts that
disagree) raises :class:`IdxError` whose message names the file and says what to do.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

LABELS_MAGIC = 0x00000801
IMAGES_MAGIC = 0x00000803
_HINT = "delete it so that it is downloaded again, or point --data-dir at a good copy"
# the four MNIST files as published (gzipped); a decompressed copy drops the ".gz"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


class IdxError(ValueError):
    """An IDX file is missing or damaged; the message names the file."""


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise IdxError(f"{path}: file not found") from None
    except OSError as exc:
        raise IdxError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise IdxError(f"{path}: corrupt or truncated gzip data ({exc}); {_HINT}") from None
    return raw


def read_idx(path: str | os.PathLike, expect_magic: int | None = None) -> np.ndarray:
    """Read one IDX file of unsigned bytes into a uint8 array of its declared shape."""
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise IdxError(f"{path}: too short to be an IDX file ({len(raw)} bytes); {_HINT}")
    magic = int.from_bytes(raw[:4], "big")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08 or not 1 <= raw[3] <= 4:
        raise IdxError(f"{path}: not an IDX file of unsigned bytes (magic 0x{magic:08x}); {_HINT}")
    if expect_magic is not None and magic != expect_magic:
        raise IdxError(
            f"{path}: wrong magic number 0x{magic:08x}, expected 0x{expect_magic:08x} (is this the right file?)"
        )
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{path}: truncated header; {_HINT}")
    shape = tuple(int.from_bytes(raw[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    size = int(np.prod(shape, dtype=np.int64))
    have = len(raw) - header
    if have < size:
        raise IdxError(
            f"{path}: truncated: header declares shape {shape} ({size} bytes of data) "
            f"but only {have} bytes follow; {_HINT}"
        )
    if have > size:
        raise IdxError(f"{path}: {have - size} unexpected bytes after the data of shape {shape}; {_HINT}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_images(path: str | os.PathLike, size: int = 28) -> np.ndarray:
    """uint8 [N, size, size] from an IDX image file."""
    a = read_idx(path, IMAGES_MAGIC)
    if a.shape[1:] != (size, size):
        raise IdxError(f"{path}: images are {a.shape[1]}x{a.shape[2]}, expected {size}x{size}")
    return a


def read_labels(path: str | os.PathLike, num_classes: int = 10) -> np.ndarray:
    """uint8 [N] from an IDX label file (values checked to be < num_classes)."""
    a = read_idx(path, LABELS_MAGIC)
    if a.size and int(a.max()) >= num_classes:
        raise IdxError(f"{path}: label {int(a.max())} out of range 0..{num_classes - 1}; {_HINT}")
    return a


def read_pair(
    images_path: str | os.PathLike, labels_path: str | os.PathLike, size: int = 28
) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels read together; their counts must agree."""
    x = read_images(images_path, size)
    y = read_labels(labels_path)
    if len(x) != len(y):
        raise IdxError(
            f"count mismatch: {images_path} holds {len(x)} images but {labels_path} holds {len(y)} labels; {_HINT}"
        )
    return x, y


def find_mnist_file(folder: str | os.PathLike, gz_name: str) -> Path | None:
    """The MNIST file ``gz_name`` (one of :data:`MNIST_FILES`) in ``folder``: as published
    (.gz) or decompressed (no suffix), whichever exists (the .gz first); None when neither
    does. The one home of this rule: the app's calibration and training both find MNIST here."""
    folder = Path(folder)
    for cand in (folder / gz_name, folder / gz_name.removesuffix(".gz")):
        if cand.is_file():
            return cand
    return None
