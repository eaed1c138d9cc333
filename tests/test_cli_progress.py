"""`twinlock train --progress-jsonl` in a real subprocess on a small synthetic digit set: one
JSON object per line on stdout (the run, then each epoch's batches), and the text it printed
before still there, in order."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")


def _write_idx(folder, images, labels):
    n = len(images)
    head_i = (0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    head_l = (0x801).to_bytes(4, "big") + n.to_bytes(4, "big")
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(head_i + images.astype(np.uint8).tobytes()))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(head_l + labels.astype(np.uint8).tobytes()))


def test_train_reports_its_epochs_and_batches_as_json_lines(tmp_path):
    from training.synthetic_digits import synthetic_digits

    data = tmp_path / "mnist"
    data.mkdir()
    _write_idx(data, *synthetic_digits(400, seed=9))
    out = tmp_path / "run"
    cmd = [sys.executable, "-c", "import sys; from desktop_app.cli.main import main; sys.exit(main())"]
    args = ["train", "--data-dir", str(data), "--out", str(out), "--epochs", "2", "--width", "4"]
    args += ["--embedding-dim", "8", "--batch-size", "64", "--val-size", "100", "--threads", "1"]
    r = subprocess.run(cmd + args + ["--progress-jsonl", "-"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    stages = list(dict.fromkeys(e["stage"] for e in events))
    assert stages == ["training", "epoch 1/2", "epoch 2/2"], stages
    first, last = events[0], events[-1]
    assert (first["done"], first["total"]) == (0, 2) and (last["stage"], last["done"], last["total"]) == (
        "training",
        2,
        2,
    )
    for epoch in ("epoch 1/2", "epoch 2/2"):  # batches counted up to the epoch's last
        seen = [(e["done"], e["total"]) for e in events if e["stage"] == epoch]
        assert seen[-1][0] == seen[-1][1] > 0 and [d for d, _ in seen] == sorted(d for d, _ in seen)
    # the epoch's text line comes after its batches and before the next epoch's
    text = [i for i, line in enumerate(lines) if line.startswith("epoch 1/2: loss ")]
    batches = [i for i, line in enumerate(lines) if '"epoch 1/2"' in line]
    later = [i for i, line in enumerate(lines) if '"epoch 2/2"' in line]
    assert len(text) == 1 and max(batches) < text[0] < min(later)
    assert any(line.startswith("best epoch ") for line in lines)  # the summary, as without the option
    assert "%|" not in r.stderr and (out / "best.pt").exists()  # no progress bars


def test_an_unwritable_progress_file_is_one_clear_line(tmp_path):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "desktop_app.cli.main",
            "train",
            "--progress-jsonl",
            str(folder),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 4 and "cannot write --progress-jsonl" in r.stderr and "Traceback" not in r.stderr
