"""Evaluate a checkpoint on the MNIST test set, every figure from desktop_app.core.metrics.

- pair accuracy on the seed protocol (20,000 test pairs) at the threshold chosen on
  validation pairs (the checkpoint's ``val_indices``; test data chooses nothing)
- ROC AUC, EER and FRR at FAR 1e-2..1e-5 over ALL pairs among the test embeddings
- 1-NN digit label of each test image against the training-set gallery
- with held-out classes: the same on pairs involving the unseen digits
- with Omniglot (the checkpoint was trained with it): on the held-out *alphabets* (symbols
  the model never saw), 20-way within-alphabet one-shot accuracy (Koch's protocol, seeded
  trials, 95% CI) and 1:1 verification over all pairs of their drawings
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from collections.abc import Callable

import numpy as np

from desktop_app.core import metrics as M
from training.checkpoint import load_checkpoint, model_from_checkpoint
from training.pairs import seed_protocol_pairs
from training.train import embed

FARS = (1e-2, 1e-3, 1e-4, 1e-5)
ONE_SHOT_TRIALS = 1000
ONE_SHOT_SEED = 2015
TEST_PAIR_SEED = 1234  # the test pairs are the same for every model
VAL_PAIR_SEED = 4321


def _pairs(emb, labels, seed, mask=None):
    i, j, same = seed_protocol_pairs(labels, seed)
    if mask is not None:
        keep = mask[i]
        i, j, same = i[keep], j[keep], same[keep]
    return np.linalg.norm(emb[i] - emb[j], axis=1), same


def omniglot_figures(model, held, mean: float, std: float, trials: int = ONE_SHOT_TRIALS, ways: int = 20) -> dict:
    """One-shot and all-pairs figures on ``held`` (Symbols of the held-out alphabets)."""
    e = embed(model, held.images, mean, std)
    names = [held.alphabets[a] for a in np.unique(held.alphabet)]
    out = {"alphabets": names, "drawings": int(len(e)), "characters": int(np.unique(held.character).size)}
    out["one_shot"] = M.one_shot_trials(
        e, held.character, held.alphabet, held.drawer, ways=ways, trials=trials, seed=ONE_SHOT_SEED
    )
    out["five_shot"] = M.few_shot_trials(
        e, held.character, held.alphabet, held.drawer, shots=5, ways=ways, trials=trials, seed=ONE_SHOT_SEED
    )
    gen, imp = M.all_pairs(e, held.character)
    out["all_pairs"] = M.summary(gen, imp, FARS)
    del gen, imp
    per = {}
    for a in np.unique(held.alphabet):  # within one alphabet: the hardest impostors
        m = held.alphabet == a
        g, i = M.all_pairs(e[m], held.character[m])
        op = M.threshold_at_far(g, i, 1e-3)
        per[held.alphabets[a]] = {
            "drawings": int(m.sum()),
            "eer": M.eer(g, i)[0],
            "frr_at_far_1e-3": op.frr,
            "genuine": op.genuine,
            "impostor": op.impostor,
        }
    out["per_alphabet"] = per
    return out


def omniglot_holdout(ck: dict, omniglot=None):
    """The held-out alphabets' Symbols for a checkpoint trained with Omniglot, or None."""
    cfg = ck["config"]
    held = (ck.get("class_split") or {}).get("omniglot_holdout_alphabets") or []
    src = omniglot if omniglot is not None else cfg.get("omniglot")
    if not held or src is None:
        return None
    from training import omniglot as O

    sym = O.load(src) if not isinstance(src, O.Symbols) else src
    missing = [a for a in held if a not in sym.alphabets]
    if missing:
        raise O.OmniglotError(f"the checkpoint's held-out alphabets {missing} are not in {src}")
    return sym.subset(held)


def evaluate(
    checkpoint, data_dir=None, images=None, log: Callable[[str], None] = print, progress: bool = True, omniglot=None
) -> dict:
    """Figures for ``checkpoint`` (a path or a loaded dict). ``images`` may supply
    {"train": (x, y), "test": (x, y)} instead of MNIST and ``omniglot`` a Symbols or an npz
    path instead of the checkpoint's (tests)."""
    t0 = time.time()
    ck = load_checkpoint(checkpoint) if not isinstance(checkpoint, dict) else checkpoint
    cfg = ck["config"]
    model = model_from_checkpoint(ck)
    if images is None:
        from training.mnist import load_mnist

        d = data_dir or cfg.get("data_dir")
        images = {"train": load_mnist(d, "train"), "test": load_mnist(d, "test")}
    (x_tr, y_tr), (x_te, y_te) = images["train"], images["test"]
    mean, std = float(cfg["mean"]), float(cfg["std"])
    holdout = list(ck.get("class_split", {}).get("holdout_classes") or cfg.get("holdout_classes") or [])
    val_idx = np.asarray(ck["val_indices"], dtype=np.int64)

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(x_tr) + len(x_te), desc="embedding", unit="img", leave=False)

    def ticker(offset):
        def tick(done, total):
            if bar is not None:
                bar.n = offset + done
                bar.refresh()

        return tick

    e_tr = embed(model, x_tr, mean, std, progress=ticker(0))
    e_te = embed(model, x_te, mean, std, progress=ticker(len(x_tr)))
    if bar is not None:
        bar.close()

    # threshold on validation pairs (train classes only: that is what the model saw)
    d_val, s_val = _pairs(e_tr[val_idx], y_tr[val_idx], VAL_PAIR_SEED)
    thr, val_acc = M.best_accuracy_threshold(d_val, s_val)

    d_te, s_te = _pairs(e_te, y_te, TEST_PAIR_SEED)
    res = {
        "checkpoint": str(checkpoint) if not isinstance(checkpoint, dict) else None,
        "arch": ck["arch"],
        "epoch": ck.get("epoch"),
        "parameters": cfg.get("parameters"),
        "train_seconds": ck.get("metrics", {}).get("train_seconds"),
        "threshold": thr,
        "val_pair_accuracy": val_acc,
        "pair_accuracy": M.pair_accuracy(d_te, s_te, thr),
        "test_pairs": int(d_te.size),
    }

    gal = np.setdiff1d(np.arange(len(y_tr)), val_idx)  # the training images, not validation
    nn_label, _ = M.nearest_neighbor(e_te, e_tr[gal], y_tr[gal])
    res["nn_accuracy"] = float(np.mean(nn_label == y_te))

    log("comparing all test pairs ...")
    gen, imp = M.all_pairs(e_te, y_te)
    res["all_pairs"] = M.summary(gen, imp, FARS)
    del gen, imp
    if holdout:
        unseen = np.isin(y_te, holdout)
        d_u, s_u = _pairs(e_te, y_te, TEST_PAIR_SEED, mask=unseen)
        gen, imp = M.all_pairs(e_te, y_te, query_mask=unseen)
        res["holdout"] = {
            "classes": holdout,
            "pair_accuracy": M.pair_accuracy(d_u, s_u, thr),
            "pairs": int(d_u.size),
            "nn_accuracy": float(np.mean(nn_label[unseen] == y_te[unseen])),
            "all_pairs": M.summary(gen, imp, FARS),
        }
        del gen, imp
    held = omniglot_holdout(ck, omniglot)
    if held is not None:
        log("Omniglot held-out alphabets ...")
        res["omniglot"] = omniglot_figures(model, held, mean, std)
    res["eval_seconds"] = time.time() - t0
    return res


def format_table(res: dict) -> str:
    def block(name, r, acc, nn):
        a = r["at_far"]
        rows = [
            f"{name}",
            f"  pair accuracy (seed protocol) {acc:8.4%}",
            f"  ROC AUC                       {r['roc_auc']:.6f}",
            f"  EER                           {r['eer']:8.4%}  (threshold {r['eer_threshold']:.4f})",
        ]
        for k, op in a.items():
            flag = "" if op["supported"] else "  (too few impostor pairs to support)"
            rows.append(f"  FRR at FAR {k:<6}             {op['frr']:8.4%}  (threshold {op['threshold']:.4f}){flag}")
        rows.append(f"  1-NN accuracy                 {nn:8.4%}")
        rows.append(f"  comparisons                   {r['genuine']:,} genuine, {r['impostor']:,} impostor")
        return rows

    lines = [
        f"checkpoint {res.get('checkpoint')} ({res['arch']}, epoch {res['epoch']}, "
        f"{res.get('parameters') or '?'} parameters)",
        f"threshold {res['threshold']:.4f} chosen on validation pairs (val accuracy {res['val_pair_accuracy']:.4%})",
    ]
    lines += block("all test digits", res["all_pairs"], res["pair_accuracy"], res["nn_accuracy"])
    if "holdout" in res:
        h = res["holdout"]
        lines += block(
            f"unseen digits {h['classes']} (pairs involving them)", h["all_pairs"], h["pair_accuracy"], h["nn_accuracy"]
        )
    if "omniglot" in res:
        o = res["omniglot"]
        r, os_ = o["all_pairs"], o["one_shot"]
        lines += [
            f"held-out Omniglot alphabets (never trained on): {', '.join(o['alphabets'])}",
            f"  {o['characters']} characters, {o['drawings']} drawings",
            f"  {os_['ways']}-way one-shot within an alphabet {os_['accuracy']:8.4%}  "
            f"(95% CI {os_['ci95'][0]:.2%}-{os_['ci95'][1]:.2%}; {os_['trials']} trials, "
            f"{os_['queries']} queries, seed {os_['seed']})",
            f"  ROC AUC                       {r['roc_auc']:.6f}",
            f"  EER                           {r['eer']:8.4%}  (threshold {r['eer_threshold']:.4f})",
        ]
        if "five_shot" in o:
            fs = o["five_shot"]
            lines.insert(
                -2,
                f"  {fs['ways']}-way 5-shot within an alphabet {fs['accuracy']:8.4%}  "
                f"(95% CI {fs['ci95'][0]:.2%}-{fs['ci95'][1]:.2%}; {fs['trials']} trials; references by 5 drawers)",
            )
        for name, pa in o.get("per_alphabet", {}).items():
            lines.append(
                f"  within {name}: {pa['drawings']} drawings, EER {pa['eer']:.2%}, "
                f"FRR at FAR 1e-3 {pa['frr_at_far_1e-3']:.2%}"
            )
        for k, op in r["at_far"].items():
            flag = "" if op["supported"] else "  (too few impostor pairs to support)"
            lines.append(
                f"  FRR at FAR {k:<6}             {op['frr']:8.4%}  (threshold {op['threshold']:.4f}; "
                f"{op['false_rejects']:,} of {op['genuine']:,} genuine rejected, "
                f"{op['false_accepts']:,} of {op['impostor']:,} impostor accepted){flag}"
            )
    return "\n".join(lines)


def write_json(res: dict, path) -> Path:
    from desktop_app.core.paths import atomic_write_bytes

    return atomic_write_bytes(path, json.dumps(res, indent=2, default=float).encode())
