"""Training checkpoints: one dict saved with ``torch.save``, written atomically.

Keys (export relies on these exactly):

- ``arch`` (str), ``model_kwargs`` (dict), ``state_dict``
- ``config``: ``mean``, ``std`` (normalisation applied after x/255), ``margin``, ``epochs``,
  ``seed``, ``batch_size``, ``embedding_dim``, ``normalized``, ``holdout_classes``,
  ``data_dir``, ``recipe`` (+ any other training options)
- ``metrics`` (validation figures per epoch and the best), ``class_split``
  (``train_classes``, ``holdout_classes``), ``val_indices`` (training-set indices held out
  for validation), ``epoch``, ``optimizer``, ``scheduler``, ``rng`` (for resume),
  ``versions`` (torch, python), ``created`` (ISO date)
"""

from __future__ import annotations

import datetime as _dt
import os
import io
import platform
from pathlib import Path

import torch
from torch import nn

from desktop_app.core.paths import atomic_write_bytes
from training.model import build_model

REQUIRED_KEYS = ("arch", "model_kwargs", "state_dict", "config")


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message says why and what to do."""


def versions() -> dict:
    return {"torch": torch.__version__, "python": platform.python_version()}


def save_checkpoint(path: str | os.PathLike, **fields) -> Path:
    """Save ``fields`` as one checkpoint dict at ``path`` (temp file + rename).

    ``versions`` and ``created`` are filled in when not given.
    """
    missing = [k for k in REQUIRED_KEYS if k not in fields]
    if missing:
        raise ValueError(f"checkpoint is missing required fields: {', '.join(missing)}")
    fields.setdefault("versions", versions())
    fields.setdefault("created", _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    buf = io.BytesIO()
    torch.save(fields, buf)
    umask = os.umask(0)
    os.umask(umask)
    # temp file + fsync + rename; readable like any file the user writes (not mkstemp's 0600)
    return atomic_write_bytes(path, buf.getvalue(), mode=0o666 & ~umask)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint dict; raise :class:`CheckpointError` with a clear message when the
    file is missing, unreadable, corrupt or not a twinlock checkpoint."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint not found: {p} (train one with `twinlock train`)")
    try:
        # our own files hold numpy arrays / python objects (rng state), so weights_only=False
        ckpt = torch.load(p, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many kinds for a damaged file
        raise CheckpointError(
            f"checkpoint {p} is corrupt or not a PyTorch file "
            f"({type(exc).__name__}: {str(exc)[:120]}); re-train or re-copy it"
        ) from None
    if not isinstance(ckpt, dict) or any(k not in ckpt for k in REQUIRED_KEYS):
        raise CheckpointError(f"{p} is not a twinlock training checkpoint (needs keys {', '.join(REQUIRED_KEYS)})")
    return ckpt


def model_from_checkpoint(ckpt: dict) -> nn.Module:
    """The embedding tower described by ``ckpt``, weights loaded, in eval mode (CPU)."""
    try:
        model = build_model(ckpt["arch"], **dict(ckpt.get("model_kwargs") or {}))
        model.load_state_dict(ckpt["state_dict"])
    except (ValueError, RuntimeError, TypeError) as exc:
        raise CheckpointError(
            f"checkpoint does not match architecture {ckpt.get('arch')!r}: {str(exc)[:200]}"
        ) from None
    return model.eval()
