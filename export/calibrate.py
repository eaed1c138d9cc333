"""Threshold calibration with ONNX Runtime on images the model was not trained on.

The data: the checkpoint's ``val_indices`` images of the MNIST *training* set (held out of
training for validation). Never the test set: that is for evaluation. When those images
are not available the fallback is synthetic rendered digits, and the contract says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from desktop_app.core import metrics

from .errors import ExportError
from .progress import Bar

TARGETS = {"far_1e-3": 1e-3, "far_1e-4": 1e-4}
DEFAULT_CALIB_COUNT = 5000
MAX_DEFAULT_FRR = 0.10  # far_1e-3 is the default operating point unless its FRR is above this


@dataclass
class CalibrationSet:
    images: np.ndarray  # uint8 [N,28,28], white on black
    labels: np.ndarray  # [N]
    description: dict = field(default_factory=dict)


def _load_train_split(data_dir):
    from training.mnist import load_mnist

    return load_mnist(data_dir, "train", download=False)  # export never downloads


def calibration_set(
    ckpt: dict,
    data_dir=None,
    count: int | None = DEFAULT_CALIB_COUNT,
    seed: int = 0,
    allow_synthetic: bool = True,
    log=print,
) -> CalibrationSet:
    """The calibration images for ``ckpt``: its validation images of the MNIST training set,
    a seeded random ``count`` of them (all when ``count`` is None or larger)."""
    from desktop_app.core.paths import mnist_dir

    val = ckpt.get("val_indices")
    cfg = ckpt.get("config") or {}
    # --data-dir, then $TWINLOCK_DATA_DIR, then where the checkpoint was trained, then the cache
    ddir = mnist_dir(data_dir or os.environ.get("TWINLOCK_DATA_DIR") or cfg.get("data_dir") or None)
    reason = ""
    if val is None or len(val) == 0:
        reason = "the checkpoint lists no validation images (val_indices)"
    else:
        try:
            images, labels = _load_train_split(ddir)
        except Exception as exc:  # missing / corrupt files: fall back, but say so
            reason = f"the MNIST training images could not be read from {ddir} ({str(exc)[:160]})"
        else:
            idx = np.asarray(val, dtype=np.int64).ravel()
            if idx.min() < 0 or idx.max() >= len(images):
                raise ExportError(
                    f"the checkpoint's val_indices run past the {len(images)} images in "
                    f"{ddir}; is --data-dir the MNIST the model was trained on?"
                )
            n_val = idx.size
            if count is not None and count < idx.size:
                idx = np.sort(np.random.default_rng(seed).choice(idx, size=count, replace=False))
            lab = np.asarray(labels)[idx]
            desc = {
                "source": "mnist-train-val",
                "description": (
                    f"{'all' if idx.size == n_val else idx.size} of the {n_val} "
                    f"MNIST training-set images held out of "
                    f"training for validation (checkpoint val_indices)"
                    + ("" if idx.size == n_val else f", seeded subset (seed {seed})")
                    + "; not the test set"
                ),
                "count": int(idx.size),
                "validation_images": int(n_val),
                "classes": sorted(int(c) for c in np.unique(lab)),
                "seed": seed,
                "data_dir": str(ddir),
            }
            return CalibrationSet(np.asarray(images)[idx], lab, desc)
    if not allow_synthetic:
        raise ExportError(
            f"cannot calibrate: {reason}. Pass --data-dir with the MNIST files the checkpoint was trained on."
        )
    from training.synthetic_digits import DESCRIPTION, synthetic_digits

    n = min(int(count or 2000), 2000)
    log(
        f"warning: {reason}; calibrating on {n} synthetic digits instead. These thresholds are "
        "only a rough guide: calibrate on real held-out digits (twinlock calibrate) before use."
    )
    images, labels = synthetic_digits(n, seed=seed)
    return CalibrationSet(
        images,
        labels,
        {
            "source": "synthetic",
            "description": f"{n} {DESCRIPTION} (fallback: {reason})",
            "count": n,
            "classes": list(range(10)),
            "seed": seed,
            "warning": reason,
        },
    )


def embed_all(embedder, images: np.ndarray, batch: int = 256, progress=True, desc: str = "embedding") -> np.ndarray:
    """Embeddings of ``images`` in batches; ``progress`` as export.progress takes it."""
    out = []
    with Bar(progress, desc, len(images), unit="img") as bar:
        for s in range(0, len(images), batch):
            out.append(embedder.embed_images(images[s : s + batch]))
            bar.update(min(batch, len(images) - s))
    return np.concatenate(out) if out else np.zeros((0, embedder.dim), np.float32)


def all_pair_distances(embeddings, labels, progress=True, desc: str = "pairs"):
    """(genuine, impostor) distances of all pairs i<j; ``progress`` as export.progress takes it."""
    with Bar(progress, desc, len(embeddings), unit="row") as bar:
        return metrics.all_pairs(embeddings, labels, progress=lambda done, total: bar.set(done))


def thresholds_from_distances(genuine, impostor) -> dict:
    """{"eer", "far_1e-3", "far_1e-4"} -> OperatingPoint.as_dict() + ``supported`` (+ targets)."""
    if len(genuine) == 0 or len(impostor) == 0:
        raise ExportError("calibration needs at least two images of one class and two classes.")
    rate, t = metrics.eer(genuine, impostor)
    op = metrics.operating_point(genuine, impostor, t).as_dict()
    op.update(eer=rate, supported=True)
    out = {"eer": op}
    for key, far in TARGETS.items():
        d = metrics.threshold_at_far(genuine, impostor, far).as_dict()
        d.update(target_far=far, supported=metrics.supports_far(d["impostor"], far))
        out[key] = d
    return out


MAX_SYMBOL_DEFAULT_FRR = 0.80
# The symbol point's FRR is measured ACROSS drawers (another person's drawing of the same
# character), an upper bound for the owner's; it vetoes the point only when even the owner
# would be rejected often. Measured (docs/benchmarks.md "Unlock attempts with unseen symbols"):
# at 55% across drawers the owner's new capture of the enrolled drawing was rejected in 5.1% of
# attempts; at 89% (symbol_far_1e-4) in 20%.

DEFAULT_RULE = (
    "for a model calibrated on unseen symbols (held-out alphabets): symbol_far_1e-3 (all pairs "
    "of symbols the model never saw) when supported by the comparison count, its FRR across "
    f"drawers is at most {MAX_SYMBOL_DEFAULT_FRR:.0%} and it is no looser than the digit point "
    "below (so that the default keeps FAR near 1e-3 on unseen symbols AND on digits); otherwise, "
    "and for a digits-only model: camera_far_1e-3 (measured as the app uses the model: camera-like "
    f"frames of digits, nearest reference) when present, supported and its FRR is at most "
    f"{MAX_DEFAULT_FRR:.0%}; else far_1e-3 (clean digit pairs) under the same conditions; else eer"
)


def _digit_default(thresholds: dict) -> str:
    for key in ("camera_far_1e-3", "far_1e-3"):
        op = thresholds.get(key)
        if op and op.get("supported") and op["frr"] <= MAX_DEFAULT_FRR:
            return key
    return "eer"


def choose_default(thresholds: dict) -> str:
    """The app's default operating point (see DEFAULT_RULE): few false accepts on what the app
    actually compares -- a personal symbol it never saw, or a digit -- at a usable FRR."""
    digit = _digit_default(thresholds)
    op = thresholds.get("symbol_far_1e-3")
    usable = op and op.get("supported") and op["frr"] <= MAX_SYMBOL_DEFAULT_FRR
    if usable and float(op["threshold"]) <= float(thresholds[digit]["threshold"]):
        return "symbol_far_1e-3"
    return digit


def calibrate(embedder, calib: CalibrationSet, progress=True):
    """(thresholds, embeddings, genuine, impostor) for the model behind ``embedder``."""
    emb = embed_all(embedder, calib.images, progress=progress)
    genuine, impostor = all_pair_distances(emb, calib.labels, progress=progress)
    return thresholds_from_distances(genuine, impostor), emb, genuine, impostor


# --------------------------------------------------------------------------- passcode points
PASSCODE_TARGET_FAR = 1e-5
PASSCODE_REFS = 5  # references per position, what an enrollment gives
PASSCODE_GRID = np.round(np.arange(0.02, 1.40, 0.0025), 4)


def _ordered_distinct(x: np.ndarray, length: int) -> np.ndarray:
    """Per column q: the sum over ordered tuples of ``length`` DISTINCT rows c of prod x[c, q]
    (by power sums), i.e. every card of distinct profile characters, counted exactly."""
    p1 = x.sum(0)
    if length == 1:
        return p1
    p2 = (x**2).sum(0)
    if length == 2:
        return p1**2 - p2
    p3 = (x**3).sum(0)
    if length == 3:
        return p1**3 - 3 * p1 * p2 + 2 * p3
    p4 = (x**4).sum(0)
    if length == 4:
        return p1**4 - 6 * p1**2 * p2 + 3 * p2**2 + 8 * p1 * p3 - 6 * p4
    raise ValueError("a passcode holds 1 to 4 symbols")


def passcode_distances(embeddings, character, drawer, refs: int = PASSCODE_REFS, seed: int = 0):
    """Per profile character c (its ``refs`` references drawn by ``refs`` drawers) and every
    drawing: the nearest-reference distance, whether the drawing may be a probe (not by a
    reference drawer), and the characters. (dist [C, N], usable [C, N], chars [C])."""
    rng = np.random.default_rng(seed)
    e = np.asarray(embeddings, np.float32)
    character, drawer = np.asarray(character), np.asarray(drawer)
    chars = np.unique(character)
    dist = np.zeros((chars.size, len(e)), np.float32)
    usable = np.zeros((chars.size, len(e)), bool)
    for i, c in enumerate(chars):
        own = np.flatnonzero(character == c)
        r = rng.choice(own, size=min(refs, own.size - 1), replace=False)
        dist[i] = metrics.pairwise_distances(e, e[r]).min(1)
        usable[i] = ~np.isin(drawer, drawer[r])
    return dist, usable, chars


def passcode_counts(dist, usable, character, drawer, chars, t: float, length: int):
    """At per-position threshold ``t``: (impostor cards accepted, impostor cards, owner cards
    accepted, owner cards), counted over one hand: an impostor card is one attacker drawer's
    drawings, at each position any character but that position's, over every ordered tuple of
    distinct profile characters; an owner card is one drawer's drawings of the L characters."""
    character, drawer = np.asarray(character), np.asarray(drawer)
    drawers = np.unique(drawer)
    onehot = (drawer[:, None] == drawers[None, :]).astype(np.float64)
    own = character[None, :] == chars[:, None]
    acc = dist <= t
    V = (usable & own).astype(np.float64) @ onehot
    G = (usable & own & acc).astype(np.float64) @ onehot
    N = (usable & ~own).astype(np.float64) @ onehot
    A = (usable & ~own & acc).astype(np.float64) @ onehot
    return (
        float(_ordered_distinct(A, length).sum()),
        float(_ordered_distinct(N, length).sum()),
        float(_ordered_distinct(G, length).sum()),
        float(_ordered_distinct(V, length).sum()),
    )


def passcode_points(
    embeddings, character, drawer, source: str, lengths=(2, 3, 4), target: float = PASSCODE_TARGET_FAR, seed: int = 0
) -> dict:
    """The contract's passcode points (``passcodeL_far_1e-5``) from held-out characters: per
    length, the largest per-position threshold on PASSCODE_GRID whose whole-card FAR (counted
    by :func:`passcode_counts`) is at most ``target``, with the counts behind it. A length
    whose impostor cards are fewer than 3 / target (rule of three) gets no point."""
    from desktop_app.core.passcode import point_key

    dist, usable, chars = passcode_distances(embeddings, character, drawer, seed=seed)
    out = {}
    for length in lengths:
        best = None
        for t in PASSCODE_GRID:
            fa, n_imp, ga, n_gen = passcode_counts(dist, usable, character, drawer, chars, float(t), length)
            if n_imp <= 0 or n_gen <= 0:
                break
            if fa / n_imp <= target:
                best = (float(t), fa, n_imp, ga, n_gen)
            else:
                break  # FAR only grows with t
        if best is None or best[2] < 3.0 / target:
            continue
        t, fa, n_imp, ga, n_gen = best
        out[point_key(length, target)] = {
            "symbols": length,
            "thresholds": [t] * length,
            "target_far": target,
            "far": fa / n_imp,
            "frr": 1.0 - ga / n_gen,
            "false_accepts": int(round(fa)),
            "impostor": int(round(n_imp)),
            "genuine": int(round(n_gen)),
            "supported": bool(metrics.supports_far(int(round(n_imp)), target)),
            "source": source,
            "method": (
                f"per position: nearest of {PASSCODE_REFS} references (drawn by {PASSCODE_REFS} other drawers); "
                "impostor cards: one attacker drawer's drawings of any other character at each position, every "
                "ordered tuple of distinct profile characters counted (cards share drawings: not independent); "
                "owner cards: one drawer (not a reference drawer) drawing every position (FRR per card, clean "
                "drawings, another person's hand: an upper bound of the owner's); the largest threshold on a "
                "0.0025 grid whose card FAR is at most the target"
            ),
        }
    return out


def write_passcode_points(src, dst, points: dict):
    """A copy of the ONNX model ``src`` whose contract carries ``points`` (its ``passcodes``;
    points of other lengths kept), checked through the contract reader in a temporary file
    beside ``dst`` and only then renamed onto it (a bad point replaces nothing). The
    fingerprint (graph and weights) is unchanged; the contract digest is not, so the new file
    needs an admin's acceptance ('twinlock model use')."""
    import json
    from pathlib import Path

    import onnx

    from desktop_app.core.contract import CONTRACT_KEY, ContractError, contract_metadata, read_contract
    from desktop_app.core.paths import atomic_write_bytes

    read_contract(src)  # the source must be a valid model
    model = onnx.load(str(src))
    meta = {kv.key: kv.value for kv in model.metadata_props}
    doc = json.loads(meta[CONTRACT_KEY])
    doc["passcodes"] = {**(doc.get("passcodes") or {}), **points}
    new = contract_metadata(doc, model)
    keep = [(kv.key, kv.value) for kv in model.metadata_props if kv.key not in new]
    del model.metadata_props[:]
    for k, v in [*keep, *new.items()]:
        p = model.metadata_props.add()
        p.key, p.value = k, v
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.check.onnx")
    atomic_write_bytes(tmp, model.SerializeToString(deterministic=True))
    try:
        read_contract(tmp)
    except ContractError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dst)
    return read_contract(dst)
