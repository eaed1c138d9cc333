"""Embedding towers. A twin network is ONE tower applied to both images of a pair.

``build_model(arch, **cfg)`` is the only constructor the rest of the project uses; every
tower maps float32 [N, 1, 28, 28] (white ink on black, normalised per the config) to an
embedding [N, D]. Export takes the tower as it is (no pair head).
"""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class SeedNet(nn.Module):
    """The seed notebook's tower: BN; conv 4@5x5 tanh; avgpool 2; conv 16@5x5 tanh; avgpool 2;
    flatten; BN; dense 10 tanh. (Keras 'valid' convolutions: 28->24->12->8->4.)"""

    normalized = False

    def __init__(self, embedding_dim: int = 10):
        super().__init__()
        self.bn_in = nn.BatchNorm2d(1)
        self.conv1 = nn.Conv2d(1, 4, 5)
        self.conv2 = nn.Conv2d(4, 16, 5)
        self.bn_flat = nn.BatchNorm1d(16 * 4 * 4)
        self.fc = nn.Linear(16 * 4 * 4, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn_in(x)
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = self.bn_flat(torch.flatten(x, 1))
        return torch.tanh(self.fc(x))


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


# The twin tower's shape, declared once: TrainConfig and the CLI take their defaults from here.
DEFAULT_WIDTH = 24
DEFAULT_EMBEDDING_DIM = 64
STEMS = ("conv5",)


class TwinNet(nn.Module):
    """twinlock's default tower: small conv blocks, a linear projection, and L2
    normalisation so that distances lie in [0, 2] and a threshold means the same thing
    for every model.

    The stem (``"conv5"``): one 5x5 conv at 28x28, then two 3x3 convs at 14x14 -- most of the
    compute where the feature maps are small.
    """

    normalized = True

    def __init__(self, embedding_dim: int = DEFAULT_EMBEDDING_DIM, width: int = DEFAULT_WIDTH, stem: str = STEMS[0]):
        super().__init__()
        w = width
        if stem not in STEMS:
            raise ValueError(f"unknown stem {stem!r}; the twin tower has {', '.join(STEMS)}")
        first = [
            nn.Conv2d(1, w, 5, padding=2, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]
        self.features = nn.Sequential(
            *first,  # 14x14
            _block(w, 2 * w),
            nn.MaxPool2d(2),  # 7x7
            nn.Conv2d(2 * w, 4 * w, 3, bias=False),
            nn.BatchNorm2d(4 * w),
            nn.ReLU(inplace=True),  # 5x5
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(4 * w * 5 * 5, 128), nn.ReLU(inplace=True), nn.Linear(128, embedding_dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.features(x)), dim=1)


ARCHS = {"seed": SeedNet, "twin": TwinNet}


def build_model(arch: str = "twin", **kwargs) -> nn.Module:
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(ARCHS)}")
    return ARCHS[arch](**kwargs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
