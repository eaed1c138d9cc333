"""Thresholds calibrated the way the app uses the model: on camera-like frames, per profile.

Export's plain calibration compares clean MNIST images pairwise. The app instead compares a
webcam frame, reduced to MNIST form by ``desktop_app.core.preprocess``, with the NEAREST of a
profile's enrolled references. Both the camera and the nearest-of-several rule raise the
false-accept rate at a given threshold (measured in docs/benchmarks.md: the MNIST FAR-1e-3
threshold accepts about 0.46% of impostor camera frames). This module measures it directly:

- held-out images (the calibration set: training-set images the model never trained on) are
  drawn as ink on paper and filmed by ``training.camera_sim`` (perspective, light, shadow,
  blur, noise, JPEG);
- ``profiles_per_label`` images of each label are enrolled from ``enroll_frames`` frames of one
  capture, through the real preprocessing;
- every other image gives ``probe_frames`` frames of a new capture; each acquired frame's
  distance to every profile (nearest reference, ``verifier.frame_distances``) is genuine when
  the labels agree and impostor otherwise;
- ``camera_far_1e-3`` and ``camera_far_1e-4`` are the thresholds at those per-frame FARs,
  with the FRR and the counts behind them.

numpy + OpenCV + ONNX Runtime only (no torch): it runs on an exported file.
"""

from __future__ import annotations

import numpy as np

from desktop_app.core.metrics import supports_far, threshold_at_far
from desktop_app.core.preprocess import preprocess
from desktop_app.core.verifier import frame_distances
from training.camera_sim import render_digit, session

from .progress import iterate

CAMERA_FARS = {"camera_far_1e-3": 1e-3, "camera_far_1e-4": 1e-4}


def camera_distances(
    embedder,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    profiles_per_label: int = 3,
    probes: int = 1500,
    enroll_frames: int = 5,
    probe_frames: int = 2,
    seed: int = 0,
    progress=True,
) -> dict:
    """Single-frame genuine and impostor distances on camera-like frames (see the module doc);
    ``progress`` as export.progress takes it."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    enrolled, rest = [], []
    for lab in np.unique(labels):
        ids = rng.permutation(np.flatnonzero(labels == lab))
        enrolled += [(int(i), lab) for i in ids[:profiles_per_label]]
        rest += [int(i) for i in ids[profiles_per_label:]]
    rest = rng.permutation(rest)[:probes]
    fta = [0, 0]
    refs, ref_labels = [], []
    for i, lab in iterate(progress, enrolled, "camera profiles", unit="profile"):
        res = [preprocess(f) for f in session(render_digit(images[i], rng), rng, enroll_frames)]
        ok = [r.image for r in res if r.ok]
        if ok:
            refs.append(embedder.embed_images(np.stack(ok)))
            ref_labels.append(lab)
    if len(set(ref_labels)) < 2:
        raise ValueError("camera calibration enrolled fewer than two labels: no impostor comparisons")
    genuine, impostor = [], []
    for i in iterate(progress, rest, "camera probes", unit="image"):
        res = [preprocess(f) for f in session(render_digit(images[i], rng), rng, probe_frames)]
        fta[1] += len(res)
        ok = [r.image for r in res if r.ok]
        fta[0] += len(res) - len(ok)
        if not ok:
            continue
        e = embedder.embed_images(np.stack(ok))
        for r, lab in zip(refs, ref_labels):
            (genuine if lab == labels[i] else impostor).append(frame_distances(e, r))
    return {
        "genuine": np.concatenate(genuine),
        "impostor": np.concatenate(impostor),
        "profiles": len(refs),
        "probe_images": int(len(rest)),
        "fta": fta,
    }


def camera_thresholds(
    embedder, images: np.ndarray, labels: np.ndarray, source: str = "", progress=True, **kwargs
) -> dict:
    """{"camera_far_1e-3": {...}, "camera_far_1e-4": {...}}: OperatingPoint fields plus
    ``supported`` and a description of the data behind them."""
    d = camera_distances(embedder, images, labels, progress=progress, **kwargs)
    return thresholds_from_camera(d, source, kwargs.get("probe_frames", 2))


def pool_camera_distances(parts: list) -> dict:
    """Several ``camera_distances`` results (e.g. one per cross-validation fold) as one."""
    return {
        "genuine": np.concatenate([p["genuine"] for p in parts]),
        "impostor": np.concatenate([p["impostor"] for p in parts]),
        "profiles": sum(p["profiles"] for p in parts),
        "probe_images": sum(p["probe_images"] for p in parts),
        "fta": (sum(p["fta"][0] for p in parts), sum(p["fta"][1] for p in parts)),
    }


def thresholds_from_camera(d: dict, source: str = "", probe_frames: int = 2) -> dict:
    """The camera operating points of ``camera_distances``' (or pooled) distances."""
    desc = (
        f"camera-like frames (training.camera_sim) of {source or 'held-out images'}: "
        f"{d['profiles']} profiles enrolled from 5 frames each, {d['probe_images']} probe images "
        f"x {probe_frames} frames ({d['fta'][0]} of {d['fta'][1]} frames gave no symbol); "
        "per frame, nearest reference"
    )
    out = {}
    for key, far in CAMERA_FARS.items():
        op = threshold_at_far(d["genuine"], d["impostor"], far).as_dict()
        op["supported"] = bool(supports_far(op["impostor"], far))
        op["source"] = desc
        out[key] = op
    return out
