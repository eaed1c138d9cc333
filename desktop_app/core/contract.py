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

import numpy as np

from .store.open_files import refuse_if_open_database

CONTRACT_VERSION = 1
CONTRACT_KEY = "twinlock.contract"
FINGERPRINT_KEY = "twinlock.fingerprint"
THRESHOLD_KEYS = ("eer", "far_1e-3", "far_1e-4")
DEFAULT_THRESHOLD_KEY = "far_1e-3"
PIXEL_SCALE = 1 / 255  # the contract's input scale as export writes it: uint8 -> [0, 1]


class ContractError(ValueError):
    """The model file cannot be used; the message is meant for the user."""


@dataclass(frozen=True)
class ModelContract:
    path: Path
    version: int
    input_name: str
    output_name: str
    image_size: int  # 28
    polarity: str  # "white_on_black"
    scale: float  # pixel value multiplier, e.g. 1/255
    mean: float
    std: float
    embedding_dim: int
    metric: str  # "euclidean"
    normalized: bool  # embeddings are L2-normalised
    thresholds: dict  # key -> {threshold, far, frr, genuine, impostor, ...}
    default_threshold_key: str
    provenance: dict
    fingerprint: str
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def default_threshold(self) -> float:
        return float(self.thresholds[self.default_threshold_key]["threshold"])

    @property
    def passcodes(self) -> dict:
        """The passcode operating points (key -> {symbols, thresholds [one per position], far,
        frr, impostor, genuine, ...}), e.g. ``passcode2_far_1e-5``; {} when the model has none.
        Kept apart from :attr:`thresholds`: a per-position threshold is no single-symbol point."""
        p = self.raw.get("passcodes") if isinstance(self.raw, dict) else None
        return dict(p) if isinstance(p, dict) else {}

    @property
    def short_fingerprint(self) -> str:
        return self.fingerprint[:12]

    @property
    def digest(self) -> str:
        """sha256 of the contract document (canonical JSON): the fingerprint covers the graph
        and weights only, so an edited threshold keeps the fingerprint and changes this."""
        return contract_digest(self.raw)


def contract_digest(doc: dict) -> str:
    """sha256 of a contract document as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise_pixels(images_u8, mean: float, std: float, scale: float = PIXEL_SCALE) -> np.ndarray:
    """Model images, uint8 white ink on black ([28,28], [N,28,28] or [N,1,28,28]) -> the
    model's input, float32 [N,1,28,28]: ``(x * scale - mean) / std``, the contract's
    normalisation. The one home of it: the app's embedder, export's calibration images and
    training's batches all call this (in float32, in this order, so they agree to the bit)."""
    x = np.asarray(images_u8, dtype=np.float32)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[:, None]
    x = x * np.float32(scale)
    return ((x - np.float32(mean)) / np.float32(std)).astype(np.float32, copy=False)


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


def _wire_fields(data: bytes):
    """Top-level protobuf fields of a serialised message: (field number, raw bytes) in order."""
    out, i, n = [], 0, len(data)

    def varint(j):
        shift = v = 0
        while True:
            if j >= n or shift > 63:
                raise ValueError("truncated varint")
            b = data[j]
            v |= (b & 0x7F) << shift
            j += 1
            if not b & 0x80:
                return v, j
            shift += 7

    while i < n:
        start = i
        tag, i = varint(i)
        field, wt = tag >> 3, tag & 7
        if wt == 0:
            _, i = varint(i)
        elif wt == 1:
            i += 8
        elif wt == 2:
            ln, i = varint(i)
            i += ln
        elif wt == 5:
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wt}")
        if i > n or field == 0:
            raise ValueError("truncated field")
        out.append((field, data[start:i]))
    return out


def wire_fingerprint(data: bytes) -> str | None:
    """:func:`graph_fingerprint` computed from the file's bytes without importing onnx:
    the top-level fields minus metadata_props (14) with an empty doc_string (6). Equal to
    graph_fingerprint when the file is canonically serialised (as onnx.save writes it);
    None when the bytes cannot be split. A mismatch is never trusted: the caller then
    checks with onnx itself."""
    try:
        fields_ = [(f, raw) for f, raw in _wire_fields(data) if f not in (6, 14)]
    except ValueError:
        return None
    fields_.append((6, b"\x32\x00"))
    fields_.sort(key=lambda x: x[0])  # stable: repeated fields keep their order
    return hashlib.sha256(b"".join(raw for _, raw in fields_)).hexdigest()


def _parse_doc(p: Path, meta: dict) -> ModelContract:
    what = f"The model file {p}"
    if CONTRACT_KEY not in meta:
        raise ContractError(
            f"{what} has no twinlock model contract in its metadata, so twinlock "
            "cannot know how to feed it or what threshold to use. Export it with "
            "'twinlock export CHECKPOINT -o model.onnx'."
        )
    try:
        doc = json.loads(meta[CONTRACT_KEY])
        version = int(doc["version"])
    except Exception:
        raise ContractError(
            f"{what} has a damaged twinlock contract (not valid JSON or no version). Export it again."
        ) from None
    if version > CONTRACT_VERSION:
        raise ContractError(
            f"{what} uses model contract version {version}, but this twinlock only "
            f"knows version {CONTRACT_VERSION}. Update twinlock, or export the model "
            "with this version."
        )
    if version < 1:
        raise ContractError(f"{what} has an invalid contract version {version}.")
    try:
        inp, out = doc["input"], doc["output"]
        size = int(inp.get("size", 28))
        contract = ModelContract(
            path=p,
            version=version,
            input_name=str(inp["name"]),
            output_name=str(out["name"]),
            image_size=size,
            polarity=str(inp["polarity"]),
            scale=float(inp["scale"]),
            mean=float(inp["mean"]),
            std=float(inp["std"]),
            embedding_dim=int(out["dim"]),
            metric=str(out["metric"]),
            normalized=bool(out["normalized"]),
            thresholds=dict(doc["thresholds"]),
            default_threshold_key=str(doc.get("default_threshold", DEFAULT_THRESHOLD_KEY)),
            provenance=dict(doc.get("provenance", {})),
            fingerprint=meta.get(FINGERPRINT_KEY, ""),
            raw=doc,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ContractError(
            f"{what} has an incomplete twinlock contract (missing or bad field {exc}). Export it again."
        ) from None
    return contract


def _check_contract(p: Path, contract: ModelContract, inputs: list, outputs: dict) -> None:
    """``inputs``: [(name, dims, is_float)] of the graph's real inputs; ``outputs``: name -> dims."""
    what = f"The model file {p}"
    size = contract.image_size
    by_name = {name: (dims, flt) for name, dims, flt in inputs}
    if contract.input_name not in by_name or len(inputs) != 1:
        raise ContractError(
            f"{what} should have exactly one input named '{contract.input_name}', it has {[i[0] for i in inputs]}."
        )
    dims, is_float = by_name[contract.input_name]
    if len(dims) != 4:
        raise ContractError(
            f"{what} takes a rank-{len(dims)} input {_fmt_dims(dims)}; twinlock feeds "
            f"[N, 1, {size}, {size}] images. Export the embedding tower, not a pair head."
        )
    if list(dims[1:]) != [1, size, size]:
        raise ContractError(f"{what} takes input shape {_fmt_dims(dims)}; twinlock needs [N, 1, {size}, {size}].")
    if not is_float:
        raise ContractError(f"{what} takes a non-float32 input; twinlock feeds float32.")
    if size != 28:
        raise ContractError(f"{what} expects {size}x{size} images; this twinlock prepares 28x28 only.")
    if contract.polarity != "white_on_black":
        raise ContractError(
            f"{what} expects polarity '{contract.polarity}'; this twinlock prepares white ink on black only."
        )
    if contract.metric != "euclidean":
        raise ContractError(f"{what} uses distance metric '{contract.metric}'; twinlock knows 'euclidean'.")
    if contract.output_name not in outputs:
        raise ContractError(f"{what} has no output named '{contract.output_name}'.")
    out_dims = outputs[contract.output_name]
    if not (1 <= contract.embedding_dim <= 4096):
        raise ContractError(
            f"{what} declares {contract.embedding_dim}-number embeddings; twinlock expects 1 to 4096. Export it again."
        )
    if len(out_dims) != 2 or (isinstance(out_dims[1], int) and out_dims[1] != contract.embedding_dim):
        raise ContractError(
            f"{what} gives output {_fmt_dims(out_dims)} but its contract promises "
            f"[N, {contract.embedding_dim}] embeddings. Export it again."
        )
    if not (
        math.isfinite(contract.scale)
        and contract.scale > 0
        and math.isfinite(contract.std)
        and contract.std > 0
        and math.isfinite(contract.mean)
    ):
        raise ContractError(
            f"{what} has an unusable input normalisation (scale {contract.scale}, "
            f"mean {contract.mean}, std {contract.std}). Export it again."
        )
    for key, op in contract.thresholds.items():
        try:
            t = float(op["threshold"])
            ok = math.isfinite(t) and t > 0
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ContractError(
                f"{what} carries a bad calibrated threshold '{key}' ({op!r:.80}); "
                "a threshold is a distance > 0. Export it again."
            )
    if "passcodes" in contract.raw and not isinstance(contract.raw["passcodes"], dict):
        raise ContractError(f"{what} carries passcode points that are not an object. Export it again.")
    for key, op in contract.passcodes.items():
        try:
            n = op["symbols"]
            ts = [float(t) for t in op["thresholds"]]
            ok = (
                isinstance(n, int)
                and not isinstance(n, bool)
                and 2 <= n <= 4
                and len(ts) == n
                and all(math.isfinite(t) and t > 0 for t in ts)
            )
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ContractError(
                f"{what} carries a bad passcode point '{str(key)[:40]}' ({op!r:.80}); it needs "
                "'symbols' (2-4) and one threshold > 0 per position. Export it again."
            )
    if contract.default_threshold_key not in contract.thresholds:
        raise ContractError(
            f"{what} names default threshold '{contract.default_threshold_key}' "
            "but carries no such calibrated threshold. Export it again."
        )
    if not contract.fingerprint:
        raise ContractError(f"{what} has no fingerprint. Export it again with 'twinlock export'.")


def _fingerprint_mismatch(p: Path) -> ContractError:
    return ContractError(
        f"The model file {p} does not match its own fingerprint: its graph or weights "
        "were changed after export. Export it again."
    )


def _check_path(p: Path) -> None:
    what = f"The model file {p}"
    if not p.exists():
        raise ContractError(
            f"{what} does not exist. Check the path, or run 'twinlock doctor' to see which model is configured."
        )
    if p.is_dir():
        raise ContractError(f"{what} is a folder, not an .onnx file.")
    if not p.is_file():
        raise ContractError(f"{what} is not a regular file (a device, FIFO or socket).")
    refuse_if_open_database(p, "a model file", ContractError)  # before it is read


def read_contract(path: str | os.PathLike) -> ModelContract:
    """Load the model file at ``path``, validate it against the contract, return the contract.

    Raises :class:`ContractError` (never a protobuf or numpy traceback) for: a missing or
    unreadable file, a file that is not ONNX or is truncated, a model without a twinlock
    contract, a contract version newer than this app knows, a wrong input rank/size/type,
    a fingerprint that does not match the weights. Imports onnx (slow, ~1 s): the runtime
    uses :func:`read_contract_from_session` instead.
    """
    import onnx

    p = Path(path)
    what = f"The model file {p}"
    _check_path(p)
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, OSError, ...
        raise ContractError(
            f"{what} is not a readable ONNX model (it may be truncated or corrupt: "
            f"{type(exc).__name__}). Export it again with 'twinlock export'."
        ) from None
    if len(model.graph.node) == 0 or len(model.graph.input) == 0:
        raise ContractError(
            f"{what} holds no graph (empty, truncated or not an ONNX model). Export it again with 'twinlock export'."
        )
    meta = {kv.key: kv.value for kv in model.metadata_props}
    contract = _parse_doc(p, meta)
    inits = {t.name for t in model.graph.initializer}
    inputs = [
        (i.name, _dim_values(i), i.type.tensor_type.elem_type == onnx.TensorProto.FLOAT)
        for i in model.graph.input
        if i.name not in inits
    ]
    outputs = {o.name: _dim_values(o) for o in model.graph.output}
    _check_contract(p, contract, inputs, outputs)
    if graph_fingerprint(model) != contract.fingerprint:
        raise _fingerprint_mismatch(p)
    return contract


def _ort_dims(shape) -> list:
    return [int(d) if isinstance(d, int) else None for d in (shape or [])]


def read_contract_from_session(path: str | os.PathLike, session, data: bytes) -> ModelContract:
    """The same checks as :func:`read_contract`, from an ONNX Runtime session made from
    ``data`` (the file's bytes): the contract from ``get_modelmeta().custom_metadata_map``,
    inputs and outputs from the session, the fingerprint from the bytes
    (:func:`wire_fingerprint`). Imports onnx only when the bytes are not canonical."""
    p = Path(path)
    meta = dict(session.get_modelmeta().custom_metadata_map or {})
    contract = _parse_doc(p, meta)
    inputs = [(i.name, _ort_dims(i.shape), i.type == "tensor(float)") for i in session.get_inputs()]
    outputs = {o.name: _ort_dims(o.shape) for o in session.get_outputs()}
    _check_contract(p, contract, inputs, outputs)
    if wire_fingerprint(data) != contract.fingerprint:
        import onnx

        try:
            model = onnx.load_model_from_string(data)
        except Exception:
            raise _fingerprint_mismatch(p) from None
        if graph_fingerprint(model) != contract.fingerprint:
            raise _fingerprint_mismatch(p)
    return contract
