"""Failure-to-acquire (FTA) of the preprocessing alone, on camera-like frames.

Renders ``--count`` 640x480 camera frames (training/camera_sim.py ``render_digit``) of random
MNIST digits of ``--split`` and ``--junk`` frames of each junk kind (``render_junk``), runs
``desktop_app.core.preprocess.preprocess`` on each, and prints the digit FTA by failure code,
how many junk frames of each kind were acquired (should be none), and the median time per
frame. Tune on the TRAIN split only; the test split is for reporting.

    python -m benchmarks.preprocess_fta --data-dir ../shared/data/mnist --count 1500 --seed 123
    python -m benchmarks.preprocess_fta --split test --seed 0 --count 2400   # report only

``--scenes N`` also renders N frames of each named scene kind (``camera_sim.SCENE_KINDS``: cards
smaller than the view, rotated, in perspective, dark/textured backgrounds, ruled/grid paper,
pens, a thumb at the edge) and N blank cards of each kind, and prints FTA and blank cards
acquired per kind; ``--before REV`` runs the single-module preprocess of an older commit
instead (e.g. bec5a77, the last before preprocessing became named steps), for before/after tables:

    python -m benchmarks.preprocess_fta --count 600 --junk 40 --scenes 100 [--write docs/benchmarks.md]
    python -m benchmarks.preprocess_fta --count 600 --junk 40 --scenes 100 --before bec5a77
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
from training.camera_sim import JUNK_KINDS, SCENE_KINDS, render_digit, render_junk, render_scene


def _old_preprocess(rev: str):
    """``preprocess`` and ``PreprocessConfig`` of desktop_app/core/preprocess.py at git ``rev``."""
    mod = _old_module(rev)
    return mod.preprocess, mod.PreprocessConfig


def _old_module(rev: str):
    """desktop_app/core/preprocess.py as it was at git ``rev`` (a single module then), imported."""
    import importlib.util
    import subprocess
    import tempfile

    from desktop_app.core.paths import REPO_ROOT

    src = subprocess.run(
        ["git", "show", f"{rev}:desktop_app/core/preprocess.py"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    tmp = Path(tempfile.mkdtemp()) / f"preprocess_{rev}.py"
    tmp.write_text(src)
    spec = importlib.util.spec_from_file_location(tmp.stem, tmp)
    mod = importlib.util.module_from_spec(spec)
    import sys

    sys.modules[tmp.stem] = mod  # (dataclasses look their module up)
    spec.loader.exec_module(mod)
    return mod


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/mnist")
    ap.add_argument("--split", choices=("train", "test"), default="train")
    ap.add_argument("--count", type=int, default=1500, help="digit frames")
    ap.add_argument("--junk", type=int, default=100, help="junk frames per junk kind")
    ap.add_argument("--seed", type=int, default=123)
    ap.add_argument("--save-fails", default="", help="folder to write the failed digit frames to")
    ap.add_argument("--save-junk", default="", help="folder to write the acquired junk frames to")
    ap.add_argument("--scenes", type=int, default=0, help="frames (and blank cards) per scene kind")
    ap.add_argument("--before", default="", help="git revision whose single-module preprocess to run")
    ap.add_argument("--write", default="", help="markdown file whose preprocess-scenes section to (re)write")
    a = ap.parse_args(argv)

    x, y = load_mnist_dir(a.data_dir, a.split)
    pre, Cfg = _old_preprocess(a.before) if a.before else (preprocess, PreprocessConfig)
    cfg = Cfg()
    rng = np.random.default_rng(a.seed)
    jrng = np.random.default_rng([a.seed, 1])
    times: list[float] = []

    def run(frame):
        t = time.perf_counter()
        r = pre(frame, cfg)
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
    junk_got = {}
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
        junk_got[kind] = got
    t = np.asarray(times)
    print(f"preprocess: median {np.median(t):.2f} ms, p95 {np.percentile(t, 95):.2f} ms per frame ({t.size} frames)")
    rows = []
    if a.scenes:
        print(f"scene kinds ({a.scenes} digit frames and {a.scenes} blank cards each): FTA, blank acquired")
        for k_i, kind in enumerate(SCENE_KINDS):
            srng = np.random.default_rng([a.seed, 2, k_i])
            sc: Counter = Counter()
            blank = 0
            for i in range(a.scenes):
                j = int(srng.integers(len(x)))
                frame = render_scene(kind, x[j], srng)
                r = run(frame)
                sc[r.code] += 1
                if fails and not r.ok:
                    cv2.imwrite(str(fails / f"{kind}_{r.code}_{i:04d}_label{y[j]}.jpg"), frame)
                blank += int(run(render_scene(kind, None, srng)).ok)
            nf = a.scenes - sc["ok"]
            why = ", ".join(f"{c} {k}" for c, k in sorted(sc.items(), key=lambda kv: -kv[1]) if c != "ok")
            rows.append((kind, nf, why, blank))
            print(f"  {kind:22s} FTA {100.0 * nf / a.scenes:5.1f}%  ({why or '-'})  blank acquired {blank}/{a.scenes}")
    if a.write and rows:
        _write(a, codes, rows, np.median(t), junk_got)
    return 0


def _write(a, codes, rows, median_ms, junk_got):
    from benchmarks.report import write_section

    cmd = (
        f"python -m benchmarks.preprocess_fta --split {a.split} --count {a.count} --junk {a.junk} "
        f"--scenes {a.scenes} --seed {a.seed}" + (f" --before {a.before}" if a.before else "")
    )
    n_fail = a.count - codes["ok"]
    lines = [
        f"Preprocessing alone{' at ' + a.before if a.before else ''}: `{cmd}`",
        "",
        f"Simulator frames (`render_digit`, {a.split} split): FTA {100.0 * n_fail / a.count:.2f}% "
        f"of {a.count}. Median {median_ms:.2f} ms per frame (this run, a shared machine).",
        "",
        f"Junk acquired ({a.junk} frames per kind; letters and shapes are plausible symbols): "
        + ", ".join(f"{k} {v}/{a.junk}" for k, v in junk_got.items()),
        "",
        "| scene kind | FTA | reasons | blank cards acquired |",
        "|---|---|---|---|",
    ]
    for kind, nf, why, blank in rows:
        lines.append(f"| {kind} | {100.0 * nf / a.scenes:.1f}% | {why or '-'} | {blank}/{a.scenes} |")
    write_section("preprocess_scenes_before" if a.before else "preprocess_scenes", "\n".join(lines), Path(a.write))


if __name__ == "__main__":
    raise SystemExit(main())
