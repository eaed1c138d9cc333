"""PyTorch vs ONNX Runtime on the same inputs: the exported file must compute the tower."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TOLERANCE = 1e-5
BATCHES = (1, 7, 256)


@dataclass
class ParityReport:
    tolerance: float
    max_abs_diff: float = 0.0
    cases: list = field(default_factory=list)  # (kind, batch, max_abs_diff)

    @property
    def ok(self) -> bool:
        return bool(self.cases) and all(d <= self.tolerance for _, _, d in self.cases)

    def worst(self) -> tuple:
        return max(self.cases, key=lambda c: c[2])

    def as_dict(self) -> dict:
        return {
            "tolerance": self.tolerance,
            "max_abs_diff": self.max_abs_diff,
            "batches": sorted({b for _, b, _ in self.cases}),
            "inputs": sorted({k for k, _, _ in self.cases}),
            "runtime": "onnxruntime CPU",
        }


def parity_inputs(digits_normalized: np.ndarray, seed: int = 0, batches=BATCHES):
    """(kind, batch array) cases: random tensors and real-looking digits at each batch size."""
    rng = np.random.default_rng(seed)
    digits = np.asarray(digits_normalized, np.float32)
    if digits.ndim != 4 or digits.shape[0] == 0:
        raise ValueError("need at least one digit image [N,1,28,28] for the parity check")
    cases = []
    for b in batches:
        cases.append(("random", rng.standard_normal((b, 1, 28, 28)).astype(np.float32)))
        idx = np.arange(b) % digits.shape[0]
        cases.append(("digits", np.ascontiguousarray(digits[idx])))
    return cases


def torch_outputs(model, cases) -> list:
    """The torch tower's outputs for every case (computed once, compared twice)."""
    import torch

    model = model.eval()
    with torch.no_grad():
        return [model(torch.from_numpy(x)).numpy() for _, x in cases]


def check_parity(model, embedder, cases, tolerance: float = TOLERANCE, refs=None) -> ParityReport:
    """Run every case through the torch ``model`` (or take its outputs ``refs``) and the
    ONNX Runtime ``embedder``."""
    report = ParityReport(tolerance=tolerance)
    refs = refs if refs is not None else torch_outputs(model, cases)
    for (kind, x), ref in zip(cases, refs):
        got = embedder.embed(x)
        if got.shape != ref.shape:
            d = float("inf")
        else:
            d = float(np.max(np.abs(got.astype(np.float64) - ref.astype(np.float64))))
            if not np.isfinite(d):
                d = float("inf")
        report.cases.append((kind, int(x.shape[0]), d))
        report.max_abs_diff = max(report.max_abs_diff, d)
    return report
