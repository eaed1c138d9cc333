"""ONNX Runtime embedder: images already in model form -> embeddings.

Providers are asked for in the order CUDA -> CPU (or CPU only when the user prefers it);
the provider that is actually active is reported by :attr:`Embedder.provider`. An
onnxruntime-gpu install on a machine without the CUDA libraries falls back to the CPU
quietly (ORT's own error line is silenced; the fallback is reported instead).

At load the contract is read through ONNX Runtime's model metadata (``onnx`` is not
imported: it costs about a second per ``twinlock verify``), and the model must pass a
probe: ten fixed digit images must give finite embeddings of the size the contract
promises, and different digits must not land on (nearly) the same point -- a model whose
output is NaN, constant, or of another size is refused before it can grant anything.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .contract import (
    ContractError,
    ModelContract,
    _check_path,
    _wire_fields,
    normalise_pixels,
    read_contract_from_session,
)
from .metrics import pairwise_distances
from .paths import active_model_path

PROVIDER_NAMES = {"CUDAExecutionProvider": "CUDA", "CPUExecutionProvider": "CPU"}
MAX_MODEL_BYTES = 1 << 30
PROBE_DIGITS = "0123456789"
_PROBES: list = []


# strokes of the digits 0-9 in a 28x28 box: ("e", centre, axes) ellipses, ("l", points) polylines
_PROBE_STROKES = {
    "0": [("e", (14, 14), (6, 9))],
    "1": [("l", [(13, 5), (15, 4), (15, 24)])],
    "2": [("l", [(8, 8), (11, 5), (17, 5), (19, 9), (9, 23), (20, 23)])],
    "3": [("l", [(8, 5), (19, 5), (13, 13), (19, 17), (17, 23), (8, 22)])],
    "4": [("l", [(17, 24), (17, 4), (7, 17), (21, 17)])],
    "5": [("l", [(19, 5), (9, 5), (8, 13), (17, 13), (19, 19), (16, 23), (8, 22)])],
    "6": [("l", [(18, 5), (11, 9), (8, 17), (10, 23), (17, 23), (18, 17), (9, 15)])],
    "7": [("l", [(7, 5), (20, 5), (11, 24)])],
    "8": [("e", (14, 9), (5, 4)), ("e", (14, 19), (6, 5))],
    "9": [("l", [(19, 11), (10, 12), (9, 6), (18, 5), (19, 11), (15, 24)])],
}


def probe_images() -> np.ndarray:
    """Ten fixed 28x28 images of the digits 0-9 (white strokes on black, MNIST-like framing).
    Drawn with lines and ellipses: well under a millisecond (cv2.putText's first call costs ~0.1 s)."""
    if not _PROBES:
        import cv2

        out = []
        for ch in PROBE_DIGITS:
            img = np.zeros((28, 28), np.uint8)
            for kind, a, *b in _PROBE_STROKES[ch]:
                if kind == "e":
                    cv2.ellipse(img, a, b[0], 0, 0, 360, 255, 2, cv2.LINE_AA)
                else:
                    cv2.polylines(img, [np.array(a, np.int32)], False, 255, 2, cv2.LINE_AA)
            out.append(img)
        _PROBES.append(np.stack(out))
    return _PROBES[0]


def check_probe_output(emb: np.ndarray, dim: int, threshold: float, what: str) -> None:
    """Refuse a model whose probe embeddings are non-finite, of the wrong size, or collapsed."""
    e = np.asarray(emb)
    if e.ndim != 2 or e.shape != (len(PROBE_DIGITS), dim):
        raise ContractError(
            f"{what} gives embeddings of shape {list(e.shape[1:])} but its contract promises "
            f"{dim} numbers. Export it again."
        )
    if not np.all(np.isfinite(e)):
        raise ContractError(
            f"{what} gives non-finite embeddings (NaN or infinity) for plain digit images: "
            "it is broken. Export it again; nothing was compared or stored."
        )
    d = pairwise_distances(e.astype(np.float32), e.astype(np.float32))
    off = d[~np.eye(len(e), dtype=bool)]
    if np.median(off) < threshold or off.min() < 0.1 * threshold:
        raise ContractError(
            f"{what} maps different digits to (nearly) the same point (median distance "
            f"{np.median(off):.3g}, smallest {off.min():.3g}, threshold {threshold:.3g}): it "
            "would accept other symbols as yours. Use another model."
        )


def resolve_model_path(path: str | os.PathLike | None = None, store=None) -> Path:
    """An explicit path, else $TWINLOCK_MODEL, else (with a ``store``) the model chosen in
    the app, else the shipped default model: :func:`paths.active_model_path`, the one
    home of this rule."""
    return active_model_path(store, path)


def _requested_providers(preference: str) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    wanted = ["CPUExecutionProvider"]
    if preference in ("auto", "cuda") and "CUDAExecutionProvider" in available:
        wanted.insert(0, "CUDAExecutionProvider")
    return wanted


class Embedder:
    """One ONNX Runtime session for one model file, validated against the contract.

    ``preference``: "auto" (CUDA when it works, else CPU), "cuda" (same, but
    :attr:`fallback_reason` explains a fallback), or "cpu".
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        preference: str = "auto",
        intra_op_threads: int = 1,
        warmup: bool = True,
    ):
        import onnxruntime as ort

        self.path = resolve_model_path(model_path)
        what = f"The model file {self.path}"
        _check_path(self.path)
        try:
            size = self.path.stat().st_size
            if size > MAX_MODEL_BYTES:
                raise ContractError(f"{what} is {size / 2**30:.1f} GiB: too large for a twinlock model.")
            data = self.path.read_bytes()
        except OSError as exc:
            raise ContractError(f"{what} cannot be read ({exc.strerror}).") from None
        try:
            top = {f for f, _ in _wire_fields(data)}
        except ValueError:
            top = set()
        if 7 not in top:
            raise ContractError(
                f"{what} is not a readable ONNX model (it may be empty, truncated or "
                "corrupt). Export it again with 'twinlock export'."
            )
        so = ort.SessionOptions()
        # one frame at a time is tiny: one thread avoids spinning idle cores, and
        # spinning is off so an idle app uses no CPU.
        so.intra_op_num_threads = max(1, int(intra_op_threads))
        so.inter_op_num_threads = 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 4  # a missing CUDA library is reported by us, not printed by ORT
        requested = _requested_providers(preference)
        try:
            ort.set_default_logger_severity(4)
            self.session = ort.InferenceSession(data, so, providers=requested)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise ContractError(f"ONNX Runtime could not load {self.path}: {first}. Export the model again.") from None
        self.contract: ModelContract = read_contract_from_session(self.path, self.session, data)
        active = self.session.get_providers()
        self.provider = PROVIDER_NAMES.get(active[0], active[0])
        self.fallback_reason = ""
        if "CUDAExecutionProvider" in requested and active[0] != "CUDAExecutionProvider":
            self.fallback_reason = (
                "CUDA was requested but is not usable here (no NVIDIA GPU or "
                "no CUDA/cuDNN libraries); running on the CPU."
            )
        elif preference == "cuda" and "CUDAExecutionProvider" not in requested:
            self.fallback_reason = "This onnxruntime build has no CUDA support; running on the CPU."
        c = self.contract
        self._input = c.input_name
        self._output = c.output_name
        try:
            probe = self.embed_images(probe_images())
        except ContractError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise ContractError(f"{what} fails when it is run ({first}). Export it again.") from None
        check_probe_output(probe, c.embedding_dim, c.default_threshold, what)

    @property
    def fingerprint(self) -> str:
        return self.contract.fingerprint

    @property
    def dim(self) -> int:
        return self.contract.embedding_dim

    def normalize_pixels(self, images_u8: np.ndarray) -> np.ndarray:
        """uint8 images [N,28,28] (white ink on black) -> model input [N,1,28,28] float32."""
        c = self.contract
        return normalise_pixels(images_u8, c.mean, c.std, c.scale)

    def embed(self, batch: np.ndarray, max_batch: int = 1024) -> np.ndarray:
        """Model-form float32 batch [N,1,28,28] -> embeddings [N,D] float32."""
        x = np.ascontiguousarray(batch, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != (1, self.contract.image_size, self.contract.image_size):
            raise ValueError(f"expected a batch [N,1,28,28], got {x.shape}")
        if x.shape[0] == 0:
            return np.zeros((0, self.dim), np.float32)
        outs = [
            self.session.run([self._output], {self._input: x[s : s + max_batch]})[0]
            for s in range(0, x.shape[0], max_batch)
        ]
        return np.concatenate(outs).astype(np.float32, copy=False)

    def embed_images(self, images_u8: np.ndarray) -> np.ndarray:
        """uint8 28x28 images (one or many) -> embeddings [N,D]."""
        return self.embed(self.normalize_pixels(images_u8))
