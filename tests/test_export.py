"""twinlock export on a small random twin tower: the written file, parity, calibration,
and every way export refuses (nothing written, an existing model kept byte for byte)."""

import gzip
from pathlib import Path

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")

from desktop_app.core import metrics
from desktop_app.core.contract import read_contract
from desktop_app.core.embedder import Embedder
from export.calibrate import calibration_set
from export.errors import ExportError
from export.pipeline import ExportOptions, export_checkpoint
from training.synthetic_digits import synthetic_digits
from training.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from training.model import build_model


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small models on a shared 2-core machine: one thread is many times faster than two."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


N_TRAIN, VAL = 300, np.arange(100, 260)  # 160 "validation" images of the fake training set


def write_idx(folder: Path, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    names = {
        "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
        "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
    }[split]
    n = len(images)
    head_i = (0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    head_l = (0x801).to_bytes(4, "big") + n.to_bytes(4, "big")
    (folder / names[0]).write_bytes(gzip.compress(head_i + images.astype(np.uint8).tobytes()))
    (folder / names[1]).write_bytes(gzip.compress(head_l + labels.astype(np.uint8).tobytes()))


@pytest.fixture(scope="module")
def fake_mnist(tmp_path_factory):
    """A synthetic MNIST folder (real IDX files): the calibration path runs end to end."""
    d = tmp_path_factory.mktemp("mnist")
    x, y = synthetic_digits(N_TRAIN, seed=11)
    write_idx(d, "train", x, y)
    xt, yt = synthetic_digits(50, seed=12)
    write_idx(d, "test", xt, yt)
    return d, x, y


def make_checkpoint(path, model, arch, kwargs, data_dir, val=VAL, **cfg_over):
    cfg = dict(
        mean=0.1307,
        std=0.3081,
        margin=1.0,
        epochs=0,
        seed=0,
        batch_size=64,
        embedding_dim=kwargs.get("embedding_dim"),
        normalized=bool(model.normalized),
        holdout_classes=[],
        data_dir=str(data_dir),
        recipe="test recipe",
    )
    cfg.update(cfg_over)
    return save_checkpoint(
        path,
        arch=arch,
        model_kwargs=kwargs,
        state_dict=model.state_dict(),
        config=cfg,
        metrics={"best": {"val_eer": 0.5}, "history": [1, 2, 3, 4, 5]},
        class_split={"train_classes": list(range(10)), "holdout_classes": []},
        val_indices=[int(i) for i in val] if val is not None else None,
        epoch=0,
    )


@pytest.fixture(scope="module")
def random_ckpt(tmp_path_factory, fake_mnist):
    torch.manual_seed(0)
    model = build_model("twin", embedding_dim=16, width=8)
    return make_checkpoint(
        tmp_path_factory.mktemp("ckpt") / "random.pt", model, "twin", {"embedding_dim": 16, "width": 8}, fake_mnist[0]
    )


@pytest.fixture(scope="module")
def exported(tmp_path_factory, random_ckpt, fake_mnist):
    dest = tmp_path_factory.mktemp("out") / "model.onnx"
    logs = []
    # camera calibration on a few probe images only: the mechanism, not the figures, is tested here
    result = export_checkpoint(
        random_ckpt,
        dest,
        ExportOptions(data_dir=fake_mnist[0], calib_count=None, progress=False, log=logs.append, camera_probes=40),
    )
    return result, dest, logs


def test_written_model_is_checked_self_contained_and_has_dynamic_batch(exported):
    result, dest, _ = exported
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.onnx"]  # no temp or data files
    onnx.checker.check_model(str(dest), full_check=True)
    m = onnx.load(str(dest))
    assert all(t.data_location != onnx.TensorProto.EXTERNAL for t in m.graph.initializer)
    (inp,), (out,) = m.graph.input, m.graph.output
    dims = inp.type.tensor_type.shape.dim
    assert inp.name == "image" and dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    assert out.name == "embedding" and out.type.tensor_type.shape.dim[1].dim_value == 16
    assert result.size_bytes == dest.stat().st_size
    # nothing about the exporting machine (stack traces, source paths) is baked into the file
    data = dest.read_bytes()
    assert b"stack_trace" not in data and b"site-packages" not in data and b"model.py" not in data


def test_contract_round_trip(exported, random_ckpt, fake_mnist):
    result, dest, _ = exported
    c = read_contract(dest)
    assert c.fingerprint == result.fingerprint
    assert (c.mean, c.std, c.scale) == (pytest.approx(0.1307), pytest.approx(0.3081), pytest.approx(1 / 255))
    assert c.embedding_dim == 16 and c.normalized is True and c.metric == "euclidean"
    assert c.raw["input"]["layout"] == "NCHW" and c.raw["input"]["polarity"] == "white_on_black"
    assert set(c.thresholds) == {"eer", "far_1e-3", "far_1e-4", "camera_far_1e-3", "camera_far_1e-4"}
    from export.calibrate import choose_default

    assert c.default_threshold_key == choose_default(c.thresholds)
    for key in ("camera_far_1e-3", "camera_far_1e-4"):  # measured on camera-like frames
        op = c.thresholds[key]
        assert "camera-like frames" in op["source"] and op["genuine"] > 0 and op["impostor"] > 0
        assert op["false_accepts"] <= max(0, int(float(key.rsplit("_", 1)[1]) * op["impostor"] + 1e-9))
    p = c.provenance
    assert p["recipe"] == "test recipe" and p["margin"] == 1.0 and p["seed"] == 0
    assert p["evaluation"] == {"best": {"val_eer": 0.5}}  # per-epoch history left out
    assert {"torch", "onnx", "onnxruntime"} <= set(p["versions"])
    import hashlib

    assert p["checkpoint"]["sha256"] == hashlib.sha256(Path(random_ckpt).read_bytes()).hexdigest()
    cal = p["calibration"]
    assert cal["source"] == "mnist-train-val" and cal["count"] == len(VAL)
    assert "not the test set" in cal["description"]
    n = len(VAL)
    assert cal["genuine_comparisons"] + cal["impostor_comparisons"] == n * (n - 1) // 2
    for key in ("eer", "far_1e-3", "far_1e-4"):
        op = c.thresholds[key]
        assert op["genuine"] == cal["genuine_comparisons"] and op["impostor"] == cal["impostor_comparisons"]
        assert op["false_rejects"] == round(op["frr"] * op["genuine"])
        assert isinstance(op["supported"], bool)


def test_parity_with_pytorch_at_batch_1_7_256(exported, random_ckpt, fake_mnist):
    _, dest, _ = exported
    model = model_from_checkpoint(load_checkpoint(random_ckpt))
    emb = Embedder(dest, preference="cpu")
    _, imgs, _ = fake_mnist
    rng = np.random.default_rng(5)
    for b in (1, 7, 256):
        for x in (
            rng.standard_normal((b, 1, 28, 28)).astype(np.float32),
            emb.normalize_pixels(imgs[np.arange(b) % len(imgs)]),
        ):
            with torch.no_grad():
                ref = model(torch.from_numpy(x)).numpy()
            assert np.max(np.abs(emb.embed(x) - ref)) <= 1e-5


def test_thresholds_are_calibrated_on_the_validation_images(exported, fake_mnist):
    """Recompute the thresholds independently from the val_indices images."""
    _, dest, _ = exported
    _, imgs, labels = fake_mnist
    emb = Embedder(dest, preference="cpu")
    gen, imp = metrics.all_pairs(emb.embed_images(imgs[VAL]), labels[VAL])
    c = read_contract(dest)
    rate, t = metrics.eer(gen, imp)
    assert c.thresholds["eer"]["eer"] == pytest.approx(rate) and c.thresholds["eer"]["threshold"] == pytest.approx(t)
    for key, far in (("far_1e-3", 1e-3), ("far_1e-4", 1e-4)):
        op = metrics.threshold_at_far(gen, imp, far)
        assert c.thresholds[key]["threshold"] == pytest.approx(op.threshold)
        assert c.thresholds[key]["frr"] == pytest.approx(op.frr)


def _scale_first_weight(model_proto):
    from onnx import numpy_helper

    init = max(model_proto.graph.initializer, key=lambda t: np.prod(t.dims))
    w = numpy_helper.to_array(init) * 1.01
    init.CopyFrom(numpy_helper.from_array(w.astype(np.float32), init.name))
    return model_proto


def test_parity_failure_writes_nothing_and_keeps_the_old_model(exported, random_ckpt, fake_mnist, tmp_path):
    """The export's own steps, with the graph damaged by hand between its export and the
    parity check: refused, and the step that writes is never reached."""
    from export import pipeline as P

    _, good, _ = exported
    dest = tmp_path / "model.onnx"
    dest.write_bytes(good.read_bytes())
    before = dest.read_bytes()
    opts = ExportOptions(data_dir=fake_mnist[0], calib_count=50, progress=False, log=lambda m: None)
    src = P.load_source(random_ckpt, opts.log)
    proto, dim, cases = P.build_graph(src, P.calibration_data(src, opts), opts)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ExportError) as exc:
        P.check_parity(src, _scale_first_weight(proto), dim, cases, work, opts)
    assert "parity check failed" in str(exc.value) and "nothing was written" in str(exc.value)
    assert dest.read_bytes() == before


def test_refusals_before_any_work(random_ckpt, fake_mnist, tmp_path):
    with pytest.raises(ExportError, match="must end in .onnx"):
        export_checkpoint(random_ckpt, tmp_path / "model.bin", ExportOptions(progress=False, log=lambda m: None))
    with pytest.raises(ExportError, match="is a folder"):
        (tmp_path / "dir.onnx").mkdir()
        export_checkpoint(random_ckpt, tmp_path / "dir.onnx", ExportOptions(progress=False, log=lambda m: None))
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ExportError, match="cannot write .*a_file/m.onnx"):
        export_checkpoint(
            random_ckpt, tmp_path / "a_file" / "m.onnx", ExportOptions(progress=False, log=lambda m: None)
        )
    with pytest.raises(ExportError, match="checkpoint not found"):
        export_checkpoint(
            tmp_path / "missing.pt", tmp_path / "m.onnx", ExportOptions(progress=False, log=lambda m: None)
        )
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ExportError, match="corrupt or not a PyTorch file"):
        export_checkpoint(bad, tmp_path / "m.onnx", ExportOptions(progress=False, log=lambda m: None))
    assert not (tmp_path / "m.onnx").exists()


def test_wrong_data_dir_and_no_fallback(tmp_path, fake_mnist):
    torch.manual_seed(1)
    model = build_model("twin", embedding_dim=8, width=4)
    ck = make_checkpoint(
        tmp_path / "c.pt", model, "twin", {"embedding_dim": 8, "width": 4}, tmp_path / "nowhere", val=[0, 1, 100000]
    )
    with pytest.raises(ExportError, match="val_indices run past the 300 images"):
        export_checkpoint(
            ck, tmp_path / "m.onnx", ExportOptions(data_dir=fake_mnist[0], progress=False, log=lambda m: None)
        )
    with pytest.raises(ExportError, match="cannot calibrate.*--data-dir"):
        export_checkpoint(
            ck, tmp_path / "m.onnx", ExportOptions(allow_synthetic=False, progress=False, log=lambda m: None)
        )
    assert not (tmp_path / "m.onnx").exists()


def test_synthetic_fallback_is_described(tmp_path):
    logs = []
    ckpt = {"config": {"data_dir": str(tmp_path / "nowhere")}, "val_indices": [1, 2, 3]}
    cs = calibration_set(ckpt, data_dir=None, count=40, log=logs.append)
    assert cs.images.shape == (40, 28, 28) and cs.images.dtype == np.uint8
    assert cs.description["source"] == "synthetic" and "fallback" in cs.description["description"]
    assert "could not be read" in cs.description["warning"]
    assert logs and "warning" in logs[0] and "synthetic" in logs[0]
    cs = calibration_set({"config": {}}, count=30, log=logs.append)
    assert "no validation images" in cs.description["warning"]


def test_never_the_test_set(fake_mnist, monkeypatch):
    """Calibration reads only the training split."""
    import training.mnist as mn

    seen = []
    real = mn.load_mnist

    def spy(data_dir=None, split="train", **kw):
        seen.append(split)
        return real(data_dir, split, **kw)

    monkeypatch.setattr(mn, "load_mnist", spy)
    cs = calibration_set({"config": {}, "val_indices": list(VAL)}, data_dir=fake_mnist[0], count=None)
    assert seen == ["train"] and len(cs.images) == len(VAL)
    np.testing.assert_array_equal(cs.images, fake_mnist[1][VAL])


# ---- the command line: twinlock export / twinlock model info -----------------------------


def test_cli_export_writes_model_and_card_and_is_deterministic(exported, random_ckpt, fake_mnist, tmp_path, capsys):
    import json
    from desktop_app.cli.main import main

    out = tmp_path / "cli.onnx"
    card = tmp_path / "cli.md"
    ev = tmp_path / "eval.json"
    ev.write_text(
        json.dumps(
            {
                "pair_accuracy": 0.987654,
                "threshold": 0.5,
                "test_pairs": 20000,
                "nn_accuracy": 0.99,
                "all_pairs": {
                    "eer": 0.0123,
                    "roc_auc": 0.9991,
                    "genuine": 10,
                    "impostor": 90,
                    "at_far": {"0.001": {"frr": 0.0456, "supported": True}},
                },
            }
        )
    )
    rc = main(
        [
            "export",
            str(random_ckpt),
            "-o",
            str(out),
            "--data-dir",
            str(fake_mnist[0]),
            "--calib-count",
            "0",
            "--no-progress",
            "--card",
            str(card),
            "--eval-json",
            str(ev),
            "--reproduce",
            "twinlock train --out runs/x",
            "--no-camera-calibration",
            "--progress-jsonl",
            str(tmp_path / "progress.jsonl"),
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    # progress as JSON lines, one object per line, the steps in order, the counted ones to their total
    events = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert all(set(e) == {"stage", "done", "total", "message"} for e in events)
    order = list(dict.fromkeys(e["stage"] for e in events))
    assert order == ["load", "export", "parity", "embedding", "pairs", "write", "done"], order
    n = len(VAL)
    assert [(e["done"], e["total"]) for e in events if e["stage"] == "embedding"][-1] == (n, n)
    assert events[-1] == {"stage": "done", "done": 1, "total": 1, "message": f"wrote {out}"}
    assert "%|" not in captured.err  # no progress bars beside the JSON lines
    result, _, _ = exported
    # same checkpoint -> same graph and weights (the model card's reproduce step relies on it)
    assert f"fingerprint:  {result.fingerprint}" in captured.out
    assert "thresholds:" in captured.out and "far_1e-3" in captured.out and "parity:" in captured.out
    assert "camera_far" not in captured.out  # --no-camera-calibration
    text = card.read_text()
    assert result.fingerprint in text and "## Calibrated thresholds" in text
    assert "| pair accuracy" in text and "98.765%" in text and "| FRR at FAR 0.001 | 4.560% |" in text
    repro = text.split("## Reproduce", 1)[1]
    assert repro.index("twinlock train --out runs/x") < repro.index("twinlock export")

    assert main(["model", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert result.fingerprint in info and "provider:    CPU" in info
    assert f"model card:  {card}" in info and "<- default" in info
    assert main(["model", "info", str(out), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["fingerprint"] == result.fingerprint and doc["contract"]["output"]["dim"] == 16


def test_cli_model_info_uses_the_configured_model(exported, monkeypatch, capsys):
    from desktop_app.cli.main import main

    _, dest, _ = exported
    monkeypatch.setenv("TWINLOCK_MODEL", str(dest))
    assert main(["model", "info", "--provider", "cpu"]) == 0
    out = capsys.readouterr().out
    assert f"model:       {dest}" in out and "provider:    CPU" in out


def test_cli_refuses_bad_files_with_exit_4_and_no_traceback(tmp_path, capsys):
    from desktop_app.cli.main import main

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage\xff" * 50)
    assert main(["model", "info", str(bad)]) == 4
    err = capsys.readouterr().err
    assert "not a readable ONNX model" in err and "Traceback" not in err
    ck = tmp_path / "bad.pt"
    ck.write_bytes(b"garbage")
    assert main(["export", str(ck), "-o", str(tmp_path / "m.onnx"), "--no-progress"]) == 4
    err = capsys.readouterr().err
    assert "export failed" in err and "corrupt" in err and "Traceback" not in err
    assert main(["export", str(ck), "-o", str(tmp_path / "m.onnx"), "--calib-count", "-3"]) == 4
    assert "--calib-count" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


def test_cli_export_without_torch_says_how_to_install(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from desktop_app.cli.main import main\n"
        f"sys.exit(main(['export', 'x.pt', '-o', {str(tmp_path / 'm.onnx')!r}]))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 4, r.stderr
    assert 'pip install -e ".[train]"' in r.stderr and "Traceback" not in r.stderr


def test_default_operating_point_rule():
    from export.calibrate import choose_default

    ok = {"threshold": 0.7, "frr": 0.05, "supported": True}
    assert choose_default({"eer": ok, "far_1e-3": ok, "camera_far_1e-3": ok}) == "camera_far_1e-3"
    # the camera point is skipped when it rejects too many genuine frames or is unsupported
    assert choose_default({"eer": ok, "far_1e-3": ok, "camera_far_1e-3": dict(ok, frr=0.3)}) == "far_1e-3"
    assert choose_default({"eer": ok, "far_1e-3": ok, "camera_far_1e-3": dict(ok, supported=False)}) == "far_1e-3"
    assert choose_default({"eer": ok, "far_1e-3": dict(ok, supported=False)}) == "eer"
