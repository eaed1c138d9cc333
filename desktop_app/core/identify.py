"""Identify a symbol: nearest neighbours in a labelled gallery (numpy only, vectorised).

The answer for one image is its label's nearest gallery symbol, with the runner-up *label*
("this is a 7 (distance 0.12; next: 1 at 0.64)"), and the best few matches for display.
Given a threshold, a nearest symbol beyond it is not a recognition: "not recognised: the
nearest is a star at 0.57, beyond the threshold 0.502".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .metrics import pairwise_distances
from .verifier import compare_text  # never "0.502 > 0.502"


@dataclass
class Match:
    index: int  # into the gallery
    label: str
    kind: str
    distance: float


@dataclass
class Identification:
    label: str | None
    distance: float | None
    next_label: str | None
    next_distance: float | None
    matches: list[Match] = field(default_factory=list)  # the best few gallery symbols, nearest first
    threshold: float | None = None  # the distance within which a symbol counts as recognised

    @property
    def recognised(self) -> bool:
        return self.label is not None and (self.threshold is None or self.distance <= self.threshold)

    def sentence(self) -> str:
        if self.label is None:
            return "the gallery is empty: nothing to compare with"
        if not self.recognised:
            return f"not recognised: the nearest is {self.label}, {compare_text(self.distance, self.threshold)}"
        s = f"this is a {self.label} (distance {self.distance:.2f}"
        if self.next_label is not None:
            s += f"; next: {self.next_label} at {self.next_distance:.2f}"
        return s + ")"

    def as_dict(self) -> dict:
        return {
            "label": self.label,
            "distance": self.distance,
            "next_label": self.next_label,
            "next_distance": self.next_distance,
            "threshold": self.threshold,
            "recognised": self.recognised,
            "matches": [
                {"label": m.label, "kind": m.kind, "distance": m.distance, "index": m.index} for m in self.matches
            ],
        }


def nearest(queries: np.ndarray, gallery_emb: np.ndarray, k: int = 5, block: int = 4096):
    """Indices [Q,k] and distances [Q,k] of each query's k nearest gallery embeddings."""
    q = np.asarray(queries, np.float32)
    g = np.asarray(gallery_emb, np.float32)
    k = max(0, min(int(k), g.shape[0]))
    idx = np.zeros((q.shape[0], k), np.int64)
    dist = np.zeros((q.shape[0], k), np.float32)
    if k == 0:
        return idx, dist
    for s in range(0, q.shape[0], block):
        d = pairwise_distances(q[s : s + block], g)
        part = (
            np.argpartition(d, k - 1, axis=1)[:, :k]
            if k < g.shape[0]
            else np.tile(np.arange(g.shape[0]), (d.shape[0], 1))
        )
        pd = np.take_along_axis(d, part, 1)
        order = np.argsort(pd, axis=1, kind="stable")
        idx[s : s + block] = np.take_along_axis(part, order, 1)
        dist[s : s + block] = np.take_along_axis(pd, order, 1)
    return idx, dist


def identify(
    queries: np.ndarray, gallery_emb: np.ndarray, labels, kinds=None, top: int = 5, threshold: float | None = None
) -> list[Identification]:
    """One :class:`Identification` per query embedding (``threshold``: beyond it, the
    nearest symbol is named but not recognised)."""
    q = np.asarray(queries, np.float32)
    labels = np.asarray(labels).astype(str)
    kinds = np.asarray(kinds).astype(str) if kinds is not None else np.full(len(labels), "")
    if len(labels) == 0:
        return [Identification(None, None, None, None, threshold=threshold) for _ in range(len(q))]
    uniq, inv = np.unique(labels, return_inverse=True)
    out = []
    for s in range(0, len(q), 1024):
        d = pairwise_distances(q[s : s + 1024], gallery_emb).astype(np.float64)  # [B, N]
        # per-label minimum distance [B, L], vectorised: min over each label's columns
        per = np.full((d.shape[0], len(uniq)), np.inf)
        for li in range(len(uniq)):
            per[:, li] = d[:, inv == li].min(axis=1)
        order = np.argsort(per, axis=1, kind="stable")
        top_idx = np.argsort(d, axis=1, kind="stable")[:, :top]
        for r in range(d.shape[0]):
            best = order[r, 0]
            nxt = order[r, 1] if len(uniq) > 1 else None
            ms = [Match(int(i), str(labels[i]), str(kinds[i]), float(d[r, i])) for i in top_idx[r]]
            out.append(
                Identification(
                    str(uniq[best]),
                    float(per[r, best]),
                    None if nxt is None else str(uniq[nxt]),
                    None if nxt is None else float(per[r, nxt]),
                    ms,
                    None if threshold is None else float(threshold),
                )
            )
    return out
