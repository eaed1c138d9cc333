"""Out-of-fold calibration of the unseen-symbol thresholds (``symbol_*``).

A model trained on all the Omniglot background alphabets has no alphabet left that it never
saw, so it cannot calibrate its own unseen-symbol thresholds. Cross-validation gives them:
fold models trained with the same recipe, each holding out some alphabets, measure genuine
and impostor distances on THEIR held-out alphabets (symbols that model never saw); the pooled
out-of-fold distances set the thresholds of the model trained on everything. What this
assumes -- that the fold models and the full model place unseen symbols alike, as one recipe
trained for the same epochs should -- is stated in the contract's ``source``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import calibrate as cal
from .errors import ExportError


class TorchEmbedder:
    """A fold checkpoint's tower as an embedder (``embed_images``, ``dim``): float, CPU."""

    def __init__(self, ckpt: dict):
        from training.checkpoint import model_from_checkpoint

        self.model = model_from_checkpoint(ckpt)
        cfg = ckpt["config"]
        self.mean, self.std = float(cfg.get("mean") or 0.0), float(cfg.get("std") or 1.0)
        self.dim = int(self.model(_probe()).shape[1])

    def embed_images(self, images_u8: np.ndarray) -> np.ndarray:
        from training.train import embed

        return embed(self.model, np.asarray(images_u8), self.mean, self.std)


def _probe():
    import torch

    return torch.zeros(2, 1, 28, 28)


def load_folds(paths, final_ckpt: dict, omniglot) -> list:
    """[(fold name, TorchEmbedder, held-out Symbols)] for the fold checkpoints ``paths``.
    Refused: a fold of another architecture or recipe than the model being exported, one with
    no held-out alphabets, two folds holding out the same alphabet (its pairs would count
    twice)."""
    from training.checkpoint import load_checkpoint
    from training.evaluate import omniglot_holdout

    out, seen = [], set()
    want = (final_ckpt.get("arch"), dict(final_ckpt.get("model_kwargs") or {}))
    for p in paths:
        try:
            ck = load_checkpoint(p)
        except Exception as exc:  # a damaged or foreign file: say which
            raise ExportError(f"fold checkpoint {p}: {exc}") from None
        if (ck.get("arch"), dict(ck.get("model_kwargs") or {})) != want:
            raise ExportError(f"fold checkpoint {p} is another architecture than the model being exported")
        held_names = (ck.get("class_split") or {}).get("omniglot_holdout_alphabets") or []
        if not held_names:
            raise ExportError(f"fold checkpoint {p} held no Omniglot alphabet out: it has no out-of-fold symbols")
        dup = seen.intersection(held_names)
        if dup:
            raise ExportError(f"fold checkpoint {p} holds out {sorted(dup)} again: each alphabet may calibrate once")
        seen.update(held_names)
        held = omniglot_holdout(ck, omniglot)
        if held is None:
            raise ExportError(f"fold checkpoint {p}: pass --omniglot (the converted background set)")
        out.append((Path(p).parent.name, TorchEmbedder(ck), held))
    return out


def out_of_fold_thresholds(folds: list, opts) -> dict:
    """``symbol_*`` thresholds (clean pairs, and camera-like frames when ``opts.camera``) from
    the pooled out-of-fold distances of ``folds`` (see :func:`load_folds`)."""
    from .camera_calibration import camera_distances, pool_camera_distances, thresholds_from_camera

    gen, imp, cams, names, drawings, chars = [], [], [], [], 0, 0
    for name, emb, held in folds:
        opts.log(f"out-of-fold distances: fold {name}, {len(held.images)} drawings it never saw")
        e = cal.embed_all(emb, held.images, progress=opts.progress)
        g, i = cal.all_pair_distances(e, held.character, progress=opts.progress)
        gen.append(g)
        imp.append(i)
        names += sorted({held.alphabets[a] for a in np.unique(held.alphabet)})
        drawings += len(held.images)
        chars += int(np.unique(held.character).size)
        if opts.camera:
            cams.append(
                camera_distances(
                    emb,
                    held.images,
                    held.character,
                    probes=opts.symbol_probes,
                    seed=opts.seed,
                    progress=opts.progress,
                    profiles_per_label=1,
                )
            )
    desc = (
        f"out-of-fold distances of {len(folds)} fold model(s) of the same recipe, each on the Omniglot "
        f"background alphabets it held out ({', '.join(names)}; {chars} characters, {drawings} drawings): "
        "symbols the measuring model never saw; the exported model trained on them"
    )
    g, i = np.concatenate(gen), np.concatenate(imp)
    out = {f"symbol_{k}": dict(v, source=desc) for k, v in cal.thresholds_from_distances(g, i).items()}
    if cams:
        out.update({f"symbol_{k}": v for k, v in thresholds_from_camera(pool_camera_distances(cams), desc).items()})
    return {k: dict(v, alphabets=sorted(names), out_of_fold=True) for k, v in out.items()}
