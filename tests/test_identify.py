"""Identify (desktop_app/core/identify.py, `twinlock identify`) on the shipped model through
ONNX Runtime, with synthetic digit photos and the shipped digit gallery."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import symbol_sheets as S
from desktop_app.cli.main import main
from desktop_app.core.embedder import Embedder
from desktop_app.core.gallery import embedded_gallery
from desktop_app.core.identify import identify, nearest
from desktop_app.core.paths import DEFAULT_MODEL
from desktop_app.core.preprocess import prepare_image


@pytest.fixture(scope="module")
def shipped():
    return Embedder(DEFAULT_MODEL, "cpu")


@pytest.mark.parametrize("model", ["twinlock-default.onnx", "twinlock-digits.onnx"])
def test_synthetic_digits_are_labelled(model, tmp_path):
    path = DEFAULT_MODEL.parent / model
    assert path.is_file(), f"{model} is not shipped"
    shipped = Embedder(path, "cpu")
    eg = embedded_gallery(shipped, db=tmp_path / "db.sqlite3")
    m = eg.gallery.kinds == "digit"
    imgs = np.stack([prepare_image(S.digit(d, s)).image for d in range(10) for s in range(2)])
    truth = [str(d) for d in range(10) for _ in range(2)]
    res = identify(shipped.embed_images(imgs), eg.embeddings[m], eg.gallery.labels[m], eg.gallery.kinds[m])
    got = [r.label for r in res]
    assert got == truth
    for r in res:
        assert r.distance < r.next_distance and r.next_label != r.label
        assert r.matches[0].label == r.label and r.matches[0].distance == pytest.approx(r.distance)
        assert (
            r.sentence()
            == f"this is a {r.label} (distance {r.distance:.2f}; next: {r.next_label} at {r.next_distance:.2f})"
        )


def test_identify_and_nearest_on_known_points():
    g = np.array([[0, 0], [1, 0], [5, 0], [5.2, 0]], np.float32)
    labels = ["a", "a", "b", "b"]
    r = identify(np.array([[4.0, 0]]), g, labels, top=3)[0]
    assert (r.label, r.next_label) == ("b", "a")
    assert r.distance == pytest.approx(1.0) and r.next_distance == pytest.approx(3.0)
    assert [m.index for m in r.matches] == [2, 3, 1]
    idx, dist = nearest(np.array([[4.0, 0], [0.2, 0]]), g, k=2)
    assert idx.tolist() == [[2, 3], [0, 1]] and dist[1].tolist() == pytest.approx([0.2, 0.8])
    assert identify(np.zeros((1, 2)), np.zeros((0, 2)), [])[0].label is None
    one = identify(np.zeros((1, 2)), g[:2], ["a", "a"])[0]
    assert one.label == "a" and one.next_label is None and one.sentence() == "this is a a (distance 0.00)"


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    monkeypatch.setenv("TWINLOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TWINLOCK_DB", str(tmp_path / "home" / "db.sqlite3"))
    return tmp_path


def test_cli_identify_json_and_text(cli_env, capsys):
    files = []
    for d in (3, 7):
        p = cli_env / f"d{d}.png"
        cv2.imwrite(str(p), S.digit(d, 1))
        files.append(str(p))
    blank = cli_env / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 235, np.uint8))
    assert main(["identify", *files, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["gallery"].endswith("shipped MNIST digits")
    assert [r["label"] for r in doc["results"]] == ["3", "7"]
    assert all(len(r["matches"]) == 5 and r["matches"][0]["kind"] == "digit" for r in doc["results"])
    assert (cli_env / "home" / "cache").is_dir()  # cached beside the database
    assert main(["identify", files[1], str(blank)]) == 2  # one image without a symbol
    out = capsys.readouterr().out
    assert f"{files[1]}: this is a 7 (distance" in out and "blank.png: no symbol: " in out and "no ink found" in out
    assert main(["identify", str(cli_env / "missing.png")]) == 2
    assert "no such file" in capsys.readouterr().out


def test_cli_identify_with_a_user_gallery(cli_env, capsys):
    gal = cli_env / "mine"
    for lab, fn in (("seven", S.seven), ("spirals", S.crossed_spirals)):
        (gal / lab).mkdir(parents=True)
        for i in range(3):
            cv2.imwrite(str(gal / lab / f"{i}.png"), fn(i))
    probe = cli_env / "probe.png"
    cv2.imwrite(str(probe), S.crossed_spirals(7))
    assert main(["identify", str(probe), "--gallery", str(gal), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)["results"][0]
    assert r["label"] == "spirals" and r["next_label"] == "seven" and r["distance"] < r["next_distance"]
    assert main(["identify", str(probe), "--gallery", str(cli_env / "nowhere")]) == 4
    assert "is not a folder" in capsys.readouterr().err
