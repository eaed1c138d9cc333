"""The training loop: ``train(TrainConfig)`` -> best/last checkpoints, metrics JSON, curves PNG.

What a step does is the recipe's (``training.twin_recipe``, the default, and
``training.seed_recipe``, the seed notebook's); this module reads top to bottom, and so does
:func:`train`, one named step after another: ``_configure`` (the recipe's defaults),
``_load_data`` (:class:`RunData`), ``_build`` (the model, recipe and optimizer:
:class:`RunState`), ``_resume``, then per epoch ``_one_epoch`` (the recipe's batches, one
optimizer step each), ``_validate`` and ``_checkpoint``.

Validation (carved from the training set, seeded) runs after every epoch; the best epoch
is the one with the lowest FRR at FAR 1e-3 (then EER) over all pairs of (a subset of) the
validation images, plus the held-out alphabets' when Omniglot is used. Test data is never
touched here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from desktop_app.core import metrics as M
from desktop_app.core.contract import normalise_pixels
from training import seed_recipe, twin_recipe
from training.checkpoint import load_checkpoint, save_checkpoint
from training.data import OmniglotSampler, load_camera_data, load_omniglot, load_omniglot_camera, load_split
from training.distributed import dist_context
from training.losses import contrastive_loss
from training.model import DEFAULT_EMBEDDING_DIM, DEFAULT_WIDTH, STEMS, build_model, count_parameters
from training.pairs import seed_protocol_pairs


@dataclass
class TrainConfig:
    arch: str = "twin"
    epochs: int | None = None  # None: the recipe's (twin_recipe.EPOCHS, seed_recipe.EPOCHS)
    batch_size: int | None = None  # None: the recipe's (twin_recipe.BATCH_SIZE, seed_recipe.BATCH_SIZE)
    lr: float = 3e-3
    weight_decay: float = 5e-4
    margin: float = 1.0
    embedding_dim: int = DEFAULT_EMBEDDING_DIM
    width: int = DEFAULT_WIDTH
    stem: str = STEMS[0]
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
    omniglot: str | None = None  # npz from training.omniglot (background set in model form)
    omniglot_holdout: int = 6  # alphabets kept out of training (validation + calibration)
    omniglot_split_seed: int = 0
    omniglot_per_batch: int = 128  # of batch_size: P x K Omniglot drawings, the rest MNIST
    omniglot_k: int = 4  # drawings per Omniglot class in a batch (K)
    rotations: bool = True  # Omniglot characters turned by 90/180/270 deg are new classes
    omniglot_alphabets_per_batch: int = 0  # 0: the P classes are drawn from all training
    # characters; A > 0: from A (alphabet, rotation) groups, so impostors of one alphabet meet
    # in a batch (the hard negatives of within-alphabet one-shot and of FAR 1e-3)
    elastic: float = 0.0  # elastic distortion strength in px (0: off), Simard et al. 2003
    omniglot_camera_data: str | None = None  # npz from `training.camera_data --omniglot`: camera-like
    # renders of the training alphabets' drawings, shown with probability camera_fraction
    omniglot_val_size: int = 4000  # held-out-alphabet drawings used for the per-epoch all-pairs EER
    ghost_batch: int = 0  # batch norm over chunks of this size (0: the whole batch); one
    # process and N processes of batch/N compute the same thing
    device: str = "cpu"  # "cpu", "cuda" or "auto"
    omniglot_holdout_alphabets: list = field(default_factory=list)  # explicit held-out alphabets
    aux_weight: float = 0.0  # weight of the auxiliary CosFace head over the training classes (0: off)
    aux_scale: float = 30.0  # its logit scale s
    aux_margin: float = 0.2  # its additive cosine margin m
    init: str | None = None  # start from this checkpoint's weights (new optimizer and
    # schedule); its held-out alphabets are kept held out

    def resolved(self, omniglot_given: bool = False, describe: bool = True) -> TrainConfig:
        """A copy with every recipe default filled in (epochs, batch size, normalisation) and
        the recipe's description built from its parts; ``omniglot_given``: Omniglot data is
        passed in directly (tests) instead of by file."""
        c = dataclasses.replace(self)
        recipe = seed_recipe if c.arch == "seed" else twin_recipe
        recipe.apply_defaults(c)
        if describe and not c.recipe:
            c.recipe = recipe.describe(c, omniglot_given)
        return c


def model_kwargs(cfg: TrainConfig) -> dict:
    if cfg.arch == "seed":
        return {"embedding_dim": 10}
    return {"embedding_dim": cfg.embedding_dim, "width": cfg.width, "stem": cfg.stem}


def to_input(images_u8, mean: float, std: float) -> torch.Tensor:
    """uint8 [N,28,28] (numpy or tensor) -> normalised float [N,1,28,28] (the contract's rule)."""
    return torch.from_numpy(normalise_pixels(np.asarray(images_u8), mean, std))


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


# ------------------------------------------------------------------ set-up


def _start_from(cfg: TrainConfig):
    """(cfg with the init checkpoint's held-out alphabets, the init checkpoint or None)."""
    if not cfg.init:
        return cfg, None
    ck = load_checkpoint(cfg.init)
    prev = (ck.get("class_split") or {}).get("omniglot_holdout_alphabets") or []
    if prev and not cfg.omniglot_holdout_alphabets:
        cfg = dataclasses.replace(cfg, omniglot_holdout_alphabets=list(prev))
    elif prev and sorted(prev) != sorted(cfg.omniglot_holdout_alphabets):
        raise ValueError(f"{cfg.init} held out {prev}; training on from it must hold out the same alphabets")
    if ck["config"].get("seed", cfg.seed) != cfg.seed or ck["config"].get("val_size") != cfg.val_size:
        raise ValueError(
            f"{cfg.init} used another validation split (seed/val size): its validation images would be trained on"
        )
    return cfg, ck


def _rng_state():
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}


def _validate(model, cfg: TrainConfig, val, probe, o_val) -> dict:
    """Per-epoch figures on the validation digits (and the held-out alphabets' drawings)."""
    (x_va, y_va, eer_sub), (x_probe, y_probe) = val, probe
    ev = embed(model, x_va, cfg.mean, cfg.std)
    v = pair_figures(ev, y_va, cfg.seed + 20, cfg.margin)
    gen, imp = M.all_pairs(ev[eer_sub], y_va[eer_sub])
    et = embed(model, x_probe, cfg.mean, cfg.std)  # un-augmented training images: the "train" curve
    trn = pair_figures(et, y_probe, cfg.seed + 21, cfg.margin, threshold=v["threshold"])
    rec = {
        "train_pair_loss": trn["loss"],
        "train_accuracy": trn["accuracy"],
        "val_loss": v["loss"],
        "val_accuracy": v["accuracy"],
        "val_threshold": v["threshold"],
        "val_eer": float(M.eer(gen, imp)[0]),
        "val_frr_at_far_1e-3": float(M.threshold_at_far(gen, imp, 1e-3).frr),  # the app's default point
    }
    if o_val is not None:
        eo = embed(model, o_val[0], cfg.mean, cfg.std)
        og, oi = M.all_pairs(eo, o_val[1])
        rec["omniglot_val_eer"] = float(M.eer(og, oi)[0])
        rec["omniglot_val_frr_at_far_1e-3"] = float(M.threshold_at_far(og, oi, 1e-3).frr)
    return rec


def _epoch_line(epoch: int, cfg: TrainConfig, rec: dict) -> str:
    line = (
        f"epoch {epoch}/{cfg.epochs}: loss {rec['train_loss']:.4f}  train acc {rec['train_accuracy']:.4%}  "
        f"val acc {rec['val_accuracy']:.4%}  val EER {rec['val_eer']:.4%}  FRR@FAR1e-3 "
        f"{rec['val_frr_at_far_1e-3']:.3%}  thr {rec['val_threshold']:.3f}  "
    )
    if "omniglot_val_eer" in rec:
        line += (
            f"  Omniglot held-out EER {rec['omniglot_val_eer']:.3%} FRR@FAR1e-3 "
            f"{rec['omniglot_val_frr_at_far_1e-3']:.2%}"
        )
    return line + f"  [{rec['seconds']:.0f}s]"


def _score(rec: dict) -> tuple[float, float]:
    """Best-epoch key, lower is better: FRR at FAR 1e-3 (the app's default operating point),
    then EER; with Omniglot, unseen symbols and digits both count."""
    score = (rec["val_frr_at_far_1e-3"], rec["val_eer"])
    if "omniglot_val_eer" in rec:
        score = (score[0] + rec["omniglot_val_frr_at_far_1e-3"], score[1] + rec["omniglot_val_eer"])
    return score


# ------------------------------------------------------------------ the steps of a run


@dataclass
class RunData:
    """What a run draws its batches from and is judged on, set up once."""

    x_tr: torch.Tensor  # training images, uint8 [N,28,28]
    y_tr: torch.Tensor  # their labels (int64)
    tr: np.ndarray  # their rows in the MNIST training set
    va: np.ndarray  # the validation rows: never trained on, they pick the best epoch
    n_images: int  # rows in the MNIST training set (camera renders point at them)
    val: tuple  # (validation images, labels, the subset for the all-pairs EER)
    probe: tuple  # (un-augmented training images, labels): the "train" curve
    omni: tuple | None  # (training Symbols, held-out Symbols, held-out alphabets), None without Omniglot
    sampler: OmniglotSampler | None  # P x K Omniglot classes per batch
    o_val: tuple | None  # (held-out alphabets' drawings, characters) for the per-epoch EER
    p_omni: int  # Omniglot classes per batch (P; 0 without Omniglot)
    n_mnist: int  # MNIST digits per batch

    @property
    def held(self) -> list:
        return list(self.omni[2]) if self.omni else []


@dataclass
class RunState:
    """The model, its optimizer and what the run has done so far (a checkpoint restores it)."""

    model: torch.nn.Module
    net: torch.nn.Module  # the model, wrapped for DistributedDataParallel under torchrun
    recipe: object  # twin_recipe.TwinRecipe or seed_recipe.SeedRecipe: batches and loss
    opt: torch.optim.Optimizer
    sched: object | None
    history: list = field(default_factory=list)
    best: dict = field(default_factory=lambda: {"epoch": 0, "score": (float("inf"), float("inf"))})
    seconds: float = 0.0  # training time, including the run it started from
    start_epoch: int = 1


def _configure(cfg: TrainConfig, omniglot_given: bool) -> tuple[TrainConfig, dict | None]:
    """(cfg with the recipe's defaults and description, the ``init`` checkpoint or None)."""
    auto_recipe = not cfg.recipe
    cfg, init_ck = _start_from(cfg)
    cfg = cfg.resolved(omniglot_given=omniglot_given)
    if init_ck is not None and auto_recipe:
        cfg.recipe = f"from {Path(cfg.init).name} ({init_ck['config'].get('recipe', '')}), then " + cfg.recipe
    torch.set_num_threads(cfg.threads)
    return cfg, init_ck


def _omniglot(cfg: TrainConfig, omni) -> tuple[OmniglotSampler, tuple | None]:
    """(the sampler of the training alphabets, held-out drawings for validation or None)."""
    o_tr, o_ho, held = omni
    n_rows = int(max(o_tr.rows().max(initial=-1), o_ho.rows().max(initial=-1))) + 1
    sampler = OmniglotSampler(
        o_tr,
        cfg.omniglot_k,
        cfg.rotations,
        cfg.omniglot_alphabets_per_batch,
        camera=load_omniglot_camera(cfg, n_rows, held),
        camera_fraction=cfg.camera_fraction,
    )
    if not len(o_ho.images):  # no held-out alphabets (all trained on): digits alone pick the epoch
        return sampler, None
    sub = np.sort(np.random.default_rng(cfg.seed + 4).permutation(len(o_ho.images))[: cfg.omniglot_val_size])
    return sampler, (o_ho.images[sub], o_ho.character[sub])


def _load_data(cfg: TrainConfig, images, labels, omniglot_data, world: int) -> RunData:
    """The MNIST split and the Omniglot alphabets; refuses a batch with no room for MNIST
    beside P x K Omniglot drawings, or one that does not split over ``world`` processes."""
    omni = load_omniglot(cfg, omniglot_data) if cfg.arch != "seed" else None
    sampler, o_val, p_omni = None, None, 0
    if omni is not None:
        sampler, o_val = _omniglot(cfg, omni)
        p_omni = max(1, cfg.omniglot_per_batch // cfg.omniglot_k)
    n_mnist = cfg.batch_size - p_omni * cfg.omniglot_k
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
    eer_sub = np.random.default_rng(cfg.seed + 2).permutation(len(va))[: cfg.val_eer_size]
    probe = np.random.default_rng(cfg.seed + 3).permutation(len(tr))[: min(len(tr), len(va) or 1000)]
    return RunData(
        x_tr,
        y_tr,
        tr,
        va,
        len(y_all),
        (x_all[va], y_all[va], eer_sub),
        (x_tr[probe].numpy(), y_tr[probe].numpy()),
        omni,
        sampler,
        o_val,
        p_omni,
        n_mnist,
    )


def _build(cfg: TrainConfig, data: RunData, init_ck: dict | None, dev, rank: int, world: int) -> RunState:
    """The model (seeded; the ``init`` checkpoint's weights when given), the recipe and its
    optimizer; under torchrun the model wrapped for DistributedDataParallel."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.arch, **model_kwargs(cfg))
    seconds = 0.0  # training time includes the run it started from
    if init_ck is not None:
        try:
            model.load_state_dict(init_ck["state_dict"])
        except RuntimeError as exc:
            raise ValueError(f"{cfg.init} does not match this architecture: {str(exc)[:200]}") from None
        seconds = float(init_ck.get("metrics", {}).get("train_seconds", 0.0))
    if cfg.arch == "seed":
        recipe = seed_recipe.SeedRecipe(cfg, data.x_tr, data.y_tr, to_input)
    else:
        cam = load_camera_data(cfg, data.n_images, data.va)
        recipe = twin_recipe.TwinRecipe(
            cfg, data.x_tr, data.y_tr, data.tr, cam, data.sampler, data.p_omni, data.n_mnist, dev, rank, world
        )
    model = model.to(dev, memory_format=recipe.memory_format)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    opt, sched = recipe.optimizer(model)
    return RunState(model, net, recipe, opt, sched, seconds=seconds)


def _resume(run: RunState, path) -> None:
    """Restore ``run`` from the checkpoint at ``path``: weights, optimizer, schedule, history,
    the recipe's state and the random generators, so it goes on as if never stopped."""
    ck = load_checkpoint(path)
    run.model.load_state_dict(ck["state_dict"])
    run.opt.load_state_dict(ck["optimizer"])
    if run.sched is not None and ck.get("scheduler"):
        run.sched.load_state_dict(ck["scheduler"])
    run.history = list(ck["metrics"].get("history", []))
    run.best = dict(ck["metrics"].get("best", run.best))
    run.seconds = float(ck["metrics"].get("train_seconds", 0.0))
    run.start_epoch = int(ck["epoch"]) + 1
    if hasattr(run.recipe, "load_state"):
        run.recipe.load_state(ck.get("recipe_state") or {})
    if ck.get("rng"):
        torch.set_rng_state(ck["rng"]["torch"])
        np.random.set_state(ck["rng"]["numpy"])


def _one_epoch(run: RunState, cfg: TrainConfig, epoch: int, world: int, progress: bool, on_progress) -> float:
    """The recipe's batches of ``epoch``, one optimizer step each; the mean training loss."""
    run.model.train()
    g = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)  # per-epoch: resume-exact
    batches = run.recipe.batches(g)
    it = batches
    if progress:
        from tqdm import tqdm

        it = tqdm(batches, desc=f"epoch {epoch}/{cfg.epochs}", leave=False, unit="batch", mininterval=1.0)
    run_loss, run_n = 0.0, 0
    for bi, b in enumerate(it):
        loss, stats = run.recipe.loss(run.net, b, g)
        run.opt.zero_grad(set_to_none=True)
        (loss * world).backward()
        run.opt.step()
        if run.sched is not None:
            run.sched.step()
        run_loss += loss.item() * len(b)
        run_n += len(b)
        if progress and bi % 10 == 0:
            it.set_postfix(loss=f"{run_loss / run_n:.4f}", **{k: f"{v:.3f}" for k, v in stats.items()})
        if on_progress is not None and (bi % 10 == 9 or bi + 1 == len(batches)):
            on_progress(epoch, cfg.epochs, bi + 1, len(batches))
    if progress:
        it.close()
    return run_loss / max(run_n, 1)


def _fields(run: RunState, cfg: TrainConfig, data: RunData, epoch: int) -> dict:
    """What a checkpoint holds: the model and its config, the class split, the history,
    and what resuming needs (optimizer, schedule, random generators, the recipe's state)."""
    split = {
        "train_classes": [c for c in range(10) if c not in cfg.holdout_classes],
        "holdout_classes": list(cfg.holdout_classes),
    }
    if data.omni:
        split["omniglot_holdout_alphabets"] = data.held
        split["omniglot_train_alphabets"] = [a for a in data.omni[0].alphabets if a not in data.held]
    return dict(
        arch=cfg.arch,
        model_kwargs=model_kwargs(cfg),
        state_dict=run.model.state_dict(),
        config={
            **dataclasses.asdict(cfg),
            "normalized": bool(run.model.normalized),
            "parameters": count_parameters(run.model),
        },
        metrics={"history": run.history, "best": run.best, "train_seconds": run.seconds},
        class_split=split,
        val_indices=data.va.tolist(),
        epoch=epoch,
        optimizer=run.opt.state_dict(),
        scheduler=run.sched.state_dict() if run.sched is not None else None,
        rng=_rng_state(),
        recipe_state=run.recipe.state() if hasattr(run.recipe, "state") else {},
    )


def _checkpoint(run: RunState, cfg: TrainConfig, data: RunData, epoch: int, rec: dict, out: Path) -> None:
    """best.pt when this epoch scores best (later epochs win ties), last.pt, metrics.json
    and the curves."""
    score = _score(rec)
    if score <= tuple(run.best.get("score", (float("inf"), float("inf")))):
        run.best = {"epoch": epoch, "score": score}
        run.best |= {k: rec[k] for k in ("val_frr_at_far_1e-3", "val_eer", "val_accuracy", "val_threshold")}
        run.best |= {k: rec[k] for k in ("omniglot_val_eer", "omniglot_val_frr_at_far_1e-3") if k in rec}
        save_checkpoint(out / "best.pt", **_fields(run, cfg, data, epoch))
    save_checkpoint(out / "last.pt", **_fields(run, cfg, data, epoch))
    _write_json(
        out / "metrics.json",
        {
            "config": dataclasses.asdict(cfg),
            "history": run.history,
            "best": run.best,
            "train_seconds": run.seconds,
            "parameters": count_parameters(run.model),
        },
    )
    try:
        from training.plots import plot_curves

        plot_curves(run.history, out / "curves.png", title=f"{cfg.arch}: {cfg.recipe}")
    except ImportError:  # matplotlib missing: curves are optional
        pass


# ------------------------------------------------------------------ the loop


def train(
    cfg: TrainConfig,
    images=None,
    labels=None,
    resume: str | os.PathLike | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    omniglot_data=None,
    on_progress: Callable[[int, int, int, int], None] | None = None,
) -> dict:
    """Train per ``cfg``; returns the final metrics dict. ``images``/``labels`` (uint8
    [N,28,28] / [N]) replace MNIST and ``omniglot_data`` the Omniglot npz (tests use small
    synthetic sets). Under ``torchrun`` every rank embeds its slice of each batch, the
    loss is over the whole batch, and rank 0 validates and writes the checkpoints.
    ``on_progress(epoch, epochs, batches_done, batches)`` is called every 10 batches and at
    an epoch's last (rank 0; ``twinlock train --progress-jsonl``)."""
    cfg, init_ck = _configure(cfg, omniglot_given=omniglot_data is not None)
    rank, world, dev = dist_context(cfg)
    if rank != 0:
        progress, log, on_progress = False, (lambda m: None), None
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = _load_data(cfg, images, labels, omniglot_data, world)
    run = _build(cfg, data, init_ck, dev, rank, world)
    if resume:
        _resume(run, resume)
        log(f"resuming from {resume} at epoch {run.start_epoch}/{cfg.epochs}")
    for epoch in range(run.start_epoch, cfg.epochs + 1):
        t0 = time.time()
        train_loss = _one_epoch(run, cfg, epoch, world, progress, on_progress)
        run.seconds += time.time() - t0
        if rank != 0:  # rank 0 validates and writes; the others go on
            run.history.append({"epoch": epoch, "train_loss": train_loss, "seconds": run.seconds})
            continue
        rec = {"epoch": epoch, "train_loss": train_loss}
        rec |= _validate(run.model, cfg, data.val, data.probe, data.o_val)
        rec |= {"lr": run.opt.param_groups[0]["lr"], "seconds": run.seconds}
        run.history.append(rec)
        log(_epoch_line(epoch, cfg, rec))
        _checkpoint(run, cfg, data, epoch, rec, out)
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
    return {
        "history": run.history,
        "best": run.best,
        "train_seconds": run.seconds,
        "out_dir": str(out),
        "state_dict": {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()},
    }


def _write_json(path: Path, obj) -> None:
    from desktop_app.core.paths import atomic_write_bytes

    atomic_write_bytes(path, json.dumps(obj, indent=2, default=float).encode())
