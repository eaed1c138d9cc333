"""Galleries of labelled symbols, and their embeddings cached per model.

The shipped gallery (``assets/gallery/gallery.npz``, built by ``scripts/build_gallery.py``)
holds common symbols in model form (28x28 uint8, white ink on black): MNIST digits in many
hands, Latin letters, simple shapes and Omniglot background characters, each with a label
and a kind ("digit", "capital letter", "lower-case letter", "shape", "Omniglot character").

:func:`embedded_gallery` embeds a gallery with the current model on first use and caches the
embeddings beside the database (``<data folder>/cache/``), keyed by the model fingerprint and
the gallery's content hash: a model switch (another fingerprint) re-embeds, just as the
enrolled references are re-embedded. The cache is written atomically and is only a cache: a
damaged or foreign file is ignored and rebuilt.

:func:`folder_gallery` reads a user's ``FOLDER/<label>/*`` images (any image, put through the
app's preprocessing) for ``twinlock identify --gallery``.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .paths import ASSETS_DIR, atomic_write_bytes, database_path
from .preprocess import load_image, prepare_image

DEFAULT_GALLERY = ASSETS_DIR / "gallery" / "gallery.npz"
GALLERY_FORMAT = 1
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class GalleryError(ValueError):
    """A gallery cannot be used; the message says what is wrong and what to do."""


@dataclass
class Gallery:
    images: np.ndarray  # [N, 28, 28] uint8, model form
    labels: np.ndarray  # [N] str
    kinds: np.ndarray  # [N] str
    name: str  # "shipped" or the folder
    digest: str  # sha256 of images + labels + kinds

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def subset(self, mask) -> Gallery:
        m = np.asarray(mask)
        return Gallery(
            self.images[m],
            self.labels[m],
            self.kinds[m],
            self.name,
            _digest(self.images[m], self.labels[m], self.kinds[m]),
        )

    def describe(self) -> str:
        u, c = np.unique(self.kinds, return_counts=True)
        return f"{len(self):,} symbols (" + ", ".join(f"{n:,} {k}" for k, n in zip(u, c)) + ")"


@dataclass
class EmbeddedGallery:
    gallery: Gallery
    embeddings: np.ndarray  # [N, D] float32
    fingerprint: str
    from_cache: bool

    def __len__(self) -> int:
        return len(self.gallery)


def _digest(images, labels, kinds) -> str:
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(images, dtype=np.uint8).tobytes())
    h.update("\x00".join(map(str, labels)).encode("utf-8"))
    h.update(b"\x01" + "\x00".join(map(str, kinds)).encode("utf-8"))
    return h.hexdigest()


def save_gallery(path, images, labels, kinds) -> Path:
    """Write a gallery .npz (compressed, atomically)."""
    images = np.ascontiguousarray(images, dtype=np.uint8)
    labels, kinds = np.asarray(labels, dtype=str), np.asarray(kinds, dtype=str)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or not (len(images) == len(labels) == len(kinds)):
        raise GalleryError("a gallery needs [N,28,28] uint8 images with one label and one kind each")
    buf = io.BytesIO()
    np.savez_compressed(buf, format=np.array(GALLERY_FORMAT), images=images, labels=labels, kinds=kinds)
    return atomic_write_bytes(path, buf.getvalue(), mode=0o644)


def load_gallery(path=None) -> Gallery:
    """The shipped gallery (or the .npz at ``path``)."""
    p = Path(path or DEFAULT_GALLERY)
    if not p.is_file():
        raise GalleryError(
            f"The symbol gallery {p} is missing. Reinstall twinlock, or rebuild it with scripts/build_gallery.py."
        )
    try:
        with np.load(p, allow_pickle=False) as z:
            fmt = int(z["format"])
            images, labels, kinds = z["images"], z["labels"].astype(str), z["kinds"].astype(str)
    except Exception as exc:
        raise GalleryError(
            f"The symbol gallery {p} cannot be read ({type(exc).__name__}: {exc}). "
            "Reinstall twinlock, or rebuild it with scripts/build_gallery.py."
        ) from None
    if (
        fmt != GALLERY_FORMAT
        or images.dtype != np.uint8
        or images.ndim != 3
        or images.shape[1:] != (28, 28)
        or not (len(images) == len(labels) == len(kinds))
    ):
        raise GalleryError(
            f"The symbol gallery {p} is not in the format this twinlock reads "
            f"(format {fmt}, images {images.shape} {images.dtype}). Rebuild it with "
            "scripts/build_gallery.py."
        )
    return Gallery(images, labels, kinds, "shipped" if path is None else str(p), _digest(images, labels, kinds))


def folder_gallery(folder, kind: str = "user") -> tuple[Gallery, list[str]]:
    """A gallery from ``folder/<label>/*`` image files. Returns (gallery, skipped-file messages).

    Each image goes through :func:`desktop_app.core.preprocess.prepare_image` (a 28x28 file is
    taken as model form); files without a usable symbol are skipped and reported."""
    root = Path(folder)
    if not root.is_dir():
        raise GalleryError(
            f"{root} is not a folder: give a folder with one sub-folder per label (FOLDER/<label>/*.png)."
        )
    images, labels, skipped = [], [], []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for f in sorted(sub.iterdir()):
            if f.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                res = prepare_image(load_image(f))
            except ValueError as exc:
                skipped.append(f"{f}: {exc}")
                continue
            if not res.ok:
                skipped.append(f"{f}: {res.reason}")
                continue
            images.append(res.image)
            labels.append(sub.name)
    if not images:
        raise GalleryError(
            f"{root} holds no usable labelled images: put them in one sub-folder per label "
            "(FOLDER/<label>/*.png)." + (f" ({len(skipped)} file(s) had no usable symbol.)" if skipped else "")
        )
    imgs = np.stack(images)
    lab = np.array(labels)
    kinds = np.full(len(lab), kind)
    return Gallery(imgs, lab, kinds, str(root), _digest(imgs, lab, kinds)), skipped


def cache_dir(db=None) -> Path:
    """Where gallery embeddings are cached: a ``cache`` folder beside the database."""
    return Path(database_path(db)).parent / "cache"


def _cache_file(gallery: Gallery, db=None) -> Path:
    return cache_dir(db) / f"gallery-{gallery.digest[:16]}.npz"  # one file per gallery content


def embedded_gallery(embedder, gallery: Gallery | None = None, db=None, use_cache: bool = True) -> EmbeddedGallery:
    """``gallery`` (default: the shipped one) embedded with ``embedder``'s model.

    Read from the cache when it was made by this model (fingerprint) from this gallery (content
    hash); otherwise embedded now and the cache rewritten (atomically)."""
    g = gallery if gallery is not None else load_gallery()
    fp = embedder.fingerprint
    path = _cache_file(g, db)
    if use_cache and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["fingerprint"]) == fp and str(z["digest"]) == g.digest:
                    e = z["embeddings"].astype(np.float32)
                    if e.shape == (len(g), embedder.dim):
                        return EmbeddedGallery(g, e, fp, True)
        except Exception:
            pass  # a damaged cache is rebuilt below
    e = embedder.embed_images(g.images) if len(g) else np.zeros((0, embedder.dim), np.float32)
    if use_cache:
        buf = io.BytesIO()
        np.savez(buf, fingerprint=np.array(fp), digest=np.array(g.digest), embeddings=e)
        try:
            atomic_write_bytes(path, buf.getvalue(), mode=0o600)
        except OSError:
            pass  # a read-only data folder: work without the cache
    return EmbeddedGallery(g, e, fp, False)


def digit_gallery(gallery: Gallery | None = None) -> Gallery:
    """The digits of the shipped gallery (identify's default)."""
    g = gallery if gallery is not None else load_gallery()
    return g.subset(g.kinds == "digit")


def cached_fingerprint(gallery: Gallery | None = None, db=None) -> str | None:
    """The model fingerprint the cache of ``gallery`` was made with (None: no usable cache)."""
    g = gallery if gallery is not None else load_gallery()
    path = _cache_file(g, db)
    try:
        with np.load(path, allow_pickle=False) as z:
            return str(z["fingerprint"])
    except (OSError, KeyError, ValueError):
        return None


__all__ = [
    "DEFAULT_GALLERY",
    "EmbeddedGallery",
    "Gallery",
    "GalleryError",
    "cache_dir",
    "cached_fingerprint",
    "digit_gallery",
    "embedded_gallery",
    "folder_gallery",
    "load_gallery",
    "save_gallery",
]
