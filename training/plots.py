"""Training curves (loss and pair accuracy, train vs validation) as one PNG."""

from __future__ import annotations

import io
from pathlib import Path

from desktop_app.core.paths import atomic_write_bytes


def plot_curves(history: list[dict], path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(ep, [h["train_pair_loss"] for h in history], "o-", label="train (pairs)")
    a.plot(ep, [h["val_loss"] for h in history], "o-", label="validation (pairs)")
    a.plot(ep, [h["train_loss"] for h in history], "--", alpha=0.6, label="train (batch objective)")
    a.set_xlabel("epoch")
    a.set_ylabel("contrastive loss")
    a.set_title("loss")
    a.legend()
    b.plot(ep, [100 * h["train_accuracy"] for h in history], "o-", label="train")
    b.plot(ep, [100 * h["val_accuracy"] for h in history], "o-", label="validation")
    b.set_xlabel("epoch")
    b.set_ylabel("pair accuracy (%)")
    b.set_title("accuracy")
    b.legend()
    if title:
        import textwrap

        fig.suptitle("\n".join(textwrap.wrap(title, 120)), fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
