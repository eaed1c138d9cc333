"""How consistent a set of enrollment references is (Qt-free, numpy only).

Shown by the enrollment wizard before saving: the mutual distances of the references and
which ones lie far from the rest. A reference whose median distance to the others is above
the profile's threshold would not even match its own siblings: it is flagged as an outlier
(a smudge, a different symbol, a bad crop) so the user can discard and retake it, when it
also stands out from the rest (median distance more than OUTLIER_RATIO times the typical
one). When the references are far apart in general, the message says so instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from desktop_app.core.metrics import pairwise_distances

OUTLIER_RATIO = 1.25


@dataclass
class Consistency:
    distances: np.ndarray  # [M, M] mutual distances
    median_to_others: np.ndarray  # [M]
    outliers: list[int]  # indices of flagged references
    threshold: float
    mean: float  # mean of the off-diagonal distances
    max: float

    @property
    def spread_out(self) -> bool:
        """The references are, on average, farther apart than the threshold."""
        return self.mean > self.threshold

    def message(self) -> str:
        m = len(self.median_to_others)
        if m < 2:
            return "Only one reference: nothing to compare it with. Capture a few more."
        head = (
            f"{m} references; mutual distances mean {self.mean:.3f}, largest {self.max:.3f} "
            f"(threshold {self.threshold:.3f})."
        )
        spread = (
            " Warning: on average they are farther apart than the threshold, so even your own "
            "symbol may be rejected. Draw it the same way each time and retake, or calibrate the "
            "threshold after enrolling."
            if self.spread_out
            else ""
        )
        if not self.outliers:
            return head + (spread or " They are consistent.")
        which = ", ".join(f"#{i + 1} (median distance {self.median_to_others[i]:.3f})" for i in self.outliers)
        return (
            head + f" Warning: {which} "
            f"{'is' if len(self.outliers) == 1 else 'are'} far from the others and would not match them. "
            "Discard and retake, unless you meant to enroll different variants." + spread
        )


def consistency(embeddings: np.ndarray, threshold: float) -> Consistency:
    e = np.asarray(embeddings, dtype=np.float32)
    m = e.shape[0]
    d = pairwise_distances(e, e).astype(np.float64)
    np.fill_diagonal(d, 0.0)
    if m < 2:
        return Consistency(d, np.zeros(m), [], float(threshold), 0.0, 0.0)
    off = d[~np.eye(m, dtype=bool)].reshape(m, m - 1)
    med = np.median(off, axis=1)
    typical = float(np.median(med))
    far = (med > threshold) & (med > OUTLIER_RATIO * typical) if m >= 3 else np.zeros(m, bool)
    outliers = [int(i) for i in np.flatnonzero(far)]
    return Consistency(d, med, outliers, float(threshold), float(off.mean()), float(off.max()))
