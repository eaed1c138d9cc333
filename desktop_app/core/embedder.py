"""ONNX Runtime embedder: images already in model form -> embeddings.

Providers are asked for in the order CUDA -> CPU (or CPU only when the user prefers it);
the provider that is actually active is reported by :attr:`Embedder.provider`. An
onnxruntime-gpu install on a machine without the CUDA libraries falls back to the CPU
quietly (ORT's own error line is silenced; the fallback is reported instead).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .contract import ContractError, ModelContract, read_contract
from .paths import DEFAULT_MODEL

PROVIDER_NAMES = {"CUDAExecutionProvider": "CUDA", "CPUExecutionProvider": "CPU"}


def resolve_model_path(path: str | os.PathLike | None = None) -> Path:
    """An explicit path, else $TWINLOCK_MODEL, else the shipped default model."""
    return Path(path or os.environ.get("TWINLOCK_MODEL") or DEFAULT_MODEL)


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

    def __init__(self, model_path: str | os.PathLike | None = None, preference: str = "auto",
                 intra_op_threads: int = 1, warmup: bool = True):
        import onnxruntime as ort

        self.path = resolve_model_path(model_path)
        self.contract: ModelContract = read_contract(self.path)
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
            self.session = ort.InferenceSession(str(self.path), so, providers=requested)
        except Exception as exc:
            raise ContractError(f"ONNX Runtime could not load {self.path}: {exc}. "
                                "Export the model again.") from None
        active = self.session.get_providers()
        self.provider = PROVIDER_NAMES.get(active[0], active[0])
        self.fallback_reason = ""
        if "CUDAExecutionProvider" in requested and active[0] != "CUDAExecutionProvider":
            self.fallback_reason = ("CUDA was requested but is not usable here (no NVIDIA GPU or "
                                    "no CUDA/cuDNN libraries); running on the CPU.")
        elif preference == "cuda" and "CUDAExecutionProvider" not in requested:
            self.fallback_reason = "This onnxruntime build has no CUDA support; running on the CPU."
        c = self.contract
        self._input = c.input_name
        self._output = c.output_name
        if warmup:
            self.embed(np.zeros((1, 1, c.image_size, c.image_size), np.float32))

    @property
    def fingerprint(self) -> str:
        return self.contract.fingerprint

    @property
    def dim(self) -> int:
        return self.contract.embedding_dim

    def normalize_pixels(self, images_u8: np.ndarray) -> np.ndarray:
        """uint8 images [N,28,28] (white ink on black) -> model input [N,1,28,28] float32."""
        c = self.contract
        x = np.asarray(images_u8, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        if x.ndim == 3:
            x = x[:, None]
        x = x * np.float32(c.scale)
        return ((x - np.float32(c.mean)) / np.float32(c.std)).astype(np.float32, copy=False)

    def embed(self, batch: np.ndarray, max_batch: int = 1024) -> np.ndarray:
        """Model-form float32 batch [N,1,28,28] -> embeddings [N,D] float32."""
        x = np.ascontiguousarray(batch, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != (1, self.contract.image_size, self.contract.image_size):
            raise ValueError(f"expected a batch [N,1,28,28], got {x.shape}")
        if x.shape[0] == 0:
            return np.zeros((0, self.dim), np.float32)
        outs = [self.session.run([self._output], {self._input: x[s:s + max_batch]})[0]
                for s in range(0, x.shape[0], max_batch)]
        return np.concatenate(outs).astype(np.float32, copy=False)

    def embed_images(self, images_u8: np.ndarray) -> np.ndarray:
        """uint8 28x28 images (one or many) -> embeddings [N,D]."""
        return self.embed(self.normalize_pixels(images_u8))
