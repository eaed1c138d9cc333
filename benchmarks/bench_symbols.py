"""Unseen symbols: the shipped ONNX file (and a baseline, e.g. the previous digits-only model)
on the Omniglot background alphabets held out of training, through ONNX Runtime as the app
runs it; writes the "symbols" section of docs/benchmarks.md.

    python -m benchmarks.bench_symbols --omniglot runs/omniglot3.npz --data-dir ../shared/data/mnist \
        --baseline assets/models/twinlock-digits.onnx   # the digits-only model beside the default

Figures per model: 20-way within-alphabet one-shot (Koch's protocol, seeded trials, 95% CI);
1:1 verification over all pairs of the held-out drawings (EER, FRR at FAR 1e-3 / 1e-4 with
counts); at the model's own default threshold, the FAR/FRR on those pairs; and look-alikes:
the share of held-out symbol drawings that fall within the default threshold of at least one
of ten digit profiles (5 MNIST *test* drawings each, nearest reference), i.e. symbols that a
digit profile would let in.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.report import machine, pct, write_section
from desktop_app.core import metrics as M

TRIALS, SEED = 1000, 2015


def held_out(contract, omniglot: str):
    from training import omniglot as O

    names = (contract.provenance or {}).get("omniglot_holdout_alphabets")
    if not names:
        raise SystemExit(
            "the model's contract names no held-out Omniglot alphabets (pass a model "
            "exported from an Omniglot-trained checkpoint)"
        )
    return O.load(omniglot).subset(names), names


def figures(model: Path, held, digits) -> dict:
    from desktop_app.core.embedder import Embedder

    emb = Embedder(model, preference="cpu")
    t = emb.contract.default_threshold
    e = np.concatenate([emb.embed_images(held.images[s : s + 512]) for s in range(0, len(held.images), 512)])
    r = {
        "model": model.name,
        "fingerprint": emb.contract.fingerprint[:12],
        "default_key": emb.contract.default_threshold_key,
        "threshold": t,
    }
    r["one_shot"] = M.one_shot_trials(e, held.character, held.alphabet, held.drawer, 20, TRIALS, SEED)
    r["five_shot"] = M.few_shot_trials(e, held.character, held.alphabet, held.drawer, 5, 20, TRIALS, SEED)
    gen, imp = M.all_pairs(e, held.character)
    r["summary"] = M.summary(gen, imp, (1e-3, 1e-4, 1e-5))
    r["at_default"] = M.operating_point(gen, imp, t).as_dict()
    del gen, imp
    x, y = digits
    rng = np.random.default_rng(0)
    refs = [emb.embed_images(x[rng.choice(np.flatnonzero(y == k), 5, replace=False)]) for k in range(10)]
    d = np.stack([M.pairwise_distances(e, ref).min(1) for ref in refs], 1)  # [drawings, 10]
    r["lookalike_any_digit"] = float(np.mean((d <= t).any(1)))
    r["lookalike_pairs"] = float(np.mean(d <= t))
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "assets/models/twinlock-default.onnx"))
    ap.add_argument("--baseline", help="another .onnx to measure on the same held-out alphabets")
    ap.add_argument("--omniglot", required=True, help="converted background set (python -m training.omniglot)")
    ap.add_argument("--data-dir", help="MNIST folder (test digits for the digit profiles)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    from desktop_app.core.contract import read_contract
    from training.mnist import load_mnist

    t0 = time.time()
    held, names = held_out(read_contract(a.model), a.omniglot)
    digits = load_mnist(a.data_dir, "test", download=False)
    rows = [(f"`{Path(a.model).name}`", figures(Path(a.model), held, digits))]
    if a.baseline:
        rows.append((f"`{Path(a.baseline).name}` (baseline)", figures(Path(a.baseline), held, digits)))
    model_arg = (
        ""
        if Path(a.model).resolve() == (ROOT / "assets/models/twinlock-default.onnx").resolve()
        else f" --model {a.model}"
    )
    lines = [
        f"Reproduce: `python -m benchmarks.bench_symbols{model_arg} --omniglot {a.omniglot}"
        f"{' --data-dir ' + a.data_dir if a.data_dir else ''}"
        f"{' --baseline ' + a.baseline if a.baseline else ''}`  ",
        f"{machine()}; ONNX Runtime CPU; {time.time() - t0:.0f} s.",
        "",
        f"Held-out Omniglot background alphabets (never trained on, never the evaluation set): "
        f"{', '.join(names)}; {np.unique(held.character).size} characters, {len(held.images):,} "
        f"drawings acquired by the app's preprocessing. These alphabets also chose the best "
        f"epoch and calibrated the `symbol_*` thresholds, so the figures are optimistic; the "
        f"independent test is the Omniglot evaluation alphabets, which the project does not have.",
        "",
        "| model | 20-way one-shot (95% CI) | 20-way 5-shot | EER | FRR @ FAR 1e-3 | FRR @ FAR 1e-4 | FRR @ FAR 1e-5 | default threshold | "
        "FAR / FRR at the default (symbol pairs) | symbols within the default of some digit profile |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in rows:
        s, o, dflt, five = r["summary"], r["one_shot"], r["at_default"], r["five_shot"]
        f3, f4, f5 = s["at_far"]["0.001"], s["at_far"]["0.0001"], s["at_far"]["1e-05"]
        lines.append(
            f"| {name} {r['fingerprint']} | {pct(o['accuracy'], 1)} ({pct(o['ci95'][0], 1)}–{pct(o['ci95'][1], 1)}; "
            f"{o['trials']} trials) | {pct(five['accuracy'], 1)} | {pct(s['eer'])} | "
            f"{pct(f3['frr'], 1)} ({f3['false_rejects']:,}/{f3['genuine']:,}) | "
            f"{pct(f4['frr'], 1)} | {pct(f5['frr'], 1)} ({f5['false_accepts']:,}/{f5['impostor']:,} accepted) | "
            f"{r['threshold']:.3f} (`{r['default_key']}`) | "
            f"{dflt['far']:.2e} ({dflt['false_accepts']:,}/{dflt['impostor']:,}) / {pct(dflt['frr'], 1)} | "
            f"{pct(r['lookalike_any_digit'], 1)} of drawings; {pct(r['lookalike_pairs'], 2)} of (drawing, profile) pairs |"
        )
    lines += [
        "",
        "20-way 5-shot: each character's references are drawings by 5 people (what enrollment gives), the "
        "query a sixth person's; nearest reference. Targets: 20-way one-shot ≥ 93%, EER ≤ 3%, "
        "FRR @ FAR 1e-3 ≤ 20%.",
    ]
    body = "\n".join(lines)
    print(body)
    if not a.no_write:
        write_section("symbols", "## Unseen symbols (held-out Omniglot alphabets)\n\n" + body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
