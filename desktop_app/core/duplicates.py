"""Near-duplicate symbol images: embedding + radius neighbours, vectorised (numpy only).

Two images are near-duplicates when their embeddings lie within ``threshold`` of each other
(the same drawing shifted, re-scaled or re-encoded lands a small distance away; another
drawing of the same symbol usually does not). Groups are the connected components of that
"within threshold" graph (union-find over the close pairs).

The search is exact: squared distances from matrix products, block by block over the upper
triangle only, so memory stays bounded (``block`` rows at a time) and 100,000 embeddings are
searched in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# the default near-duplicate radius, as a fraction of the model's default (verification)
# threshold: copies of one drawing are much closer than two drawings of one symbol
DEFAULT_FRACTION = 0.3


def default_threshold(contract) -> float:
    return float(DEFAULT_FRACTION * contract.default_threshold)


def close_pairs(emb: np.ndarray, threshold: float, block: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs i < j with ||e_i - e_j|| <= threshold: (i, j, distance) arrays."""
    e = np.ascontiguousarray(emb, dtype=np.float32)
    n = e.shape[0]
    sq = np.einsum("ij,ij->i", e, e)
    t2 = float(threshold) ** 2
    out_i, out_j, out_d = [], [], []
    for s in range(0, n, block):
        a = e[s:s + block]
        rest = e[s:]                                        # upper triangle: columns from s on
        d2 = sq[s:s + block, None] + sq[None, s:] - 2.0 * (a @ rest.T)
        ii, jj = np.nonzero(d2 <= t2 + 1e-6)
        keep = jj > ii                                      # j > i within the block's own rows
        ii, jj = ii[keep], jj[keep]
        if ii.size:
            out_i.append(ii + s)
            out_j.append(jj + s)
            out_d.append(np.sqrt(np.maximum(d2[ii, jj], 0.0)))
    if not out_i:
        z = np.zeros(0, np.int64)
        return z, z.copy(), np.zeros(0, np.float32)
    i, j, d = np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d).astype(np.float32)
    exact = np.linalg.norm(e[i] - e[j], axis=1)             # recompute the few survivors exactly
    keep = exact <= threshold
    return i[keep].astype(np.int64), j[keep].astype(np.int64), exact[keep].astype(np.float32)


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes given edges (i, j) (vectorised union-find)."""
    parent = np.arange(n)
    if len(i) == 0:
        return parent
    i, j = np.asarray(i), np.asarray(j)
    while True:                                             # hook roots onto smaller roots, then compress
        ri, rj = parent[i], parent[j]
        lo, hi = np.minimum(ri, rj), np.maximum(ri, rj)
        changed = lo != hi
        if not changed.any():
            break
        np.minimum.at(parent, hi[changed], lo[changed])
        while True:
            pp = parent[parent]
            if np.array_equal(pp, parent):
                break
            parent = pp
    return parent


@dataclass
class DuplicateGroup:
    members: list[int]          # indices into the input, in input order
    max_distance: float         # largest distance of a close pair inside the group


def find_duplicates(emb: np.ndarray, threshold: float, block: int = 2048) -> list[DuplicateGroup]:
    """Groups (two or more members) of near-duplicate embeddings, largest first."""
    n = int(np.asarray(emb).shape[0])
    i, j, d = close_pairs(emb, threshold, block)
    root = components(n, i, j)
    groups: dict[int, list[int]] = {}
    for k in np.flatnonzero(np.bincount(root, minlength=n)[root] > 1):
        groups.setdefault(int(root[k]), []).append(int(k))
    worst: dict[int, float] = {}
    for a, dist in zip(root[i], d):
        worst[int(a)] = max(worst.get(int(a), 0.0), float(dist))
    out = [DuplicateGroup(m, worst.get(r, 0.0)) for r, m in groups.items()]
    out.sort(key=lambda g: (-len(g.members), g.members[0]))
    return out


def contact_sheet(images, captions=None, cols: int = 8, cell: int = 84) -> np.ndarray:
    """A BGR contact sheet: each image (any size, grey or BGR) in a ``cell`` square, with a caption."""
    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, (n + cols - 1) // cols)
    cap_h = 16 if captions else 0
    sheet = np.full((rows * (cell + cap_h), cols * cell, 3), 255, np.uint8)
    for k, im in enumerate(images):
        a = np.asarray(im)
        if a.dtype != np.uint8:
            a = np.clip(a, 0, 255).astype(np.uint8)
        if a.ndim == 2:
            a = cv2.cvtColor(a, cv2.COLOR_GRAY2BGR)
        h, w = a.shape[:2]
        s = (cell - 4) / max(h, w)
        interp = cv2.INTER_NEAREST if max(h, w) <= 32 else cv2.INTER_AREA
        a = cv2.resize(a, (max(1, int(w * s)), max(1, int(h * s))), interpolation=interp)
        r, c = divmod(k, cols)
        y0, x0 = r * (cell + cap_h) + (cell - a.shape[0]) // 2, c * cell + (cell - a.shape[1]) // 2
        sheet[y0:y0 + a.shape[0], x0:x0 + a.shape[1]] = a
        if captions:
            text = str(captions[k])[:14]
            cv2.putText(sheet, text, (c * cell + 3, r * (cell + cap_h) + cell + 11), cv2.FONT_HERSHEY_PLAIN,
                        0.8, (40, 40, 40), 1, cv2.LINE_AA)
    return sheet
