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


def write_passcode_points(src, dst, points: dict, replace: bool = False):
    """A copy of the ONNX model ``src`` whose contract carries ``points`` (its ``passcodes``;
    points of other lengths kept), checked through the contract reader in a temporary file
    beside ``dst`` and only then renamed onto it (a bad point replaces nothing). The
    fingerprint (graph and weights) is unchanged; the contract digest is not, so the new file
    needs an admin's acceptance ('twinlock model use'). ``replace``: the model's other passcode
    points are dropped (the copy carries ``points`` only)."""
    import json
    from pathlib import Path

    import onnx

    from desktop_app.core.contract import CONTRACT_KEY, ContractError, contract_metadata, read_contract
    from desktop_app.core.paths import atomic_write_bytes

    read_contract(src)  # the source must be a valid model
    model = onnx.load(str(src))
    meta = {kv.key: kv.value for kv in model.metadata_props}
    doc = json.loads(meta[CONTRACT_KEY])
    doc["passcodes"] = {**({} if replace else doc.get("passcodes") or {}), **points}
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
        os.replace(tmp, dst)
    except (ContractError, OSError):
        tmp.unlink(missing_ok=True)  # a check that failed or a rename refused leaves no file behind
        raise
    return read_contract(dst)


# --------------------------------------------------------------------------- camera-like passcode points
CAMERA_FRAME = (640, 480)  # the size the app's camera gives


def split_alphabets(names) -> tuple[list, list]:
    """The held-out alphabets in two disjoint halves, (calibrate, measure): sorted by name, then
    taken alternately, so each half mixes scripts and neither depends on the order given."""
    s = sorted(set(names))
    if len(s) < 2:
        raise ExportError(
            f"camera-like passcode points need at least two held-out alphabets (one to calibrate on, one to "
            f"measure on), not {len(s)}"
        )
    return s[0::2], s[1::2]


def camera_renders(images, seed: int = 0, size=CAMERA_FRAME, progress=False) -> tuple[np.ndarray, np.ndarray]:
    """(model images [N,28,28], acquired [N]): each drawing filmed once as a webcam sees ink on
    paper (``training.camera_sim.render_digit``: tilt, perspective, light, shadow, blur, noise,
    JPEG, clutter) and read by the app's own ``preprocess``; drawing i with its own generator
    (seed, i), so a drawing's render does not depend on which others are rendered."""
    from desktop_app.core.preprocess import preprocess
    from training.camera_sim import render_digit

    images = np.asarray(images)
    out = np.zeros((len(images), 28, 28), np.uint8)
    ok = np.zeros(len(images), bool)
    with Bar(progress, "camera-like renders", len(images), unit="img") as bar:
        for i, img in enumerate(images):
            r = preprocess(render_digit(img, np.random.default_rng([seed, i]), size=size))
            if r.ok:
                out[i], ok[i] = r.image, True
            bar.update(1)
    return out, ok


CAMERA_OWNER_CAPTURES = 3  # new captures of each enrolled drawing: the owner showing the card again


def _read(frames):
    """The app's preprocess of each frame: the acquired model images [K,28,28] (K may be 0)."""
    from desktop_app.core.preprocess import preprocess

    got = [r.image for r in (preprocess(f) for f in frames) if r.ok]
    return np.stack(got) if got else np.zeros((0, 28, 28), np.uint8)


def camera_passcode_distances(
    embedder, images, character, drawer, seed: int = 0, refs: int = PASSCODE_REFS, owner=CAMERA_OWNER_CAPTURES
):
    """Camera-like distances for passcode points, enrolled as the app enrols a card: per
    character c, one drawing by one drawer, filmed as one capture of ``refs`` frames
    (``camera_sim.session``, the enrollment's frames) read by the app's preprocess. Then:
    - every drawing filmed once (:func:`camera_renders`): its nearest-reference distance to c,
      usable as a probe when not by c's reference drawer (impostors: other characters; another
      hand drawing c: the same character);
    - ``owner`` new captures of c's enrolled drawing (the owner showing the card again).
    Returns (dist [C, N], usable [C, N], chars [C], owner_dist [C, owner] (inf: not acquired))."""
    from desktop_app.core.metrics import pairwise_distances
    from training.camera_sim import render_digit, session

    images, character, drawer = np.asarray(images), np.asarray(character), np.asarray(drawer)
    rendered, ok = camera_renders(images, seed=seed)
    e = np.zeros((len(images), embedder.dim), np.float32)
    if ok.any():
        e[ok] = embed_all(embedder, rendered[ok], progress=False)
    chars = np.unique(character)
    dist = np.full((chars.size, len(images)), np.inf, np.float32)
    usable = np.zeros((chars.size, len(images)), bool)
    owner_dist = np.full((chars.size, owner), np.inf, np.float32)
    for i, c in enumerate(chars):
        rng = np.random.default_rng([seed, 7919, int(c)])
        row = int(rng.choice(np.flatnonzero(character == c)))
        ref = _read(session(render_digit(images[row], rng, size=CAMERA_FRAME), rng, refs))
        if len(ref) == 0:
            continue  # an enrollment that acquires nothing is refused: no profile for c
        r = embedder.embed_images(ref)
        dist[i, ok] = pairwise_distances(e[ok], r).min(1)
        usable[i] = ok & (drawer != drawer[row])
        for j in range(owner):
            got = _read([render_digit(images[row], rng, size=CAMERA_FRAME)])
            if len(got):
                owner_dist[i, j] = pairwise_distances(embedder.embed_images(got), r).min()
    keep = np.isfinite(dist).any(1)
    return dist[keep], usable[keep], chars[keep], owner_dist[keep]


def camera_counts(dist, usable, character, drawer, chars, owner_dist, t: float, length: int) -> dict:
    """At per-position threshold ``t``: impostor and other-hand cards as :func:`passcode_counts`
    counts them, and owner cards (every ordered tuple of distinct profile characters, each
    position one of its owner captures: the share of captures accepted, multiplied)."""
    fa, n_imp, ga, n_gen = passcode_counts(dist, usable, character, drawer, chars, t, length)
    p = (owner_dist <= t).mean(1)[:, None]
    own_ok = float(_ordered_distinct(p, length).sum())
    own_n = float(_ordered_distinct(np.ones_like(p), length).sum())
    n_own = own_n * owner_dist.shape[1] ** length  # owner cards: one capture per position, every combination
    return {
        "false_accepts": fa,
        "impostor": n_imp,
        "far": fa / n_imp if n_imp else float("nan"),
        "frr": 1.0 - own_ok / own_n if own_n else float("nan"),
        "owner_cards": n_own,
        "frr_other_hand": 1.0 - ga / n_gen if n_gen else float("nan"),
        "other_hand_cards": n_gen,
    }


def camera_passcode_points(
    embedder, held, lengths=(2, 3, 4), target: float = PASSCODE_TARGET_FAR, seed: int = 0, log=None
) -> dict:
    """The passcode points chosen on CAMERA-LIKE frames of one half of the held-out alphabets
    and measured on the other half (:func:`split_alphabets`), never the reverse.

    ``held``: the held-out alphabets' drawings (a ``training.omniglot.Symbols``). Per half,
    :func:`camera_passcode_distances` (enrolled as the app enrols a card; every drawing filmed
    once). On the calibration half, per length, the largest per-position threshold on
    PASSCODE_GRID whose card FAR (counted as :func:`passcode_points` counts) is at most
    ``target``, with at least 3 / target impostor cards behind it; the measurement half, which
    took no part in the choice, gives the point's ``held_apart`` figures at that threshold."""
    from desktop_app.core.passcode import point_key

    names = sorted({held.alphabets[a] for a in np.unique(held.alphabet)})
    cal_names, meas_names = split_alphabets(names)
    alphabet = np.asarray([held.alphabets[a] for a in held.alphabet])
    halves = {}
    for what, keep in (("calibration", cal_names), ("measurement", meas_names)):
        rows = np.flatnonzero(np.isin(alphabet, keep))
        if log:
            log(f"camera-like passcode points: filming the {what} half ({', '.join(keep)}): {len(rows):,} drawings")
        c, d = np.asarray(held.character)[rows], np.asarray(held.drawer)[rows]
        halves[what] = (rows, c, d, *camera_passcode_distances(embedder, held.images[rows], c, d, seed=seed))
    rows_c, c_c, d_c, dist, usable, chars, own = halves["calibration"]
    rows_m, c_m, d_m, *meas = halves["measurement"]
    if set(rows_c.tolist()) & set(rows_m.tolist()) or set(c_c.tolist()) & set(c_m.tolist()):
        raise ExportError("the calibration and measurement halves share drawings; nothing was calibrated")
    source = (
        f"camera-like frames (simulated webcam frames of the drawings, read by the app's preprocess) of the "
        f"{chars.size} characters of {len(cal_names)} of the {len(names)} Omniglot background alphabets held out "
        f"of training ({', '.join(cal_names)}): {len(rows_c):,} drawings, symbols the model never saw; measured "
        f"on the other {len(meas_names)} ({', '.join(meas_names)}), which took no part in the choice"
    )
    out = {}
    for length in lengths:
        best = None
        for t in PASSCODE_GRID:
            r = camera_counts(dist, usable, c_c, d_c, chars, own, float(t), length)
            if r["impostor"] <= 0:
                break
            if r["far"] > target:
                break  # FAR only grows with t
            best = (float(t), r)
        if best is None or best[1]["impostor"] < 3.0 / target:
            continue
        t, r = best
        m = camera_counts(meas[0], meas[1], c_m, d_m, meas[2], meas[3], t, length)
        out[point_key(length, target)] = {
            "symbols": length,
            "thresholds": [t] * length,
            "target_far": target,
            "far": r["far"],
            "frr": r["frr"],
            "frr_other_hand": r["frr_other_hand"],
            "false_accepts": int(round(r["false_accepts"])),
            "impostor": int(round(r["impostor"])),
            "genuine": int(round(r["owner_cards"])),
            "supported": bool(metrics.supports_far(int(round(r["impostor"])), target)),
            "frames": "camera-like",
            "calibration_alphabets": list(cal_names),
            "source": source,
            "method": (
                f"camera-like: per position, the nearest of the frames of one capture ({PASSCODE_REFS} frames, "
                "training.camera_sim.session) of one drawing by one drawer, read by the app's preprocess, as "
                "enrollment reads a card; every drawing of the half filmed once (camera_sim.render_digit, "
                f"{CAMERA_FRAME[0]}x{CAMERA_FRAME[1]}, seed {seed}); impostor cards: one attacker drawer's "
                "frames of any other character at each position, every ordered tuple of distinct profile "
                "characters counted (cards share frames: not independent); owner cards: "
                f"{CAMERA_OWNER_CAPTURES} new captures of each enrolled drawing (the owner showing the card "
                "again), FRR per card frame; frr_other_hand: another drawer's drawings of the same characters; "
                "the largest threshold on a 0.0025 grid whose card FAR is at most the target, chosen on the "
                "calibration alphabets and measured on the held-apart ones (held_apart)"
            ),
            "held_apart": {
                "alphabets": list(meas_names),
                "drawings": int(len(rows_m)),
                "far": m["far"],
                "frr": m["frr"],
                "frr_other_hand": m["frr_other_hand"],
                "false_accepts": int(round(m["false_accepts"])),
                "impostor": int(round(m["impostor"])),
                "genuine": int(round(m["owner_cards"])),
                "supported": bool(metrics.supports_far(int(round(m["impostor"])), target)),
            },
        }
    return out
