"""IDX reader and MNIST downloader against small synthetic files and a local HTTP server."""

import functools
import gzip
import hashlib
import http.server
import threading

import numpy as np
import pytest

from desktop_app.core.idx import IdxError, read_idx, read_images, read_labels, read_pair


def idx_bytes(a: np.ndarray, magic_type=0x08) -> bytes:
    a = np.asarray(a, dtype=np.uint8)
    head = bytes([0, 0, magic_type, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    return head + a.tobytes()


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (5, 28, 28), dtype=np.uint8), np.array([0, 3, 9, 1, 1], np.uint8)


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_raw_and_gzip(tmp_path, arrays, gz):
    x, y = arrays
    wrap = gzip.compress if gz else (lambda b: b)
    (tmp_path / "img").write_bytes(wrap(idx_bytes(x)))
    (tmp_path / "lab").write_bytes(wrap(idx_bytes(y)))
    rx, ry = read_pair(tmp_path / "img", tmp_path / "lab")
    assert rx.dtype == np.uint8 and rx.shape == (5, 28, 28)
    np.testing.assert_array_equal(rx, x)
    np.testing.assert_array_equal(ry, y)
    rx[0, 0, 0] = 1  # writable


def test_truncated_file_names_the_file(tmp_path, arrays):
    p = tmp_path / "train-images.idx"
    p.write_bytes(idx_bytes(arrays[0])[:-100])
    with pytest.raises(IdxError, match=r"train-images\.idx.*truncated"):
        read_images(p)
    p.write_bytes(b"\x00\x00")
    with pytest.raises(IdxError, match="too short"):
        read_idx(p)


def test_corrupt_and_truncated_gzip(tmp_path, arrays):
    data = gzip.compress(idx_bytes(arrays[0]))
    p = tmp_path / "x.gz"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(IdxError, match=r"x\.gz.*gzip"):
        read_images(p)
    bad = bytearray(data)
    bad[20:40] = b"\xff" * 20
    p.write_bytes(bytes(bad))
    with pytest.raises(IdxError, match=r"x\.gz"):
        read_images(p)


def test_wrong_magic_and_shape(tmp_path, arrays):
    x, _y = arrays
    p = tmp_path / "labels"
    p.write_bytes(idx_bytes(x))  # an image file where labels are expected
    with pytest.raises(IdxError, match="wrong magic"):
        read_labels(p)
    p.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(IdxError, match="not an IDX"):
        read_idx(p)
    p.write_bytes(idx_bytes(np.zeros((2, 32, 32), np.uint8)))
    with pytest.raises(IdxError, match="32x32, expected 28x28"):
        read_images(p)
    p.write_bytes(idx_bytes(np.array([1, 12], np.uint8)))
    with pytest.raises(IdxError, match="out of range"):
        read_labels(p)


def test_count_mismatch_and_missing(tmp_path, arrays):
    x, y = arrays
    (tmp_path / "img").write_bytes(idx_bytes(x))
    (tmp_path / "lab").write_bytes(idx_bytes(y[:4]))
    with pytest.raises(IdxError, match="count mismatch.*5 images.*4 labels"):
        read_pair(tmp_path / "img", tmp_path / "lab")
    with pytest.raises(IdxError, match="not found"):
        read_images(tmp_path / "nothing")


# ---------------------------------------------------------------- downloader


@pytest.fixture
def server(tmp_path):
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


def _publish(root, arrays):
    from training import mnist

    x, y = arrays
    blobs = {}
    for split in ("train", "test"):
        img, lab = mnist.FILES[split]
        blobs[img] = gzip.compress(idx_bytes(x))
        blobs[lab] = gzip.compress(idx_bytes(y))
    for name, b in blobs.items():
        (root / name).write_bytes(b)
    return {name: hashlib.md5(b).hexdigest() for name, b in blobs.items()}


def test_download_verifies_md5_and_loads(tmp_path, server, arrays, monkeypatch):
    from training import mnist

    root, url = server
    md5 = _publish(root, arrays)
    monkeypatch.setattr(mnist, "MD5", md5)
    data = tmp_path / "data"
    x, _y = mnist.load_mnist(data, "train", mirrors=("http://127.0.0.1:9/dead/", url))
    np.testing.assert_array_equal(x, arrays[0])
    assert sorted(p.name for p in data.iterdir()) == sorted(mnist.FILES["train"])


def test_download_checksum_mismatch_leaves_nothing(tmp_path, server, arrays, monkeypatch):
    from training import mnist

    root, url = server
    md5 = _publish(root, arrays)
    md5["train-images-idx3-ubyte.gz"] = "0" * 32  # the published sum disagrees
    monkeypatch.setattr(mnist, "MD5", md5)
    data = tmp_path / "data"
    with pytest.raises(mnist.DownloadError, match="checksum mismatch"):
        mnist.load_mnist(data, "train", mirrors=(url,))
    assert list(data.iterdir()) == []


def test_env_var_chooses_data_dir(tmp_path, monkeypatch):
    from training import mnist

    monkeypatch.setenv("TWINLOCK_DATA_DIR", str(tmp_path / "env"))
    assert mnist.resolve_data_dir() == tmp_path / "env"
    assert mnist.resolve_data_dir(tmp_path / "cli") == tmp_path / "cli"


def test_mnist_files_are_found_gzipped_or_decompressed_by_the_app_and_training_alike(tmp_path):
    from desktop_app.core.calibration import CalibrationError, load_mnist_dir
    from desktop_app.core.idx import MNIST_FILES, find_mnist_file
    from training import mnist

    x = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    y = np.array([3, 7], np.uint8)
    img, lab = MNIST_FILES["test"]
    (tmp_path / img).write_bytes(gzip.compress(idx_bytes(x)))  # images as published
    (tmp_path / lab.removesuffix(".gz")).write_bytes(idx_bytes(y))  # labels decompressed
    assert find_mnist_file(tmp_path, img) == tmp_path / img
    assert find_mnist_file(tmp_path, lab) == tmp_path / "t10k-labels-idx1-ubyte"
    assert find_mnist_file(tmp_path, MNIST_FILES["train"][0]) is None
    for xs, ys in (load_mnist_dir(tmp_path, "test"), mnist.load_mnist(tmp_path, "test", download=False)):
        np.testing.assert_array_equal(xs, x)
        np.testing.assert_array_equal(ys, y)
    (tmp_path / img).write_bytes(idx_bytes(x[:1]))  # .gz first, even if both exist
    (tmp_path / img.removesuffix(".gz")).write_bytes(idx_bytes(x))
    with pytest.raises(IdxError, match="count mismatch"):
        mnist.load_mnist(tmp_path, "test", download=False)
    with pytest.raises(CalibrationError, match="holds no train-images-idx3-ubyte"):
        load_mnist_dir(tmp_path, "train")
