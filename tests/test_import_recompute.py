"""An import recomputes the embeddings
from the images with the model in use (never reads them from the file); a threshold looser
than the model's default or a policy weaker than the app's asks for a confirmation and is
audited; each crop and the file's crops together are capped, sized from their PNG headers.
The real CLI, real SQLite, real ONNX Runtime on the pixel test model."""

from __future__ import annotations

import base64
import json

import cv2
import numpy as np
import pytest

from desktop_app.cli.main import main
from desktop_app.core.embedder import Embedder
from desktop_app.core.preprocess import load_image, prepare_image
from desktop_app.core.store import Store
from training.camera_sim import render_frame
from pixel_model import make_pixel_model


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("imp")
    a = {"model": make_pixel_model(d / "pixel.onnx"), "enroll": [], "sevens": []}
    for i in range(3):
        for digit, key in ((3, "enroll"), (7, "sevens")):
            p = d / f"d{digit}_{i}.png"
            cv2.imwrite(str(p), render_frame(digit, seed=300 + 10 * digit + i))
            a[key].append(str(p))
    for digit in (3, 7):
        p = d / f"probe{digit}.png"
        cv2.imwrite(str(p), render_frame(digit, seed=500 + digit))
        a[f"d{digit}"] = str(p)
    return a


@pytest.fixture
def exported(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("TWINLOCK_MODEL", str(assets["model"]))
    monkeypatch.delenv("TWINLOCK_PASSPHRASE", raising=False)
    db = tmp_path / "db.sqlite3"
    monkeypatch.setenv("TWINLOCK_DB", str(db))
    assert main(["enroll", "alice", *assets["enroll"], "--allow-weak"]) == 0
    f = tmp_path / "alice.json"
    assert main(["profiles", "export", "alice", str(f)]) == 0
    return db, json.loads(f.read_text())


def _write(tmp_path, doc, name="edited.json"):
    f = tmp_path / name
    f.write_text(json.dumps(doc))
    return str(f)


def test_embeddings_in_the_file_are_never_used(assets, exported, tmp_path, capsys):
    """The images of alice's 3s with the embeddings of 7s: before, the 7 was granted and the
    owner denied, and doctor said all good."""
    db, doc = exported
    emb = Embedder(assets["model"], "cpu")
    sevens = np.stack([prepare_image(load_image(p)).image for p in assets["sevens"]])
    planted = emb.embed_images(sevens)
    for r, e in zip(doc["references"], planted):
        r["embedding"] = [float(v) for v in e]
    assert main(["profiles", "import", _write(tmp_path, doc), "--name", "bob"]) == 0
    assert main(["verify", "bob", "--image", assets["d7"]]) == 1  # the planted 7 is denied
    assert main(["verify", "bob", "--image", assets["d3"]]) == 0  # the owner's 3 is granted
    with Store(db) as s:
        stored = s.reference_embeddings("bob", emb.fingerprint)
        assert np.allclose(stored, s.reference_embeddings("alice", emb.fingerprint))
        row = s.audit(decision="profile_imported")[0]
        assert row.detail["embeddings"] == f"recomputed by model {emb.fingerprint[:12]}"


@pytest.mark.parametrize(
    "edit, loosened",
    [
        (lambda d: d.__setitem__("threshold", 1.99), "looser than the model's default"),
        (lambda d: d.__setitem__("policy", {"lockout_after": 100}), "lockout_after 100 is more than this app's 5"),
        (lambda d: d.__setitem__("policy", {"k": 1}), "k 1 is less than this app's 2"),
    ],
    ids=["threshold-1.99", "lockout_after-100", "k-1"],
)
def test_a_file_that_loosens_the_lock_needs_a_confirmation_and_is_audited(exported, tmp_path, capsys, edit, loosened):
    db, doc = exported
    edit(doc)
    f = _write(tmp_path, doc)
    capsys.readouterr()
    assert main(["profiles", "import", f, "--name", "bob"]) == 4  # not a terminal, no --yes
    err = capsys.readouterr().err
    assert loosened in err and "add --yes" in err
    with Store(db) as s:
        assert not s.has_profile("bob")
    assert main(["profiles", "import", f, "--name", "bob", "--yes"]) == 0
    with Store(db) as s:
        row = s.audit(decision="profile_imported")[0]
        assert row.profile == "bob" and row.detail["confirmed"] is True
        assert any(loosened in x for x in row.detail["loosened"]) and row.detail["via"] == "cli"


def test_an_unchanged_export_imports_without_a_question(exported, tmp_path):
    db, doc = exported
    assert main(["profiles", "import", _write(tmp_path, doc), "--name", "bob"]) == 0
    with Store(db) as s:
        assert "confirmed" not in s.audit(decision="profile_imported")[0].detail


def _crop(w, h):
    _ok, buf = cv2.imencode(".png", np.zeros((h, w), np.uint8))
    return base64.b64encode(buf.tobytes()).decode()


def test_crops_are_capped_from_their_headers(exported, tmp_path, capsys):
    db, doc = exported
    one = dict(doc, references=[dict(doc["references"][0], crop_png=_crop(4096, 4096))])
    assert main(["profiles", "import", _write(tmp_path, one), "--name", "bob"]) == 4
    assert "a reference crop is 4096x4096 pixels" in capsys.readouterr().err
    many = dict(doc, references=[dict(doc["references"][0], crop_png=_crop(4000, 3000)) for _ in range(6)])
    assert main(["profiles", "import", _write(tmp_path, many, "many.json"), "--name", "bob"]) == 4
    assert "more than 64 MP together" in capsys.readouterr().err
    with Store(db) as s:
        assert not s.has_profile("bob")


def test_the_app_asks_before_a_loosening_import_and_audits_it(qtbot, ctx, videos, tmp_path):
    from PySide6.QtWidgets import QMessageBox
    from ui_support import enroll_from_video, make_window, on_modal

    enroll_from_video(ctx, videos["three"], "alice", count=2)
    f = tmp_path / "alice.json"
    ctx.store.export_profile("alice", f)
    doc = json.loads(f.read_text())
    doc["policy"] = {"lockout_after": 100}
    loose = _write(tmp_path, doc, "loose.json")
    win = make_window(qtbot, ctx, videos["three"])
    asked = []

    def answer(no_or_yes):
        def act(w):
            asked.append(w.text())
            w.button(no_or_yes).click()

        return act

    on_modal(answer(QMessageBox.StandardButton.No))
    win.import_profile(loose)  # a loosening file is asked about before anything else
    assert asked and "lockout_after 100" in asked[0]
    assert not ctx.store.audit(decision="profile_imported")
    ctx.store.remove_profile("alice")
    on_modal(answer(QMessageBox.StandardButton.Yes))
    win.import_profile(loose)
    row = ctx.store.audit(decision="profile_imported")[0]
    assert row.detail["confirmed"] is True and row.detail["via"] == "app"
    assert ctx.store.get_profile("alice").policy == {"lockout_after": 100}
    win.close()


def test_a_file_of_numbers_is_refused_before_it_fills_memory(exported, tmp_path, capsys):
    """The embeddings are never read, but a JSON parser builds every number: a 64 MiB file of
    them took about 1 GB (benchmarks/bench_input_memory.py); parsing stops at 5 million."""
    db, doc = exported
    doc["references"][0]["embedding"] = [0] * 5_000_001
    assert main(["profiles", "import", _write(tmp_path, doc), "--name", "bob"]) == 4
    assert "more than 5,000,000 numbers" in capsys.readouterr().err
    with Store(db) as s:
        assert not s.has_profile("bob")
