"""Threshold calibration for a profile: genuine and impostor distances, a recommended
threshold at a target FAR, and applying it (persisted and audited).

Distances are computed the way the verifier decides: a probe's distance to a profile is
its distance to the nearest reference (mean of the ``k_nearest`` nearest). Sources:

- genuine and impostor images (arrays or files) against the enrolled profile;
- a labelled image folder ``folder/<label>/*.png`` or an MNIST directory: every label
  becomes a simulated profile of ``refs_per_profile`` references; the other images of the
  label are genuine probes, the images of other labels impostor probes.

All figures come from :mod:`desktop_app.core.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import metrics
from .camera import image_files
from .decision import AuditEvent
from .gallery import GalleryError, embedded_gallery
from .idx import MNIST_FILES, IdxError, find_mnist_file, read_pair
from .preprocess import load_image, prepare_image
from .risk import (  # the rule of three and the risk of a threshold: calibration's words
    MODEL_FAR_LIMIT as MODEL_FAR_LIMIT,
    CalibrationError as CalibrationError,
    ModelRisk as ModelRisk,
    ModelRiskError as ModelRiskError,
    ThresholdRisk as ThresholdRisk,
    check_model_risk as check_model_risk,
    describe_point as describe_point,
    far_upper_bound as far_upper_bound,
    impostors_needed as impostors_needed,
    model_risk as model_risk,
    one_in_words as one_in_words,
    percent_text as percent_text,
    preset_support as preset_support,
    threshold_risk as threshold_risk,
    up_to_words as up_to_words,
)
from .strength import LEVELS, strength_report
from .verifier import frame_distances


@dataclass
class CalibrationData:
    genuine: np.ndarray
    impostor: np.ndarray
    source: str
    k_nearest: int = 1

    @property
    def counts(self) -> tuple[int, int]:
        return int(self.genuine.size), int(self.impostor.size)


def _check(data: CalibrationData) -> CalibrationData:
    if data.genuine.size == 0 or data.impostor.size == 0:
        raise CalibrationError(
            f"Calibration needs at least one genuine and one impostor comparison; "
            f"got {data.genuine.size} genuine and {data.impostor.size} impostor "
            f"({data.source})."
        )
    return data


def _profile_refs(store, embedder, profile):
    check_one_symbol(store, profile)
    return store.reference_embeddings(profile, embedder.fingerprint)


def check_one_symbol(store, profile) -> None:
    """Samples (live frames, image files) are compared with one symbol's references: a
    passcode profile cannot be calibrated from them (CalibrationError, saying what can)."""
    if store is None or not store.has_profile(profile):
        return
    n = int(store.get_profile(profile).symbols)
    if n > 1:
        raise CalibrationError(
            f"“{profile}” is a passcode of {n} symbols, each with its own references: live samples and "
            "image files show one symbol, so they cannot be compared with it. Its thresholds are the "
            "model's passcode point, calibrated on held-out cards; a labelled folder or an "
            "MNIST folder measures a one-symbol threshold, which Apply would set on every symbol."
        )


def from_images(
    store,
    embedder,
    profile,
    genuine_images28,
    impostor_images28,
    k_nearest: int = 1,
    source: str | None = None,
    gallery: bool = False,
) -> CalibrationData:
    """Genuine/impostor 28x28 uint8 images against the enrolled ``profile``; with ``gallery``
    the shipped gallery's common symbols are impostors too (:func:`gallery_impostors`)."""
    refs = _profile_refs(store, embedder, profile)
    out = []
    for imgs in (genuine_images28, impostor_images28):
        a = np.asarray(imgs, np.uint8).reshape(-1, 28, 28) if len(imgs) else np.zeros((0, 28, 28), np.uint8)
        out.append(
            frame_distances(embedder.embed_images(a), refs, k_nearest).astype(np.float64) if len(a) else np.zeros(0)
        )
    src = source or f"{len(out[0])} genuine and {len(out[1])} impostor images against profile '{profile}'"
    if gallery:
        d, what = gallery_impostors(store, embedder, profile, k_nearest)
        out[1] = np.concatenate([out[1], d])
        src += f" + {what} as impostors"
    return _check(CalibrationData(out[0], out[1], src, k_nearest))


def gallery_impostors(store, embedder, profile, k_nearest: int = 1) -> tuple[np.ndarray, str]:
    """Impostor distances the user need not record: every symbol of the shipped gallery
    (digits in many hands, letters, shapes, Omniglot background characters: what a guesser
    would draw) against ``profile``, with a description. The held-out characters the model
    was evaluated on are not shipped, so they are not offered. GalleryError when the
    gallery cannot be read."""
    refs = _profile_refs(store, embedder, profile)
    eg = embedded_gallery(embedder, db=getattr(store, "path", None))
    d = frame_distances(eg.embeddings, refs, k_nearest).astype(np.float64) if len(eg) else np.zeros(0)
    return d, f"the shipped gallery's {len(eg):,} common symbols"


def _images_from_files(paths, cfg=None) -> tuple[list, list]:
    ok, skipped = [], []
    for p in paths:
        try:
            res = prepare_image(load_image(p), cfg)
        except ValueError as exc:
            skipped.append(f"{p}: {exc}")
            continue
        if res.ok:
            ok.append(res.image)
        else:
            skipped.append(f"{p}: {res.reason}")
    return ok, skipped


def from_image_files(
    store, embedder, profile, genuine_paths, impostor_paths, k_nearest: int = 1, cfg=None, gallery: bool = False
) -> CalibrationData:
    """Like :func:`from_images` from image files; files without a usable symbol are skipped."""
    g, gs = _images_from_files(genuine_paths, cfg)
    i, is_ = _images_from_files(impostor_paths or [], cfg)
    src = f"{len(g)} genuine and {len(i)} impostor image files against profile '{profile}'" + (
        f" ({len(gs) + len(is_)} skipped: no symbol or unreadable)" if gs or is_ else ""
    )
    data = from_images(store, embedder, profile, g, i, k_nearest, source=src, gallery=gallery)
    data.skipped = gs + is_  # type: ignore[attr-defined]
    return data


def from_labelled(
    embedder,
    images28,
    labels,
    refs_per_profile: int = 5,
    k_nearest: int = 1,
    seed: int = 0,
    progress=None,
    source: str = "labelled images",
) -> CalibrationData:
    """Every label a simulated profile of ``refs_per_profile`` random references; the rest
    of the label are genuine probes, every image of another label an impostor probe."""
    x = np.asarray(images28, np.uint8)
    y = np.asarray(labels)
    if x.ndim != 3 or x.shape[1:] != (28, 28) or len(x) != len(y):
        raise CalibrationError("labelled calibration needs 28x28 images with one label each")
    classes = [c for c in np.unique(y) if np.sum(y == c) > refs_per_profile]
    if len(classes) < 2:
        raise CalibrationError(
            f"Calibration from labelled images needs at least two labels with more than "
            f"{refs_per_profile} images each ({source})."
        )
    emb = embedder.embed_images(x)
    rng = np.random.default_rng(seed)
    gen, imp = [], []
    for j, c in enumerate(classes):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        refs, probes = idx[:refs_per_profile], idx[refs_per_profile:]
        others = np.flatnonzero(y != c)
        gen.append(frame_distances(emb[probes], emb[refs], k_nearest))
        imp.append(frame_distances(emb[others], emb[refs], k_nearest))
        if progress is not None:
            progress(j + 1, len(classes))
    return _check(
        CalibrationData(
            np.concatenate(gen).astype(np.float64),
            np.concatenate(imp).astype(np.float64),
            f"{source}: {len(classes)} labels, {len(x)} images, {refs_per_profile} references per simulated profile",
            k_nearest,
        )
    )


def from_labelled_folder(
    embedder,
    folder,
    refs_per_profile: int = 5,
    max_per_label: int = 200,
    k_nearest: int = 1,
    seed: int = 0,
    cfg=None,
    progress=None,
) -> CalibrationData:
    """``folder/<label>/*`` image files, each through :func:`prepare_image`."""
    root = Path(folder)
    if not root.is_dir():
        raise CalibrationError(
            f"{root} is not a folder. A labelled folder holds one sub-folder of images per label: folder/<label>/*.png"
        )
    images, labels = [], []
    for sub in sorted(d for d in root.iterdir() if d.is_dir()):
        imgs, _ = _images_from_files(image_files(sub)[:max_per_label], cfg)
        images.extend(imgs)
        labels.extend([sub.name] * len(imgs))
    if not images:
        raise CalibrationError(f"{root} holds no usable images in label sub-folders (folder/<label>/*.png).")
    return from_labelled(
        embedder,
        np.stack(images),
        np.array(labels),
        refs_per_profile,
        k_nearest,
        seed,
        progress,
        source=f"labelled folder {root}",
    )


def load_mnist_dir(data_dir, split: str = "test"):
    """(images, labels) of an MNIST split from a folder of IDX files (.gz or raw)."""
    root = Path(data_dir)
    paths = []
    for name in MNIST_FILES[split]:
        found = find_mnist_file(root, name)
        if found is None:
            raise CalibrationError(
                f"{root} holds no {name.removesuffix('.gz')}(.gz): point --mnist at the folder with the "
                "four MNIST IDX files."
            )
        paths.append(found)
    try:
        return read_pair(*paths)
    except IdxError as exc:
        raise CalibrationError(str(exc)) from None


def from_mnist(
    embedder,
    data_dir,
    split: str = "test",
    limit: int = 2000,
    refs_per_profile: int = 5,
    k_nearest: int = 1,
    seed: int = 0,
    progress=None,
) -> CalibrationData:
    x, y = load_mnist_dir(data_dir, split)
    if limit and len(x) > limit:
        idx = np.random.default_rng(seed).choice(len(x), limit, replace=False)
        x, y = x[idx], y[idx]
    return from_labelled(
        embedder, x, y, refs_per_profile, k_nearest, seed, progress, source=f"MNIST {split} ({Path(data_dir)})"
    )


def recommend(data: CalibrationData, target_far: float) -> dict:
    """The threshold at ``target_far`` with its FAR/FRR, counts, whether the counts support
    the target, and the EER."""
    _check(data)
    op = metrics.threshold_at_far(data.genuine, data.impostor, target_far)
    e, et = metrics.eer(data.genuine, data.impostor)
    d = op.as_dict()
    d.update(
        target_far=float(target_far),
        supported=metrics.supports_far(op.impostor, target_far),
        eer=e,
        eer_threshold=et,
        source=data.source,
        far_interval=metrics.wilson_interval(op.false_accepts, op.impostor),
        frr_interval=metrics.wilson_interval(op.false_rejects, op.genuine),
    )
    return d


def apply_threshold(store, profile, threshold: float, source: str, detail: dict | None = None) -> None:
    """Persist ``threshold`` for ``profile`` and audit it ("threshold_set")."""
    t = float(threshold)
    if not np.isfinite(t) or t <= 0:
        raise CalibrationError(f"{threshold} is not a usable threshold (a positive distance is needed).")
    # the threshold and its audit row in one transaction (the store's)
    store.set_threshold(profile, t, audit=AuditEvent.THRESHOLD_SET, detail={"source": source, **(detail or {})})


def reset_threshold(store, profile, detail: dict | None = None) -> None:
    """Back to the model's calibrated default threshold ("threshold_reset")."""
    store.set_threshold(profile, None, audit=AuditEvent.THRESHOLD_RESET, detail=detail)


def weakening_words(store, embedder, profile, threshold: float) -> str:
    """What a new ``threshold`` does to the profile's symbol strength (core strength), when it
    makes it weaker: "At threshold 0.765 the symbol becomes weak: ..." ("" when the level
    stays, or the strength cannot be judged). A confirmation of a looser threshold says it."""
    try:
        now = strength_report(store, embedder, profile)
        new = strength_report(store, embedder, profile, threshold=float(threshold))
    except (GalleryError, ValueError):
        return ""
    if LEVELS.index(new.level) >= LEVELS.index(now.level):
        return ""
    return (
        f"At threshold {float(threshold):.3f} the symbol becomes {new.level} (it is {now.level} now): "
        f"{new.text.split(': ', 1)[-1]}."
    )
