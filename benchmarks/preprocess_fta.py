"""Failure-to-acquire (FTA) of the preprocessing alone, on camera-like frames.

Renders ``--count`` 640x480 camera frames (training/camera_sim.py ``render_digit``) of random
MNIST digits of ``--split`` and ``--junk`` frames of each junk kind (``render_junk``), runs
``desktop_app.core.preprocess.preprocess`` on each, and prints the digit FTA by failure code,
how many junk frames of each kind were acquired (should be none), and the median time per
frame. Tune on the TRAIN split only; the test split is for reporting.

    python -m benchmarks.preprocess_fta --data-dir ../shared/data/mnist --count 1500 --seed 123
    python -m benchmarks.preprocess_fta --split test --seed 0 --count 2400   # report only
"""
from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from desktop_app.core.calibration import load_mnist_dir
from desktop_app.core.preprocess import PreprocessConfig, preprocess
from training.camera_sim import JUNK_KINDS, render_digit, render_junk


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/mnist")
    ap.add_argument("--split", choices=("train", "test"), default="train")
    ap.add_argument("--count", type=int, default=1500, help="digit frames")
    ap.add_argument("--junk", type=int, default=100, help="junk frames per junk kind")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--save-fails", default="", help="folder to write the failed digit frames to")
    ap.add_argument("--save-junk", default="", help="folder to write the acquired junk frames to")
    a = ap.parse_args(argv)

    x, y = load_mnist_dir(a.data_dir, a.split)
    cfg = PreprocessConfig()
    rng = np.random.default_rng(a.seed)
    jrng = np.random.default_rng([a.seed, 1])
    times: list[float] = []

    def run(frame):
        t = time.perf_counter()
        r = preprocess(frame, cfg)
        times.append((time.perf_counter() - t) * 1000.0)
        return r

    codes: Counter = Counter()
    fails = Path(a.save_fails) if a.save_fails else None
    if fails:
        fails.mkdir(parents=True, exist_ok=True)
    for i in range(a.count):
        j = int(rng.integers(len(x)))
        frame = render_digit(x[j], rng)
        r = run(frame)
        codes[r.code] += 1
        if fails and not r.ok:
            cv2.imwrite(str(fails / f"{r.code}_{i:05d}_idx{j}_label{y[j]}.jpg"), frame)
    n_fail = a.count - codes["ok"]
    print(f"digits ({a.split}, seed {a.seed}): {a.count} frames, FTA {n_fail} = {100.0 * n_fail / a.count:.2f}%")
    for code, k in sorted(codes.items(), key=lambda kv: -kv[1]):
        if code != "ok":
            print(f"  {code:10s} {k}")

    junk_dir = Path(a.save_junk) if a.save_junk else None
    if junk_dir:
        junk_dir.mkdir(parents=True, exist_ok=True)
    print(f"junk ({a.junk} frames per kind): acquired")
    for kind in JUNK_KINDS:
        got = 0
        for i in range(a.junk):
            frame = render_junk(kind, jrng)
            r = run(frame)
            if r.ok:
                got += 1
                if junk_dir:
                    cv2.imwrite(str(junk_dir / f"{kind}_{i:04d}.jpg"), frame)
        print(f"  {kind:12s} {got}/{a.junk}")
    t = np.asarray(times)
    print(f"preprocess: median {np.median(t):.2f} ms, p95 {np.percentile(t, 95):.2f} ms per frame "
          f"({t.size} frames)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
