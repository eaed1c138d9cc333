"""``twinlock model calibrate-passcode MODEL.onnx --omniglot OMNIGLOT.npz -o NEW.onnx``: add
the passcode operating points (``passcode2_far_1e-5`` ...) to a model (the shipped default's
float checkpoint is not kept, so it cannot be exported again), from the held-out Omniglot
characters its own contract names, counted as ``export.calibrate`` counts them: by default
on their clean drawings; ``--frames camera`` on camera-like frames of half of those
alphabets, measured on the other half (``export.calibrate.camera_passcode_points``). Writes a new file atomically; the model itself is unchanged (same fingerprint), its
contract is not, so an admin accepts it with ``twinlock model use NEW.onnx``."""

from __future__ import annotations

from pathlib import Path

from desktop_app.core.contract import read_contract
from desktop_app.core.embedder import Embedder

from .common import EXIT_OK, SetupError, friendly


def register(msub) -> None:
    p = msub.add_parser(
        "calibrate-passcode",
        help="add passcode operating points (2-4 symbols at FAR 1e-5) to a model, from its held-out characters",
        description="Measure, on the held-out Omniglot alphabets the model's contract names (never its "
        "training alphabets, never the evaluation set), the per-position threshold at which a card of 2, 3 "
        "or 4 symbols keeps false accepts at or below 1 in 100,000, and write a copy of the model whose "
        "contract carries those points and the counts behind them. Nothing in the database changes; use the "
        "new file with 'twinlock model use'.",
    )
    p.add_argument("path", help="the .onnx model")
    p.add_argument(
        "--omniglot", required=True, metavar="NPZ", help="the converted background set (python -m training.omniglot)"
    )
    p.add_argument("-o", "--output", required=True, metavar="NEW.onnx", help="the model with the points (a new file)")
    p.add_argument("--symbols", type=int, nargs="+", default=[2, 3, 4], help="passcode lengths (default: 2 3 4)")
    p.add_argument(
        "--frames",
        choices=("camera", "clean"),
        default="clean",
        help="clean (default, how the shipped points were chosen): on the clean drawings of every held-out "
        "alphabet; camera: on camera-like frames of half of them (filmed by the camera simulator, read by the "
        "app's preprocess, enrolled as the app enrols a card), measured on the other half (the point's "
        "held_apart figures)",
    )
    p.add_argument("--seed", type=int, default=0, help="the camera simulator's seed (default: 0)")
    p.set_defaults(func=cmd_calibrate_passcode)


@friendly
def cmd_calibrate_passcode(args) -> int:
    import numpy as np

    src, out = Path(args.path).expanduser(), Path(args.output).expanduser()
    if out.exists() and out.resolve() == src.resolve():
        raise SetupError("-o must name a new file: the model it calibrates stays as it is")
    if (out.exists() and not out.is_file()) or not out.parent.is_dir():
        raise SetupError(
            f"-o {out} must name a file in an existing folder (it is a folder, a device, or its folder is missing); "
            "nothing was written."
        )
    if any(not 2 <= n <= 4 for n in args.symbols):
        raise SetupError(f"--symbols takes lengths from 2 to 4, not {args.symbols}")
    contract = read_contract(src)
    names = (contract.provenance or {}).get("omniglot_holdout_alphabets")
    if not names:
        raise SetupError(
            f"The model {src} names no held-out Omniglot alphabets in its contract, so no characters are known "
            "to be unseen by it; nothing was written. Export it from an Omniglot-trained checkpoint."
        )
    from training import omniglot as O

    try:
        held = O.load(args.omniglot).subset(names)
    except (OSError, ValueError, KeyError) as exc:
        raise SetupError(
            f"{args.omniglot} is not a converted Omniglot background set ({exc}); nothing was written."
        ) from None
    from export.calibrate import camera_passcode_points, passcode_points, write_passcode_points

    emb = Embedder(src, preference="cpu", warmup=False)
    lengths = tuple(sorted(set(args.symbols)))
    if args.frames == "camera":
        if len(names) < 2:
            raise SetupError(
                f"The model {src} names {len(names)} held-out alphabet; camera-like points need two or more (one "
                "half to choose them on, one to measure them on). Nothing was written; try --frames clean."
            )
        points = camera_passcode_points(emb, held, lengths=lengths, seed=args.seed, log=print)
    else:
        e = np.concatenate([emb.embed_images(held.images[s : s + 512]) for s in range(0, len(held.images), 512)])
        chars = len(set(np.asarray(held.character).tolist()))
        source = (
            f"clean drawings (model form) of the {chars} characters of the {len(names)} Omniglot background "
            f"alphabets held out of training ({', '.join(names)}): {len(e):,} drawings, symbols the model never saw"
        )
        points = passcode_points(e, held.character, held.drawer, source, lengths=lengths)
    if not points:
        raise SetupError("No passcode point is supported by enough impostor cards (3 / FAR); nothing was written.")
    new = write_passcode_points(src, out, points)
    for key, op in sorted(points.items()):
        print(
            f"{key}: {op['thresholds'][0]:.4f} per position; card FAR {op['far']:.2e} "
            f"({op['false_accepts']:,} of {op['impostor']:,} impostor cards), FRR per card {op['frr'] * 100:.1f}% "
            f"({op['genuine']:,} owner cards)"
        )
        if "held_apart" in op:
            h = op["held_apart"]
            print(
                f"  held apart ({', '.join(h['alphabets'])}, not used to choose it): card FAR {h['far']:.2e} "
                f"({h['false_accepts']:,} of {h['impostor']:,}), FRR per card {h['frr'] * 100:.1f}% "
                f"({h['genuine']:,} owner cards)"
            )
    missing = sorted(set(args.symbols) - {op["symbols"] for op in points.values()})
    if missing:
        print(f"no point for {', '.join(map(str, missing))} symbols: too few impostor cards or none at the target")
    print(
        f"wrote {out} (fingerprint {new.short_fingerprint}, unchanged; its contract is new): accept it with "
        f"'twinlock model use {out}'"
    )
    return EXIT_OK
