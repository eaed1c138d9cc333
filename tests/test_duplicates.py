"""Near-duplicates (desktop_app/core/duplicates.py, `twinlock duplicates`): planted copies
(shifted, re-scaled, re-encoded) among distinct glyphs, found through the real preprocessing,
the shipped model in ONNX Runtime and real files."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import symbol_sheets as S
from desktop_app.cli.main import main
from desktop_app.core.duplicates import close_pairs, components, contact_sheet, find_duplicates
from desktop_app.core.gallery import load_gallery
from desktop_app.core.metrics import pairwise_distances


def _distinct_glyphs():
    """45 different symbols from the shipped gallery: Omniglot characters, letters, shapes."""
    from desktop_app.core.preprocess import prepare_image

    g = load_gallery()
    usable = [
        i
        for i in np.flatnonzero(g.kinds == "Omniglot character")[::29]
        if prepare_image(S.from_model_form(g.images[i])).ok
    ]  # a few have specks: "noise"
    caps = [int(np.flatnonzero((g.kinds == "capital letter") & (g.labels == c))[0]) for c in "ABEFGKLMPRSVWYZ"]
    return [g.images[i] for i in [*usable[:30], *caps]]


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    monkeypatch.setenv("TWINLOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TWINLOCK_DB", str(tmp_path / "home" / "db.sqlite3"))
    root = tmp_path / "symbols"
    (root / "sub").mkdir(parents=True)
    glyphs = _distinct_glyphs()
    for k, im in enumerate(glyphs):
        cv2.imwrite(str(root / f"g{k:02d}.png"), S.from_model_form(im))
    planted = {}
    for k, (dx, dy, sc, q) in zip(
        (0, 7, 20, 33, 40),
        [(25, -10, 1.0, None), (0, 0, 1.35, None), (0, 0, 1.0, 35), (-20, 15, 0.8, 50), (10, 10, 1.2, 40)],
    ):
        name = f"sub/copy_of_{k:02d}.jpg" if q else f"sub/copy_of_{k:02d}.png"
        img = S.from_model_form(glyphs[k], offset=(dx, dy), scale=sc, jpeg=q)
        cv2.imwrite(str(root / name), img)
        planted[k] = {f"g{k:02d}.png", name}
    # one glyph with three copies
    for j, (dx, sc) in enumerate([(-15, 1.1), (15, 0.9)]):
        cv2.imwrite(str(root / f"sub/more_{j}.png"), S.from_model_form(glyphs[7], offset=(dx, 0), scale=sc))
        planted[7].add(f"sub/more_{j}.png")
    cv2.imwrite(str(root / "blank.png"), np.full((120, 120, 3), 240, np.uint8))
    return root, planted


def test_cli_finds_the_planted_copies_and_nothing_else(folder, tmp_path, capsys):
    root, planted = folder
    sheets = tmp_path / "sheets"
    assert main(["duplicates", str(root), "--json", "--sheet", str(sheets)]) == 0
    doc = json.loads(capsys.readouterr().out)
    found = sorted(sorted(g["files"]) for g in doc["groups"])
    assert found == sorted(sorted(s) for s in planted.values())
    assert [s["file"].endswith("blank.png") for s in doc["skipped"]] == [True], doc["skipped"]
    assert doc["images"] == 45 + 5 + 2
    pngs = sorted(sheets.glob("group-*.png"))
    assert len(pngs) == len(planted)
    first = cv2.imread(str(pngs[0]))
    assert first is not None and first.shape[1] == 128 * 4  # the 4-member group first
    assert main(["duplicates", str(root)]) == 0
    out = capsys.readouterr().out
    assert "52 image(s) compared" in out and f"{len(planted)} group(s) of near-duplicates" in out
    assert "group 1 (4 images" in out


def test_cli_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TWINLOCK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TWINLOCK_DB", str(tmp_path / "home" / "db.sqlite3"))
    assert main(["duplicates", str(tmp_path / "nope")]) == 4
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["duplicates", str(tmp_path / "empty")]) == 4
    assert "holds no image files" in capsys.readouterr().err
    cv2.imwrite(str(tmp_path / "empty" / "a.png"), S.seven(0))
    assert main(["duplicates", str(tmp_path / "empty"), "--threshold", "-1"]) == 4
    assert "--threshold must be a positive number" in capsys.readouterr().err


@pytest.mark.parametrize("search_dim,grid", [(None, False), (8, False), (None, True), (8, True)])
def test_close_pairs_is_exact(search_dim, grid, monkeypatch):
    import desktop_app.core.duplicates as dup

    if grid:  # the binned search that large sets use
        monkeypatch.setattr(dup, "GRID_MIN", 100)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1500, 24)).astype(np.float32)
    x[700:705] = x[3] + 0.05 * rng.normal(size=(5, 24))
    x[1499] = x[0]
    i, j, d = close_pairs(x, 2.5, block=256, search_dim=search_dim)  # blocks cut the copies apart
    D = pairwise_distances(x, x)
    ti, tj = np.nonzero(np.triu(D <= 2.5, 1))
    assert set(zip(i.tolist(), j.tolist())) == set(zip(ti.tolist(), tj.tolist())) and len(ti) >= 16
    assert np.allclose(d, np.linalg.norm(x[i] - x[j], axis=1), atol=1e-5) and (i < j).all()


def test_components_and_groups():
    lab = components(7, np.array([0, 5, 2, 4]), np.array([3, 6, 3, 6]))
    assert lab[0] == lab[2] == lab[3] and lab[4] == lab[5] == lab[6] and lab[1] not in (lab[0], lab[4])
    e = np.array([[0, 0], [10, 0], [0.1, 0], [10.05, 0], [20, 0], [0.15, 0]], np.float32)
    groups = find_duplicates(e, 0.2)
    assert [g.members for g in groups] == [[0, 2, 5], [1, 3]]
    assert groups[0].max_distance == pytest.approx(0.15, abs=1e-6)
    assert find_duplicates(np.zeros((0, 4), np.float32), 0.1) == []
    # a chain of merely similar images: grouped around a leader, or all together with chain=True
    line = np.array([[0, 0], [0.15, 0], [0.3, 0], [0.45, 0]], np.float32)
    assert [g.members for g in find_duplicates(line, 0.2)] == [[0, 1, 2]]
    assert [g.members for g in find_duplicates(line, 0.2, chain=True)] == [[0, 1, 2, 3]]


def test_contact_sheet_layout():
    imgs = [np.full((28, 28), 255, np.uint8), np.zeros((50, 80, 3), np.uint8), np.full((10, 10), 128, np.uint8)]
    sheet = contact_sheet(imgs, ["a", "b", "c"], cols=2, cell=64)
    assert sheet.shape == (2 * (64 + 16), 128, 3) and sheet.dtype == np.uint8
    assert sheet[32, 32].tolist() == [255, 255, 255] and sheet[32, 96].tolist() == [0, 0, 0]
