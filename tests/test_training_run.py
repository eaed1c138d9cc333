"""Short real training runs on a small synthetic digit set (no MNIST): learning, resume,
checkpoint contents, evaluate, and the CLI in a subprocess."""

import gzip
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.checkpoint import load_checkpoint
from training.train import TrainConfig, train

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)


def synth_digits(n_per_class: int, seed: int):
    """Digits drawn with OpenCV fonts, random font/scale/rotation/offset, 28x28 white on black."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for d in range(10):
        for _ in range(n_per_class):
            img = np.zeros((56, 56), np.uint8)
            font = FONTS[rng.integers(len(FONTS))]
            cv2.putText(
                img,
                str(d),
                (14 + int(rng.integers(-3, 4)), 44 + int(rng.integers(-3, 4))),
                font,
                1.6 + rng.uniform(-0.2, 0.2),
                255,
                int(rng.integers(2, 5)),
                cv2.LINE_AA,
            )
            m = cv2.getRotationMatrix2D((28, 28), rng.uniform(-12, 12), 1.0)
            img = cv2.warpAffine(img, m, (56, 56))
            xs.append(cv2.resize(img, (28, 28), interpolation=cv2.INTER_AREA))
            ys.append(d)
    order = rng.permutation(len(ys))
    return np.stack(xs)[order], np.array(ys, np.uint8)[order]


@pytest.fixture(scope="module")
def data():
    return synth_digits(50, 0), synth_digits(20, 1)


def cfg(tmp_path, **kw):
    base = dict(
        epochs=3,
        batch_size=64,
        width=4,
        embedding_dim=16,
        val_size=100,
        val_eer_size=100,
        lr=5e-3,
        out_dir=str(tmp_path / "run"),
        threads=1,
    )
    base.update(kw)
    return TrainConfig(**base)


def test_twin_learns_far_above_chance_and_checkpoint_holds_everything(tmp_path, data):
    (x, y), _ = data
    res = train(
        cfg(tmp_path, epochs=5, batch_size=32, augment=False), images=x, labels=y, progress=False, log=lambda m: None
    )
    h = res["history"]
    assert len(h) == 5
    assert h[0]["val_accuracy"] < h[-1]["val_accuracy"]
    assert h[-1]["val_accuracy"] > 0.9  # chance is 0.5
    assert h[-1]["val_eer"] < 0.1
    out = tmp_path / "run"
    for name in ("best.pt", "last.pt", "metrics.json", "curves.png"):
        assert (out / name).stat().st_size > 0
    ck = load_checkpoint(out / "best.pt")
    for k in (
        "arch",
        "model_kwargs",
        "state_dict",
        "config",
        "metrics",
        "class_split",
        "val_indices",
        "epoch",
        "optimizer",
        "scheduler",
        "rng",
        "versions",
        "created",
    ):
        assert k in ck, k
    for k in (
        "mean",
        "std",
        "margin",
        "epochs",
        "seed",
        "batch_size",
        "embedding_dim",
        "normalized",
        "holdout_classes",
        "data_dir",
        "recipe",
    ):
        assert k in ck["config"], k
    assert ck["config"]["normalized"] is True and len(ck["val_indices"]) == 100
    assert ck["epoch"] == res["best"]["epoch"]
    assert json.loads((out / "metrics.json").read_text())["best"]["epoch"] == res["best"]["epoch"]


def test_resume_continues_from_saved_epoch_and_matches_uninterrupted(tmp_path, data, monkeypatch):
    (x, y), _ = data
    quiet = dict(images=x, labels=y, progress=False, log=lambda m: None)
    train(cfg(tmp_path / "ref", max_train=200), **quiet)  # 3 epochs in one go

    import training.train as T

    orig = T.save_checkpoint

    def stop_after_two(path, **f):  # "Ctrl-C" after epoch 2 is saved
        orig(path, **f)
        if str(path).endswith("last.pt") and f["epoch"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(T, "save_checkpoint", stop_after_two)
    part = cfg(tmp_path / "b", max_train=200)
    with pytest.raises(KeyboardInterrupt):
        train(part, **quiet)
    monkeypatch.setattr(T, "save_checkpoint", orig)
    last = tmp_path / "b" / "run" / "last.pt"
    assert load_checkpoint(last)["epoch"] == 2

    msgs = []
    res = train(part, images=x, labels=y, resume=last, progress=False, log=msgs.append)
    assert any("epoch 3/3" in m for m in msgs) and not any("epoch 1/3" in m for m in msgs)
    assert [h["epoch"] for h in res["history"]] == [1, 2, 3]
    a = load_checkpoint(last)["state_dict"]
    b = load_checkpoint(tmp_path / "ref" / "run" / "last.pt")["state_dict"]
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-5), k


def test_seed_arch_trains_on_sampled_pairs(tmp_path, data):
    (x, y), _ = data
    res = train(
        cfg(tmp_path, arch="seed", epochs=1, batch_size=16, max_train=200),
        images=x,
        labels=y,
        progress=False,
        log=lambda m: None,
    )
    ck = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ck["arch"] == "seed" and ck["config"]["mean"] == 0.0 and ck["config"]["std"] == 1.0
    assert ck["config"]["normalized"] is False and ck["config"]["embedding_dim"] == 10
    assert res["history"][0]["val_accuracy"] > 0.6


def _write_idx(path, a):
    a = np.asarray(a, np.uint8)
    head = bytes([0, 0, 8, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape)
    path.write_bytes(gzip.compress(head + a.tobytes()))


def test_cli_train_holdout_then_evaluate(tmp_path, data):
    (x, y), (xt, yt) = data
    d = tmp_path / "mnist"
    d.mkdir()
    _write_idx(d / "train-images-idx3-ubyte.gz", x)
    _write_idx(d / "train-labels-idx1-ubyte.gz", y)
    _write_idx(d / "t10k-images-idx3-ubyte.gz", xt)
    _write_idx(d / "t10k-labels-idx1-ubyte.gz", yt)
    out = tmp_path / "run"
    # the installed entry point's code path (python -m would make main.py "__main__")
    cmd = [sys.executable, "-c", "import sys; from desktop_app.cli.main import main; sys.exit(main())"]
    r = subprocess.run(
        cmd
        + [
            "train",
            "--data-dir",
            str(d),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--width",
            "4",
            "--embedding-dim",
            "16",
            "--batch-size",
            "64",
            "--val-size",
            "100",
            "--holdout-classes",
            "8,9",
            "--threads",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "best epoch" in r.stdout
    ck = load_checkpoint(out / "best.pt")
    assert ck["class_split"] == {"train_classes": list(range(8)), "holdout_classes": [8, 9]}
    assert not np.isin(y[ck["val_indices"]], [8, 9]).any()
    r = subprocess.run(
        cmd + ["evaluate", str(out / "best.pt"), "--json", str(tmp_path / "e.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((tmp_path / "e.json").read_text())
    assert "unseen digits [8, 9]" in r.stdout and "FRR at FAR 0.001" in r.stdout
    assert res["test_pairs"] == 400 and 0.5 < res["pair_accuracy"] <= 1
    n8 = int(np.isin(yt, [8, 9]).sum())
    assert (
        res["holdout"]["all_pairs"]["genuine"] + res["holdout"]["all_pairs"]["impostor"]
        == n8 * (len(yt) - n8) + n8 * (n8 - 1) // 2
    )
    # resume of a finished run: nothing to do; stretching its one-cycle schedule: refused clearly
    r = subprocess.run(cmd + ["train", "--resume", str(out / "last.pt")], capture_output=True, text=True)
    assert r.returncode == 0 and "nothing to do" in r.stdout
    r = subprocess.run(
        cmd + ["train", "--resume", str(out / "last.pt"), "--epochs", "3"], capture_output=True, text=True
    )
    assert r.returncode == 4 and "one-cycle" in r.stderr and "Traceback" not in r.stderr
    # bad input: a clear message and exit status 4, no traceback
    for extra, words in (
        (["--camera-data", str(tmp_path / "missing.npz")], "not found"),
        (["--camera-data", str(tmp_path / "missing.npz"), "--camera-fraction", "1.5"], "--camera-fraction"),
    ):
        r = subprocess.run(
            cmd
            + ["train", "--data-dir", str(d), "--out", str(tmp_path / "r3"), "--epochs", "1", "--val-size", "100"]
            + extra,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 4 and words in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    r = subprocess.run(cmd + ["evaluate", str(tmp_path / "missing.pt")], capture_output=True, text=True)
    assert r.returncode == 4 and "not found" in r.stderr and "Traceback" not in r.stderr
    (d / "t10k-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    r = subprocess.run(cmd + ["evaluate", str(out / "best.pt")], capture_output=True, text=True)
    assert r.returncode == 4 and "t10k-labels" in r.stderr and "Traceback" not in r.stderr


def test_cli_without_torch_says_how_to_install(tmp_path):
    code = (
        "import sys; sys.modules['torch'] = None\n"  # makes `import torch` fail
        "from desktop_app.cli.main import main, build_parser\n"
        "build_parser()\n"
        "assert 'training' not in sys.modules\n"
        "sys.exit(main(['evaluate', 'x.pt']))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 4, r.stderr
    assert 'pip install -e ".[train]"' in r.stderr and "Traceback" not in r.stderr


def test_camera_data_build_train_and_leak_refusal(tmp_path, data):
    """Camera-like renders of training digits (and the non-digit frames camera_data keeps),
    through the real preprocess; a run trains on them and refuses renders of its own
    validation images."""
    from training import camera_data as C
    from training.pairs import validation_split

    (x, y), _ = data
    c = cfg(tmp_path, epochs=2, batch_size=32, val_size=100)
    tr, va = validation_split(len(y), c.val_size, c.seed)
    d = C.build(x, y, tr[:40], n_junk=24, seed=3, workers=1, progress=False)
    assert 30 <= len(d["images"]) <= 40 and d["images"].shape[1:] == (28, 28)
    assert np.array_equal(d["labels"], y[d["sources"]].astype(np.int64))
    assert len(d["junk"]) >= 5  # printed text/shapes taken as a symbol
    assert not np.isin(d["sources"], va).any()
    path = tmp_path / "cam.npz"
    C.save(path, d)
    back = C.load(path)
    assert np.array_equal(back["images"], d["images"])

    res = train(
        TrainConfig(**{**c.__dict__, "camera_data": str(path)}), images=x, labels=y, progress=False, log=lambda m: None
    )
    assert len(res["history"]) == 2 and np.isfinite(res["history"][-1]["train_loss"])
    ck = load_checkpoint(tmp_path / "run" / "best.pt")
    assert (
        ck["config"]["camera_data"] == str(path) and "camera-like renders of training digits" in ck["config"]["recipe"]
    )

    leaky = C.build(x, y, va[:5], n_junk=0, seed=3, workers=1, progress=False)
    C.save(tmp_path / "leaky.npz", leaky)
    with pytest.raises(ValueError, match="validation images"):
        train(
            TrainConfig(**{**c.__dict__, "camera_data": str(tmp_path / "leaky.npz"), "out_dir": str(tmp_path / "r2")}),
            images=x,
            labels=y,
            progress=False,
            log=lambda m: None,
        )
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="damaged"):
        C.load(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="not found.*training.camera_data"):
        C.load(tmp_path / "missing.npz")
