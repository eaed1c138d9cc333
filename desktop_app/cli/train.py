"""``twinlock train``: train the twin network's embedding tower (needs the training extra:
torch). torch and ``training`` are imported only when it runs, so the app's CLI works
without them."""

from __future__ import annotations

import argparse
import contextlib

from desktop_app.core.idx import IdxError

from .common import INSTALL_TRAIN_EXTRA, JsonlProgress, SetupError, add_progress_jsonl

TRAIN_EXTRA_HINT = f"this command needs PyTorch: install the training extra with  {INSTALL_TRAIN_EXTRA}"


def need_torch() -> None:
    """SetupError (exit 4, how to install it) when torch, the training extra, is missing."""
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SetupError(TRAIN_EXTRA_HINT) from None


def _classes(text: str) -> list[int]:
    if not text:
        return []
    try:
        out = sorted({int(t) for t in text.replace(" ", "").split(",") if t != ""})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected digits separated by commas (e.g. 8,9), not {text!r}") from None
    if any(c < 0 or c > 9 for c in out) or len(out) > 8:
        raise argparse.ArgumentTypeError("held-out classes must be digits 0-9, leaving at least two to train on")
    return out


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a twin network on MNIST (needs torch)",
        description="Train the embedding tower with a contrastive loss; writes best.pt, "
        "last.pt, metrics.json and curves.png to --out.",
    )
    p.add_argument(
        "--arch",
        choices=["twin", "seed"],
        default="twin",
        help="twin: twinlock's default recipe; seed: the seed notebook reproduced (baseline)",
    )
    p.add_argument(
        "--data-dir", help="MNIST folder (default: $TWINLOCK_DATA_DIR or the user cache; missing files are downloaded)"
    )
    p.add_argument("--out", default="runs/default", help="output folder (default: %(default)s)")
    p.add_argument("--epochs", type=int, help="epochs (default: the recipe's)")
    p.add_argument("--batch-size", type=int, help="batch size (default: the recipe's)")
    p.add_argument("--lr", type=float, help="peak learning rate (twin; default: the recipe's)")
    p.add_argument("--margin", type=float, default=None, help="contrastive margin m (default: the recipe's)")
    p.add_argument(
        "--all-negatives",
        action="store_true",
        help="average the impostor term over all impostor pairs, not only those inside the margin",
    )
    p.add_argument(
        "--pos-margin",
        type=float,
        default=None,
        help="do not pull genuine pairs closer than this (default 0: the plain contrastive loss)",
    )
    p.add_argument("--embedding-dim", type=int, default=None, help="embedding size D (twin)")
    p.add_argument("--width", type=int, default=None, help="channel width of the twin tower (default: the recipe's)")
    p.add_argument(
        "--stem",
        choices=["conv5"],
        default=None,
        help="first stage of the twin tower (default: the recipe's)",
    )
    p.add_argument("--no-augment", action="store_true", help="turn off augmentation (twin)")
    p.add_argument(
        "--holdout-classes",
        type=_classes,
        default=[],
        metavar="D,D",
        help="digits left out of training, e.g. 8,9 (evaluate reports them separately)",
    )
    p.add_argument("--val-size", type=int, default=None, help="training images held out for validation")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: %(default)s; 1 is faster when other jobs share the CPU)",
    )
    p.add_argument(
        "--camera-data",
        metavar="NPZ",
        help="camera-like renders of training digits + non-digit negatives, built by "
        "`python -m training.camera_data` (twin; default: clean MNIST only)",
    )
    p.add_argument(
        "--camera-fraction",
        type=float,
        default=None,
        help="chance a rendered digit is shown as its camera render (default: the recipe's)",
    )
    p.add_argument(
        "--omniglot",
        metavar="NPZ",
        help="the Omniglot background set in model form, built by `python -m training.omniglot` "
        "(twin): batches mix MNIST digits with P x K Omniglot characters",
    )
    p.add_argument(
        "--omniglot-per-batch",
        type=int,
        default=None,
        help="Omniglot drawings in each batch (default: %(default)s; the rest are MNIST)",
    )
    p.add_argument("--omniglot-k", type=int, default=None, help="drawings per Omniglot class in a batch (K)")
    p.add_argument(
        "--omniglot-holdout",
        type=int,
        default=None,
        help="Omniglot alphabets held out for validation and calibration (default: the recipe's)",
    )
    p.add_argument("--no-rotations", action="store_true", help="do not add rotated Omniglot characters as new classes")
    p.add_argument(
        "--omniglot-alphabets-per-batch",
        type=int,
        default=None,
        metavar="A",
        help="draw a batch's P Omniglot classes from A (alphabet, rotation) groups, so symbols of "
        "one alphabet meet as impostors (default: 0, from all characters)",
    )
    p.add_argument(
        "--omniglot-camera-data",
        metavar="NPZ",
        help="camera-like renders of the Omniglot training drawings, built by "
        "`python -m training.camera_data --omniglot NPZ` (shown with --camera-fraction)",
    )
    p.add_argument(
        "--elastic",
        type=float,
        default=None,
        metavar="PX",
        help="elastic distortion of training images, largest displacement in px (default: 0, off)",
    )
    p.add_argument(
        "--aux-weight",
        type=float,
        default=None,
        metavar="W",
        help="weight of an auxiliary CosFace (normalised-softmax) head over the training classes, "
        "beside the contrastive loss; training only, dropped at export (default: 0, off)",
    )
    p.add_argument(
        "--aux-scale", type=float, default=None, help="the CosFace head's logit scale (default: the recipe's)"
    )
    p.add_argument(
        "--aux-margin", type=float, default=None, help="the CosFace head's cosine margin (default: the recipe's)"
    )
    p.add_argument(
        "--ghost-batch",
        type=int,
        default=None,
        help="batch norm over chunks of this many images (0: whole batch); set it to "
        "batch/N to make one process compute what N torchrun processes do",
    )
    p.add_argument(
        "--device",
        choices=["cpu", "cuda", "auto"],
        default=None,
        help="where to train (default: %(default)s; under torchrun: gloo on CPU, NCCL on CUDA)",
    )
    p.add_argument(
        "--init",
        metavar="CHECKPOINT",
        help="start from this checkpoint's weights with a new schedule (keeps its held-out "
        "alphabets and validation split; its training time is counted)",
    )
    p.add_argument(
        "--max-train", type=int, default=None, help="use only this many MNIST training images (a shorter epoch)"
    )
    p.add_argument("--resume", metavar="CHECKPOINT", help="continue a run from its last.pt")
    add_progress_jsonl(p)
    p.set_defaults(func=cmd_train)


def _resumed_config(args):
    """The config of the run ``--resume`` continues, or None when it has finished already."""
    from training.checkpoint import CheckpointError, load_checkpoint
    from training.train import TrainConfig

    try:
        ck = load_checkpoint(args.resume)
    except CheckpointError as exc:
        raise SetupError(str(exc)) from None
    known = {f for f in TrainConfig.__dataclass_fields__}
    cfg = TrainConfig(**{k: v for k, v in ck["config"].items() if k in known})
    if args.epochs and args.epochs != cfg.epochs:
        if cfg.arch != "seed":
            raise SetupError(
                f"{args.resume} was trained with a {cfg.epochs}-epoch one-cycle schedule, "
                f"which cannot be stretched to {args.epochs}; resume without --epochs, "
                f"or start a new run"
            )
        cfg.epochs = args.epochs
    if args.data_dir:
        cfg.data_dir = args.data_dir
    if int(ck.get("epoch", 0)) >= cfg.epochs:
        print(f"{args.resume} already finished all {cfg.epochs} epochs; nothing to do")
        return None
    return cfg


def _new_config(args):
    """The config of a new run from the options; its data files are checked before MNIST is
    loaded, not minutes later."""
    from training.train import TrainConfig

    seed = args.arch == "seed"
    given = {
        "arch": args.arch,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "margin": args.margin,
        "embedding_dim": args.embedding_dim,
        "width": args.width,
        "stem": args.stem,
        "pos_margin": args.pos_margin,
        "holdout_classes": args.holdout_classes,
        "data_dir": args.data_dir,
        "out_dir": args.out,
        "seed": args.seed,
        "threads": args.threads,
        "val_size": args.val_size,
        "camera_fraction": args.camera_fraction,
        "omniglot_per_batch": args.omniglot_per_batch,
        "omniglot_k": args.omniglot_k,
        "omniglot_holdout": args.omniglot_holdout,
        "omniglot_alphabets_per_batch": args.omniglot_alphabets_per_batch,
        "elastic": args.elastic,
        "aux_weight": args.aux_weight,
        "aux_scale": args.aux_scale,
        "aux_margin": args.aux_margin,
        "ghost_batch": args.ghost_batch,
        "device": args.device,
        "init": args.init,
        "max_train": args.max_train,
    }
    # an option not given keeps TrainConfig's default (its one home), then the recipe's
    cfg = TrainConfig(
        **{k: v for k, v in given.items() if v is not None},
        active_only=not args.all_negatives,
        augment=not args.no_augment and not seed,
        rotations=not args.no_rotations,
        camera_data=None if seed else args.camera_data,
        omniglot=None if seed else args.omniglot,
        omniglot_camera_data=None if seed else args.omniglot_camera_data,
    ).resolved(describe=False)
    if not 0.0 <= cfg.camera_fraction <= 1.0:
        raise SetupError("--camera-fraction must be between 0 and 1")
    if cfg.omniglot:
        from training.omniglot import load as load_omniglot

        try:
            load_omniglot(cfg.omniglot)
        except ValueError as exc:
            raise SetupError(str(exc)) from None
        if cfg.omniglot_k < 2 or not 0 < cfg.omniglot_per_batch < cfg.batch_size:
            raise SetupError("--omniglot-k must be at least 2 and --omniglot-per-batch between 1 and the batch size")
    for path in (cfg.camera_data, cfg.omniglot_camera_data):
        if path:
            from training.camera_data import load as load_camera_data

            try:
                load_camera_data(path)
            except ValueError as exc:
                raise SetupError(str(exc)) from None
    if cfg.omniglot_camera_data and not cfg.omniglot:
        raise SetupError("--omniglot-camera-data needs --omniglot (the converted file it was rendered from)")
    if cfg.elastic < 0 or cfg.omniglot_alphabets_per_batch < 0:
        raise SetupError("--elastic and --omniglot-alphabets-per-batch must be at least 0")
    return cfg


def cmd_train(args) -> int:
    need_torch()
    from training.checkpoint import CheckpointError
    from training.mnist import DownloadError
    from training.train import train

    cfg = _resumed_config(args) if args.resume else _new_config(args)
    if cfg is None:
        return 0
    if cfg.epochs < 1 or cfg.batch_size < 2:
        raise SetupError("--epochs must be at least 1 and --batch-size at least 2")
    with contextlib.ExitStack() as stack:
        progress, log, on_progress = True, print, None
        if args.progress_jsonl:  # JSON lines instead of bars (the app's export dialog reads them)
            report = stack.enter_context(JsonlProgress(args.progress_jsonl))
            progress, log = False, (lambda msg: print(msg, flush=True))  # in order with the JSON lines

            def on_progress(epoch, epochs, done, total):
                report(f"epoch {epoch}/{epochs}", done, total, "")

            report("training", 0, cfg.epochs, f"training {cfg.epochs} epoch(s) into {cfg.out_dir}")
        try:
            res = train(cfg, resume=args.resume, progress=progress, log=log, on_progress=on_progress)
        except (IdxError, DownloadError, CheckpointError, ValueError) as exc:
            raise SetupError(str(exc)) from None
        if args.progress_jsonl:
            report(
                "training",
                cfg.epochs,
                cfg.epochs,
                f"best epoch {res['best']['epoch']}; checkpoints in {res['out_dir']}",
            )
    b = res["best"]
    print(
        f"best epoch {b['epoch']}: validation FRR at FAR 1e-3 {b['val_frr_at_far_1e-3']:.3%}, "
        f"EER {b['val_eer']:.4%}, pair accuracy "
        f"{b.get('val_accuracy', float('nan')):.4%}; {res['train_seconds']:.0f}s of training"
    )
    print(f"checkpoints, metrics.json and curves.png in {res['out_dir']}")
    return 0
