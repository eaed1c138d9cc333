"""The seed notebook's recipe, kept as it was so its figures can be reproduced: pairs
sampled once (each training image with a same-digit and a different-digit partner), batch
16, RMSprop lr 1e-3, the contrastive loss with margin 1, no augmentation, input x/255, a
10-d tanh embedding (``training.model.SeedNet``)."""

from __future__ import annotations

import math

import torch

from training.losses import contrastive_loss, row_distances
from training.pairs import seed_protocol_pairs

DESCRIPTION = (
    "seed notebook: SeedNet (BN, conv4@5x5 tanh, avgpool, conv16@5x5 tanh, avgpool, BN, "
    "dense10 tanh); pairs sampled once; batch 16; RMSprop lr 1e-3; margin 1; no augmentation; x/255"
)


EPOCHS, BATCH_SIZE = 10, 16  # the notebook's


def describe(c, omniglot_given: bool = False) -> str:
    return DESCRIPTION


def apply_defaults(c) -> None:
    """The seed's choices on a config (in place): its epochs and batch size unless given,
    input x/255, 10-d embedding."""
    c.epochs = EPOCHS if c.epochs is None else c.epochs
    c.batch_size = BATCH_SIZE if c.batch_size is None else c.batch_size
    c.mean = 0.0 if c.mean is None else c.mean
    c.std = 1.0 if c.std is None else c.std
    c.embedding_dim = 10


class SeedRecipe:
    """One epoch = every sampled pair once, in a seeded order."""

    memory_format = torch.contiguous_format

    def __init__(self, cfg, x_tr: torch.Tensor, y_tr: torch.Tensor, to_input):
        self.cfg, self.x, self.to_input = cfg, x_tr, to_input
        self.pi, self.pj, self.same = seed_protocol_pairs(y_tr.numpy(), cfg.seed + 10)  # once, as the notebook did
        self.steps_per_epoch = math.ceil(2 * len(y_tr) / cfg.batch_size)

    def optimizer(self, model):
        return torch.optim.RMSprop(model.parameters(), lr=1e-3), None

    def batches(self, g: torch.Generator) -> list:
        order = torch.randperm(len(self.pi), generator=g).numpy()
        return [order[s : s + self.cfg.batch_size] for s in range(0, len(order), self.cfg.batch_size)]

    def loss(self, net, b, g: torch.Generator):
        c = self.cfg
        a = self.to_input(self.x[self.pi[b]], c.mean, c.std)
        p = self.to_input(self.x[self.pj[b]], c.mean, c.std)
        emb = net(torch.cat([a, p]))
        d = row_distances(emb[: len(b)], emb[len(b) :])
        return contrastive_loss(d, torch.from_numpy(self.same[b]), c.margin), {}
