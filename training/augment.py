"""Cheap batch augmentation on the torch side, for robustness to webcam digits:
random affine (rotation, scale, shear, translation) with one ``grid_sample`` per batch and
stroke-thickness changes (dilate = max-pool, erode = -max-pool(-x)). Input/output: float
[N,1,28,28] in [0,1], white ink on black (zero padding stays background)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(
    x: torch.Tensor, g: torch.Generator, rot_deg=15.0, scale=(0.85, 1.15), shear_deg=10.0, shift_px=2.5
) -> torch.Tensor:
    n, _, h, w = x.shape

    def u(lo, hi):
        return torch.rand(n, generator=g) * (hi - lo) + lo

    a = u(-rot_deg, rot_deg) * math.pi / 180
    sh = u(-shear_deg, shear_deg) * math.pi / 180
    s = u(*scale)
    tx, ty = u(-shift_px, shift_px) * 2 / w, u(-shift_px, shift_px) * 2 / h
    # output->input mapping: inverse of scale·rotation·shear
    cos, sin, tan = torch.cos(a), torch.sin(a), torch.tan(sh)
    m00, m01 = cos, cos * tan - sin
    m10, m11 = sin, sin * tan + cos
    theta = torch.stack([torch.stack([m00 / s, m01 / s, tx], 1), torch.stack([m10 / s, m11 / s, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_thickness(x: torch.Tensor, g: torch.Generator, p_dilate=0.2, p_erode=0.2) -> torch.Tensor:
    n = x.shape[0]
    r = torch.rand(n, generator=g)
    dil = F.max_pool2d(x, 3, 1, 1)
    ero = -F.max_pool2d(-x, 2, 1, 0)  # 2x2 erosion is gentler than 3x3
    ero = F.pad(ero, (0, 1, 0, 1))
    pick = r.view(n, 1, 1, 1)
    out = torch.where(pick < p_dilate, dil, x)
    return torch.where((pick >= p_dilate) & (pick < p_dilate + p_erode), ero, out)


def random_elastic(x: torch.Tensor, g: torch.Generator, alpha_px: float, sigma_px: float = 4.0) -> torch.Tensor:
    """Elastic distortion (Simard et al. 2003): a random displacement field, smoothed by a
    Gaussian of ``sigma_px``, scaled so its largest displacements are about ``alpha_px``."""
    n, _, h, w = x.shape
    field = torch.rand(n, 2, h, w, generator=g) * 2 - 1
    r = int(2 * sigma_px)
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigma_px**2))
    k = k / k.sum()
    field = F.conv2d(F.pad(field, (r, r, 0, 0), mode="reflect"), k.view(1, 1, 1, -1).expand(2, 1, 1, -1), groups=2)
    field = F.conv2d(F.pad(field, (0, 0, r, r), mode="reflect"), k.view(1, 1, -1, 1).expand(2, 1, -1, 1), groups=2)
    field = field / field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6) * alpha_px
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    base = torch.stack([xs, ys], -1).unsqueeze(0)
    disp = torch.stack([field[:, 0] * 2 / w, field[:, 1] * 2 / h], -1)
    return F.grid_sample(x, base + disp, mode="bilinear", padding_mode="zeros", align_corners=True)


def augment(x: torch.Tensor, g: torch.Generator, elastic: float = 0.0) -> torch.Tensor:
    x = random_affine(x, g)
    if elastic > 0:
        x = random_elastic(x, g, elastic)
    return random_thickness(x, g).clamp_(0, 1)
