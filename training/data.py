"""What one training step draws from: the MNIST split, camera-like renders of training
digits, and P x K batches of Omniglot characters (the held-out alphabets kept out).

``load_split`` / ``load_omniglot`` read and split the data once per run; ``camera_batch`` and
``OmniglotSampler.sample`` are called per batch with the epoch's seeded generator (so a resumed
run draws exactly what an uninterrupted one would).
"""

from __future__ import annotations

import numpy as np
import torch

from training import camera_data
from training import omniglot as O
from training.pairs import class_mask, validation_split


def load_split(cfg, images=None, labels=None):
    """(x, y, train_idx, val_idx) — indices into the training set, train classes only."""
    if images is None:
        from training.mnist import load_mnist

        images, labels = load_mnist(cfg.data_dir, "train")
    n = len(labels)
    tr, va = validation_split(n, cfg.val_size, cfg.seed)
    if cfg.max_train:
        tr = np.sort(np.random.default_rng(cfg.seed + 1).permutation(tr)[: cfg.max_train])
    keep = [c for c in range(10) if c not in set(cfg.holdout_classes)]
    tr = tr[class_mask(labels[tr], keep)]
    va = va[class_mask(labels[va], keep)]
    return images, labels, tr, va


def load_camera_data(cfg, n_images: int, val_idx: np.ndarray):
    """(row_of_source [n_images] int64, -1 = no render; camera images tensor; junk tensor) or None.

    Refuses data rendered from validation images (the best epoch is chosen on them)."""
    if not cfg.camera_data:
        return None
    d = camera_data.load(cfg.camera_data)
    if "held_out" in d:
        raise ValueError(
            f"{cfg.camera_data} holds camera renders of Omniglot characters (built with --omniglot), "
            "not of MNIST digits: pass it as --omniglot-camera-data"
        )
    src = d["sources"].astype(np.int64)
    if src.size and (src.min() < 0 or src.max() >= n_images):
        raise ValueError(f"{cfg.camera_data} was rendered from another training set (source index out of range)")
    leak = np.intersect1d(src, val_idx)
    if leak.size:
        raise ValueError(
            f"{cfg.camera_data} holds renders of {leak.size} validation images of this run "
            f"(seed {cfg.seed}, validation size {cfg.val_size}); build it with the same "
            f"--split-seed/--val-size as the run"
        )
    row = np.full(n_images, -1, np.int64)
    row[src] = np.arange(src.size)
    return row, torch.from_numpy(d["images"]), torch.from_numpy(d["junk"])


def camera_batch(
    xb: torch.Tensor, yb: torch.Tensor, src: np.ndarray, cam, cfg, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Swap some clean digits of a uint8 batch for their camera renders."""
    row, cam_x, _junk = cam
    r = torch.from_numpy(row[src])
    swap = (r >= 0) & (torch.rand(len(src), generator=g) < cfg.camera_fraction)
    if bool(swap.any()):
        xb = xb.clone()
        xb[swap] = cam_x[r[swap]]
    return xb, yb


def load_omniglot(cfg, data=None):
    """(training Symbols, held-out Symbols, held-out alphabet names), or None without Omniglot.
    ``data`` (a ``training.omniglot.Symbols``) replaces the npz (tests)."""
    if data is None and not cfg.omniglot:
        return None
    sym = data if data is not None else O.load(cfg.omniglot)
    return O.split(sym, cfg.omniglot_holdout, cfg.omniglot_split_seed, cfg.omniglot_holdout_alphabets)


class OmniglotSampler:
    """P classes x K drawings for each batch. A class is a (character, rotation) pair: a
    character turned by 90, 180 or 270 degrees is a different symbol (labels 10 + class)."""

    def __init__(self, sym, k: int, rotations: bool, alphabets_per_batch: int = 0, camera=None, camera_fraction=0.0):
        chars = np.unique(sym.character)
        by = [np.flatnonzero(sym.character == c) for c in chars]
        keep = [i for i, ix in enumerate(by) if ix.size >= 2]
        self.by_char = [by[i] for i in keep]
        alpha = np.array([int(sym.alphabet[by[i][0]]) for i in keep], np.int64)
        self.images = torch.from_numpy(np.ascontiguousarray(sym.images))
        self.k = k
        self.rot = 4 if rotations else 1
        self.n_classes = len(self.by_char) * self.rot
        if self.n_classes < 2:
            raise ValueError("the Omniglot training alphabets hold fewer than two usable characters")
        self.per_batch = alphabets_per_batch
        # camera-like renders: (render row of each drawing of ``sym`` or -1, renders uint8 tensor)
        self.camera, self.camera_fraction = None, camera_fraction
        if camera is not None:
            row_of_file_row, renders = camera
            self.camera = (torch.from_numpy(row_of_file_row[sym.rows()]), renders)
        # groups: (alphabet, rotation) -> its classes (class = char_index * rot + rotation)
        self.groups = [np.flatnonzero(alpha == a) * self.rot + r for a in np.unique(alpha) for r in range(self.rot)]

    def _classes(self, p: int, g: torch.Generator) -> list[int]:
        if self.per_batch <= 0:
            return torch.randperm(self.n_classes, generator=g)[:p].tolist()
        order = torch.randperm(len(self.groups), generator=g).tolist()
        pool = np.concatenate([self.groups[i] for i in order[: self.per_batch]])
        if pool.size < p:  # small alphabets: add groups until P classes can be drawn
            for i in order[self.per_batch :]:
                pool = np.concatenate([pool, self.groups[i]])
                if pool.size >= p:
                    break
        return pool[torch.randperm(pool.size, generator=g)[:p].numpy()].tolist()

    def sample(self, p: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        cls = self._classes(p, g)
        idx, lab, rot = [], [], []
        for c in cls:
            ch, r = divmod(c, self.rot)
            ix = self.by_char[ch]
            pick = ix[torch.randperm(ix.size, generator=g)[: self.k].numpy()]
            idx.append(pick)
            lab += [c] * len(pick)
            rot += [r] * len(pick)
        flat = np.concatenate(idx)
        x = self.images[flat]
        if self.camera is not None:  # some drawings shown as the app's camera sees them
            r = self.camera[0][flat]
            swap = (r >= 0) & (torch.rand(len(flat), generator=g) < self.camera_fraction)
            if bool(swap.any()):
                x[swap] = self.camera[1][r[swap]]
        rot_t = torch.tensor(rot)
        for r in range(1, self.rot):
            m = rot_t == r
            if bool(m.any()):
                x[m] = torch.rot90(x[m], r, (1, 2))
        return x, torch.tensor(lab, dtype=torch.int64) + 10


def load_omniglot_camera(cfg, n_rows: int, held: list):
    """(render row of each row of the converted Omniglot file or -1, renders tensor), or None.
    Refuses renders of held-out alphabets (they choose the epoch and calibrate export)."""
    if not cfg.omniglot_camera_data:
        return None
    d = camera_data.load(cfg.omniglot_camera_data)
    if "held_out" not in d:
        raise ValueError(
            f"{cfg.omniglot_camera_data} holds camera renders of MNIST digits, not of Omniglot characters: "
            "pass it as --camera-data, or build one with `python -m training.camera_data --omniglot NPZ`"
        )
    src = d["sources"].astype(np.int64)
    if src.size and (src.min() < 0 or src.max() >= n_rows):
        raise ValueError(f"{cfg.omniglot_camera_data} was rendered from another Omniglot file (row out of range)")
    theirs = sorted(str(a) for a in d["held_out"])
    # The sampler looks renders up by the rows of the run's TRAINING drawings only, so renders of
    # alphabets this run holds out are never shown: a file rendered holding out fewer alphabets
    # (e.g. none, for the run that trains on all 30) serves every fold. A file that held out an
    # alphabet this run trains on would silently lack its renders: refused.
    if not set(theirs) <= set(held):
        raise ValueError(
            f"{cfg.omniglot_camera_data} was rendered holding out {theirs}, this run holds out {sorted(held)}: "
            "it has no renders of alphabets this run trains on; build it with --omniglot-holdout 0 "
            "(renders of every alphabet) or the run's --omniglot-holdout/--omniglot-split-seed"
        )
    row = np.full(n_rows, -1, np.int64)
    row[src] = np.arange(src.size)
    return row, torch.from_numpy(d["images"])
