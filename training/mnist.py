"""MNIST on disk: locate, download (MD5-verified, atomic) and load the four IDX files.

Data folder: ``--data-dir``, else ``TWINLOCK_DATA_DIR``, else the user cache dir
(:func:`desktop_app.core.paths.mnist_dir`).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from desktop_app.core.idx import MNIST_FILES, IdxError, find_mnist_file, read_pair
from desktop_app.core.paths import mnist_dir

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
FILES = MNIST_FILES
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
COUNTS = {"train": 60_000, "test": 10_000}


class DownloadError(RuntimeError):
    """MNIST could not be fetched or failed its checksum; nothing was left behind."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    return Path(mnist_dir(data_dir))


_find = find_mnist_file  # the one rule, in desktop_app.core.idx


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_file(
    name: str, folder: Path, mirrors=MIRRORS, md5: str | None = None, progress: bool = True, timeout: float = 30.0
) -> Path:
    """Fetch ``name`` from the first mirror that serves it with the right MD5.

    Bytes go to a temp file in ``folder``; only a verified file is renamed into place.
    """
    md5 = md5 if md5 is not None else MD5.get(name)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / name
    errors = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        try:
            h = hashlib.md5()
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                total = int(resp.headers.get("Content-Length") or 0) or None
                bar = None
                if progress:
                    from tqdm import tqdm

                    bar = tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False)
                try:
                    for block in iter(lambda: resp.read(1 << 16), b""):
                        out.write(block)
                        h.update(block)
                        if bar is not None:
                            bar.update(len(block))
                finally:
                    if bar is not None:
                        bar.close()
                out.flush()
                os.fsync(out.fileno())
            got = h.hexdigest()
            if md5 and got != md5:
                raise DownloadError(f"{url}: checksum mismatch (MD5 {got}, expected {md5})")
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, OSError, DownloadError) as exc:
            errors.append(str(exc) if isinstance(exc, DownloadError) else f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DownloadError(
        f"could not download {name} into {folder}:\n  "
        + "\n  ".join(errors)
        + "\nCheck the network, or copy the MNIST files there yourself "
        "(or pass --data-dir / set TWINLOCK_DATA_DIR)."
    )


def ensure_mnist(
    data_dir: str | os.PathLike | None = None, splits=("train", "test"), mirrors=MIRRORS, progress: bool = True
) -> Path:
    """Make sure the files for ``splits`` are in the data folder, downloading what is missing."""
    folder = resolve_data_dir(data_dir)
    for split in splits:
        for name in FILES[split]:
            if _find(folder, name) is None:
                download_file(name, folder, mirrors=mirrors, progress=progress)
    return folder


def load_mnist(
    data_dir: str | os.PathLike | None = None, split: str = "train", download: bool = True, mirrors=MIRRORS
) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 [N,28,28], labels uint8 [N]) of ``split`` ('train' or 'test')."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folder = resolve_data_dir(data_dir)
    if download:
        ensure_mnist(folder, (split,), mirrors=mirrors)
    paths = []
    for name in FILES[split]:
        p = _find(folder, name)
        if p is None:
            raise IdxError(
                f"{folder / name}: file not found (run with downloads enabled, "
                f"or pass --data-dir / set TWINLOCK_DATA_DIR)"
            )
        paths.append(p)
    x, y = read_pair(*paths)
    return x, y
