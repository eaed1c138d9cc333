"""How consistent a set of enrollment references is (Qt-free, numpy only).

Shown by the enrollment wizard before saving: the mutual distances of the references and
which ones lie far from the rest. A reference whose median distance to the others is above
the profile's threshold would not even match its own siblings: it is flagged as an outlier
(a smudge, a different symbol, a bad crop) so the user can discard and retake it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop_app.core.metrics import pairwise_distances


@dataclass
class Consistency:
    distances: np.ndarray            # [M, M] mutual distances
    median_to_others: np.ndarray     # [M]
    outliers: list[int]              # indices of flagged references
    threshold: float
    mean: float                      # mean of the off-diagonal distances
    max: float

    def message(self) -> str:
        m = len(self.median_to_others)
        if m < 2:
            return "Only one reference: nothing to compare it with. Capture a few more."
        head = (f"{m} references; mutual distances mean {self.mean:.3f}, largest {self.max:.3f} "
                f"(threshold {self.threshold:.3f}).")
        if not self.outliers:
            return head + " They are consistent."
        which = ", ".join(f"#{i + 1} (median distance {self.median_to_others[i]:.3f})" for i in self.outliers)
        return (head + f" Warning: {which} "
                f"{'is' if len(self.outliers) == 1 else 'are'} far from the others and would not match them. "
                "Discard and retake, unless you meant to enroll different variants.")


def consistency(embeddings: np.ndarray, threshold: float) -> Consistency:
    e = np.asarray(embeddings, dtype=np.float32)
    m = e.shape[0]
    d = pairwise_distances(e, e).astype(np.float64)
    np.fill_diagonal(d, 0.0)
    if m < 2:
        return Consistency(d, np.zeros(m), [], float(threshold), 0.0, 0.0)
    off = d[~np.eye(m, dtype=bool)].reshape(m, m - 1)
    med = np.median(off, axis=1)
    outliers = [int(i) for i in np.flatnonzero(med > threshold)]
    return Consistency(d, med, outliers, float(threshold), float(off.mean()), float(off.max()))
