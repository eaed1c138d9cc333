"""``twinlock export CHECKPOINT -o MODEL.onnx``: a training checkpoint -> one ONNX file with
its contract, checked against PyTorch and calibrated with ONNX Runtime (export/pipeline.py).
Needs torch (the ``train`` extra) and imports it only when it runs."""

from __future__ import annotations

import contextlib
import json
import sys

from desktop_app.core.paths import atomic_write_bytes

from .common import INSTALL_TRAIN_EXTRA, JsonlProgress, SetupError, add_progress_jsonl

TRAIN_EXTRA_HINT = f"install the training extra first: {INSTALL_TRAIN_EXTRA}"


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a training checkpoint to an ONNX model with its contract",
        description="Export the embedding tower of CHECKPOINT to one ONNX file, check it against "
        "PyTorch, calibrate its thresholds with ONNX Runtime on held-out images, and "
        "write it (an existing file is replaced only by a complete, verified one).",
    )
    p.add_argument("checkpoint", help="training checkpoint (.pt) written by 'twinlock train'")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument(
        "--quantize", action="store_true", help="write an int8 model (refused if it loses too much accuracy)"
    )
    p.add_argument(
        "--data-dir",
        help="MNIST folder (default: $TWINLOCK_DATA_DIR, else the checkpoint's training data dir, else the user cache)",
    )
    p.add_argument(
        "--calib-count",
        type=int,
        default=None,
        help="calibration images drawn from the checkpoint's validation images (0 = all; default: the exporter's)",
    )
    p.add_argument("--seed", type=int, default=None, help="seed for the calibration subset (default: the exporter's)")
    p.add_argument(
        "--max-eer-increase",
        type=float,
        default=None,
        metavar="POINTS",
        help="--quantize: largest EER increase accepted, percentage points (default: the exporter's)",
    )
    p.add_argument(
        "--max-frr-increase",
        type=float,
        default=None,
        metavar="POINTS",
        help="--quantize: largest FRR@FAR1e-3 increase accepted, points (default: the exporter's)",
    )
    p.add_argument(
        "--no-synthetic-fallback",
        action="store_true",
        help="fail instead of calibrating on synthetic digits when the validation images are not available",
    )
    p.add_argument(
        "--no-camera-calibration",
        action="store_true",
        help="skip the thresholds measured on camera-like frames (camera_far_1e-3/1e-4)",
    )
    p.add_argument(
        "--camera-probes",
        type=int,
        default=None,
        metavar="N",
        help="calibration images filmed as camera-like probe frames (default: the exporter's)",
    )
    p.add_argument(
        "--omniglot",
        metavar="NPZ",
        help="converted Omniglot background set (default: the checkpoint's); its held-out "
        "alphabets calibrate the unseen-symbol thresholds (symbol_*)",
    )
    p.add_argument(
        "--passcode-frames",
        choices=("clean", "camera"),
        default=None,
        help="what the passcode points (passcodeL_far_1e-5) are chosen on: clean drawings of the held-out "
        "alphabets (default), or camera-like frames of half of them, measured on the other half (slower: "
        "every drawing is filmed; needs two or more held-out alphabets)",
    )
    p.add_argument(
        "--symbol-folds",
        nargs="+",
        default=None,
        metavar="CHECKPOINT",
        help="for a model trained on every Omniglot alphabet: fold checkpoints of the same recipe whose "
        "held-out alphabets give out-of-fold distances for the unseen-symbol thresholds (symbol_*)",
    )
    p.add_argument(
        "--no-symbol-calibration",
        action="store_true",
        help="skip the unseen-symbol thresholds (symbol_*) of a model trained with Omniglot",
    )
    p.add_argument("--card", metavar="MD", help="also write a model card (markdown) here")
    p.add_argument("--card-notes", metavar="MD", help="markdown appended to the model card")
    p.add_argument("--eval-json", metavar="JSON", help="figures from 'twinlock evaluate' to put in the model card")
    p.add_argument(
        "--reproduce",
        action="append",
        default=[],
        metavar="CMD",
        help="a command that came before this export (train, evaluate), listed in the "
        "card's Reproduce section; repeatable",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_progress_jsonl(p)
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    try:
        from export.errors import ExportError
        from export.pipeline import describe, export_checkpoint
        import torch  # noqa: F401
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in ("torch", "onnxscript", "training", "export"):
            raise SetupError(f"'twinlock export' needs PyTorch ({exc.name} is missing); {TRAIN_EXTRA_HINT}") from None
        raise
    if args.calib_count is not None and args.calib_count < 0:
        raise SetupError("--calib-count must be 0 (all) or a positive number of images.")

    def log(msg):
        print(msg, file=sys.stderr)

    with contextlib.ExitStack() as stack:
        progress = not args.no_progress
        if args.progress_jsonl:  # JSON lines instead of bars (the app's export dialog reads them)
            progress = stack.enter_context(JsonlProgress(args.progress_jsonl))
        try:
            result = export_checkpoint(args.checkpoint, args.output, export_options(args, progress=progress, log=log))
            if args.card:
                _write_card(args, result, log)
        except ExportError as exc:
            raise SetupError(f"export failed: {exc}") from None
        if callable(progress):
            progress("done", 1, 1, f"wrote {result.path}")
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(result.path),
                    "fingerprint": result.fingerprint,
                    "size_bytes": result.size_bytes,
                    "contract": result.contract,
                    "timings_ms": result.timings_ms,
                },
                indent=2,
                sort_keys=True,
            )
        )
    else:
        print(describe(result))
    return 0


def export_options(args, **fixed):
    """The ExportOptions of these arguments: an option not given keeps ExportOptions' default
    (its one home; the options here default to None and say "the exporter's"). ``fixed``:
    progress and log."""
    from export.pipeline import ExportOptions

    given = {
        "quantize": True if args.quantize else None,
        "data_dir": args.data_dir,
        "seed": args.seed,
        "max_eer_increase_points": args.max_eer_increase,
        "max_frr_increase_points": args.max_frr_increase,
        "allow_synthetic": False if args.no_synthetic_fallback else None,
        "camera": False if args.no_camera_calibration else None,
        "camera_probes": args.camera_probes,
        "symbols": False if args.no_symbol_calibration else None,
        "omniglot": args.omniglot,
        "passcode_frames": args.passcode_frames,
        "symbol_folds": tuple(args.symbol_folds) if args.symbol_folds else None,
    }
    opts = {k: v for k, v in given.items() if v is not None}
    if args.calib_count is not None:
        opts["calib_count"] = args.calib_count or None  # 0: all of them
    return ExportOptions(**opts, **fixed)


def _write_card(args, result, log) -> None:
    """The model card (markdown) for ``--card``, with ``--eval-json`` figures and ``--card-notes``."""
    from pathlib import Path

    from export.card import model_card
    from export.errors import ExportError

    evaluation = None
    if args.eval_json:
        try:
            evaluation = json.loads(Path(args.eval_json).read_text())
        except (OSError, ValueError) as exc:
            raise ExportError(
                f"cannot read --eval-json {args.eval_json}: {exc} (the model "
                f"was written to {result.path}; the card was not)"
            ) from None
    notes = ""
    if args.card_notes:
        try:
            notes = Path(args.card_notes).read_text()
        except OSError as exc:
            raise ExportError(
                f"cannot read --card-notes {args.card_notes}: {exc} (the model "
                f"was written to {result.path}; the card was not)"
            ) from None
    text = model_card(
        result.path, evaluation=evaluation, commands=args.reproduce, command=_command_line(args), notes=notes
    )
    atomic_write_bytes(args.card, text.encode(), mode=0o644)
    log(f"wrote the model card {args.card}")


def _command_line(args) -> str:
    """The export command that reproduces this model (from the parsed options)."""
    import shlex

    from export.pipeline import ExportOptions

    opts, default = export_options(args), ExportOptions()  # the values used, spelled out
    parts = ["twinlock", "export", args.checkpoint, "-o", args.output]
    if args.quantize:
        parts += [
            "--quantize",
            "--max-eer-increase",
            f"{opts.max_eer_increase_points:g}",
            "--max-frr-increase",
            f"{opts.max_frr_increase_points:g}",
        ]
    if args.data_dir:
        parts += ["--data-dir", args.data_dir]
    parts += ["--calib-count", str(opts.calib_count or 0), "--seed", str(opts.seed)]
    if args.no_synthetic_fallback:
        parts.append("--no-synthetic-fallback")
    if args.no_camera_calibration:
        parts.append("--no-camera-calibration")
    elif opts.camera_probes != default.camera_probes:
        parts += ["--camera-probes", str(opts.camera_probes)]
    if args.omniglot:
        parts += ["--omniglot", args.omniglot]
    if args.passcode_frames:
        parts += ["--passcode-frames", args.passcode_frames]
    if args.symbol_folds:
        parts += ["--symbol-folds", *args.symbol_folds]
    if args.no_symbol_calibration:
        parts.append("--no-symbol-calibration")
    if args.card:
        parts += ["--card", args.card]
    if args.eval_json:
        parts += ["--eval-json", args.eval_json]
    if args.card_notes:
        parts += ["--card-notes", args.card_notes]
    for cmd in args.reproduce:
        parts += ["--reproduce", cmd]
    return " ".join(shlex.quote(str(p)) for p in parts)
