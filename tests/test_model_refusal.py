"""A model that cannot be trusted (non-finite or constant embeddings, a contract that lies
about its size) is refused when it loads, and a run with another model never rewrites the
stored references. Models built with onnx.helper, run by ONNX Runtime."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from cli_support import enrolled_db, pixel_assets, probe_world, run_cli, twinlock
from desktop_app.core.contract import ContractError, contract_metadata
from desktop_app.core.embedder import Embedder
from desktop_app.core.store import Store


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return pixel_assets(tmp_path_factory.mktemp("models"))


@pytest.fixture
def db(assets, tmp_path, monkeypatch):
    return enrolled_db(assets, tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return probe_world(tmp_path_factory.mktemp("models-world"))


def _model_with(path, nodes, out_dim, inits=(), contract_dim=None):
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", out_dim])
    graph = helper.make_graph(nodes, "t", [inp], [out], initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8

    def op(t):
        return {"threshold": t, "far": 0.001, "frr": 0.05, "genuine": 10, "impostor": 90}

    doc = {
        "version": 1,
        "input": {"name": "image", "size": 28, "polarity": "white_on_black", "scale": 1 / 255, "mean": 0.0, "std": 1.0},
        "output": {"name": "embedding", "dim": contract_dim or out_dim, "metric": "euclidean", "normalized": True},
        "thresholds": {"far_1e-3": op(0.5)},
        "default_threshold": "far_1e-3",
    }
    for k, v in contract_metadata(doc, model).items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(model, str(path))
    return path


def _nan_model(path):
    nan = helper.make_tensor("nan", TensorProto.FLOAT, [1], [float("nan")])
    return _model_with(
        path,
        [
            helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["p"], ["f"], axis=1),
            helper.make_node("Mul", ["f", "nan"], ["embedding"]),
        ],
        196,
        [nan],
    )


def _constant_model(path):
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [0.1])
    return _model_with(
        path,
        [
            helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["p"], ["f"], axis=1),
            helper.make_node("Mul", ["f", "zero"], ["z"]),
            helper.make_node("Add", ["z", "one"], ["embedding"]),
        ],
        196,
        [zero, one],
    )


def _lying_dim_model(path):  # the graph gives 49 numbers, the contract promises 64
    return _model_with(
        path,
        [
            helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[4, 4], strides=[4, 4]),
            helper.make_node("Flatten", ["p"], ["f"], axis=1),
            helper.make_node("LpNormalization", ["f"], ["embedding"], axis=1, p=2),
        ],
        "D",
        contract_dim=64,
    )


@pytest.mark.parametrize(
    "make,message", [(_nan_model, "non-finite"), (_constant_model, "same point"), (_lying_dim_model, "promises.*64")]
)
def test_broken_models_are_refused_at_load(tmp_path, make, message):
    with pytest.raises(ContractError, match=message):
        Embedder(make(tmp_path / "m.onnx"), "cpu")


def test_verify_with_another_model_never_rewrites_references(assets, db, tmp_path):
    s = Store(db)
    before = s.reference_embeddings("alice", Embedder(assets["model"], "cpu").fingerprint).copy()
    s.close()
    for model in (assets["model49"], _nan_model(tmp_path / "nan.onnx")):
        r = run_cli(assets, db, "verify", "alice", "--image", assets["d3"], TWINLOCK_MODEL=str(model))
        assert r.returncode == 4 and r.stderr.count("\n") == 1, r.stderr
    s = Store(db)
    assert np.array_equal(s.reference_embeddings("alice", Embedder(assets["model"], "cpu").fingerprint), before)
    assert not s.audit(decision="reembedded")
    s.close()


def test_model_info_accepts_a_good_model(world):
    r = twinlock(world, "model", "info", world["model"])
    assert r.returncode == 0 and "fingerprint" in r.stdout
