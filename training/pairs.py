"""Pair sampling (numpy, seeded): balanced positive/negative pairs and the validation split.

``same`` is True for a genuine pair (same digit). The contrastive loss's Y is ``~same``.
"""

from __future__ import annotations

import numpy as np


def validation_split(n: int, n_val: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train_indices, val_indices), both sorted, from a seeded permutation of range(n)."""
    if not 0 < n_val < n:
        raise ValueError(f"validation size must be between 1 and {n - 1}, not {n_val}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def seed_protocol_pairs(labels, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each item once with a random same-label partner and once with a random
    different-label partner (the seed notebook's test protocol): 2N pairs.

    Returns (i, j, same) with i, j indices into ``labels``. Items whose label occurs only
    once get no positive pair; labels must take at least two values.
    """
    y = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    if classes.size < 2:
        raise ValueError("pairs need at least two classes")
    by_class = {c: np.flatnonzero(y == c) for c in classes}
    not_class = {c: np.flatnonzero(y != c) for c in classes}
    pi, pj, ni, nj = [], [], [], []
    for c in classes:
        idx = by_class[c]
        if idx.size >= 2:
            # a random partner other than itself: shift by 1..n-1 positions in the class list
            off = rng.integers(1, idx.size, size=idx.size)
            pi.append(idx)
            pj.append(idx[(np.arange(idx.size) + off) % idx.size])
        others = not_class[c]
        ni.append(idx)
        nj.append(others[rng.integers(0, others.size, size=idx.size)])
    i = np.concatenate(pi + ni)
    j = np.concatenate(pj + nj)
    same = np.concatenate([np.ones(sum(map(len, pi)), bool), np.zeros(sum(map(len, ni)), bool)])
    order = rng.permutation(i.size)
    return i[order], j[order], same[order]


def class_mask(labels, classes) -> np.ndarray:
    return np.isin(np.asarray(labels), np.asarray(list(classes)))
