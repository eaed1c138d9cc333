"""``twinlock evaluate CHECKPOINT``: a training checkpoint's figures on the MNIST test set
(and the held-out Omniglot alphabets); needs the training extra (torch), imported only when
it runs."""

from __future__ import annotations

import sys

from desktop_app.core.idx import IdxError

from .common import SetupError
from .train import need_torch


def register(sub) -> None:
    e = sub.add_parser(
        "evaluate",
        help="evaluate a training checkpoint on the MNIST test set (needs torch)",
        description="Pair accuracy (seed protocol, threshold from validation), ROC AUC, EER, "
        "FRR at FAR 1e-2..1e-5 over all test pairs, 1-NN accuracy; with "
        "Omniglot: 20-way one-shot and all-pairs verification on the held-out "
        "alphabets.",
    )
    e.add_argument("checkpoint", help="a .pt file written by `twinlock train`")
    e.add_argument("--data-dir", help="MNIST folder (default: the one the checkpoint was trained on)")
    e.add_argument(
        "--json",
        dest="json_out",
        metavar="PATH",
        help="write the figures here (default: next to the checkpoint, <name>.eval.json)",
    )
    e.add_argument(
        "--omniglot",
        metavar="NPZ",
        help="the converted Omniglot background set (default: the one the checkpoint was trained "
        "with); its held-out alphabets give the unseen-symbol figures",
    )
    e.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    e.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    need_torch()
    from pathlib import Path

    from training.checkpoint import CheckpointError
    from training.evaluate import evaluate, format_table, write_json
    from training.mnist import DownloadError

    import torch

    torch.set_num_threads(max(1, args.threads))
    try:
        res = evaluate(
            args.checkpoint, data_dir=args.data_dir, log=lambda m: print(m, file=sys.stderr), omniglot=args.omniglot
        )
    except (IdxError, DownloadError, CheckpointError, ValueError) as exc:
        raise SetupError(str(exc)) from None
    print(format_table(res))
    out = Path(args.json_out) if args.json_out else Path(args.checkpoint).with_suffix(".eval.json")
    write_json(res, out)
    print(f"figures written to {out}")
    return 0
