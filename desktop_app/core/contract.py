"""The model contract: what an ONNX file must say about itself before twinlock uses it.

The contract travels in the model's ``metadata_props`` as one JSON document under the key
``twinlock.contract`` plus the key ``twinlock.fingerprint`` (sha256 of the graph and
weights, i.e. of the model serialised with its metadata_props removed).

:func:`read_contract` is the ONE place that reads and validates it. Export writes it with
:func:`contract_metadata`. A model that breaks the contract raises :class:`ContractError`
whose message says what is wrong and what to do; callers keep their current model.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

CONTRACT_VERSION = 1
CONTRACT_KEY = "twinlock.contract"
FINGERPRINT_KEY = "twinlock.fingerprint"
THRESHOLD_KEYS = ("eer", "far_1e-3", "far_1e-4")
DEFAULT_THRESHOLD_KEY = "far_1e-3"


class ContractError(ValueError):
    """The model file cannot be used; the message is meant for the user."""


@dataclass(frozen=True)
class ModelContract:
    path: Path
    version: int
    input_name: str
    output_name: str
    image_size: int                 # 28
    polarity: str                   # "white_on_black"
    scale: float                    # pixel value multiplier, e.g. 1/255
    mean: float
    std: float
    embedding_dim: int
    metric: str                     # "euclidean"
    normalized: bool                # embeddings are L2-normalised
    thresholds: dict                # key -> {threshold, far, frr, genuine, impostor, ...}
    default_threshold_key: str
    provenance: dict
    fingerprint: str
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def default_threshold(self) -> float:
        return float(self.thresholds[self.default_threshold_key]["threshold"])

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:12]


def graph_fingerprint(model) -> str:
    """sha256 over the model (graph, weights, opsets) with metadata_props removed."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.metadata_props[:]
    m.doc_string = ""
    return hashlib.sha256(m.SerializeToString(deterministic=True)).hexdigest()


def contract_metadata(contract: dict, model) -> dict[str, str]:
    """metadata_props entries (key -> string) for ``contract`` on ``model``."""
    doc = dict(contract)
    doc.setdefault("version", CONTRACT_VERSION)
    return {CONTRACT_KEY: json.dumps(doc, sort_keys=True), FINGERPRINT_KEY: graph_fingerprint(model)}


def _dim_values(value_info) -> list:
    dims = []
    for d in value_info.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        else:
            dims.append(d.dim_param or None)
    return dims


def _fmt_dims(dims: list) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in dims) + "]"


def read_contract(path: str | os.PathLike) -> ModelContract:
    """Load the model file at ``path``, validate it against the contract, return the contract.

    Raises :class:`ContractError` (never a protobuf or numpy traceback) for: a missing or
    unreadable file, a file that is not ONNX or is truncated, a model without a twinlock
    contract, a contract version newer than this app knows, a wrong input rank/size/type,
    a fingerprint that does not match the weights.
    """
    import onnx

    p = Path(path)
    what = f"The model file {p}"
    if not p.exists():
        raise ContractError(f"{what} does not exist. Check the path, or run 'twinlock doctor' "
                            "to see which model is configured.")
    if p.is_dir():
        raise ContractError(f"{what} is a folder, not an .onnx file.")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, OSError, ...
        raise ContractError(f"{what} is not a readable ONNX model (it may be truncated or corrupt: "
                            f"{type(exc).__name__}). Export it again with 'twinlock export'.") from None
    if len(model.graph.node) == 0 or len(model.graph.input) == 0:
        raise ContractError(f"{what} holds no graph (empty, truncated or not an ONNX model). "
                            "Export it again with 'twinlock export'.")
    meta = {kv.key: kv.value for kv in model.metadata_props}
    if CONTRACT_KEY not in meta:
        raise ContractError(f"{what} has no twinlock model contract in its metadata, so twinlock "
                            "cannot know how to feed it or what threshold to use. Export it with "
                            "'twinlock export CHECKPOINT -o model.onnx'.")
    try:
        doc = json.loads(meta[CONTRACT_KEY])
        version = int(doc["version"])
    except Exception:
        raise ContractError(f"{what} has a damaged twinlock contract (not valid JSON or no version). "
                            "Export it again.") from None
    if version > CONTRACT_VERSION:
        raise ContractError(f"{what} uses model contract version {version}, but this twinlock only "
                            f"knows version {CONTRACT_VERSION}. Update twinlock, or export the model "
                            "with this version.")
    if version < 1:
        raise ContractError(f"{what} has an invalid contract version {version}.")
    try:
        inp, out = doc["input"], doc["output"]
        size = int(inp.get("size", 28))
        contract = ModelContract(
            path=p, version=version,
            input_name=str(inp["name"]), output_name=str(out["name"]),
            image_size=size, polarity=str(inp["polarity"]),
            scale=float(inp["scale"]), mean=float(inp["mean"]), std=float(inp["std"]),
            embedding_dim=int(out["dim"]), metric=str(out["metric"]),
            normalized=bool(out["normalized"]),
            thresholds=dict(doc["thresholds"]),
            default_threshold_key=str(doc.get("default_threshold", DEFAULT_THRESHOLD_KEY)),
            provenance=dict(doc.get("provenance", {})),
            fingerprint=meta.get(FINGERPRINT_KEY, ""), raw=doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise ContractError(f"{what} has an incomplete twinlock contract (missing or bad field {exc}). "
                            "Export it again.") from None

    graph_inputs = [i for i in model.graph.input
                    if i.name not in {t.name for t in model.graph.initializer}]
    by_name = {i.name: i for i in graph_inputs}
    if contract.input_name not in by_name or len(graph_inputs) != 1:
        raise ContractError(f"{what} should have exactly one input named '{contract.input_name}', "
                            f"it has {[i.name for i in graph_inputs]}.")
    vi = by_name[contract.input_name]
    dims = _dim_values(vi)
    if len(dims) != 4:
        raise ContractError(f"{what} takes a rank-{len(dims)} input {_fmt_dims(dims)}; twinlock feeds "
                            f"[N, 1, {size}, {size}] images. Export the embedding tower, not a pair head.")
    if dims[1:] != [1, size, size]:
        raise ContractError(f"{what} takes input shape {_fmt_dims(dims)}; twinlock needs [N, 1, {size}, {size}].")
    if vi.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ContractError(f"{what} takes a non-float32 input; twinlock feeds float32.")
    if size != 28:
        raise ContractError(f"{what} expects {size}x{size} images; this twinlock prepares 28x28 only.")
    if contract.polarity != "white_on_black":
        raise ContractError(f"{what} expects polarity '{contract.polarity}'; this twinlock prepares "
                            "white ink on black only.")
    if contract.metric != "euclidean":
        raise ContractError(f"{what} uses distance metric '{contract.metric}'; twinlock knows 'euclidean'.")
    outputs = {o.name: o for o in model.graph.output}
    if contract.output_name not in outputs:
        raise ContractError(f"{what} has no output named '{contract.output_name}'.")
    out_dims = _dim_values(outputs[contract.output_name])
    if len(out_dims) != 2 or (isinstance(out_dims[1], int) and out_dims[1] != contract.embedding_dim):
        raise ContractError(f"{what} gives output {_fmt_dims(out_dims)} but its contract promises "
                            f"[N, {contract.embedding_dim}] embeddings. Export it again.")
    if not (math.isfinite(contract.scale) and contract.scale > 0 and math.isfinite(contract.std)
            and contract.std > 0 and math.isfinite(contract.mean)):
        raise ContractError(f"{what} has an unusable input normalisation (scale {contract.scale}, "
                            f"mean {contract.mean}, std {contract.std}). Export it again.")
    for key, op in contract.thresholds.items():
        try:
            t = float(op["threshold"])
            ok = math.isfinite(t) and t >= 0
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ContractError(f"{what} carries a bad calibrated threshold '{key}' ({op!r:.80}); "
                                "a threshold is a distance >= 0. Export it again.")
    if contract.default_threshold_key not in contract.thresholds:
        raise ContractError(f"{what} names default threshold '{contract.default_threshold_key}' "
                            "but carries no such calibrated threshold. Export it again.")
    if not contract.fingerprint:
        raise ContractError(f"{what} has no fingerprint. Export it again with 'twinlock export'.")
    actual = graph_fingerprint(model)
    if actual != contract.fingerprint:
        raise ContractError(f"{what} does not match its own fingerprint: its graph or weights were "
                            "changed after export. Export it again.")
    return contract
