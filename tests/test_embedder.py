"""Embedder: the app's ONNX Runtime session, run for real on small helper-built models."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from desktop_app.core.contract import ContractError
from desktop_app.core.embedder import Embedder, resolve_model_path
from desktop_app.core.settings import active_model_path
from desktop_app.core.store import Store
from desktop_app.core.paths import DEFAULT_MODEL
from test_contract import contract_doc, tiny_graph, write_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def model_path(tmp_path):
    return write_model(tmp_path / "tiny.onnx", model=tiny_graph(dim=8, seed=3), doc=contract_doc(dim=8))


def weights(path):
    return numpy_helper.to_array(onnx.load(str(path)).graph.initializer[0])


def test_cpu_embedder_matches_numpy(model_path):
    e = Embedder(model_path, preference="cpu")
    assert e.provider == "CPU" and e.fallback_reason == ""
    assert e.dim == 8 and e.fingerprint == e.contract.fingerprint and len(e.fingerprint) == 64
    x = np.random.default_rng(0).standard_normal((5, 1, 28, 28)).astype(np.float32)
    out = e.embed(x)
    assert out.shape == (5, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out, x.reshape(5, -1) @ weights(model_path), atol=1e-5)
    # chunked runs give the same numbers as one run
    np.testing.assert_allclose(e.embed(x, max_batch=2), out, atol=1e-6)


def test_embed_images_applies_the_contract_normalisation(model_path):
    e = Embedder(model_path, preference="cpu")
    imgs = np.random.default_rng(1).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    expected = ((imgs.astype(np.float32) / 255 - 0.1307) / 0.3081).reshape(3, -1) @ weights(model_path)
    np.testing.assert_allclose(e.embed_images(imgs), expected, atol=1e-4)
    assert e.embed_images(imgs[0]).shape == (1, 8)  # one image, no batch axis


def test_embed_rejects_bad_batches(model_path):
    e = Embedder(model_path, preference="cpu")
    with pytest.raises(ValueError, match=r"expected a batch \[N,1,28,28\]"):
        e.embed(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"expected a batch"):
        e.embed(np.zeros((2, 1, 32, 32), np.float32))
    assert e.embed(np.zeros((0, 1, 28, 28), np.float32)).shape == (0, 8)


def test_cuda_preference_falls_back_with_a_reason(model_path):
    e = Embedder(model_path, preference="cuda")
    if e.provider == "CUDA":
        pytest.skip("a working CUDA provider is present on this machine")
    assert e.provider == "CPU"
    assert "CPU" in e.fallback_reason and "CUDA" in e.fallback_reason


def test_embedder_refuses_a_model_without_contract(tmp_path):
    p = write_model(tmp_path / "bare.onnx", meta={})
    with pytest.raises(ContractError, match="no twinlock model contract"):
        Embedder(p)


def test_resolve_model_path_order(tmp_path, monkeypatch):
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    assert resolve_model_path() == DEFAULT_MODEL
    monkeypatch.setenv("TWINLOCK_MODEL", str(tmp_path / "env.onnx"))
    assert resolve_model_path() == tmp_path / "env.onnx"
    assert resolve_model_path(tmp_path / "arg.onnx") == tmp_path / "arg.onnx"
    # the model chosen in the app (the "model_path" setting) counts when a store is given,
    # below $TWINLOCK_MODEL and an explicit path: the same order as settings.active_model_path
    store = Store(tmp_path / "db.sqlite3")
    store.set_setting("model_path", str(tmp_path / "chosen.onnx"))
    assert resolve_model_path(None, store) == tmp_path / "env.onnx"
    monkeypatch.delenv("TWINLOCK_MODEL")
    assert resolve_model_path(None, store) == tmp_path / "chosen.onnx" == active_model_path(store)
    assert resolve_model_path(tmp_path / "arg.onnx", store) == tmp_path / "arg.onnx"
    assert resolve_model_path() == DEFAULT_MODEL
    store.close()


@pytest.mark.parametrize("preference", ["auto", "cuda"])
def test_fresh_process_prints_nothing_at_the_user(model_path, preference):
    """onnxruntime-gpu without CUDA libraries must not print its error lines at the user."""
    code = (
        "from desktop_app.core.embedder import Embedder\n"
        f"e = Embedder({str(model_path)!r}, preference={preference!r})\n"
        "print(e.provider)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORT_")}
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() in ("CPU", "CUDA")
    assert r.stderr == "", f"stderr was not empty:\n{r.stderr}"


def test_contract_is_read_without_onnx_and_a_changed_weight_is_still_caught(tmp_path):
    """The runtime reads the contract through ONNX Runtime and fingerprints the file's bytes
    (no `import onnx`, ~1 s of every verify); a model whose weights changed after export is
    still refused."""
    import subprocess
    import sys

    from desktop_app.core.contract import read_contract, wire_fingerprint
    from desktop_app.core.paths import DEFAULT_MODEL

    assert DEFAULT_MODEL.is_file(), f"the shipped model {DEFAULT_MODEL} is missing"
    data = DEFAULT_MODEL.read_bytes()
    assert wire_fingerprint(data) == read_contract(DEFAULT_MODEL).fingerprint
    code = (
        "import sys; from desktop_app.core.embedder import Embedder; e = Embedder(None, 'cpu'); "
        "print('onnx' in sys.modules, e.dim)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", str(read_contract(DEFAULT_MODEL).embedding_dim)]
    bad = bytearray(data)
    i = len(bad) // 2  # inside the weights
    bad[i] ^= 0x01
    p = tmp_path / "changed.onnx"
    p.write_bytes(bytes(bad))
    with pytest.raises(ContractError, match="does not match its own fingerprint"):
        Embedder(p, "cpu")
