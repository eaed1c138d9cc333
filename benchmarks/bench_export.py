"""Export figures: float vs int8 (size, CPU speed at batch 1/256/1024, EER and FRR@FAR1e-3 on
the calibration pairs), parity with PyTorch, calibrated thresholds, and CUDA vs CPU where a
GPU is present. Writes the ``export`` section of docs/benchmarks.md.

    python -m benchmarks.bench_export [--checkpoint runs/default/best.pt] [--data-dir D]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.report import machine, write_section
from desktop_app.core.embedder import Embedder


def timeit(emb: Embedder, batch: int, repeat: int) -> float:
    x = np.random.default_rng(0).standard_normal((batch, 1, 28, 28)).astype(np.float32)
    for _ in range(3):
        emb.embed(x, max_batch=batch)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        emb.embed(x, max_batch=batch)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts) * 1e3)


def speeds(path: Path, preference: str) -> dict:
    emb = Embedder(path, preference=preference, intra_op_threads=1)
    out = {"provider": emb.provider}
    for b, r in ((1, 200), (256, 20), (1024, 5)):
        out[b] = timeit(emb, b, r)
    return out


def test_figures(path: Path, images: np.ndarray, labels: np.ndarray) -> dict:
    """EER and FRR at FAR 1e-3/1e-4 of an ONNX file over all pairs of the MNIST test set."""
    from desktop_app.core import metrics

    emb = Embedder(path, preference="cpu", intra_op_threads=2)
    gen, imp = metrics.all_pairs(emb.embed_images(images), labels)
    return metrics.summary(gen, imp, fars=(1e-3, 1e-4))


def main(argv=None) -> int:
    from export.pipeline import ExportOptions, export_checkpoint

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="runs/default/best.pt")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--calib-count", type=int, default=ExportOptions().calib_count, help="(default: the exporter's)")
    ap.add_argument(
        "--no-test", action="store_true", help="skip the figures of the exported files on the MNIST test set"
    )
    ap.add_argument("--no-write", action="store_true", help="print, do not touch docs/benchmarks.md")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        fp, qp = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        t = time.perf_counter()
        quiet = dict(data_dir=args.data_dir, calib_count=args.calib_count, progress=False, log=lambda m: None)
        f = export_checkpoint(args.checkpoint, fp, ExportOptions(**quiet))
        export_s = time.perf_counter() - t
        # measure int8 whatever it costs; the bound is judged below, as export judges it
        q = export_checkpoint(
            args.checkpoint,
            qp,
            ExportOptions(quantize=True, max_eer_increase_points=math.inf, max_frr_increase_points=math.inf, **quiet),
        )
        sf, sq = speeds(fp, "cpu"), speeds(qp, "cpu")
        cuda = None
        probe = Embedder(fp, preference="cuda", warmup=False)
        if probe.provider == "CUDA":
            cuda = {"float": speeds(fp, "cuda"), "int8": speeds(qp, "cuda")}
        test = None
        if not args.no_test:
            from training.mnist import load_mnist

            ckpt_dir = args.data_dir or q.contract["provenance"]["calibration"].get("data_dir")
            x, y = load_mnist(ckpt_dir, "test", download=False)
            test = {"float": test_figures(fp, x, y), "int8": test_figures(qp, x, y), "n": len(y)}
        qi = q.quantization
        from export.quantize import MAX_EER_INCREASE_POINTS, MAX_FRR_INCREASE_POINTS

        ok = (
            qi["delta_eer_points"] <= MAX_EER_INCREASE_POINTS
            and qi["delta_frr_at_far_1e-3_points"] <= MAX_FRR_INCREASE_POINTS
        )

    cal = f.calibration
    rows = [
        "| model | size | batch 1 (ms) | batch 256 (ms) | batch 1024 (ms) | EER | FRR @ FAR 1e-3 |",
        "|---|---|---|---|---|---|---|",
        f"| float32 | {f.size_bytes / 1024:.0f} KiB | {sf[1]:.3f} | {sf[256]:.2f} | {sf[1024]:.1f} | "
        f"{qi['float_eer'] * 100:.3f}% | {qi['float_frr_at_far_1e-3'] * 100:.2f}% |",
        f"| int8 (static QDQ) | {q.size_bytes / 1024:.0f} KiB | {sq[1]:.3f} | {sq[256]:.2f} | {sq[1024]:.1f} | "
        f"{qi['int8_eer'] * 100:.3f}% | {qi['int8_frr_at_far_1e-3'] * 100:.2f}% |",
    ]
    if test:
        rows += [
            "",
            f"The same two files on the MNIST test set ({test['n']:,} images, all pairs; nothing was chosen on these):",
            "",
            "| model | EER | FRR @ FAR 1e-3 | FRR @ FAR 1e-4 | genuine / impostor comparisons |",
            "|---|---|---|---|---|",
        ]
        for name in ("float", "int8"):
            r = test[name]
            rows.append(
                f"| {name} | {r['eer'] * 100:.3f}% | {r['at_far']['0.001']['frr'] * 100:.2f}% | "
                f"{r['at_far']['0.0001']['frr'] * 100:.2f}% | {r['genuine']:,} / {r['impostor']:,} |"
            )
    th = [
        "| model | operating point | threshold | FAR | FRR | false rejects / genuine | false accepts / impostor |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, res in (("float32", f), ("int8", q)):
        for key, op in res.thresholds.items():
            mark = " (default)" if key == res.default_threshold_key else ""
            th.append(
                f"| {name} | {key}{mark} | {op['threshold']:.4f} | {op['far']:.2e} | "
                f"{op['frr'] * 100:.3f}% | {op['false_rejects']:,} / {op['genuine']:,} | "
                f"{op['false_accepts']:,} / {op['impostor']:,} |"
            )
    shipped = ""
    try:
        from desktop_app.core.contract import read_contract
        from desktop_app.core.paths import DEFAULT_MODEL

        sc = read_contract(DEFAULT_MODEL)
        which = {q.fingerprint: "the int8 file above", f.fingerprint: "the float32 file above"}.get(
            sc.fingerprint, "neither file above (it was exported from another checkpoint or with other options)"
        )
        shipped = f"The shipped `assets/models/{DEFAULT_MODEL.name}` (fingerprint `{sc.short_fingerprint}`) is {which}."
    except Exception as exc:  # no shipped model yet
        shipped = f"No shipped model to compare with ({exc})."
    if cuda:
        gpu = ["| provider | model | batch 1 (ms) | batch 1024 (ms) |", "|---|---|---|---|"]
        for name, s in (("CPU", sf), ("CUDA", cuda["float"])):
            gpu.append(f"| {name} | float32 | {s[1]:.3f} | {s[1024]:.1f} |")
        gpu_text = "\n".join(gpu)
    else:
        gpu_text = (
            "CUDA against CPU was **not measured**: this machine has no NVIDIA GPU (the "
            "onnxruntime-gpu build falls back to the CPU, silently, as tested in "
            "tests/test_embedder.py). On a GPU machine this script measures CUDA vs CPU at "
            "batch 1 and 1024 and writes them here."
        )
    body = f"""## Export (float vs int8, parity, calibration)

Command: `python -m benchmarks.bench_export --checkpoint {args.checkpoint}`; machine: {machine()}.
ONNX Runtime on the CPU with one intra-op thread (the app's setting); medians. The 2 cores were shared with other jobs while this ran, so the times move by tens of percent between runs; the float/int8 ratio is the figure to read.

- `twinlock export` of `{args.checkpoint}` (torch.onnx export, parity, calibration, timing): {export_s:.0f} s
- parity, PyTorch vs ONNX Runtime, batches 1/7/256 of random and digit inputs: max abs diff
  {f.parity["max_abs_diff"]:.2e} (bound 1e-5)
- calibration: {cal["description"]}; {cal["genuine_comparisons"]:,} genuine and
  {cal["impostor_comparisons"]:,} impostor comparisons (all pairs)

{chr(10).join(rows)}

int8 against float on the same calibration pairs: EER {qi["delta_eer_points"]:+.3f} points, FRR@FAR1e-3
{qi["delta_frr_at_far_1e-3_points"]:+.2f} points; `twinlock export --quantize` accepts at most
+{MAX_EER_INCREASE_POINTS:g} EER points and +{MAX_FRR_INCREASE_POINTS:g} FRR points, so this int8 model would be
**{"accepted" if ok else "refused"}**.

{shipped}

Calibrated thresholds (each file calibrated with its own embeddings):

{chr(10).join(th)}

{gpu_text}
"""
    print(body)
    if not args.no_write:
        write_section("export", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
