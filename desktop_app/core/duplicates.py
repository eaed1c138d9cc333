"""Near-duplicate symbol images: embedding + radius neighbours, vectorised (numpy only).

Two images are near-duplicates (the same drawing shifted, re-scaled or re-encoded) when

- their model embeddings lie within ``threshold`` of each other, and
- their model-form images (28x28 after the app's preprocessing, which already undoes shift
  and scale; blurred, pooled to 14x14, centred, unit length) lie within ``pixel_threshold``.

Both are needed: a model trained to call every 7 the same symbol puts two different people's
7s as close together as two copies of one drawing (measured with the shipped digits model:
copies 0.02-0.07 apart, nearest other 7 at 0.02-0.05), while the image distance tells the
drawings apart; the embedding keeps two different symbols with similar pixels apart.

The search runs on the image descriptors: exact radius neighbours, squared distances from
matrix products, block by block over the upper triangle only (memory bounded by ``block``
rows), first in a 48-dimensional principal-component projection (distances there are never
larger, so no pair is missed) and then confirmed in full. Groups form around leaders (each
member a near-duplicate of its group's leader), or optionally as the connected components of
the near-duplicate pairs (vectorised union-find), which chain merely similar images together.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

# defaults: the embedding radius as a fraction of the model's clean-pair FAR-1e-3 threshold
# (``far_1e-3``: every model has it and it means the same in each; the app's default point may
# be another, e.g. ``symbol_far_1e-3``), and the image-descriptor radius (unit vectors:
# 0 = identical, 1.41 = unrelated)
DEFAULT_FRACTION = 0.5
DEFAULT_PIXEL_THRESHOLD = 0.12
SEARCH_DIM = 48
GRID_MIN = 8192  # from this many points on, the search is binned (see _grid_candidates)


def default_threshold(contract) -> float:
    op = (contract.thresholds or {}).get("far_1e-3")
    base = float(op["threshold"]) if op else float(contract.default_threshold)
    return float(DEFAULT_FRACTION * base)


def _blur_pool_matrix() -> np.ndarray:
    """[14,28]: a Gaussian blur (sigma 1 px) followed by 2x2 average pooling, as one matrix."""
    t = np.arange(28)
    k = np.exp(-0.5 * (t[:, None] - t[None, :]) ** 2)
    k /= k.sum(axis=1, keepdims=True)
    pool = np.zeros((14, 28))
    pool[np.arange(14), 2 * np.arange(14)] = pool[np.arange(14), 2 * np.arange(14) + 1] = 0.5
    return (pool @ k).astype(np.float32)


_BP = _blur_pool_matrix()


def image_descriptors(images) -> np.ndarray:
    """Model-form images [N,28,28] -> [N,196] float32 unit vectors (blurred, 2x2-pooled, centred),
    for all images at once (two batched matrix products)."""
    x = np.asarray(images, np.float32).reshape(-1, 28, 28)
    if len(x) == 0:
        return np.zeros((0, 196), np.float32)
    out = np.empty((len(x), 196), np.float32)
    for s in range(0, len(x), 8192):
        b = x[s : s + 8192]
        y = (b.reshape(-1, 28) @ _BP.T).reshape(-1, 28, 14).transpose(0, 2, 1)  # columns, then rows
        y = (np.ascontiguousarray(y).reshape(-1, 28) @ _BP.T).reshape(-1, 196)
        y -= y.mean(axis=1, keepdims=True)
        y /= np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-6)
        out[s : s + 8192] = y
    return out


def _project(x: np.ndarray, dim: int) -> np.ndarray:
    """Orthogonal projection on the top ``dim`` principal axes (distances can only shrink);
    the axes from the eigenvectors of a sample's covariance (small: D x D)."""
    if x.shape[1] <= dim or x.shape[0] <= dim:
        return x
    rng = np.random.default_rng(0)
    sample = x[rng.choice(len(x), size=min(len(x), 5000), replace=False)].astype(np.float64)
    mu = sample.mean(axis=0)
    c = sample - mu
    w, v = np.linalg.eigh(c.T @ c)
    axes = v[:, np.argsort(w)[::-1][:dim]]
    return np.ascontiguousarray((x - mu.astype(np.float32)) @ axes.astype(np.float32), dtype=np.float32)


def close_pairs(
    emb: np.ndarray, threshold: float, block: int = 2048, search_dim: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs i < j with ||e_i - e_j|| <= threshold: (i, j, distance) arrays (exact).

    With ``search_dim``, candidates are found in that many principal components first."""
    full = np.ascontiguousarray(emb, dtype=np.float32)
    e = _project(full, search_dim) if search_dim else full
    n = e.shape[0]
    sq = np.einsum("ij,ij->i", e, e)
    t2 = float(threshold) ** 2
    tol = 1e-5 * float(sq.max(initial=0.0)) + 1e-6
    out_i, out_j = [], []
    if n >= GRID_MIN:
        from threadpoolctl import threadpool_limits

        # many small products: one BLAS thread (two threads thrash on a busy 2-core machine:
        # measured 1.2 s vs 35-70 s for 60,000 images)
        with threadpool_limits(limits=1, user_api="blas"):
            out_i, out_j = _grid_candidates(e, sq, t2 + tol, float(threshold), block)
    for s in range(0, n if n < GRID_MIN else 0, block):
        a = e[s : s + block]
        rest = e[s:]  # upper triangle: columns from s on
        d2 = sq[s : s + block, None] + sq[None, s:] - 2.0 * (a @ rest.T)
        ii, jj = np.nonzero(d2 <= t2 + tol)  # slack for float32 rounding; confirmed below
        keep = jj > ii  # j > i within the block's own rows
        ii, jj = ii[keep], jj[keep]
        if ii.size:
            out_i.append(ii + s)
            out_j.append(jj + s)
    if not out_i:
        z = np.zeros(0, np.int64)
        return z, z.copy(), np.zeros(0, np.float32)
    i, j = np.concatenate(out_i), np.concatenate(out_j)
    exact = np.linalg.norm(full[i] - full[j], axis=1)  # confirm the candidates in full
    keep = exact <= threshold
    return i[keep].astype(np.int64), j[keep].astype(np.int64), exact[keep].astype(np.float32)


def _grid_candidates(
    e: np.ndarray, sq: np.ndarray, t2: float, threshold: float, block: int, dims: int = 4
) -> tuple[list, list]:
    """Candidate pairs (i < j) with squared distance <= t2, searched cell by cell.

    The points are binned on their first ``dims`` coordinates (the leading principal
    components) in cells ``threshold`` wide; two points within ``threshold`` lie in the same or
    in neighbouring cells, so each cell is compared only with itself and the neighbours that
    follow it in key order (each pair of cells once). Exact: nothing within range is missed."""
    g = min(dims, e.shape[1])
    cell = np.floor(e[:, :g] / threshold).astype(np.int64)
    cell -= cell.min(axis=0) - 1  # a margin of one cell on every side
    ext = cell.max(axis=0) + 2
    strides = np.concatenate([[1], np.cumprod(ext[:-1])]).astype(np.int64)
    key = cell @ strides
    order = np.argsort(key, kind="stable")
    skey = key[order]
    uniq, start = np.unique(skey, return_index=True)
    end = np.append(start[1:], len(skey))
    where = dict(zip(uniq.tolist(), zip(start.tolist(), end.tolist())))
    offs = sorted({int(np.dot(o, strides)) for o in itertools.product((-1, 0, 1), repeat=g)})
    offs = [o for o in offs if o >= 0]  # o > 0: each neighbouring pair of cells once
    out_i, out_j = [], []
    for k, (s0, s1) in zip(uniq.tolist(), zip(start.tolist(), end.tolist())):
        cand = [order[s0:s1]] + [order[slice(*where[k + o])] for o in offs[1:] if (k + o) in where]
        c = np.concatenate(cand)
        own = s1 - s0
        ec, sqc = e[c], sq[c]
        step = max(1, block // 2)
        for r in range(0, own, step):
            a = c[r : min(r + step, own)]  # this cell's rows only
            d2 = sq[a][:, None] + sqc[None, :] - 2.0 * (e[a] @ ec.T)
            m = d2 <= t2
            m[:, :own] &= a[:, None] < c[None, :own]  # inside the cell: i < j once
            ii, jj = np.nonzero(m)
            if ii.size:
                x, y = a[ii], c[jj]
                out_i.append(np.minimum(x, y))
                out_j.append(np.maximum(x, y))
    return out_i, out_j


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` nodes given edges (i, j) (vectorised union-find)."""
    parent = np.arange(n)
    if len(i) == 0:
        return parent
    i, j = np.asarray(i), np.asarray(j)
    while True:  # hook roots onto smaller roots, then compress
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
    members: list[int]  # indices into the input, in input order
    max_distance: float  # largest distance of a close pair inside the group


def find_duplicates(
    emb: np.ndarray,
    threshold: float,
    images=None,
    pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD,
    block: int = 2048,
    chain: bool = False,
) -> list[DuplicateGroup]:
    """Groups (two or more members) of near-duplicates, largest first.

    ``emb`` [N,D] model embeddings; ``images`` [N,28,28] their model-form images (without
    them, the embedding distance alone decides). Groups are formed around leaders
    (:func:`leader_groups`), or with ``chain`` as connected components (a chain of near
    duplicates is one group). ``max_distance``: the largest embedding distance to the leader
    (with ``chain``: of a near-duplicate pair in the group)."""
    emb = np.asarray(emb, np.float32)
    n = int(emb.shape[0])
    if images is not None:
        if len(images) != n:
            raise ValueError("one model-form image per embedding is needed")
        i, j, _ = close_pairs(image_descriptors(images), pixel_threshold, block, search_dim=SEARCH_DIM)
        d = np.linalg.norm(emb[i] - emb[j], axis=1) if len(i) else np.zeros(0, np.float32)
        keep = d <= threshold
        i, j, d = i[keep], j[keep], d[keep]
    else:
        i, j, d = close_pairs(emb, threshold, block)
    if chain:
        root = components(n, i, j)
        groups: dict[int, list[int]] = {}
        for k in np.flatnonzero(np.bincount(root, minlength=n)[root] > 1):
            groups.setdefault(int(root[k]), []).append(int(k))
        worst: dict[int, float] = {}
        for a, dist in zip(root[i], d):
            worst[int(a)] = max(worst.get(int(a), 0.0), float(dist))
        out = [DuplicateGroup(m, worst.get(r, 0.0)) for r, m in groups.items()]
    else:
        out = leader_groups(n, i, j, d)
    out.sort(key=lambda g: (-len(g.members), g.members[0]))
    return out


def leader_groups(n: int, i: np.ndarray, j: np.ndarray, d: np.ndarray) -> list[DuplicateGroup]:
    """Groups around leaders: the image with the most near-duplicates and those of them not yet
    grouped, then the next, ... Every member is a near-duplicate of its group's leader, so
    long chains of merely similar images (MNIST's many plain 1s) do not merge into one group."""
    if len(i) == 0:
        return []
    src = np.concatenate([i, j])
    dst = np.concatenate([j, i])
    dist = np.concatenate([d, d])
    order = np.argsort(src, kind="stable")
    src, dst, dist = src[order], dst[order], dist[order]
    start = np.searchsorted(src, np.arange(n + 1))
    degree = np.diff(start)
    assigned = np.zeros(n, bool)
    out = []
    for node in np.lexsort((np.arange(n), -degree)):
        if degree[node] == 0:
            break
        if assigned[node]:
            continue
        nb, nd = dst[start[node] : start[node + 1]], dist[start[node] : start[node + 1]]
        free = ~assigned[nb]
        if not free.any():
            continue
        members = np.concatenate([[node], nb[free]])
        assigned[members] = True
        out.append(DuplicateGroup(sorted(int(m) for m in members), float(nd[free].max())))
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
        sheet[y0 : y0 + a.shape[0], x0 : x0 + a.shape[1]] = a
        if captions:
            text = str(captions[k])[:14]
            cv2.putText(
                sheet,
                text,
                (c * cell + 3, r * (cell + cap_h) + cell + 11),
                cv2.FONT_HERSHEY_PLAIN,
                0.8,
                (40, 40, 40),
                1,
                cv2.LINE_AA,
            )
    return sheet
