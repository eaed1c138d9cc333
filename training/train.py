"""The training loop: ``train(TrainConfig)`` -> best/last checkpoints, metrics JSON, curves PNG.

Two recipes:

- ``twin`` (default): L2-normalised embedding, large random batches embedded once, the
  contrastive loss over ALL pairs of the batch with hard-pair mining, batch augmentation
  (affine + stroke thickness), AdamW with a one-cycle schedule.
- ``seed``: the seed notebook as it was: pairs sampled once (each training image with a
  same-digit and a different-digit partner), batch 16, RMSprop, margin 1, no augmentation,
  input x/255.

Validation (carved from the training set, seeded) runs after every epoch; the best epoch
is the one with the lowest FRR at FAR 1e-3 (then EER) over all pairs of (a subset of) the
validation images. Test data is never touched here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable

import numpy as np
import torch

from desktop_app.core import metrics as M
from training.augment import augment
from training.checkpoint import load_checkpoint, save_checkpoint
from training.losses import batch_contrastive_loss, contrastive_loss, pair_distances
from training.model import build_model, count_parameters
from training.pairs import class_mask, seed_protocol_pairs, validation_split

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclass
class TrainConfig:
    arch: str = "twin"
    epochs: int = 12
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 5e-4
    margin: float = 1.0
    embedding_dim: int = 64
    width: int = 24
    stem: str = "conv5"
    hard_fraction: float = 1.0
    pos_margin: float = 0.0  # variant: genuine pairs are not pulled below this
    active_only: bool = True  # impostor mean over margin-violating pairs only
    augment: bool = True
    seed: int = 0
    val_size: int = 5000
    val_eer_size: int = 3000  # validation images used for the all-pairs EER each epoch
    holdout_classes: list = field(default_factory=list)
    data_dir: str | None = None
    out_dir: str = "runs/default"
    threads: int = 2
    max_train: int | None = None  # use only this many training images (quick runs)
    mean: float | None = None
    std: float | None = None
    recipe: str = ""
    camera_data: str | None = None  # npz from training.camera_data: camera-like renders + negatives
    camera_fraction: float = 0.6  # chance a rendered training digit is shown as its camera render
    junk_per_batch: int = 0  # non-digit negatives appended to each batch (camera_data only;
    # off by default: 32 and 8 cost genuine camera matches, see
    # docs/benchmarks.md "Improvements")
    omniglot: str | None = None  # npz from training.omniglot (background set in model form)
    omniglot_holdout: int = 6  # alphabets kept out of training (validation + calibration)
    omniglot_split_seed: int = 0
    omniglot_per_batch: int = 128  # of batch_size: P x K Omniglot drawings, the rest MNIST
    omniglot_k: int = 4  # drawings per Omniglot class in a batch (K)
    rotations: bool = True  # Omniglot characters turned by 90/180/270 deg are new classes
    omniglot_val_size: int = 4000  # held-out-alphabet drawings used for the per-epoch all-pairs EER
    ghost_batch: int = 0  # batch norm over chunks of this size (0: the whole batch); one
    # process and N processes of batch/N compute the same thing
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    omniglot_holdout_alphabets: list = field(default_factory=list)  # explicit held-out alphabets
    init: str | None = None  # start from this checkpoint's weights (new optimizer and
    # schedule); its held-out alphabets are kept held out

    def resolved(self) -> TrainConfig:
        c = dataclasses.replace(self)
        if c.arch == "seed":
            c.mean = 0.0 if c.mean is None else c.mean
            c.std = 1.0 if c.std is None else c.std
            c.embedding_dim = 10
        else:
            c.mean = MNIST_MEAN if c.mean is None else c.mean
            c.std = MNIST_STD if c.std is None else c.std
        if not c.recipe:
            c.recipe = (
                SEED_RECIPE
                if c.arch == "seed"
                else (
                    f"twin {c.stem} w{c.width} D{c.embedding_dim} L2-normalised; batch {c.batch_size} all-pairs contrastive "
                    f"(margin {c.margin}{f', positive margin {c.pos_margin:g}' if c.pos_margin else ''}, "
                    f"{'active-negative mining' if c.active_only else 'all negatives'}, hard positives {c.hard_fraction:g}); "
                    f"{'affine+thickness augmentation; ' if c.augment else ''}"
                    f"{f'camera-like renders of training digits (p {c.camera_fraction:g}); ' if c.camera_data else ''}"
                    f"{f'{c.junk_per_batch} non-digit negatives per batch; ' if c.camera_data and c.junk_per_batch else ''}"
                    f"{omniglot_recipe(c) if c.omniglot else ''}"
                    f"AdamW lr {c.lr:g} wd {c.weight_decay:g} one-cycle; {c.epochs} epochs"
                )
            )
        return c


def omniglot_recipe(c) -> str:
    p = c.omniglot_per_batch // max(1, c.omniglot_k)
    return (
        f"each batch {c.batch_size - p * c.omniglot_k} MNIST + {p}x{c.omniglot_k} Omniglot background "
        f"characters (P x K{', rotations as new classes' if c.rotations else ''}; "
        f"{c.omniglot_holdout} alphabets held out); "
    )


SEED_RECIPE = (
    "seed notebook: SeedNet (BN, conv4@5x5 tanh, avgpool, conv16@5x5 tanh, avgpool, BN, "
    "dense10 tanh); pairs sampled once; batch 16; RMSprop lr 1e-3; margin 1; no augmentation; x/255"
)


def model_kwargs(cfg: TrainConfig) -> dict:
    if cfg.arch == "seed":
        return {"embedding_dim": 10}
    return {"embedding_dim": cfg.embedding_dim, "width": cfg.width, "stem": cfg.stem}


def to_input(images_u8, mean: float, std: float) -> torch.Tensor:
    """uint8 [N,28,28] (numpy or tensor) -> normalised float [N,1,28,28]."""
    x = torch.as_tensor(images_u8).float().div_(255.0).unsqueeze(1)
    return (x - mean) / std


@torch.no_grad()
def embed(model, images_u8, mean: float, std: float, batch: int = 2048, progress: Callable | None = None) -> np.ndarray:
    """Embeddings float32 [N, D] of uint8 images, in eval mode."""
    was = model.training
    model.eval()
    out = []
    dev = next(model.parameters()).device
    for s in range(0, len(images_u8), batch):
        out.append(model(to_input(images_u8[s : s + batch], mean, std).to(dev)).cpu().numpy())
        if progress:
            progress(min(s + batch, len(images_u8)), len(images_u8))
    model.train(was)
    return np.concatenate(out).astype(np.float32)


def pair_figures(emb: np.ndarray, labels: np.ndarray, seed: int, margin: float, threshold: float | None = None) -> dict:
    """Seed-protocol pairs on ``emb``: loss, threshold (best accuracy unless given), accuracy."""
    i, j, same = seed_protocol_pairs(labels, seed)
    d = np.linalg.norm(emb[i] - emb[j], axis=1)
    loss = float(contrastive_loss(torch.from_numpy(d), torch.from_numpy(same), margin))
    if threshold is None:
        threshold, acc = M.best_accuracy_threshold(d, same)
    else:
        acc = M.pair_accuracy(d, same, threshold)
    return {"loss": loss, "threshold": float(threshold), "accuracy": float(acc), "pairs": int(i.size)}


# ------------------------------------------------------------------ data


def load_split(cfg: TrainConfig, images=None, labels=None):
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


def load_camera_data(cfg: TrainConfig, n_images: int, val_idx: np.ndarray):
    """(row_of_source [n_images] int64, -1 = no render; camera images tensor; junk tensor) or None.

    Refuses data rendered from validation images (the best epoch is chosen on them)."""
    if not cfg.camera_data:
        return None
    from training.camera_data import load

    d = load(cfg.camera_data)
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
    xb: torch.Tensor, yb: torch.Tensor, src: np.ndarray, cam, cfg: TrainConfig, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Swap some clean digits of a uint8 batch for their camera renders; append negatives
    (label -1, -2, ...: see ``losses.batch_contrastive_loss``)."""
    row, cam_x, junk = cam
    r = torch.from_numpy(row[src])
    swap = (r >= 0) & (torch.rand(len(src), generator=g) < cfg.camera_fraction)
    if bool(swap.any()):
        xb = xb.clone()
        xb[swap] = cam_x[r[swap]]
    if cfg.junk_per_batch > 0 and len(junk):
        pick = torch.randint(len(junk), (cfg.junk_per_batch,), generator=g)
        xb = torch.cat([xb, junk[pick]])
        yb = torch.cat([yb, -1 - torch.arange(cfg.junk_per_batch, dtype=yb.dtype)])
    return xb, yb


# ------------------------------------------------------------------ Omniglot


def load_omniglot(cfg: TrainConfig, data=None):
    """(training Symbols, held-out Symbols, held-out alphabet names), or None without Omniglot.
    ``data`` (a ``training.omniglot.Symbols``) replaces the npz (tests)."""
    if data is None and not cfg.omniglot:
        return None
    from training import omniglot as O

    sym = data if data is not None else O.load(cfg.omniglot)
    if cfg.omniglot_holdout_alphabets:
        held = sorted(cfg.omniglot_holdout_alphabets)
        missing = [a for a in held if a not in sym.alphabets]
        if missing:
            raise ValueError(f"held-out alphabets {missing} are not in the Omniglot data")
    else:
        dpc = np.bincount(sym.character, minlength=len(sym.characters))  # drawings acquired per character
        held = O.held_out_alphabets(
            sym.alphabets,
            sym.alphabet_of_char(),
            cfg.omniglot_holdout,
            cfg.omniglot_split_seed,
            drawings_per_char=dpc,
            min_drawings=max(2, int(0.8 * dpc.max())),
        )
    return sym.subset([a for a in sym.alphabets if a not in held]), sym.subset(held), held


class OmniglotSampler:
    """P classes x K drawings for each batch. A class is a (character, rotation) pair: a
    character turned by 90, 180 or 270 degrees is a different symbol (labels 10 + class)."""

    def __init__(self, sym, k: int, rotations: bool):
        chars = np.unique(sym.character)
        by = [np.flatnonzero(sym.character == c) for c in chars]
        self.by_char = [ix for ix in by if ix.size >= 2]
        self.images = torch.from_numpy(np.ascontiguousarray(sym.images))
        self.k = k
        self.rot = 4 if rotations else 1
        self.n_classes = len(self.by_char) * self.rot
        if self.n_classes < 2:
            raise ValueError("the Omniglot training alphabets hold fewer than two usable characters")

    def sample(self, p: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        cls = torch.randperm(self.n_classes, generator=g)[:p].tolist()
        idx, lab, rot = [], [], []
        for c in cls:
            ch, r = divmod(c, self.rot)
            ix = self.by_char[ch]
            pick = ix[torch.randperm(ix.size, generator=g)[: self.k].numpy()]
            idx.append(pick)
            lab += [c] * len(pick)
            rot += [r] * len(pick)
        x = self.images[np.concatenate(idx)]
        rot_t = torch.tensor(rot)
        for r in range(1, self.rot):
            m = rot_t == r
            if bool(m.any()):
                x[m] = torch.rot90(x[m], r, (1, 2))
        return x, torch.tensor(lab, dtype=torch.int64) + 10


# ------------------------------------------------------------------ scale-out


def dist_context(cfg: TrainConfig):
    """(rank, world size, device). Under ``torchrun`` (WORLD_SIZE > 1) the process group is
    started here: NCCL on CUDA, gloo on the CPU."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    want = cfg.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available (use --device cpu)")
    dev = torch.device("cpu")
    if want == "cuda":
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return rank, world, dev


def forward_chunks(model, x: torch.Tensor, ghost: int) -> torch.Tensor:
    if ghost and ghost < len(x):
        return torch.cat([model(c) for c in x.split(ghost)])
    return model(x)


def gather_embeddings(emb_local: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """The whole batch's embeddings on every rank; only this rank's rows carry gradient (so
    each rank's backward of the full-batch loss gives the gradient through its own rows;
    DDP averages them, hence the loss is scaled by the world size)."""
    if world == 1:
        return emb_local
    import torch.distributed as dist

    parts = [torch.empty_like(emb_local) for _ in range(world)]
    dist.all_gather(parts, emb_local.detach().contiguous())
    parts[rank] = emb_local
    return torch.cat(parts)


# ------------------------------------------------------------------ loop


class _Stop(Exception):
    pass


def _rng_state():
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}


def train(
    cfg: TrainConfig,
    images=None,
    labels=None,
    resume: str | os.PathLike | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    omniglot_data=None,
) -> dict:
    """Train per ``cfg``; returns the final metrics dict. ``images``/``labels`` (uint8
    [N,28,28] / [N]) replace MNIST and ``omniglot_data`` the Omniglot npz (tests use small
    synthetic sets). Under ``torchrun`` every rank embeds its slice of each batch, the
    loss is over the whole batch, and rank 0 validates and writes the checkpoints."""
    auto_recipe = not cfg.recipe
    init_ck = None
    if cfg.init:
        init_ck = load_checkpoint(cfg.init)
        prev = (init_ck.get("class_split") or {}).get("omniglot_holdout_alphabets") or []
        if prev and not cfg.omniglot_holdout_alphabets:
            cfg = dataclasses.replace(cfg, omniglot_holdout_alphabets=list(prev))
        elif prev and sorted(prev) != sorted(cfg.omniglot_holdout_alphabets):
            raise ValueError(f"{cfg.init} held out {prev}; training on from it must hold out the same alphabets")
        if init_ck["config"].get("seed", cfg.seed) != cfg.seed or init_ck["config"].get("val_size") != cfg.val_size:
            raise ValueError(
                f"{cfg.init} used another validation split (seed/val size): its validation images would be trained on"
            )
    cfg = cfg.resolved()
    if init_ck is not None and auto_recipe:
        cfg.recipe = f"from {Path(cfg.init).name} ({init_ck['config'].get('recipe', '')}), then " + cfg.recipe
    if auto_recipe and omniglot_data is not None and not cfg.omniglot and cfg.arch != "seed":
        cfg.recipe = cfg.recipe.replace("AdamW", omniglot_recipe(cfg) + "AdamW")
    torch.set_num_threads(cfg.threads)
    rank, world, dev = dist_context(cfg)
    if rank != 0:
        progress, log = False, (lambda m: None)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    omni = load_omniglot(cfg, omniglot_data) if cfg.arch != "seed" else None
    sampler, o_val, o_val_y, held = None, None, None, []
    p_omni = 0
    if omni is not None:
        o_tr, o_ho, held = omni
        sampler = OmniglotSampler(o_tr, cfg.omniglot_k, cfg.rotations)
        p_omni = max(1, cfg.omniglot_per_batch // cfg.omniglot_k)
        sub = np.random.default_rng(cfg.seed + 4).permutation(len(o_ho.images))[: cfg.omniglot_val_size]
        o_val, o_val_y = o_ho.images[np.sort(sub)], o_ho.character[np.sort(sub)]
    n_mnist = cfg.batch_size - (p_omni * cfg.omniglot_k if omni is not None else 0)
    if cfg.arch != "seed" and n_mnist < 2:
        raise ValueError(
            f"batch size {cfg.batch_size} leaves no room for MNIST beside {p_omni}x{cfg.omniglot_k} Omniglot drawings"
        )
    if world > 1:
        if cfg.batch_size % world:
            raise ValueError(f"batch size {cfg.batch_size} does not split over {world} processes")
        if cfg.ghost_batch not in (0, cfg.batch_size // world):
            raise ValueError(f"with {world} processes the ghost batch must be {cfg.batch_size // world}")
    x_all, y_all, tr, va = load_split(cfg, images, labels)
    x_tr, y_tr = torch.from_numpy(np.ascontiguousarray(x_all[tr])), torch.from_numpy(y_all[tr].astype(np.int64))
    cam = load_camera_data(cfg, len(y_all), va) if cfg.arch != "seed" else None
    x_va, y_va = x_all[va], y_all[va]
    eer_sub = np.random.default_rng(cfg.seed + 2).permutation(len(va))[: cfg.val_eer_size]
    # a fixed slice of training images, un-augmented, for the "train" curve
    tr_probe = np.random.default_rng(cfg.seed + 3).permutation(len(tr))[: min(len(tr), len(va) or 1000)]

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, **model_kwargs(cfg))
    fmt = torch.channels_last if cfg.arch != "seed" else torch.contiguous_format  # faster convs on CPU
    if init_ck is not None:
        try:
            model.load_state_dict(init_ck["state_dict"])
        except RuntimeError as exc:
            raise ValueError(f"{cfg.init} does not match this architecture: {str(exc)[:200]}") from None
        seconds_before = float(init_ck.get("metrics", {}).get("train_seconds", 0.0))
    else:
        seconds_before = 0.0
    model = model.to(dev, memory_format=fmt)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    if cfg.arch == "seed":
        opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
        steps_per_epoch = math.ceil(2 * len(tr) / cfg.batch_size)
        sched = None
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        steps_per_epoch = len(tr) // n_mnist
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=cfg.epochs * steps_per_epoch, pct_start=0.2
        )
    history: list[dict] = []
    best = {"epoch": 0, "score": (float("inf"), float("inf"))}
    start_epoch = 1
    seconds = seconds_before  # training time includes the run it started from
    if resume:
        ck = load_checkpoint(resume)
        model.load_state_dict(ck["state_dict"])
        opt.load_state_dict(ck["optimizer"])
        if sched is not None and ck.get("scheduler"):
            sched.load_state_dict(ck["scheduler"])
        history = list(ck["metrics"].get("history", []))
        best = dict(ck["metrics"].get("best", best))
        seconds = float(ck["metrics"].get("train_seconds", 0.0))
        start_epoch = int(ck["epoch"]) + 1
        if ck.get("rng"):
            torch.set_rng_state(ck["rng"]["torch"])
            np.random.set_state(ck["rng"]["numpy"])
        log(f"resuming from {resume} at epoch {start_epoch}/{cfg.epochs}")

    seed_pairs = None
    if cfg.arch == "seed":  # sampled once, as the notebook did
        seed_pairs = seed_protocol_pairs(y_tr.numpy(), cfg.seed + 10)

    def fields(epoch):
        return dict(
            arch=cfg.arch,
            model_kwargs=model_kwargs(cfg),
            state_dict=model.state_dict(),
            config={
                **dataclasses.asdict(cfg),
                "normalized": bool(model.normalized),
                "parameters": count_parameters(model),
            },
            metrics={"history": history, "best": best, "train_seconds": seconds},
            class_split={
                "train_classes": [c for c in range(10) if c not in cfg.holdout_classes],
                "holdout_classes": list(cfg.holdout_classes),
                **(
                    {
                        "omniglot_holdout_alphabets": list(held),
                        "omniglot_train_alphabets": [a for a in omni[0].alphabets if a not in held],
                    }
                    if omni
                    else {}
                ),
            },
            val_indices=va.tolist(),
            epoch=epoch,
            optimizer=opt.state_dict(),
            scheduler=sched.state_dict() if sched is not None else None,
            rng=_rng_state(),
        )

    bar_factory = None
    if progress:
        from tqdm import tqdm

        bar_factory = tqdm
    for epoch in range(start_epoch, cfg.epochs + 1):
        t0 = time.time()
        model.train()
        g = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)  # per-epoch: resume-exact
        if cfg.arch == "seed":
            pi, pj, ps = seed_pairs
            order = torch.randperm(len(pi), generator=g).numpy()
            batches = [order[s : s + cfg.batch_size] for s in range(0, len(order), cfg.batch_size)]
        else:
            order = torch.randperm(len(tr), generator=g)
            batches = [order[s * n_mnist : (s + 1) * n_mnist] for s in range(steps_per_epoch)]
        it = (
            bar_factory(batches, desc=f"epoch {epoch}/{cfg.epochs}", leave=False, unit="batch", mininterval=1.0)
            if bar_factory
            else batches
        )
        run_loss, run_n = 0.0, 0
        for bi, b in enumerate(it):
            if cfg.arch == "seed":
                a = to_input(x_tr[pi[b]], cfg.mean, cfg.std)
                c = to_input(x_tr[pj[b]], cfg.mean, cfg.std)
                emb = model(torch.cat([a, c]))
                d = pair_distances(emb[: len(b)], emb[len(b) :])
                loss = contrastive_loss(d, torch.from_numpy(ps[b]), cfg.margin)
                stats = {}
            else:
                xb, yb = x_tr[b], y_tr[b]
                if cam is not None:
                    xb, yb = camera_batch(xb, yb, tr[b.numpy()], cam, cfg, g)
                if sampler is not None:
                    xo, yo = sampler.sample(p_omni, g)
                    xb, yb = torch.cat([xb, xo]), torch.cat([yb, yo])
                xb = xb.float().div_(255.0).unsqueeze(1)
                if cfg.augment:
                    xb = augment(xb, g)
                xin = ((xb - cfg.mean) / cfg.std).to(dev)
                if world > 1:
                    per = len(xin) // world
                    xin = xin[rank * per : (rank + 1) * per]
                emb = forward_chunks(net, xin.contiguous(memory_format=fmt), cfg.ghost_batch)
                emb = gather_embeddings(emb, rank, world)
                loss, stats = batch_contrastive_loss(
                    emb, yb.to(dev), cfg.margin, cfg.hard_fraction, cfg.pos_margin, cfg.active_only
                )
            opt.zero_grad(set_to_none=True)
            (loss * world).backward()
            opt.step()
            if sched is not None:
                sched.step()
            run_loss += loss.item() * len(b)
            run_n += len(b)
            if bar_factory and bi % 10 == 0:
                it.set_postfix(loss=f"{run_loss / run_n:.4f}", **{k: f"{v:.3f}" for k, v in stats.items()})
        if bar_factory:
            it.close()
        seconds += time.time() - t0
        if rank != 0:  # rank 0 validates and writes; the others go on
            history.append({"epoch": epoch, "train_loss": run_loss / max(run_n, 1), "seconds": seconds})
            continue
        # ---- validation
        ev = embed(model, x_va, cfg.mean, cfg.std)
        val = pair_figures(ev, y_va, cfg.seed + 20, cfg.margin)
        gen, imp = M.all_pairs(ev[eer_sub], y_va[eer_sub])
        val_eer, _ = M.eer(gen, imp)
        val_frr3 = M.threshold_at_far(gen, imp, 1e-3).frr  # the app's default operating point
        et = embed(model, x_tr[tr_probe].numpy(), cfg.mean, cfg.std)
        trn = pair_figures(et, y_tr[tr_probe].numpy(), cfg.seed + 21, cfg.margin, threshold=val["threshold"])
        rec = {
            "epoch": epoch,
            "train_loss": run_loss / max(run_n, 1),
            "train_pair_loss": trn["loss"],
            "train_accuracy": trn["accuracy"],
            "val_loss": val["loss"],
            "val_accuracy": val["accuracy"],
            "val_threshold": val["threshold"],
            "val_eer": float(val_eer),
            "val_frr_at_far_1e-3": float(val_frr3),
            "lr": opt.param_groups[0]["lr"],
            "seconds": seconds,
        }
        if o_val is not None:
            eo = embed(model, o_val, cfg.mean, cfg.std)
            og, oi = M.all_pairs(eo, o_val_y)
            rec["omniglot_val_eer"] = float(M.eer(og, oi)[0])
            rec["omniglot_val_frr_at_far_1e-3"] = float(M.threshold_at_far(og, oi, 1e-3).frr)
            del og, oi
        history.append(rec)
        log(
            f"epoch {epoch}/{cfg.epochs}: loss {rec['train_loss']:.4f}  train acc {trn['accuracy']:.4%}  "
            f"val acc {val['accuracy']:.4%}  val EER {val_eer:.4%}  FRR@FAR1e-3 {val_frr3:.3%}  thr {val['threshold']:.3f}  "
            + (
                f"  Omniglot held-out EER {rec['omniglot_val_eer']:.3%} FRR@FAR1e-3 "
                f"{rec['omniglot_val_frr_at_far_1e-3']:.2%}"
                if "omniglot_val_eer" in rec
                else ""
            )
            + f"  [{seconds:.0f}s]"
        )
        # best epoch: lowest validation FRR at FAR 1e-3 (the app's default operating point),
        # then lowest EER; later epochs win ties
        score = (float(val_frr3), float(val_eer))
        if o_val is not None:  # unseen symbols and digits both count (the app's default is the former)
            score = (float(val_frr3) + rec["omniglot_val_frr_at_far_1e-3"], float(val_eer) + rec["omniglot_val_eer"])
        if score <= tuple(best.get("score", (float("inf"), float("inf")))):
            best = {
                "epoch": epoch,
                "score": score,
                "val_frr_at_far_1e-3": float(val_frr3),
                "val_eer": float(val_eer),
                "val_accuracy": val["accuracy"],
                "val_threshold": val["threshold"],
                **{k: rec[k] for k in ("omniglot_val_eer", "omniglot_val_frr_at_far_1e-3") if k in rec},
            }
            save_checkpoint(out / "best.pt", **fields(epoch))
        save_checkpoint(out / "last.pt", **fields(epoch))
        _write_json(
            out / "metrics.json",
            {
                "config": dataclasses.asdict(cfg),
                "history": history,
                "best": best,
                "train_seconds": seconds,
                "parameters": count_parameters(model),
            },
        )
        try:
            from training.plots import plot_curves

            plot_curves(history, out / "curves.png", title=f"{cfg.arch}: {cfg.recipe}")
        except ImportError:  # matplotlib missing: curves are optional
            pass
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    return {
        "history": history,
        "best": best,
        "train_seconds": seconds,
        "out_dir": str(out),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }


def _write_json(path: Path, obj) -> None:
    from desktop_app.core.paths import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(obj, indent=2, default=float).encode())
