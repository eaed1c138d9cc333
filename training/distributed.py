"""Scale-out under ``torchrun``: one process per device, each embedding its slice of every
batch; the contrastive loss is over the whole batch on every rank (gloo on CPU, NCCL on CUDA)."""

from __future__ import annotations

import os

import torch


def dist_context(cfg):
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
