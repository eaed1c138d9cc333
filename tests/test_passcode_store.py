"""Passcodes in the store: a profile of 1-4 symbols, references per position, the schema-4
migration from a version-3 database, and profile files that carry positions."""

import json
import sqlite3

import numpy as np
import pytest

from desktop_app.core.embedder import Embedder
from desktop_app.core.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError
from desktop_app.core.store.codec import _png
from pixel_model import make_pixel_model


def _imgs(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def pixel(tmp_path_factory):
    return Embedder(make_pixel_model(tmp_path_factory.mktemp("m") / "pixel.onnx"), "cpu")


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db.sqlite3")
    yield s
    s.close()


def _enroll(store, pixel, name="pc", per=3, symbols=2):
    imgs = _imgs(per * symbols, seed=7)
    pos = np.repeat(np.arange(symbols), per)
    store.add_references(
        name, imgs, None, pixel.embed_images(imgs), pixel.fingerprint, create=True, positions=pos, symbols=symbols
    )
    return imgs, pos


def test_a_passcode_keeps_its_positions_in_order(store, pixel):
    imgs, pos = _enroll(store, pixel, symbols=3, per=2)
    prof = store.get_profile("pc")
    assert prof.symbols == 3 and prof.is_passcode and prof.references_per_position == (2, 2, 2)
    per = store.position_embeddings("pc", pixel.fingerprint)
    assert len(per) == 3
    for i in range(3):
        assert np.allclose(per[i], pixel.embed_images(imgs[pos == i]))
    assert [r.position for r in store.references("pc")] == [0, 0, 1, 1, 2, 2]
    # the symbols are never mixed: all of a passcode's references at once is refused
    with pytest.raises(StoreError, match="passcode of 3 symbols"):
        store.reference_embeddings("pc", pixel.fingerprint)
    row = store.audit(decision="enrolled")[0]
    assert row.detail["symbols"] == 3 and row.detail["per_position"] == [2, 2, 2]


def test_a_one_symbol_profile_is_as_before(store, pixel):
    imgs = _imgs(3)
    store.add_references("one", imgs, None, pixel.embed_images(imgs), pixel.fingerprint, create=True)
    prof = store.get_profile("one")
    assert prof.symbols == 1 and not prof.is_passcode and prof.references_per_position == (3,)
    assert store.reference_embeddings("one", pixel.fingerprint).shape[0] == 3
    assert len(store.position_embeddings("one", pixel.fingerprint)) == 1


def test_a_passcode_with_a_position_left_empty_is_never_stored(store, pixel):
    imgs = _imgs(4)
    with pytest.raises(ValueError, match="symbol 2 would have no reference"):
        store.add_references(
            "pc", imgs, None, pixel.embed_images(imgs), pixel.fingerprint, create=True, positions=[0, 0, 2, 2]
        )
    assert not store.has_profile("pc")  # the whole enrollment was rolled back
    with pytest.raises(ValueError, match="1 to 4 symbols"):
        store.add_references(
            "pc", imgs, None, pixel.embed_images(imgs), pixel.fingerprint, create=True, positions=[0, 1, 2, 4]
        )
    with pytest.raises(ValueError, match="1 to 4 symbols"):
        store.create_profile("x", symbols=5)
    assert not store.has_profile("pc") and not store.has_profile("x")


def test_more_references_go_to_a_position_of_the_same_passcode(store, pixel):
    _enroll(store, pixel)
    more = _imgs(2, seed=3)
    store.add_references("pc", more, None, pixel.embed_images(more), pixel.fingerprint, positions=[1, 1])
    assert store.get_profile("pc").references_per_position == (3, 5)
    with pytest.raises(ValueError, match="holds 2 symbols"):
        store.add_references("pc", more, None, pixel.embed_images(more), pixel.fingerprint, positions=[2, 2])
    with pytest.raises(StoreError, match="holds 2 symbols, not 3"):
        store.add_references("pc", more, None, pixel.embed_images(more), pixel.fingerprint, positions=[0, 1], symbols=3)
    assert store.get_profile("pc").references_per_position == (3, 5)


def test_the_last_reference_of_a_position_cannot_be_removed(store, pixel):
    imgs = _imgs(3)
    store.add_references(
        "pc", imgs, None, pixel.embed_images(imgs), pixel.fingerprint, create=True, positions=[0, 0, 1]
    )
    last = next(r.id for r in store.references("pc") if r.position == 1)
    with pytest.raises(StoreError, match="last one of its symbol"):
        store.remove_reference("pc", last)
    assert store.get_profile("pc").references_per_position == (2, 1)
    store.remove_reference("pc", next(r.id for r in store.references("pc") if r.position == 0))
    assert store.get_profile("pc").references_per_position == (1, 1)


def _version3_database(path, pixel):
    """A database as twinlock wrote it at schema 3, with one profile of 2 references."""
    con = sqlite3.connect(path, isolation_level=None)
    for v in range(3):
        con.execute("BEGIN")
        MIGRATIONS[v](con)
        con.execute(f"PRAGMA user_version = {v + 1}")
        con.execute("COMMIT")
    con.execute("INSERT INTO profiles(name, created, threshold, policy) VALUES ('old', 1.0, 0.42, '{\"k\": 1}')")
    imgs = _imgs(2, seed=5)
    emb = pixel.embed_images(imgs).astype(np.float32)
    for i in range(2):
        con.execute(
            "INSERT INTO refs(profile_id, image, crop, embedding, dim, fingerprint, created) VALUES (1, ?, NULL, ?, ?, ?, 2.0)",
            (_png(imgs[i]), emb[i].tobytes(), emb.shape[1], pixel.fingerprint),
        )
    con.close()
    path.chmod(0o600)
    return emb


def test_a_version_3_database_becomes_one_symbol_profiles_unchanged(tmp_path, pixel):
    p = tmp_path / "v3.sqlite3"
    emb = _version3_database(p, pixel)
    s = Store(p)
    try:
        assert s.schema_version == SCHEMA_VERSION == 4
        prof = s.get_profile("old")
        assert prof.symbols == 1 and prof.threshold == pytest.approx(0.42) and prof.policy == {"k": 1}
        assert prof.references_per_position == (2,)
        assert np.array_equal(s.reference_embeddings("old", pixel.fingerprint), emb)
        assert [r.position for r in s.references("old")] == [0, 0]
    finally:
        s.close()


def test_profile_files_carry_positions_and_old_files_import_as_one_symbol(store, pixel, tmp_path):
    _enroll(store, pixel, symbols=2, per=2)
    f = tmp_path / "pc.json"
    store.export_profile("pc", f)
    doc = json.loads(f.read_text())
    assert doc["version"] == 2 and doc["symbols"] == 2
    assert [r["position"] for r in doc["references"]] == [0, 0, 1, 1]
    got = store.import_profile(f, pixel, name="copy")
    assert got.symbols == 2 and got.references_per_position == (2, 2)
    for a, b in zip(
        store.position_embeddings("pc", pixel.fingerprint), store.position_embeddings("copy", pixel.fingerprint)
    ):
        assert np.allclose(a, b)
    # a one-symbol profile is still written as version 1, and a version-1 file is one symbol
    one = _imgs(2, seed=9)
    store.add_references("one", one, None, pixel.embed_images(one), pixel.fingerprint, create=True)
    g = tmp_path / "one.json"
    store.export_profile("one", g)
    old = json.loads(g.read_text())
    assert old["version"] == 1 and "symbols" not in old and "position" not in old["references"][0]
    assert store.import_profile(g, pixel, name="one-copy").symbols == 1
    # a passcode file with a position left empty, or out of range, is refused; nothing imported
    for refs_pos, symbols, why in (
        ([0, 0, 0, 0], 2, "symbol 2 of its 2 has no reference"),
        ([0, 1, 2, 1], 2, "position"),
    ):
        bad = dict(doc, symbols=symbols, references=[dict(r, position=q) for r, q in zip(doc["references"], refs_pos)])
        b = tmp_path / "bad.json"
        b.write_text(json.dumps(bad))
        with pytest.raises(StoreError, match=why):
            store.import_profile(b, pixel, name="bad")
        assert not store.has_profile("bad")
