"""The shipped gallery and its embedding cache (real files, two real ONNX models in ONNX Runtime)."""

from __future__ import annotations

import string

import cv2
import numpy as np
import pytest

from desktop_app.core.embedder import Embedder
from desktop_app.core.gallery import (
    DEFAULT_GALLERY,
    GalleryError,
    cache_dir,
    cached_fingerprint,
    digit_gallery,
    embedded_gallery,
    folder_gallery,
    load_gallery,
    save_gallery,
)
from pixel_model import make_pixel_model


def test_shipped_gallery_is_small_and_complete():
    assert DEFAULT_GALLERY.stat().st_size <= 1.5 * 1024 * 1024
    assert (DEFAULT_GALLERY.parent / "README.md").is_file()
    g = load_gallery()
    assert g.images.dtype == np.uint8 and g.images.shape[1:] == (28, 28) and len(g) >= 4000
    kinds = set(g.kinds)
    assert kinds == {"digit", "capital letter", "lower-case letter", "shape", "Omniglot character"}
    labels = set(g.labels)
    assert set("0123456789") <= labels and set(string.ascii_letters) <= labels
    assert {"circle", "cross", "tick", "arrow", "star", "heart"} <= labels
    d = digit_gallery(g)
    assert set(d.kinds) == {"digit"} and all((d.labels == str(k)).sum() >= 100 for k in range(10))
    # model form: white ink on black, ink present, corners dark
    assert (g.images.reshape(len(g), -1).max(axis=1) > 100).all()
    assert g.images[:, 0, 0].max() < 30
    assert g.describe().startswith(f"{len(g):,} symbols (")


def test_cache_is_reused_and_invalidated_by_a_model_switch(tmp_path):
    db = tmp_path / "data" / "twinlock.sqlite3"
    m1 = Embedder(make_pixel_model(tmp_path / "p2.onnx", pool=2), "cpu")
    m2 = Embedder(make_pixel_model(tmp_path / "p4.onnx", pool=4), "cpu")
    assert m1.fingerprint != m2.fingerprint
    g = load_gallery()
    a = embedded_gallery(m1, g, db=db)
    assert not a.from_cache and a.embeddings.shape == (len(g), m1.dim)
    files = list(cache_dir(db).glob("gallery-*.npz"))
    assert len(files) == 1 and files[0].parent == db.parent / "cache"
    assert cached_fingerprint(g, db) == m1.fingerprint
    b = embedded_gallery(m1, g, db=db)
    assert b.from_cache and np.array_equal(a.embeddings, b.embeddings)
    c = embedded_gallery(m2, g, db=db)  # another model: re-embedded
    assert not c.from_cache and c.embeddings.shape == (len(g), m2.dim) and c.fingerprint == m2.fingerprint
    assert cached_fingerprint(g, db) == m2.fingerprint
    assert np.allclose(c.embeddings, m2.embed_images(g.images[: len(g)]), atol=1e-6)
    assert embedded_gallery(m2, g, db=db).from_cache
    d = embedded_gallery(m1, g, db=db)  # and back
    assert not d.from_cache and np.allclose(d.embeddings, a.embeddings)
    # a damaged cache is rebuilt, not trusted
    files[0].write_bytes(b"not an npz")
    e = embedded_gallery(m1, g, db=db)
    assert not e.from_cache and np.allclose(e.embeddings, a.embeddings)
    assert embedded_gallery(m1, g, db=db).from_cache
    # another gallery content: its own cache entry
    sub = g.subset(g.kinds == "shape")
    assert not embedded_gallery(m1, sub, db=db).from_cache
    assert len(list(cache_dir(db).glob("gallery-*.npz"))) == 2


def test_save_load_round_trip_and_bad_files(tmp_path):
    imgs = np.zeros((3, 28, 28), np.uint8)
    imgs[:, 10:18, 10:18] = 255
    p = save_gallery(tmp_path / "g.npz", imgs, ["a", "b", "c"], ["user"] * 3)
    g = load_gallery(p)
    assert list(g.labels) == ["a", "b", "c"] and np.array_equal(g.images, imgs)
    with pytest.raises(GalleryError, match="one label and one kind"):
        save_gallery(tmp_path / "bad.npz", imgs, ["a"], ["user"])
    (tmp_path / "junk.npz").write_bytes(b"\x00" * 100)
    with pytest.raises(GalleryError, match="cannot be read"):
        load_gallery(tmp_path / "junk.npz")
    with pytest.raises(GalleryError, match="is missing"):
        load_gallery(tmp_path / "nothing.npz")
    assert not (tmp_path / "bad.npz").exists()


def test_folder_gallery(tmp_path):
    import symbol_sheets as S

    root = tmp_path / "gal"
    for lab, fn in (("seven", S.seven), ("spiral", S.crossed_spirals)):
        (root / lab).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(root / lab / f"{i}.png"), fn(i))
    (root / "seven" / "blank.png").parent.mkdir(exist_ok=True)
    cv2.imwrite(str(root / "seven" / "blank.png"), np.full((100, 100, 3), 240, np.uint8))
    (root / "seven" / "notes.txt").write_text("ignored")
    g, skipped = folder_gallery(root)
    assert sorted(g.labels) == ["seven", "seven", "spiral", "spiral"] and g.images.shape == (4, 28, 28)
    assert len(skipped) == 1 and "blank.png" in skipped[0] and "no ink" in skipped[0]
    with pytest.raises(GalleryError, match="is not a folder"):
        folder_gallery(tmp_path / "nope")
    (tmp_path / "empty" / "x").mkdir(parents=True)
    with pytest.raises(GalleryError, match="no usable labelled images"):
        folder_gallery(tmp_path / "empty")
