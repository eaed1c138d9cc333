"""Export of a briefly trained tower (seconds on synthetic digits), float and int8."""

import numpy as np
import onnx
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F

from desktop_app.core.contract import read_contract
from desktop_app.core.embedder import Embedder
from export.errors import ExportError
from export.pipeline import ExportOptions, export_checkpoint
from training.synthetic_digits import synthetic_digits
from training.model import build_model
import test_export
from test_export import VAL, make_checkpoint

# fixtures shared with test_export (pytest finds fixtures among a module's names)
fake_mnist = test_export.fake_mnist
one_torch_thread = test_export.one_torch_thread


def train_briefly(steps=25, seed=0):
    """A few steps of all-pairs contrastive training of the seed tower on rendered digits
    (other images than the calibration ones)."""
    torch.manual_seed(seed)
    imgs, labels = synthetic_digits(400, seed=99)
    x = ((torch.from_numpy(imgs).float() / 255 - 0.1307) / 0.3081)[:, None]
    y = torch.from_numpy(labels.astype(np.int64))
    model = build_model("seed", embedding_dim=10)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        i = torch.randint(0, len(x), (64,), generator=g)
        e = model(x[i])
        d = torch.cdist(e, e)
        same = (y[i][:, None] == y[i][None]).float()
        loss = (same * d**2 + (1 - same) * F.relu(1.0 - d) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.fixture(scope="module")
def trained_ckpt(tmp_path_factory, fake_mnist):
    model = train_briefly()
    return make_checkpoint(
        tmp_path_factory.mktemp("trained") / "trained.pt",
        model,
        "seed",
        {"embedding_dim": 10},
        fake_mnist[0],
        recipe="25 steps on synthetic digits",
    )


@pytest.fixture(scope="module")
def quantized(tmp_path_factory, trained_ckpt, fake_mnist):
    dest = tmp_path_factory.mktemp("q") / "int8.onnx"
    result = export_checkpoint(
        trained_ckpt,
        dest,
        ExportOptions(
            quantize=True,
            data_dir=fake_mnist[0],
            calib_count=None,
            progress=False,
            log=lambda m: None,
            max_eer_increase_points=5.0,
            max_frr_increase_points=30.0,
            camera=False,
        ),
    )
    return result, dest


def test_trained_int8_model_separates_digits_and_reports_the_cost(quantized):
    result, dest = quantized
    c = read_contract(dest)
    assert c.fingerprint == result.fingerprint
    q = result.quantization
    assert q["ok"] and q["int8_bytes"] < q["float_bytes"]
    assert c.provenance["quantization"]["float_fingerprint"] == q["float_fingerprint"] != c.fingerprint
    # the thresholds in the file are the int8 model's own, and training worked
    assert c.thresholds["eer"]["eer"] == pytest.approx(q["int8_eer"])
    assert q["float_eer"] < 0.15 and q["int8_eer"] < 0.15
    assert q["delta_eer_points"] == pytest.approx((q["int8_eer"] - q["float_eer"]) * 100)
    for k in ("float_batch1_ms", "float_batch256_ms", "int8_batch1_ms", "int8_batch256_ms"):
        assert result.timings_ms[k] > 0
    ops = {n.op_type for n in onnx.load(str(dest)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops


def test_int8_embeddings_keep_the_float_geometry(quantized, trained_ckpt, fake_mnist):
    _, dest = quantized
    from training.checkpoint import load_checkpoint, model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(trained_ckpt))
    emb = Embedder(dest, preference="cpu")
    x = emb.normalize_pixels(fake_mnist[1][VAL[:32]])
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    out = emb.embed(x)
    assert out.shape == ref.shape and np.max(np.abs(out - ref)) > 0  # really int8, not the float graph
    # ... yet it keeps the geometry: pair distances agree closely with the float tower's
    from desktop_app.core.metrics import pairwise_distances

    r = np.corrcoef(pairwise_distances(out, out).ravel(), pairwise_distances(ref, ref).ravel())[0, 1]
    assert r > 0.95


def test_quantization_beyond_the_bound_is_refused_and_keeps_the_old_model(trained_ckpt, fake_mnist, tmp_path):
    dest = tmp_path / "model.onnx"
    dest.write_bytes(b"previous model bytes")
    with pytest.raises(ExportError) as exc:
        # a bound no quantized model can meet: the EER may not rise and must in fact fall by 50 points
        export_checkpoint(
            trained_ckpt,
            dest,
            ExportOptions(
                quantize=True,
                data_dir=fake_mnist[0],
                calib_count=None,
                progress=False,
                log=lambda m: None,
                max_eer_increase_points=-50.0,
            ),
        )
    msg = str(exc.value)
    assert "int8 quantization refused" in msg and "EER" in msg and "FRR at FAR 1e-3" in msg
    assert "without --quantize" in msg and "nothing was written" in msg
    assert dest.read_bytes() == b"previous model bytes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]
