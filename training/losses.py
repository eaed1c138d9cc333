"""Contrastive loss L = (1-Y)·½·D² + Y·½·max(0, m-D)², Y=0 for a same-digit pair."""

from __future__ import annotations

import torch


def contrastive_loss(d: torch.Tensor, same: torch.Tensor, margin: float = 1.0, reduction: str = "mean") -> torch.Tensor:
    """Per-pair contrastive loss on distances ``d`` with ``same`` (bool) labels."""
    same = same.to(d.dtype)
    loss = same * 0.5 * d.pow(2) + (1 - same) * 0.5 * torch.clamp(margin - d, min=0).pow(2)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def row_distances(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Euclidean distance between matching rows (gradient-safe at 0)."""
    return torch.sqrt((a - b).pow(2).sum(1) + eps)


def batch_contrastive_loss(
    emb: torch.Tensor,
    labels: torch.Tensor,
    margin: float = 1.0,
    pos_margin: float = 0.0,
    active_only: bool = True,
) -> tuple[torch.Tensor, dict]:
    """Contrastive loss over ALL pairs i<j of one batch, with hard-pair mining.

    Genuine and impostor pairs are averaged separately (a batch holds ~9x more impostor
    pairs) and the two halves added. Impostor pairs outside the margin have zero loss and
    are left out of their mean ("active" negatives only).

    Negative-only samples: a label < 0 marks a non-digit (printed text, a shape) that must lie
    beyond the margin from every digit. It forms no genuine pair, and pairs of two such
    samples are left out (nothing asks two different non-digits to be far apart).

    Variants (off by default, so the default is the formula above): ``pos_margin`` > 0 stops
    pulling genuine pairs closer than it (½·max(0, D - pos_margin)²); ``active_only=False``
    averages over all impostor pairs.
    """
    n = emb.shape[0]
    sq = torch.cdist(emb, emb).pow(2)  # squared distances
    iu = torch.triu_indices(n, n, offset=1, device=emb.device)
    d = torch.sqrt(sq[iu[0], iu[1]].clamp_min(0) + 1e-9)
    li, lj = labels[iu[0]], labels[iu[1]]
    same = (li == lj) & (li >= 0)
    used = (li >= 0) | (lj >= 0)
    dp, dn = d[same], d[~same & used]
    pos = 0.5 * torch.clamp(dp - pos_margin, min=0).pow(2)
    neg = 0.5 * torch.clamp(margin - dn, min=0).pow(2)
    active = neg > 0 if active_only else torch.ones_like(neg, dtype=torch.bool)
    pos_loss = pos.mean() if pos.numel() else d.sum() * 0
    neg_loss = neg[active].mean() if bool(active.any()) else d.sum() * 0
    with torch.no_grad():
        stats = {
            "pos_d": float(dp.mean()) if dp.numel() else float("nan"),
            "neg_d": float(dn.mean()) if dn.numel() else float("nan"),
            "active_neg": float(active.float().mean()) if dn.numel() else 0.0,
        }
    return pos_loss + neg_loss, stats


def cosface_loss(
    emb: torch.Tensor, labels: torch.Tensor, weight: torch.Tensor, scale: float, margin: float
) -> torch.Tensor:
    """Normalised-softmax (CosFace, Wang et al. 2018) loss of L2-normalised ``emb`` over the
    class centres ``weight`` [C, D]: cross-entropy of ``scale * (cos - margin * onehot)``.
    Samples with a label < 0 (negative-only junk) are left out. An auxiliary head for
    training only: the exported tower never sees ``weight``."""
    keep = labels >= 0
    if not bool(keep.any()):
        return emb.sum() * 0
    e, y = emb[keep], labels[keep]
    cos = e @ torch.nn.functional.normalize(weight, dim=1).t()
    logits = scale * (cos - margin * torch.nn.functional.one_hot(y, weight.shape[0]).to(cos.dtype))
    return torch.nn.functional.cross_entropy(logits, y)
