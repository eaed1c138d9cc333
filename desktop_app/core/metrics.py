"""Verification metrics (numpy only), as ISO/IEC 19795-1 uses the words.

A comparison is *accepted* when its distance is ``<= threshold``.

- FAR(t): fraction of impostor comparisons accepted (distance <= t)
- FRR(t): fraction of genuine comparisons rejected (distance > t)
- EER: the rate where FAR and FRR cross

These are the functions that training's ``evaluate``, export's calibration, the CLI's
``calibrate`` and the app's calibration dialog all use, so every figure twinlock shows
is computed one way.
"""

from __future__ import annotations

from dataclasses import dataclass, asdict

import numpy as np


def _as_sorted(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).ravel()
    if a.size and not np.all(np.isfinite(a)):
        raise ValueError("distances contain NaN or infinity")
    return np.sort(a)


def far_frr(genuine, impostor, thresholds) -> tuple[np.ndarray, np.ndarray]:
    """FAR and FRR at each threshold (vectorised; arrays of the thresholds' shape)."""
    g, i = _as_sorted(genuine), _as_sorted(impostor)
    if g.size == 0 or i.size == 0:
        raise ValueError("need at least one genuine and one impostor comparison")
    t = np.asarray(thresholds, dtype=np.float64)
    far = np.searchsorted(i, t, side="right") / i.size
    frr = 1.0 - np.searchsorted(g, t, side="right") / g.size
    return far, frr


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold with the error rates it gives and the counts behind them."""

    threshold: float
    far: float
    frr: float
    genuine: int  # number of genuine comparisons
    impostor: int  # number of impostor comparisons
    false_accepts: int
    false_rejects: int

    def as_dict(self) -> dict:
        return asdict(self)


def operating_point(genuine, impostor, threshold: float) -> OperatingPoint:
    g, i = _as_sorted(genuine), _as_sorted(impostor)
    fa = int(np.searchsorted(i, threshold, side="right"))
    fr = int(g.size - np.searchsorted(g, threshold, side="right"))
    return OperatingPoint(float(threshold), fa / i.size, fr / g.size, int(g.size), int(i.size), fa, fr)


def threshold_at_far(genuine, impostor, target_far: float) -> OperatingPoint:
    """The largest threshold whose FAR does not exceed ``target_far``.

    With n impostor comparisons at most floor(target_far * n) may be accepted, so the
    threshold sits just below the (k+1)-th smallest impostor distance. When n is too small
    to resolve the target (target_far * n < 1) no impostor may be accepted at all; check
    :func:`supports_far` before trusting such a point.
    """
    if not 0 < target_far < 1:
        raise ValueError("target FAR must be between 0 and 1")
    i = _as_sorted(impostor)
    if i.size == 0:
        raise ValueError("need impostor comparisons to set a threshold by FAR")
    k = int(np.floor(target_far * i.size + 1e-9))
    if k >= i.size:
        t = float(i[-1])
    else:
        t = float(np.nextafter(i[k], -np.inf))
    return operating_point(genuine, i, t)


def supports_far(n_impostor: int, target_far: float, min_errors: int = 3) -> bool:
    """Whether ``n_impostor`` comparisons can support a claim of FAR ``target_far``.

    By the "rule of 3", observing 0 errors in n trials bounds the rate at about 3/n with
    95% confidence; we ask that the target allows at least ``min_errors`` errors, i.e.
    n >= min_errors / target_far.
    """
    return n_impostor >= min_errors / target_far


def eer(genuine, impostor) -> tuple[float, float]:
    """Equal error rate and its threshold: (eer, threshold).

    Sweeps every distinct distance; at the threshold where FAR - FRR changes sign the EER
    is the mean of FAR and FRR there (the usual discrete approximation).
    """
    g, i = _as_sorted(genuine), _as_sorted(impostor)
    cand = np.unique(np.concatenate([g, i]))
    cand = np.concatenate([[np.nextafter(cand[0], -np.inf)], cand])
    far, frr = far_frr(g, i, cand)
    diff = far - frr  # increasing in t
    j = int(np.searchsorted(diff, 0.0, side="left"))
    j = min(max(j, 0), cand.size - 1)
    # pick the better of the two neighbours around the crossing
    best = j
    if j > 0 and abs(diff[j - 1]) < abs(diff[j]):
        best = j - 1
    return float((far[best] + frr[best]) / 2), float(cand[best])


def roc_auc(genuine, impostor) -> float:
    """ROC AUC = P(impostor distance > genuine distance) + 0.5 P(tie) (Mann-Whitney)."""
    g = _as_sorted(genuine)
    i = np.asarray(impostor, dtype=np.float64).ravel()
    if g.size == 0 or i.size == 0:
        raise ValueError("need at least one genuine and one impostor comparison")
    total = 0.0
    for s in range(0, i.size, 4_000_000):
        chunk = i[s : s + 4_000_000]
        below = np.searchsorted(g, chunk, side="left")
        ties = np.searchsorted(g, chunk, side="right") - below
        total += below.sum() + 0.5 * ties.sum()
    return float(total / (g.size * i.size))


def det_curve(genuine, impostor, points: int = 200) -> dict[str, np.ndarray]:
    """FAR and FRR over a threshold sweep spanning all observed distances."""
    g, i = _as_sorted(genuine), _as_sorted(impostor)
    lo, hi = min(g[0], i[0]), max(g[-1], i[-1])
    t = np.linspace(lo, hi, points)
    far, frr = far_frr(g, i, t)
    return {"threshold": t, "far": far, "frr": frr}


def pair_accuracy(distances, same, threshold: float) -> float:
    """Accuracy of the rule 'same when distance <= threshold' on labelled pairs."""
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    return float(np.mean((d <= threshold) == s))


def best_accuracy_threshold(distances, same) -> tuple[float, float]:
    """(threshold, accuracy) maximising pair accuracy; choose it on validation pairs only."""
    d = np.asarray(distances, dtype=np.float64)
    s = np.asarray(same, dtype=bool)
    order = np.argsort(d, kind="stable")
    d, s = d[order], s[order]
    # accepting the first j pairs: correct = genuine among them + impostors after them
    gen_cum = np.concatenate([[0], np.cumsum(s)])
    imp_after = (~s).sum() - np.concatenate([[0], np.cumsum(~s)])
    correct = gen_cum + imp_after
    # only cut between distinct distances
    valid = np.concatenate([[True], np.diff(d) > 0, [True]])
    correct = np.where(valid, correct, -1)
    j = int(np.argmax(correct))
    if j == 0:
        t = float(np.nextafter(d[0], -np.inf))
    elif j == d.size:
        t = float(d[-1])
    else:
        t = float((d[j - 1] + d[j]) / 2)
    return t, float(correct[j] / d.size)


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between rows of a [n,D] and b [m,D] -> [n,m] float32."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    # |a|^2 + |b|^2 - 2ab, with the norms by einsum (no [n,D] temporaries: matters at 100k refs)
    sq = a @ b.T
    sq *= -2.0
    sq += np.einsum("ij,ij->i", a, a)[:, None]
    sq += np.einsum("ij,ij->i", b, b)[None, :]
    np.maximum(sq, 0.0, out=sq)
    return np.sqrt(sq, out=sq)


def all_pairs(
    embeddings: np.ndarray, labels: np.ndarray, chunk: int = 1024, query_mask: np.ndarray | None = None, progress=None
) -> tuple[np.ndarray, np.ndarray]:
    """Distances of every unordered pair i<j, split into (genuine, impostor) float32 arrays.

    For 10,000 embeddings that is ~5 million genuine and ~45 million impostor comparisons;
    the matrix is built in row chunks so memory stays bounded. With ``query_mask`` only
    pairs that involve at least one masked item are kept (e.g. unseen classes vs all).
    """
    e = np.asarray(embeddings, dtype=np.float32)
    y = np.asarray(labels)
    n = e.shape[0]
    gen, imp = [], []
    for s in range(0, n, chunk):
        rows = slice(s, min(s + chunk, n))
        d = pairwise_distances(e[rows], e[s:])  # [r, n-s]
        r = d.shape[0]
        upper = np.triu(np.ones((r, d.shape[1]), dtype=bool), k=1)
        same = y[rows, None] == y[None, s:]
        keep = upper
        if query_mask is not None:
            qm = np.asarray(query_mask, dtype=bool)
            keep = keep & (qm[rows, None] | qm[None, s:])
        gen.append(d[keep & same])
        imp.append(d[keep & ~same])
        if progress is not None:
            progress(min(s + chunk, n), n)
    return np.concatenate(gen), np.concatenate(imp)


def nearest_neighbor(
    query: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray, chunk: int = 2048
) -> tuple[np.ndarray, np.ndarray]:
    """(label, distance) of each query's nearest gallery item (1-NN)."""
    gl = np.asarray(gallery_labels)
    labels, dists = [], []
    for s in range(0, len(query), chunk):
        d = pairwise_distances(query[s : s + chunk], gallery)
        j = d.argmin(1)
        labels.append(gl[j])
        dists.append(d[np.arange(d.shape[0]), j])
    return np.concatenate(labels), np.concatenate(dists)


def wilson_interval(errors: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for an error rate of ``errors`` in ``n`` trials."""
    if n <= 0:
        return (0.0, 1.0)
    p = errors / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def summary(genuine, impostor, fars=(1e-2, 1e-3, 1e-4, 1e-5)) -> dict:
    """EER, AUC and the operating point at each target FAR, with counts."""
    e, t = eer(genuine, impostor)
    out = {
        "eer": e,
        "eer_threshold": t,
        "roc_auc": roc_auc(genuine, impostor),
        "genuine": int(np.size(genuine)),
        "impostor": int(np.size(impostor)),
        "at_far": {},
    }
    for f in fars:
        op = threshold_at_far(genuine, impostor, f)
        d = op.as_dict()
        d["supported"] = supports_far(op.impostor, f)
        out["at_far"][f"{f:g}"] = d
    return out


def one_shot_trials(
    embeddings: np.ndarray,
    classes: np.ndarray,
    groups: np.ndarray,
    drawers: np.ndarray,
    ways: int = 20,
    trials: int = 400,
    seed: int = 0,
) -> dict:
    """N-way one-shot identification within a group (Koch et al. 2015's protocol).

    One trial: a group (an alphabet) with at least ``ways`` classes, ``ways`` of its classes,
    and two different drawers who drew all of them; each class's drawing by the first drawer
    is the reference, and each drawing by the second is a query, correct when its nearest
    reference is its own class. Accuracy over all queries of ``trials`` seeded trials, with a
    95% confidence interval from the spread of the per-trial accuracies (trials are independent,
    the queries of one trial are not).
    """
    e = np.asarray(embeddings, dtype=np.float32)
    c, g, d = (np.asarray(a) for a in (classes, groups, drawers))
    rng = np.random.default_rng(seed)
    where = {(int(ci), int(di)): k for k, (ci, di) in enumerate(zip(c, d))}
    # (a drawing missing for a drawer, e.g. one the app did not acquire, just limits the choice)
    usable = []
    for grp in np.unique(g):
        cls = np.unique(c[g == grp])
        if cls.size < ways:
            continue
        ds = np.unique(d[g == grp])
        sets = [np.unique(c[(g == grp) & (d == dd)]) for dd in ds]
        pairs = []  # drawer pairs who both drew >= ``ways`` of its classes
        for i in range(len(ds)):
            for j in range(i + 1, len(ds)):
                both = np.intersect1d(sets[i], sets[j])
                if both.size >= ways:
                    pairs.append((ds[i], ds[j], both))
        if pairs:
            usable.append((grp, pairs))
    if not usable:
        raise ValueError(f"no group has {ways} classes for {ways}-way one-shot trials")
    acc = []
    for _ in range(trials):
        grp, pairs = usable[rng.integers(len(usable))]
        d1, d2, both = pairs[rng.integers(len(pairs))]
        if rng.random() < 0.5:
            d1, d2 = d2, d1
        pick = rng.choice(both, size=ways, replace=False)
        ref = e[[where[(int(k), int(d1))] for k in pick]]
        qry = e[[where[(int(k), int(d2))] for k in pick]]
        nearest = pairwise_distances(qry, ref).argmin(1)
        acc.append(float(np.mean(nearest == np.arange(ways))))
    return _trial_summary(acc, ways, len(usable), seed)


def _trial_summary(acc: list, ways: int, groups: int, seed: int, **extra) -> dict:
    a = np.asarray(acc)
    half = 1.96 * float(a.std(ddof=1)) / np.sqrt(a.size) if a.size > 1 else 1.0
    m = float(a.mean())
    return {
        "accuracy": m,
        "ci95": (max(0.0, m - half), min(1.0, m + half)),
        "ways": ways,
        "trials": int(a.size),
        "queries": int(a.size * ways),
        "groups": groups,
        "seed": seed,
        **extra,
    }


def few_shot_trials(
    embeddings: np.ndarray,
    classes: np.ndarray,
    groups: np.ndarray,
    drawers: np.ndarray,
    shots: int = 5,
    ways: int = 20,
    trials: int = 400,
    seed: int = 0,
    attempts: int = 50,
) -> dict:
    """N-way K-shot identification within a group: as :func:`one_shot_trials`, but each class
    has ``shots`` references drawn by ``shots`` different people (what enrollment gives: several
    captures), and a query is correct when the nearest of ALL references is one of its class's
    (the app's nearest-reference rule). Per trial, ``shots`` + 1 drawers are drawn at random
    among a group's drawers until they share ``ways`` classes (``attempts`` tries)."""
    e = np.asarray(embeddings, dtype=np.float32)
    c, g, d = (np.asarray(a) for a in (classes, groups, drawers))
    rng = np.random.default_rng(seed)
    where = {(int(ci), int(di)): k for k, (ci, di) in enumerate(zip(c, d))}
    usable = [grp for grp in np.unique(g) if np.unique(c[g == grp]).size >= ways]
    if not usable:
        raise ValueError(f"no group has {ways} classes for {ways}-way {shots}-shot trials")
    acc = []
    for _ in range(trials):
        grp = usable[rng.integers(len(usable))]
        m = g == grp
        ds = np.unique(d[m])
        if ds.size < shots + 1:
            continue
        for _ in range(attempts):
            who = rng.choice(ds, size=shots + 1, replace=False)
            both = np.unique(c[m])
            for dd in who:
                both = np.intersect1d(both, c[m & (d == dd)])
            if both.size >= ways:
                break
        else:
            continue
        pick = rng.choice(both, size=ways, replace=False)
        qry = e[[where[(int(k), int(who[0]))] for k in pick]]
        ref = e[[where[(int(k), int(dd))] for dd in who[1:] for k in pick]]  # shot-major: class = index % ways
        nearest = pairwise_distances(qry, ref).argmin(1) % ways
        acc.append(float(np.mean(nearest == np.arange(ways))))
    if not acc:
        raise ValueError(f"no group has {shots + 1} drawers sharing {ways} classes")
    return _trial_summary(acc, ways, len(usable), seed, shots=shots)
