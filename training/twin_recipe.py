"""twinlock's recipe: an L2-normalised embedding, large batches embedded once, the
contrastive loss over ALL pairs of each batch with hard-pair mining, batch augmentation
(affine + stroke thickness, optionally elastic), AdamW with a one-cycle schedule.

A batch is ``n_mnist`` MNIST digits (some swapped for their camera-like renders) plus P x K
Omniglot characters; under ``torchrun`` each rank embeds its slice and the loss is over the
whole batch (``training.distributed``)."""

from __future__ import annotations

import torch

from desktop_app.core.contract import normalise_pixels
from training.augment import augment
from training.data import camera_batch
from training.distributed import forward_chunks, gather_embeddings
from training.losses import batch_contrastive_loss, cosface_loss


def omniglot_description(c) -> str:
    p = c.omniglot_per_batch // max(1, c.omniglot_k)
    groups = f", classes from {c.omniglot_alphabets_per_batch} alphabets" if c.omniglot_alphabets_per_batch else ""
    return (
        f"each batch {c.batch_size - p * c.omniglot_k} MNIST + {p}x{c.omniglot_k} Omniglot background "
        f"characters (P x K{', rotations as new classes' if c.rotations else ''}{groups}; "
        f"{c.omniglot_holdout} alphabets held out); "
    )


EPOCHS, BATCH_SIZE = 12, 256
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def apply_defaults(c) -> None:
    """The recipe's defaults on a config (in place): epochs, batch size, MNIST normalisation."""
    c.epochs = EPOCHS if c.epochs is None else c.epochs
    c.batch_size = BATCH_SIZE if c.batch_size is None else c.batch_size
    c.mean = MNIST_MEAN if c.mean is None else c.mean
    c.std = MNIST_STD if c.std is None else c.std


def describe(c, omniglot_given: bool = False) -> str:
    return (
        f"twin {c.stem} w{c.width} D{c.embedding_dim} L2-normalised; batch {c.batch_size} all-pairs contrastive "
        f"(margin {c.margin}{f', positive margin {c.pos_margin:g}' if c.pos_margin else ''}, "
        f"{'active-negative mining' if c.active_only else 'all negatives'}); "
        f"{'affine+thickness' + (f'+elastic {c.elastic:g}px' if c.elastic else '') + ' augmentation; ' if c.augment else ''}"
        f"{f'camera-like renders of training digits (p {c.camera_fraction:g}); ' if c.camera_data else ''}"
        f"{omniglot_description(c) if c.omniglot or omniglot_given else ''}"
        f"{f'camera-like renders of training characters (p {c.camera_fraction:g}); ' if c.omniglot_camera_data else ''}"
        f"{aux_description(c)}"
        f"AdamW lr {c.lr:g} wd {c.weight_decay:g} one-cycle; {c.epochs} epochs"
    )


def aux_description(c) -> str:
    if not c.aux_weight:
        return ""
    return (
        f"plus {c.aux_weight:g} x a CosFace head over the training classes (digits, characters x rotations; "
        f"scale {c.aux_scale:g}, margin {c.aux_margin:g}; training only, dropped at export); "
    )


class TwinRecipe:
    """One epoch = the training digits once, ``n_mnist`` a batch, in a seeded order."""

    memory_format = torch.channels_last  # faster convolutions on the CPU

    def __init__(self, cfg, x_tr, y_tr, tr, cam, sampler, p_omni: int, n_mnist: int, dev, rank: int, world: int):
        self.cfg, self.x, self.y, self.tr = cfg, x_tr, y_tr, tr
        self.cam, self.sampler, self.p_omni, self.n_mnist = cam, sampler, p_omni, n_mnist
        self.dev, self.rank, self.world = dev, rank, world
        self.steps_per_epoch = len(tr) // n_mnist
        # the auxiliary normalised-softmax head: one centre per training class (10 digits, then
        # the Omniglot sampler's classes at 10 + class); a training-only parameter
        self.n_classes = 10 + (sampler.n_classes if sampler is not None else 0)
        self.aux = None
        if cfg.aux_weight:
            g = torch.Generator().manual_seed(cfg.seed + 77)
            self.aux = torch.nn.Parameter(torch.randn(self.n_classes, cfg.embedding_dim, generator=g).to(dev))

    def parameters(self, model) -> list:
        return list(model.parameters()) + ([self.aux] if self.aux is not None else [])

    def state(self) -> dict:
        return {"aux_head": self.aux.detach().cpu().clone()} if self.aux is not None else {}

    def load_state(self, state: dict) -> None:
        if self.aux is not None and state.get("aux_head") is not None:
            with torch.no_grad():
                self.aux.copy_(state["aux_head"].to(self.aux.device))

    def optimizer(self, model):
        c = self.cfg
        opt = torch.optim.AdamW(self.parameters(model), lr=c.lr, weight_decay=c.weight_decay)
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=c.lr, total_steps=c.epochs * self.steps_per_epoch, pct_start=0.2
        )
        return opt, sched

    def batches(self, g: torch.Generator) -> list:
        order = torch.randperm(len(self.tr), generator=g)
        return [order[s * self.n_mnist : (s + 1) * self.n_mnist] for s in range(self.steps_per_epoch)]

    def loss(self, net, b, g: torch.Generator):
        c = self.cfg
        xb, yb = self.x[b], self.y[b]
        if self.cam is not None:
            xb, yb = camera_batch(xb, yb, self.tr[b.numpy()], self.cam, c, g)
        if self.sampler is not None:
            xo, yo = self.sampler.sample(self.p_omni, g)
            xb, yb = torch.cat([xb, xo]), torch.cat([yb, yo])
        xb = xb.float().div_(255.0).unsqueeze(1)
        if c.augment:
            xb = augment(xb, g, elastic=c.elastic)
        xin = torch.from_numpy(normalise_pixels(xb.numpy(), c.mean, c.std, scale=1.0)).to(self.dev)
        if self.world > 1:
            per = len(xin) // self.world
            xin = xin[self.rank * per : (self.rank + 1) * per]
        emb = forward_chunks(net, xin.contiguous(memory_format=self.memory_format), c.ghost_batch)
        emb = gather_embeddings(emb, self.rank, self.world)
        yd = yb.to(self.dev)
        loss, stats = batch_contrastive_loss(emb, yd, c.margin, c.pos_margin, c.active_only)
        if self.aux is not None:
            aux = cosface_loss(emb, yd, self.aux, c.aux_scale, c.aux_margin)
            loss = loss + c.aux_weight * aux
            stats["aux"] = float(aux.detach())
        return loss, stats
