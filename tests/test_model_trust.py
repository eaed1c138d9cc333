"""A model file's contract (its thresholds) is a setting an admin accepts.

A copy of the shipped model with its default threshold edited keeps the fingerprint (the
fingerprint covers graph and weights only); it is refused, with a message and an audit row,
until an admin accepts it with `twinlock model use` (the passphrase)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import onnx
import pytest

from desktop_app.cli.main import main
from desktop_app.core.contract import CONTRACT_KEY, ContractError
from desktop_app.core.embedder import Embedder
from desktop_app.core.paths import DEFAULT_MODEL
from desktop_app.core.settings import load_embedder, set_admin_passphrase
from desktop_app.core.store import Store
from training.camera_sim import render_frame

PASS = "correct horse battery"


def edited_copy(dest, threshold: float):
    """The shipped model, byte for byte the same graph and weights, its default threshold edited."""
    m = onnx.load(str(DEFAULT_MODEL))
    for kv in m.metadata_props:
        if kv.key == CONTRACT_KEY:
            doc = json.loads(kv.value)
            doc["thresholds"][doc["default_threshold"]]["threshold"] = threshold
            kv.value = json.dumps(doc, sort_keys=True)
    onnx.save(m, str(dest))
    return dest


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    monkeypatch.delenv("TWINLOCK_PASSPHRASE", raising=False)
    db = tmp_path / "db.sqlite3"
    store = Store(db)
    emb = load_embedder(store, preference="cpu")  # the shipped model: accepted on first use
    from desktop_app.core.preprocess import preprocess

    imgs = []
    for i in range(12):
        r = preprocess(render_frame(3, seed=40 + i, size=(320, 240)))
        if r.ok:
            imgs.append(r.image)
    imgs = np.stack(imgs[:3])
    store.add_references("alice", imgs, None, emb.embed_images(imgs), emb.fingerprint, create=True)
    set_admin_passphrase(store, PASS, via="test")
    pf = tmp_path / "pass.txt"
    pf.write_text(PASS + "\n")
    yield {"db": db, "store": store, "emb": emb, "tmp": tmp_path, "pass": pf}
    store.close()


def test_an_edited_contract_keeps_the_fingerprint_and_is_refused(world):
    edited = edited_copy(world["tmp"] / "edited.onnx", 1.05)
    e2 = Embedder(edited, "cpu")
    assert e2.fingerprint == world["emb"].fingerprint  # why the fingerprint alone cannot tell
    assert e2.contract.default_threshold == pytest.approx(1.05)
    store = world["store"]
    with pytest.raises(ContractError, match="differs from the one an admin accepted") as err:
        load_embedder(store, override=edited, preference="cpu")
    assert "twinlock model use" in str(err.value)
    row = store.audit(decision="model_refused")[0]
    assert row.fingerprint == e2.fingerprint and row.detail["default_threshold"] == pytest.approx(1.05)
    # the real file is still accepted, and nothing was changed
    assert load_embedder(store, preference="cpu").contract.default_threshold != pytest.approx(1.05)


def test_a_fresh_database_never_takes_an_edited_shipped_model_on_first_use(tmp_path, monkeypatch):
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    edited = edited_copy(tmp_path / "edited.onnx", 1.05)
    store = Store(tmp_path / "fresh.sqlite3")
    try:
        with pytest.raises(ContractError, match="differs"):
            load_embedder(store, override=edited, preference="cpu")
        # the shipped model's own contract was recorded for its fingerprint
        assert [r.detail["via"] for r in store.audit(decision="model_accepted")] == ["first use of the shipped model"]
    finally:
        store.close()


def test_model_use_with_the_passphrase_accepts_it(world, monkeypatch, capsys):
    edited = edited_copy(world["tmp"] / "edited.onnx", 0.9)
    db = str(world["db"])
    world["store"].close()
    monkeypatch.setenv("TWINLOCK_MODEL", str(edited))
    capsys.readouterr()
    assert main(["verify", "alice", "--image", str(world["tmp"] / "none.png"), "--db", db]) == 4
    err = capsys.readouterr().err
    assert "differs from the one an admin accepted" in err and err.count("\n") == 1
    monkeypatch.delenv("TWINLOCK_MODEL")
    # without the passphrase: refused, nothing accepted
    assert main(["model", "use", str(edited), "--db", db]) == 4
    assert "needs the admin passphrase" in capsys.readouterr().err
    assert main(["model", "use", str(edited), "--db", db, "--passphrase-file", str(world["pass"])]) == 0
    assert "accepted" in capsys.readouterr().out
    s = Store(db)
    try:
        emb = load_embedder(s, override=edited, preference="cpu")
        assert emb.contract.default_threshold == pytest.approx(0.9)
        acc = s.audit(decision="model_accepted")[0]
        assert acc.detail["via"] == "model switched" and acc.detail["replaced"]
        # and now the shipped file's contract is the one that differs
        with pytest.raises(ContractError, match="differs"):
            load_embedder(s, override=DEFAULT_MODEL, preference="cpu")
    finally:
        s.close()
    world["store"] = Store(db)  # the fixture closes it


def test_an_unaccepted_model_of_another_fingerprint_is_refused_once_profiles_exist(world):
    other = world["tmp"] / "other.onnx"
    shutil.copy(DEFAULT_MODEL, other)
    m = onnx.load(str(other))
    m.doc_string = "x"  # the model doc string is outside the fingerprint: same model
    onnx.save(m, str(other))
    assert Embedder(other, "cpu").fingerprint == world["emb"].fingerprint
    load_embedder(world["store"], override=other, preference="cpu")  # same contract: fine
    from pixel_model import make_pixel_model

    px = make_pixel_model(world["tmp"] / "px.onnx")
    with pytest.raises(ContractError, match="has not been accepted"):
        load_embedder(world["store"], override=px, preference="cpu", reembed=False)
