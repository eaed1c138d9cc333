"""Speed per stage, measured in one run on this machine (ratios matter more than absolutes).

- per-stage median and p99 at 640×480 and 1280×720: preprocessing, embedding (batch 1),
  matching (5 references), decision (the Verifier with the embedding given), and one whole
  frame (preprocess + embed + match);
- ONNX Runtime against PyTorch eager at batch 1 and 256 (same weights, same thread count);
- matching one frame against 1, 100, 10k and 100k references;
- cold start of a fresh process to its first processed frame (core pipeline) and its peak memory;
- ``--verify-latency``: the wall time of whole ``twinlock verify`` calls (what pam_exec waits
  for), written as its own section (``verify_latency``).

    python -m benchmarks.bench_speed [--checkpoint runs/default/best.pt]
    python -m benchmarks.bench_speed --verify-latency [--calls 20] [--tree DIR --label before]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from training.camera_sim import render_digit
from benchmarks.report import machine, write_section
from desktop_app.core.embedder import Embedder
from desktop_app.core.preprocess import preprocess
from desktop_app.core.store import Store
from desktop_app.core.verifier import Policy, Verifier, frame_distances


def timeit(fn, repeat: int, warmup: int = 3) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(repeat)
    for i in range(repeat):
        t = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - t) * 1e3
    return out


def stat(ms: np.ndarray) -> str:
    return f"{np.median(ms):.3f} | {np.percentile(ms, 99):.3f}"


def synthetic_digit(rng) -> np.ndarray:
    img = np.zeros((28, 28), np.uint8)
    cv2.putText(img, str(int(rng.integers(10))), (6, 23), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 255, 2)
    return img


COLD = r"""
import time, sys
t_import = time.time()
from desktop_app.core.camera import open_source
from desktop_app.core.embedder import Embedder
from desktop_app.core.preprocess import preprocess
emb = Embedder(sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None)
src = open_source(sys.argv[1])
f = src.read()
r = preprocess(f.image)
e = emb.embed_images(r.image[None]) if r.ok else None
import resource
print(time.time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, r.ok, emb.provider)
"""


COLD_GUI = r"""
import os, sys, time
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from desktop_app.ui import app as appmod
from PySide6.QtWidgets import QApplication
from desktop_app.core.threads import limit_blas_threads
limit_blas_threads(1)
qapp = QApplication.instance() or QApplication(sys.argv[:1])
args = appmod.build_parser().parse_args(["--video", sys.argv[1], "--db", sys.argv[2]]
                                        + (["--model", sys.argv[3]] if sys.argv[3] else []))
ctx, win = appmod.create_window(args, qapp)
orig = win.on_frame
def first(fr, result):
    orig(fr, result)
    import resource
    print(time.time(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, result.ok, flush=True)
    os._exit(0)
win.on_frame = first
win.show()
win.start_camera()
qapp.exec()
"""


VERIFY_SETUP = r"""
import sys, cv2, numpy as np
from desktop_app.core.embedder import Embedder
from desktop_app.core.preprocess import preprocess
from desktop_app.core.store import Store
from training.camera_sim import render_digit
rng = np.random.default_rng(0)
emb = Embedder(sys.argv[2] or None, "cpu")
img = np.zeros((28, 28), np.uint8)
cv2.putText(img, "3", (6, 23), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 255, 2)
frames = [render_digit(img, rng, (640, 480)) for _ in range(4)]
refs = np.stack([r.image for r in map(preprocess, frames[:3]) if r.ok])
s = Store(sys.argv[1])
s.add_references("owner", refs, None, emb.embed_images(refs), emb.fingerprint, create=True)
s.close()
cv2.imwrite(sys.argv[3], frames[3])
"""


def verify_latency(a) -> str:
    """Median wall time of whole `twinlock verify NAME --image F` processes, and whether onnx was imported."""
    root = Path(a.tree).resolve() if a.tree else Path(__file__).resolve().parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="twinlock-verify-"))
    db, probe = tmp / "v.sqlite3", tmp / "probe.png"
    # byte-code cached as in an installed twinlock (outside the tree); the first call writes it
    env = dict(
        os.environ, PYTHONPATH=str(root), TWINLOCK_HOME=str(tmp / "home"), PYTHONPYCACHEPREFIX=str(tmp / "pycache")
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("TWINLOCK_MODEL", None)
    env.pop("TWINLOCK_PASSPHRASE", None)
    subprocess.run(
        [sys.executable, "-c", VERIFY_SETUP, str(db), a.model or "", str(probe)], cwd=root, env=env, check=True
    )
    cmd = [sys.executable, "-m", "desktop_app.cli.main", "verify", "owner", "--image", str(probe), "--db", str(db)]
    if a.model:
        cmd += ["--model", a.model]
    subprocess.run(cmd, cwd=root, env=env, capture_output=True)  # warm-up: byte-code, page cache
    import resource

    times, cpus, codes = [], [], []
    for _ in range(a.calls):
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)
        codes.append(r.returncode)
    imp = subprocess.run(
        [sys.executable, "-X", "importtime", *cmd[1:]], cwd=root, env=env, capture_output=True, text=True
    )
    onnx_loaded = any(line.rstrip().endswith("| onnx") for line in imp.stderr.splitlines())
    t = np.array(times)
    med = float(np.median(t))
    label = a.label or "this tree"
    return (
        f"| {label} | {a.calls} | {med:.3f} | {np.percentile(t, 90):.3f} | {t.min():.3f} | "
        f"{np.median(cpus):.3f} | {'yes' if onnx_loaded else 'no'} | "
        f"{', '.join(str(c) for c in sorted(set(codes)))} |"
    ), med


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--verify-latency", action="store_true", help="only time whole `twinlock verify` calls (section verify_latency)"
    )
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--tree", default=None, help="run the CLI from this checkout (e.g. an older commit)")
    ap.add_argument("--label", default=None)
    ap.add_argument("--before", default=None, help="a table row measured before (kept in the section)")
    ap.add_argument("--model", default=None)
    ap.add_argument(
        "--checkpoint",
        default="runs/default/best.pt",
        help="the PyTorch checkpoint the model was exported from (for ORT vs eager)",
    )
    ap.add_argument("--repeat", type=int, default=300)
    ap.add_argument("--section", default="speed")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    if a.verify_latency:
        row, med = verify_latency(a)
        rows = [r for r in (a.before, row) if r]
        body = "\n".join(
            [
                "## `twinlock verify` latency",
                "",
                f"Machine: {machine()}. Load average at the start: {os.getloadavg()[0]:.1f}. Whole processes of "
                "`twinlock verify owner --image probe.png` (a 640×480 camera-like frame, shipped model, CPU), "
                "start to exit, as pam_exec would wait for them.",
                "",
                "Command: `python -m benchmarks.bench_speed --verify-latency` (the before row: the same with "
                "`--tree` pointing at a checkout of the older commit)",
                "",
                "| code | calls | median s | p90 s | min s | CPU s (median) | imports onnx | exit codes |",
                "|---|---|---|---|---|---|---|---|",
                *rows,
                "",
                f"Target: ≤ 0.3 s per call — measured {med:.2f} s median: **{'met' if med <= 0.3 else 'missed'}**.",
            ]
        )
        print(body)
        if not a.no_write:
            print("wrote", write_section("verify_latency", body))
        return
    from desktop_app.core.threads import limit_blas_threads

    limit_blas_threads(1)  # what the app and the runtime commands do
    rng = np.random.default_rng(0)
    emb = Embedder(a.model)
    lines = [
        f"Machine: {machine()}. Model `{Path(emb.path).name}` ({emb.contract.short_fingerprint}), "
        f"ONNX Runtime provider {emb.provider}, 1 intra-op thread and 1 BLAS thread (the app's settings). "
        f"Load average at the start: {os.getloadavg()[0]:.1f} (other work on the machine makes p99 noisy).",
        "",
        "Command: `python -m benchmarks.bench_speed`",
        "",
    ]

    # -------- per stage
    tmp = tempfile.mkdtemp(prefix="twinlock-speed-")
    store = Store(Path(tmp) / "s.sqlite3")
    refs = np.stack([synthetic_digit(rng) for _ in range(5)])
    store.add_references("p", refs, None, emb.embed_images(refs), emb.fingerprint, create=True)
    # every frame matches and an attempt needs 50: a decision (two small transactions) every 50 frames,
    # as in a real attempt, instead of a verifier that decided after 3 frames and then does nothing
    ver = Verifier(
        store, emb, "p", Policy(threshold=1e9, k=50, n=50, max_frames=10**6, time_limit_s=1e9, lockout_after=10**9)
    )
    ver.start_attempt(t=0.0)
    lines += ["### Per stage (milliseconds, median | p99)", "", "| stage | 640×480 | 1280×720 |", "|---|---|---|"]
    results = {}
    for size in [(640, 480), (1280, 720)]:
        frames = [render_digit(synthetic_digit(rng), rng, size) for _ in range(20)]
        pres = [preprocess(f) for f in frames]
        good = [p for p in pres if p.ok] or pres
        it = iter(range(10**9))
        r = {}
        r["preprocess"] = timeit(lambda: preprocess(frames[next(it) % len(frames)]), a.repeat)
        img = good[0].image if good[0].ok else refs[0]
        r["embed (batch 1)"] = timeit(lambda: emb.embed_images(img[None]), a.repeat)
        e1 = emb.embed_images(img[None])
        r["match (5 references)"] = timeit(lambda: frame_distances(e1, ver.references), a.repeat)

        def decide():
            if ver.state.final:
                ver.start_attempt(t=0.0)
            ver.feed_preprocessed(good[0], t=1.0, embedding=e1[0])

        r["decision (verifier, embedding given)"] = timeit(decide, a.repeat)

        def whole():
            p = preprocess(frames[next(it) % len(frames)])
            if p.ok:
                frame_distances(emb.embed_images(p.image[None]), ver.references)

        r["whole frame (preprocess + embed + match)"] = timeit(whole, a.repeat)
        results[size] = r
    for stage in results[(640, 480)]:
        lines.append(f"| {stage} | {stat(results[(640, 480)][stage])} | {stat(results[(1280, 720)][stage])} |")
    whole_med = float(np.median(results[(640, 480)]["whole frame (preprocess + embed + match)"]))
    lines += [
        "",
        f"Target: whole frame ≤ 3 ms median at 640×480 — measured {whole_med:.2f} ms: "
        f"**{'met' if whole_med <= 3 else 'missed'}**.",
        "",
    ]

    # -------- ORT vs PyTorch eager
    lines += ["### ONNX Runtime vs PyTorch eager (milliseconds per batch, median)", ""]
    ck = Path(a.checkpoint)
    try:
        import torch
        from training.checkpoint import load_checkpoint, model_from_checkpoint

        if not ck.exists():
            raise FileNotFoundError(f"checkpoint {ck} not found")
        model = model_from_checkpoint(load_checkpoint(ck))
        lines += ["| batch | threads | PyTorch eager | ONNX Runtime | ORT speed-up |", "|---|---|---|---|---|"]
        ort_b1 = None
        for threads in (1, 2):
            torch.set_num_threads(threads)
            e_t = Embedder(a.model, intra_op_threads=threads)
            for b in (1, 256):
                x = np.random.default_rng(1).standard_normal((b, 1, 28, 28)).astype(np.float32)
                xt = torch.from_numpy(x)
                with torch.inference_mode():
                    t_pt = timeit(lambda: model(xt), 50 if b > 1 else a.repeat)
                t_ort = timeit(lambda: e_t.embed(x), 50 if b > 1 else a.repeat)
                ratio = np.median(t_pt) / np.median(t_ort)
                if b == 1 and threads == 1:
                    ort_b1 = ratio
                lines.append(f"| {b} | {threads} | {np.median(t_pt):.3f} | {np.median(t_ort):.3f} | {ratio:.1f}× |")
        lines += [
            "",
            f"Target: ONNX Runtime ≥ 3× faster than eager at batch 1 — measured {ort_b1:.1f}×: "
            f"**{'met' if ort_b1 >= 3 else 'missed'}**.",
            "",
        ]
    except Exception as exc:
        lines += [f"(not measured: {exc})", ""]

    # -------- matching vs gallery size
    lines += ["### Matching one frame against N references", "", "| references | median ms | p99 ms |", "|---|---|---|"]
    d = emb.dim
    q = rng.standard_normal((1, d)).astype(np.float32)
    m100k = None
    for n in (1, 100, 10_000, 100_000):
        g = rng.standard_normal((n, d)).astype(np.float32)
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        t = timeit(lambda: frame_distances(q, g), 50 if n >= 10_000 else a.repeat)
        if n == 100_000:
            m100k = float(np.median(t))
        lines.append(f"| {n:,} | {np.median(t):.3f} | {np.percentile(t, 99):.3f} |")
    lines += [
        "",
        f"Target: ≤ 5 ms at 100k references — measured {m100k:.2f} ms: **{'met' if m100k <= 5 else 'missed'}**.",
        "",
    ]

    # -------- cold start
    vid = Path(tmp) / "cold.avi"
    w = cv2.VideoWriter(str(vid), cv2.VideoWriter_fourcc(*"MJPG"), 15, (640, 480))
    for _ in range(5):
        w.write(render_digit(synthetic_digit(rng), rng))
    w.release()
    colds, rss = [], []
    for _ in range(3):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-c", COLD, str(vid), a.model or ""],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
            check=True,
        )
        t_done, maxrss, ok, _prov = out.stdout.split()
        colds.append(float(t_done) - t0)
        rss.append(int(maxrss) / 1024)
    cold = float(np.median(colds))
    gcolds, grss = [], []
    for i in range(3):
        t0 = time.time()
        out = subprocess.run(
            [sys.executable, "-c", COLD_GUI, str(vid), str(Path(tmp) / f"gui{i}.sqlite3"), a.model or ""],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
            timeout=120,
        )
        try:
            t_done, maxrss, _ok = out.stdout.split()[-3:]
            gcolds.append(float(t_done) - t0)
            grss.append(int(maxrss) / 1024)
        except ValueError:
            print("GUI cold start failed:", out.stderr[-500:])
    gcold = float(np.median(gcolds)) if gcolds else float("nan")
    lines += [
        "### Cold start and memory",
        "",
        "| measure | value |",
        "|---|---|",
        f"| fresh process → first frame read, preprocessed and embedded (core pipeline, median of 3) | {cold:.2f} s |",
        f"| peak resident memory of that process | {np.median(rss):.0f} MiB |",
        f"| the app (`twinlock-app --video`, Qt offscreen): process start → main window shown and "
        f"first camera frame processed (median of 3) | {gcold:.2f} s |",
        f"| peak resident memory of the app process | {np.median(grss) if grss else float('nan'):.0f} MiB |",
        "",
        f"Target: app cold start to the first processed frame ≤ 2 s — measured {gcold:.2f} s: "
        f"**{'met' if gcold <= 2 else 'missed'}** (core pipeline alone: {cold:.2f} s).",
        "",
    ]

    # -------- plot
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        stages = list(results[(640, 480)])
        fig, ax = plt.subplots(figsize=(9, 3.5))
        ypos = np.arange(len(stages))
        for off, size in ((-0.2, (640, 480)), (0.2, (1280, 720))):
            ax.barh(ypos + off, [np.median(results[size][s]) for s in stages], height=0.4, label=f"{size[0]}×{size[1]}")
        ax.set_yticks(ypos, stages)
        ax.set_xlabel("median ms")
        ax.legend()
        ax.invert_yaxis()
        fig.tight_layout()
        Path("docs/img").mkdir(parents=True, exist_ok=True)
        if not a.no_write:
            fig.savefig("docs/img/speed_stages.png", dpi=90)
        lines += ["![latency per stage](img/speed_stages.png)", ""]
    except Exception as exc:
        lines += [f"(plot skipped: {exc})", ""]
    store.close()
    body = "## Speed\n\n" + "\n".join(lines)
    print(body)
    if not a.no_write:
        print("wrote", write_section(a.section, body))


if __name__ == "__main__":
    main()
