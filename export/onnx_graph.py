"""The embedding tower -> an ONNX ModelProto (one self-contained graph, dynamic batch)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings

from .errors import ExportError

INPUT_NAME = "image"
OUTPUT_NAME = "embedding"
MAX_BATCH = 1 << 16


@contextlib.contextmanager
def _quiet():
    """torch.onnx's dynamo exporter chats on stdout and through logging; keep the CLI readable."""
    loggers = [
        logging.getLogger(n)
        for n in (
            "torch.onnx",
            "torch.export",
            "torch._dynamo",
            "onnxscript",
            "torch.onnx._internal.exporter._registration",
        )
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def tower_to_onnx(model):
    """Export ``model`` ([N,1,28,28] float32 -> [N,D]) with torch.onnx's dynamo exporter.

    Returns the ``onnx.ModelProto`` with input ``image`` (batch axis ``N`` dynamic) and
    output ``embedding``; every weight is inside the proto (no external data).
    """
    import onnx
    import torch

    model = model.eval()
    example = torch.zeros(2, 1, 28, 28)
    try:
        with torch.no_grad(), _quiet():
            prog = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                external_data=False,
                verbose=False,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: torch.export.Dim("N", min=1, max=MAX_BATCH)},),
                optimize=True,
            )
        proto = prog.model_proto
    except Exception as exc:
        raise ExportError(f"torch.onnx could not export the tower ({type(exc).__name__}: {str(exc)[:300]}).") from None
    proto = strip_debug_info(onnx.ModelProto.FromString(proto.SerializeToString()))
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as exc:
        raise ExportError(f"the exported graph fails the ONNX checker: {exc}") from None
    _check_signature(proto)
    return proto


def _check_signature(proto) -> None:
    inits = {t.name for t in proto.graph.initializer}
    inputs = [i for i in proto.graph.input if i.name not in inits]
    if [i.name for i in inputs] != [INPUT_NAME] or [o.name for o in proto.graph.output] != [OUTPUT_NAME]:
        raise ExportError(
            f"exported graph has inputs {[i.name for i in inputs]} and outputs "
            f"{[o.name for o in proto.graph.output]}; expected one '{INPUT_NAME}' "
            f"and one '{OUTPUT_NAME}'."
        )
    dims = inputs[0].type.tensor_type.shape.dim
    if len(dims) != 4 or dims[0].HasField("dim_value") or [d.dim_value for d in dims[1:]] != [1, 28, 28]:
        raise ExportError(
            "exported input is not [N, 1, 28, 28] with a dynamic N; the checkpoint's "
            "tower does not take 28x28 single-channel images."
        )
    out = proto.graph.output[0].type.tensor_type.shape.dim
    if len(out) != 2:
        raise ExportError(f"exported output has rank {len(out)}; an embedding tower gives [N, D].")


def embedding_dim(proto) -> int:
    d = proto.graph.output[0].type.tensor_type.shape.dim[1]
    return int(d.dim_value)


def strip_debug_info(proto):
    """Remove what describes the machine that exported rather than the model: the exporter's
    per-node stack traces (source lines, absolute paths), name scopes and doc strings, and
    opset imports no node uses. The same checkpoint then gives the same bytes, and so the same
    fingerprint, on any machine. Returns ``proto`` (changed in place)."""
    g = proto.graph
    for items in (g.node, g.value_info, g.input, g.output, g.initializer):
        for item in items:
            del item.metadata_props[:]
            item.doc_string = ""
    del g.metadata_props[:]
    g.doc_string = ""
    proto.doc_string = ""
    del proto.metadata_props[:]
    used = {n.domain for n in g.node} | {""}
    keep = [o for o in proto.opset_import if o.domain in used]
    if len(keep) != len(proto.opset_import):
        del proto.opset_import[:]
        proto.opset_import.extend(keep)
    return proto
