"""Bounded cost for any input. Every image is sized from its header before
it is decoded (a format whose header cannot be read without decoding is refused), a large
photo is scaled down before any float copy, the attempt's time limit applies to
`verify --image`, and an import caps each crop and the file's total pixels. Peak memory is
measured in benchmarks/bench_input_memory.py (docs/benchmarks.md)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from desktop_app.cli.main import main
from desktop_app.core.preprocess import load_image
from desktop_app.core.preprocess.loading import WORK_MEGAPIXELS, ImageError, image_file_size
from desktop_app.core.store import Store
from training.camera_sim import render_frame
from pixel_model import make_pixel_model


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("bounds")
    a = {"dir": d, "model": make_pixel_model(d / "pixel.onnx"), "enroll": []}
    for i in range(3):
        p = d / f"three_{i}.png"
        cv2.imwrite(str(p), render_frame(3, seed=300 + i))
        a["enroll"].append(str(p))
    p = d / "probe3.png"
    cv2.imwrite(str(p), render_frame(3, seed=404))
    a["d3"] = str(p)
    return a


@pytest.fixture
def db(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("TWINLOCK_MODEL", str(assets["model"]))
    monkeypatch.delenv("TWINLOCK_PASSPHRASE", raising=False)
    p = tmp_path / "db.sqlite3"
    monkeypatch.setenv("TWINLOCK_DB", str(p))
    assert main(["enroll", "alice", *assets["enroll"], "--allow-weak"]) == 0
    return p


def test_a_format_whose_header_cannot_be_read_is_refused_undecoded(tmp_path):
    """Radiance .hdr: OpenCV decodes it, Pillow cannot size it -- so it is never decoded (a
    25 MB file declaring 20000x20000 took 9.5 GB before)."""
    p = tmp_path / "small.hdr"
    assert cv2.imwrite(str(p), np.full((64, 64, 3), 0.5, np.float32))
    assert cv2.imread(str(p), cv2.IMREAD_UNCHANGED) is not None  # a readable image to OpenCV
    for read in (load_image, image_file_size):
        with pytest.raises(ImageError, match="header could not be read.*save it as PNG or JPEG"):
            read(p)


def test_a_declared_size_is_refused_before_decoding(tmp_path):
    p = tmp_path / "huge.hdr"
    p.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 20000 +X 20000\n" + b"\x02\x02\x4e\x20" * 1000)
    with pytest.raises(ImageError, match="header could not be read"):
        load_image(p)


def test_a_large_photo_is_scaled_down_to_the_working_size(tmp_path):
    h, w = 3000, 5000  # 15 MP > WORK_MEGAPIXELS
    img = np.full((h, w), 230, np.uint16)
    img[1000:2000, 2000:2300] = 20
    p = tmp_path / "big16.png"
    assert cv2.imwrite(str(p), img * 257)  # 16-bit: the float path
    out = load_image(p)
    assert out.dtype == np.uint8 and out.shape[2] == 3
    assert out.shape[0] * out.shape[1] <= WORK_MEGAPIXELS * 1e6
    assert out.shape[1] / out.shape[0] == pytest.approx(w / h, rel=0.01)
    assert out[out.shape[0] // 2, int(out.shape[1] * 0.43), 0] < 60  # the ink is still there
    assert image_file_size(p) == (w, h)


def test_the_time_limit_applies_to_verify_image(assets, db, capsys):
    """The attempt's clock runs from its start on the wall clock, decoding included (before,
    image files ran on a make-believe clock of 0.1 s per image and never timed out)."""
    capsys.readouterr()
    assert main(["verify", "alice", "--image", assets["d3"]]) == 0
    capsys.readouterr()
    rc = main(["verify", "alice", "--image", assets["d3"], "--time-limit", "1e-9", "--json", "--debug"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 2 and out["decision"] == "no_symbol" and "time limit" in out["reason"], out
    # anyone may read why nothing was acquired: no frame was judged, so it tells no verdict
    assert main(["verify", "alice", "--image", assets["d3"], "--time-limit", "1e-9"]) == 2
    assert "time limit" in capsys.readouterr().out
    with Store(db) as s:
        assert s.audit()[0].decision == "no_symbol"  # recorded, never left pending
