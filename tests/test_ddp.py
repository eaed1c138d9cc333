"""Scale-out: the same training under torchrun with two CPU processes (gloo) as in one process.

Each rank embeds its half of every batch (batch norm over that half: the one-process run
uses ``ghost_batch`` = batch/2 to compute the same thing), the contrastive loss is over the
whole batch on every rank, DDP averages the gradients. Tiny random data, a few steps."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

SCRIPT = r"""
import os, sys
import numpy as np, torch
from training.omniglot import Symbols
from training.train import TrainConfig, train
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (300, 28, 28), dtype=np.uint8)
y = (np.arange(300) % 10).astype(np.uint8)
sym = Symbols(rng.integers(0, 256, (3 * 20 * 4, 28, 28), dtype=np.uint8),
              np.repeat(np.arange(3), 80), np.repeat(np.arange(60), 4), np.tile(np.arange(1, 5), 60),
              ["A", "B", "C"], [f"c{i}" for i in range(60)], {})
out, ghost = sys.argv[1], int(sys.argv[2])
cfg = TrainConfig(epochs=1, batch_size=32, width=4, embedding_dim=8, val_size=60, val_eer_size=60,
                  lr=1e-2, out_dir=out, threads=1, ghost_batch=ghost, omniglot_per_batch=16,
                  omniglot_k=4, omniglot_holdout=1, omniglot_val_size=40)
res = train(cfg, images=x, labels=y, progress=False, log=lambda m: None, omniglot_data=sym)
if int(os.environ.get("RANK", "0")) == 0:
    torch.save({"state": res["state_dict"], "loss": [h["train_loss"] for h in res["history"]]},
               os.path.join(out, "result.pt"))
"""


def _run(cmd, tmp, env_extra=None):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    env.update(env_extra or {})
    r = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    return r


def _params(result_file):
    d = torch.load(result_file, weights_only=False)
    return {k: v for k, v in d["state"].items() if "running" not in k and "num_batches" not in k}, d["loss"]


def test_two_gloo_processes_agree_with_one(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    one, two, whole = tmp_path / "one", tmp_path / "two", tmp_path / "whole"
    _run([sys.executable, str(script), str(one), "16"], tmp_path)
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    launcher = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    _run(launcher + ["--standalone", "--nproc_per_node", "2", str(script), str(two), "16"], tmp_path)
    _run([sys.executable, str(script), str(whole), "0"], tmp_path)  # batch norm over the whole batch

    p1, l1 = _params(one / "result.pt")
    p2, l2 = _params(two / "result.pt")
    pw, _ = _params(whole / "result.pt")
    assert p1.keys() == p2.keys() and len(p1) > 4
    worst = max(float((p1[k] - p2[k]).abs().max()) for k in p1)
    assert worst < 1e-4, f"two processes drifted from one by {worst}"
    assert abs(l1[0] - l2[0]) < 1e-4
    # the comparison can fail: a different batch-norm split already changes the weights
    assert max(float((p1[k] - pw[k]).abs().max()) for k in p1) > 10 * max(worst, 1e-6)
    assert (two / "best.pt").is_file()  # rank 0 wrote the checkpoint
