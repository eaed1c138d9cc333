"""Whole unlock attempts with personal symbols the model never saw: characters of the
held-out Omniglot alphabets, drawn on paper and filmed by ``training.camera_sim``, through the
real preprocessing, ONNX Runtime and the real ``Verifier`` (k of the first n acquired frames);
writes the "symbol_attempts" section of docs/benchmarks.md.

    python -m benchmarks.bench_symbol_attempts --omniglot runs/omniglot3.npz

Per profile: one character of a held-out alphabet, enrolled by one drawer from 5 frames of one
capture. Attempts (one capture each, ``--frames`` frames):
- the owner shows the enrolled drawing again (a new capture): the owner's false-reject rate
  when the drawing itself does not change (a lower bound: a real owner redraws it);
- another person draws the same character: how a drawing by another hand fares (an upper
  bound for the owner's redrawing, and what someone who has seen the symbol achieves);
- another character of the same alphabet (the hardest impostors: a look-alike script);
- a digit (MNIST test): someone who tries digits.
Each at the model's default threshold and at its calibrated unseen-symbol points.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_pipeline import acquire, run_attempt
from benchmarks.bench_symbols import held_out
from benchmarks.report import ci, machine, pct, write_section
from desktop_app.core.embedder import Embedder
from desktop_app.core.metrics import wilson_interval
from desktop_app.core.store import Store
from desktop_app.core.verifier import Policy, Verifier
from training.camera_sim import render_digit, session


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(ROOT / "assets/models/twinlock-default.onnx"))
    ap.add_argument("--omniglot", required=True, help="converted background set (python -m training.omniglot)")
    ap.add_argument("--data-dir", default="../shared/data/mnist", help="MNIST (test digits as impostors)")
    ap.add_argument("--per-alphabet", type=int, default=10, help="profiles (characters) per held-out alphabet")
    ap.add_argument("--impostors", type=int, default=6, help="other characters of its alphabet tried per profile")
    ap.add_argument("--digits", type=int, default=15, help="digit sessions (MNIST test), each tried on every profile")
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("-k", type=int, default=2)
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    from desktop_app.core.calibration import load_mnist_dir
    from desktop_app.core.contract import read_contract

    t0 = time.time()
    rng = np.random.default_rng(a.seed)
    held, names = held_out(read_contract(a.model), a.omniglot)
    xd, _ = load_mnist_dir(a.data_dir, "test")
    emb = Embedder(Path(a.model), preference="cpu")
    c = emb.contract
    thresholds = {f"default ({c.default_threshold_key})": c.default_threshold}
    for key in ("symbol_far_1e-3", "symbol_camera_far_1e-3", "symbol_far_1e-4"):
        if key in c.thresholds and key != c.default_threshold_key:
            thresholds[key] = float(c.thresholds[key]["threshold"])

    store = Store(Path(tempfile.mkdtemp(prefix="twinlock-symbols-")) / "bench.sqlite3")
    profiles = []  # (name, character, alphabet, drawer, owner session, other-hand session)
    by_alpha = {}
    for al in np.unique(held.alphabet):
        chars = rng.permutation(np.unique(held.character[held.alphabet == al]))
        by_alpha[int(al)] = chars
        for ch in chars[: a.per_alphabet]:
            rows = rng.permutation(np.flatnonzero(held.character == ch))
            if rows.size < 2:
                continue
            mine, other = int(rows[0]), int(rows[1])
            res, e = acquire(session(render_digit(held.images[mine], rng), rng, 5), emb)
            ok = [r for r in res if r.ok]
            if not ok:
                continue
            name = f"c{int(ch)}"
            store.add_references(
                name, np.stack([r.image for r in ok]), [r.crop for r in ok], e, emb.fingerprint, create=True
            )
            own = acquire(session(render_digit(held.images[mine], rng), rng, a.frames), emb)
            hand = acquire(session(render_digit(held.images[other], rng), rng, a.frames), emb)
            profiles.append((name, int(ch), int(al), own, hand))
    imp_sessions = {}  # profile -> [sessions of other characters of its alphabet]
    for name, ch, al, _, _ in profiles:
        others = [o for o in by_alpha[al] if o != ch][: a.impostors]
        imp_sessions[name] = [
            acquire(
                session(
                    render_digit(held.images[int(rng.choice(np.flatnonzero(held.character == o)))], rng), rng, a.frames
                ),
                emb,
            )
            for o in others
        ]
    digit_sessions = [
        acquire(session(render_digit(xd[int(i)], rng), rng, a.frames), emb)
        for i in rng.choice(len(xd), a.digits, replace=False)
    ]
    policy0 = Policy(
        k=a.k, n=a.n, time_limit_s=3600.0, max_frames=max(a.frames, a.n), lockout_after=10**9, lockout_base_s=0.0
    )

    def row(label, bad, n, what):
        lo, hi = wilson_interval(bad, n)
        return f"| {label} | {what} {bad} / {n} = {pct(bad / n if n else 0, 1)} | {ci(lo, hi)} |"

    lines = [
        f"Machine: {machine()}. Model: `{Path(a.model).name}` (fingerprint {c.short_fingerprint}), provider "
        f"{emb.provider}. Command: `python -m benchmarks.bench_symbol_attempts --model {a.model} --omniglot "
        f"{a.omniglot} --per-alphabet {a.per_alphabet} --impostors {a.impostors} --digits {a.digits} --frames "
        f"{a.frames} -k {a.k} -n {a.n} --seed {a.seed}`; {{secs}} s.",
        "",
        f"{len(profiles)} profiles: characters of the held-out alphabets ({', '.join(names)}), each enrolled "
        f"by one drawer from 5 camera-like frames (training.camera_sim, through the app's preprocessing). An "
        f"attempt is one capture of {a.frames} frames; granted when {a.k} of its first {a.n} acquired frames "
        "are within the threshold of the nearest reference (the real Verifier).",
        "",
    ]
    for label, thr in thresholds.items():
        vs = {name: Verifier(store, emb, name, replace(policy0, threshold=thr)) for name, *_ in profiles}
        own = sum(run_attempt(vs[n], *o) != "granted" for n, _, _, o, _ in profiles)
        hand = sum(run_attempt(vs[n], *h) == "granted" for n, _, _, _, h in profiles)
        imp = [run_attempt(vs[n], *s) == "granted" for n, *_ in profiles for s in imp_sessions[n]]
        dig = [run_attempt(vs[n], *s) == "granted" for n, *_ in profiles for s in digit_sessions]
        lines += [
            f"**At {label}: threshold {thr:.3f}**",
            "",
            "| attempt | result | 95% CI |",
            "|---|---|---|",
            row("the owner shows the enrolled drawing again (new capture)", own, len(profiles), "rejected"),
            row("another person draws the same character", hand, len(profiles), "granted"),
            row("another character of the same alphabet", int(sum(imp)), len(imp), "granted"),
            row("a digit", int(sum(dig)), len(dig), "granted"),
            "",
        ]
    body = "\n".join(lines).replace("{secs}", f"{time.time() - t0:.0f}")
    print(body)
    if not a.no_write:
        write_section("symbol_attempts", "## Unlock attempts with unseen symbols (camera-like frames)\n\n" + body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
