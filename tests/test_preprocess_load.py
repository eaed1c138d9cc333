"""load_image: every image file the app reads, and one clear ImageError for what it cannot read."""

import os

import cv2
import numpy as np
import pytest
from PIL import Image

from desktop_app.core.preprocess import MAX_IMAGE_MEGAPIXELS, ImageError, load_image


def test_reads_8bit_colour_and_gray(tmp_path):
    a = np.zeros((30, 40, 3), np.uint8)
    a[..., 2] = 200
    cv2.imwrite(str(tmp_path / "c.png"), a)
    img = load_image(tmp_path / "c.png")
    assert img.shape == (30, 40, 3) and img.dtype == np.uint8 and tuple(img[0, 0]) == (0, 0, 200)
    cv2.imwrite(str(tmp_path / "g.png"), np.full((20, 10), 77, np.uint8))
    g = load_image(tmp_path / "g.png")
    assert g.shape == (20, 10, 3) and int(g[5, 5, 0]) == 77


def test_transparency_is_composited_on_white(tmp_path):
    a = np.zeros((60, 80, 4), np.uint8)  # black everywhere, transparent except a square
    a[20:40, 30:50, 3] = 255
    cv2.imwrite(str(tmp_path / "a.png"), a)
    img = load_image(tmp_path / "a.png")
    assert img.shape == (60, 80, 3)
    assert tuple(img[0, 0]) == (255, 255, 255) and tuple(img[30, 40]) == (0, 0, 0)
    Image.fromarray(np.zeros((50, 50, 2), np.uint8), "LA").save(tmp_path / "la.png")
    assert tuple(load_image(tmp_path / "la.png")[10, 10]) == (255, 255, 255)


def test_16bit_is_scaled_not_clipped(tmp_path):
    b = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (8, 1))
    cv2.imwrite(str(tmp_path / "d.png"), b)
    img = load_image(tmp_path / "d.png")
    assert img.dtype == np.uint8 and img.shape == (8, 64, 3)
    assert int(img[0, 0, 0]) == 0 and int(img[0, -1, 0]) == 255 and 100 < int(img[0, 32, 0]) < 160


def test_exif_orientation_is_applied(tmp_path):
    im = Image.new("RGB", (60, 20), (255, 255, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    im.save(tmp_path / "o.jpg", exif=exif)
    assert load_image(tmp_path / "o.jpg").shape[:2] == (60, 20)


def _msg(path):
    with pytest.raises(ImageError) as ei:
        load_image(path)
    assert isinstance(ei.value, ValueError)  # callers catch ValueError
    return str(ei.value)


def test_clear_messages(tmp_path):
    assert "no such file" in _msg(tmp_path / "missing.png")
    assert "is a directory" in _msg(tmp_path)
    (tmp_path / "t.png").write_text("not an image")
    assert "not a PNG/JPEG" in _msg(tmp_path / "t.png")
    (tmp_path / "e.png").write_bytes(b"")
    assert "empty" in _msg(tmp_path / "e.png")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "f")
        assert "not a regular file (FIFO)" in _msg(tmp_path / "f")  # and does not block
    if os.path.exists("/dev/null"):
        assert "not a regular file (device)" in _msg("/dev/null")


def test_pixel_limit_refused_from_the_header(tmp_path):
    side = int((MAX_IMAGE_MEGAPIXELS * 1e6) ** 0.5) + 100
    Image.new("1", (side, side)).save(tmp_path / "big.png")  # tiny file, huge image
    m = _msg(tmp_path / "big.png")
    assert f"{side}\u00d7{side} pixels" in m and f"up to {MAX_IMAGE_MEGAPIXELS} megapixels" in m
    assert "scale it down" in m
