"""read_contract: the one gate a model file passes before twinlock uses it.

Models here are built with onnx.helper (a flatten + matmul "tower"), so these tests need no
torch; ONNX Runtime runs them for real in test_embedder.py.
"""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from desktop_app.core.contract import (
    CONTRACT_KEY,
    CONTRACT_VERSION,
    FINGERPRINT_KEY,
    ContractError,
    contract_metadata,
    graph_fingerprint,
    normalise_pixels,
    read_contract,
)


def tiny_graph(dim=8, shape=("N", 1, 28, 28), seed=0, in_name="image", out_name="embedding", elem=TensorProto.FLOAT):
    """A real, runnable ONNX "tower": flatten the image, multiply by a random matrix."""
    rng = np.random.default_rng(seed)
    rows = int(np.prod([d for d in shape[1:]]))
    w = numpy_helper.from_array((rng.standard_normal((rows, dim)) * 0.05).astype(np.float32), "W")
    nodes = [
        helper.make_node("Flatten", [in_name], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], [out_name]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info(in_name, elem, list(shape))],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", dim])],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def op(t, far=0.001, frr=0.02):
    return {
        "threshold": t,
        "far": far,
        "frr": frr,
        "genuine": 100,
        "impostor": 9000,
        "false_accepts": int(far * 9000),
        "false_rejects": int(frr * 100),
        "supported": True,
    }


def contract_doc(dim=8, **over):
    doc = {
        "version": CONTRACT_VERSION,
        "input": {
            "name": "image",
            "size": 28,
            "polarity": "white_on_black",
            "scale": 1 / 255,
            "mean": 0.1307,
            "std": 0.3081,
            "layout": "NCHW",
        },
        "output": {"name": "embedding", "dim": dim, "metric": "euclidean", "normalized": False},
        "thresholds": {"eer": op(0.9, 0.01, 0.01), "far_1e-3": op(0.7), "far_1e-4": op(0.6, 1e-4, 0.05)},
        "default_threshold": "far_1e-3",
        "provenance": {"training_data": "synthetic", "date": "2026-01-01"},
    }
    doc.update(over)
    return doc


def write_model(path, model=None, doc=None, meta=None):
    """Attach the contract (or the raw ``meta`` entries) to ``model`` and save it."""
    model = model if model is not None else tiny_graph()
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.metadata_props[:]
    entries = meta if meta is not None else contract_metadata(doc if doc is not None else contract_doc(), m)
    for k, v in entries.items():
        m.metadata_props.add(key=k, value=v)
    onnx.save(m, str(path))
    return path


def refused(path):
    with pytest.raises(ContractError) as exc:
        read_contract(path)
    return str(exc.value)


def test_round_trip_of_every_field(tmp_path):
    doc = contract_doc()
    p = write_model(tmp_path / "m.onnx", doc=doc)
    c = read_contract(p)
    assert (c.version, c.input_name, c.output_name, c.image_size) == (1, "image", "embedding", 28)
    assert (c.polarity, c.metric, c.normalized, c.embedding_dim) == ("white_on_black", "euclidean", False, 8)
    assert c.scale == pytest.approx(1 / 255) and (c.mean, c.std) == (0.1307, 0.3081)
    assert c.thresholds == doc["thresholds"]
    assert c.default_threshold_key == "far_1e-3" and c.default_threshold == 0.7
    assert c.provenance == doc["provenance"]
    assert c.fingerprint == graph_fingerprint(onnx.load(str(p))) and len(c.fingerprint) == 64
    assert c.short_fingerprint == c.fingerprint[:12]
    assert c.raw == doc


def test_fingerprint_ignores_metadata_but_not_weights(tmp_path):
    a = tiny_graph(seed=0)
    meta_a = contract_metadata(contract_doc(), a)
    meta_b = contract_metadata(contract_doc(provenance={"other": 1}), a)
    assert meta_a[FINGERPRINT_KEY] == meta_b[FINGERPRINT_KEY]
    assert meta_a[CONTRACT_KEY] != meta_b[CONTRACT_KEY]
    assert graph_fingerprint(tiny_graph(seed=1)) != meta_a[FINGERPRINT_KEY]


def test_missing_file_and_folder(tmp_path):
    assert "does not exist" in refused(tmp_path / "nope.onnx")
    assert "is a folder" in refused(tmp_path)


def test_no_contract(tmp_path):
    p = write_model(tmp_path / "m.onnx", meta={})
    msg = refused(p)
    assert "no twinlock model contract" in msg and "twinlock export" in msg


def test_wrong_input_rank(tmp_path):
    p = write_model(tmp_path / "m.onnx", model=tiny_graph(shape=("N", 784)))
    msg = refused(p)
    assert "rank-2 input" in msg and "[N, 1, 28, 28]" in msg


def test_wrong_input_size(tmp_path):
    p = write_model(tmp_path / "m.onnx", model=tiny_graph(shape=("N", 1, 32, 32)))
    msg = refused(p)
    assert "[N, 1, 32, 32]" in msg and "needs [N, 1, 28, 28]" in msg


def test_wrong_input_type(tmp_path):
    p = write_model(tmp_path / "m.onnx", model=tiny_graph(elem=TensorProto.DOUBLE))
    assert "non-float32" in refused(p)


def test_wrong_input_name(tmp_path):
    p = write_model(tmp_path / "m.onnx", model=tiny_graph(in_name="pixels"))
    msg = refused(p)
    assert "one input named 'image'" in msg and "pixels" in msg


def test_newer_contract_version(tmp_path):
    p = write_model(tmp_path / "m.onnx", doc=contract_doc(version=CONTRACT_VERSION + 1))
    msg = refused(p)
    assert f"version {CONTRACT_VERSION + 1}" in msg and f"only knows version {CONTRACT_VERSION}" in msg
    assert "Update twinlock" in msg


def test_invalid_version(tmp_path):
    assert "invalid contract version 0" in refused(write_model(tmp_path / "m.onnx", doc=contract_doc(version=0)))


def test_damaged_and_incomplete_contract(tmp_path):
    m = tiny_graph()
    fp = graph_fingerprint(m)
    p = write_model(tmp_path / "a.onnx", model=m, meta={CONTRACT_KEY: "{not json", FINGERPRINT_KEY: fp})
    assert "damaged twinlock contract" in refused(p)
    doc = contract_doc()
    del doc["output"]["dim"]
    p = write_model(tmp_path / "b.onnx", doc=doc)
    assert "incomplete twinlock contract" in refused(p) and "dim" in refused(p)


def test_unknown_polarity_metric_and_default(tmp_path):
    doc = contract_doc()
    doc["input"]["polarity"] = "black_on_white"
    assert "polarity 'black_on_white'" in refused(write_model(tmp_path / "a.onnx", doc=doc))
    doc = contract_doc()
    doc["output"]["metric"] = "cosine"
    assert "metric 'cosine'" in refused(write_model(tmp_path / "b.onnx", doc=doc))
    doc = contract_doc(default_threshold="far_1e-5")
    assert "default threshold 'far_1e-5'" in refused(write_model(tmp_path / "c.onnx", doc=doc))
    doc = contract_doc()
    doc["output"]["name"] = "features"
    assert "no output named 'features'" in refused(write_model(tmp_path / "d.onnx", doc=doc))


def test_corrupt_file(tmp_path):
    p = tmp_path / "m.onnx"
    p.write_bytes(b"this is not an onnx model \x00\xff\xfe" * 20)
    msg = refused(p)
    assert "not a readable ONNX model" in msg and "corrupt" in msg
    p.write_bytes(b"")
    assert "holds no graph" in refused(p)


@pytest.mark.parametrize("frac", [0.05, 0.5, 0.9, 0.999])
def test_truncated_file(tmp_path, frac):
    good = write_model(tmp_path / "good.onnx")
    data = good.read_bytes()
    p = tmp_path / "cut.onnx"
    p.write_bytes(data[: int(len(data) * frac)])
    msg = refused(p)
    assert "is not a readable ONNX model (it may be truncated or corrupt" in msg
    assert msg.endswith("Export it again with 'twinlock export'.")


def test_fingerprint_mismatch(tmp_path):
    p = write_model(tmp_path / "m.onnx")
    m = onnx.load(str(p))
    w = numpy_helper.to_array(m.graph.initializer[0]).copy()
    w[0, 0] += 1.0
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "W"))
    onnx.save(m, str(p))
    msg = refused(p)
    assert "does not match its own fingerprint" in msg and "changed after export" in msg


def test_missing_fingerprint(tmp_path):
    m = tiny_graph()
    p = write_model(tmp_path / "m.onnx", model=m, meta={CONTRACT_KEY: json.dumps(contract_doc())})
    assert "has no fingerprint" in refused(p)


def test_contract_that_disagrees_with_the_graph_or_itself(tmp_path):
    doc = contract_doc(dim=8)
    doc["output"]["dim"] = 16  # the graph gives [N, 8]
    msg = refused(write_model(tmp_path / "a.onnx", doc=doc))
    assert "promises [N, 16]" in msg and "[N, 8]" in msg
    doc = contract_doc()
    doc["input"]["std"] = 0.0
    assert "unusable input normalisation" in refused(write_model(tmp_path / "b.onnx", doc=doc))
    doc = contract_doc()
    doc["thresholds"]["far_1e-4"] = {"far": 1e-4}
    assert "bad calibrated threshold 'far_1e-4'" in refused(write_model(tmp_path / "c.onnx", doc=doc))
    doc = contract_doc()
    doc["thresholds"]["eer"]["threshold"] = float("nan")
    assert "bad calibrated threshold 'eer'" in refused(write_model(tmp_path / "d.onnx", doc=doc))


def test_normalise_pixels_is_the_contract_normalisation_in_every_input_form():
    img = np.array([[0, 255], [51, 102]], np.uint8)
    one = normalise_pixels(img, mean=0.1307, std=0.3081)
    assert one.dtype == np.float32 and one.shape == (1, 1, 2, 2)
    want = (np.array([[0, 1], [0.2, 0.4]], np.float32) - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(one[0, 0], want, rtol=1e-6)
    batch = np.stack([img, 255 - img])
    n3 = normalise_pixels(batch, 0.5, 0.25)
    np.testing.assert_array_equal(n3, normalise_pixels(batch[:, None], 0.5, 0.25))  # [N,1,28,28] as is
    assert n3.shape == (2, 1, 2, 2) and n3[1, 0, 0, 0] == np.float32(2.0)  # 255 -> (1 - .5) / .25
    np.testing.assert_array_equal(normalise_pixels(img, 0.0, 1.0, scale=1.0)[0, 0], img.astype(np.float32))
