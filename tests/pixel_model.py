"""A tiny, deterministic ONNX "embedding model" for tests that need a real model file but
not the trained one: average-pool the 28x28 image, flatten, L2-normalise. Built with
onnx.helper (no torch), carrying a valid twinlock contract and fingerprint, run by the real
ONNX Runtime through :class:`desktop_app.core.embedder.Embedder`.

Pixel-space nearest neighbours tell clean synthetic digits apart well enough to test the
verifier's mechanics; tests of real discrimination use the shipped model.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from desktop_app.core.contract import contract_metadata


def make_pixel_model(path, pool: int = 2, threshold: float = 0.48, opset: int = 17) -> Path:
    """Write the model to ``path``; ``pool`` 2 gives 196-d embeddings, 4 gives 49-d."""
    side = 28 // pool
    dim = side * side
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])
    nodes = [
        helper.make_node("AveragePool", ["image"], ["pooled"], kernel_shape=[pool, pool], strides=[pool, pool]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("LpNormalization", ["flat"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(nodes, f"pixel{pool}", [inp], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)

    def op(t):
        return {
            "threshold": t,
            "far": 0.001,
            "frr": 0.05,
            "genuine": 1000,
            "impostor": 9000,
            "false_accepts": 9,
            "false_rejects": 50,
            "supported": True,
        }

    doc = {
        "version": 1,
        "input": {
            "name": "image",
            "size": 28,
            "polarity": "white_on_black",
            "scale": 1 / 255,
            "mean": 0.0,
            "std": 1.0,
            "layout": "NCHW",
        },
        "output": {"name": "embedding", "dim": dim, "metric": "euclidean", "normalized": True},
        "thresholds": {"eer": op(threshold * 1.2), "far_1e-3": op(threshold), "far_1e-4": op(threshold * 0.8)},
        "default_threshold": "far_1e-3",
        "provenance": {"training data": "none: a fixed pixel-pooling test model"},
    }
    for k, v in contract_metadata(doc, model).items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    path = Path(path)
    onnx.save(model, str(path))
    return path
