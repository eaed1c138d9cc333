"""What the attempt rule costs and buys, on camera-like frames through the real Verifier.

An attempt is decided on its first n acquired frames, and a change of symbol inside it (a
match next to a miss, farther apart than ``change_factor`` x threshold) is a denial. Compared
here with the same Verifier without the change rule (``change_factor`` huge) and with the
previous sliding k-of-last-n window (re-implemented on the same distances, for the before row):

- owner: the enrolled drawing shown again (a new capture session);
- other writer: the same digit written by someone else;
- impostor: another digit;
- switch: one frame of another digit, then the profile's digit (another writer) -- a guesser
  trying two symbols in one attempt.

    python -m benchmarks.bench_attempt_rule --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.report import machine, write_section
from desktop_app.core.calibration import load_mnist_dir
from desktop_app.core.embedder import Embedder
from desktop_app.core.metrics import wilson_interval
from desktop_app.core.preprocess import preprocess
from desktop_app.core.store import Store
from desktop_app.core.verifier import Policy, Verifier, frame_distances
from training.camera_sim import render_digit, session


def acquire(frames, emb):
    res = [preprocess(f) for f in frames]
    ok = [r for r in res if r.ok]
    e = emb.embed_images(np.stack([r.image for r in ok])) if ok else np.zeros((0, emb.dim), np.float32)
    return ok, e


def sliding(dist, thr, k, n) -> str:
    m = list(np.asarray(dist) <= thr)
    for i in range(len(m)):
        if sum(m[max(0, i - n + 1) : i + 1]) >= k:
            return "granted"
    return "denied" if m else "no_symbol"


def run_verifier(store, emb, name, pol, ok, e) -> str:
    v = Verifier(store, emb, name, pol)
    st = v.start_attempt(t=0.0)
    for i, (r, x) in enumerate(zip(ok, e, strict=True)):
        st = v.feed_preprocessed(r, t=0.05 * (i + 1), embedding=x)
        if st.final:
            return st.state
    return v.finish(t=1.0).state


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/mnist")
    ap.add_argument("--model", default=None)
    ap.add_argument("--enrollers", type=int, default=2, help="profiles per digit")
    ap.add_argument("--writers", type=int, default=12, help="other-writer sessions per profile")
    ap.add_argument("--owner-sessions", type=int, default=3)
    ap.add_argument("--impostors", type=int, default=4, help="impostor and switch sessions per profile")
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("-k", type=int, default=2)
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    rng = np.random.default_rng(a.seed)
    x, y = load_mnist_dir(a.data_dir, "test")
    emb = Embedder(a.model, "cpu")
    thr = emb.contract.default_threshold
    tmp = tempfile.mkdtemp(prefix="twinlock-rule-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    store = Store(Path(tmp) / "rule.sqlite3")
    rules = {
        "first n + change rule (shipped)": Policy(k=a.k, n=a.n, threshold=thr, lockout_after=100),
        "first n, no change rule": Policy(k=a.k, n=a.n, threshold=thr, lockout_after=100, change_factor=10.0),
    }
    counts: dict = {}

    def add(kind, rule, outcome):
        c = counts.setdefault((kind, rule), {"granted": 0, "total": 0})
        c["total"] += 1
        c["granted"] += outcome == "granted"

    for d in range(10):
        ids = rng.permutation(np.flatnonzero(y == d))
        for w in range(a.enrollers):
            ok, e = acquire(session(render_digit(x[ids[w]], rng), rng, 5), emb)
            if not ok:
                continue
            name = f"d{d}w{w}"
            store.add_references(name, np.stack([r.image for r in ok]), None, e, emb.fingerprint, create=True)
            refs = store.reference_embeddings(name, emb.fingerprint)
            trials = [("owner", ids[w], None) for _ in range(a.owner_sessions)]
            trials += [("other writer", i, None) for i in ids[a.enrollers : a.enrollers + a.writers]]
            others = [o for o in range(10) if o != d]
            for j in range(a.impostors):
                o = others[(w * a.impostors + j) % len(others)]
                oid = int(rng.choice(np.flatnonzero(y == o)))
                trials.append(("impostor", oid, None))
                trials.append(("switch", int(ids[a.enrollers + j]), oid))
            for kind, idx, wrong in trials:
                frames = session(render_digit(x[idx], rng), rng, a.frames)
                if wrong is not None:  # one frame of the wrong digit first
                    frames = session(render_digit(x[wrong], rng), rng, 1) + frames[:-1]
                ok_f, e_f = acquire(frames, emb)
                if not ok_f:
                    continue
                for rule, pol in rules.items():
                    add(kind, rule, run_verifier(store, emb, name, pol, ok_f, e_f))
                add(kind, "sliding k of last n (before)", sliding(frame_distances(e_f, refs), thr, a.k, a.n))
    store.close()

    kinds = ["owner", "other writer", "impostor", "switch"]
    rule_names = ["sliding k of last n (before)", *rules]
    lines = [
        "## The attempt rule: first n frames, a change of symbol is a denial",
        "",
        f"Machine: {machine()}. Model `{Path(emb.path).name}` ({emb.contract.short_fingerprint}), "
        f"threshold {thr:.3f} (the shipped default), {a.k} of {a.n} frames, camera-like sessions of "
        f"{a.frames} frames (training/camera_sim.py) of MNIST test digits; {a.enrollers} profiles per digit.",
        "",
        "Command: `python -m benchmarks.bench_attempt_rule --data-dir ../shared/data/mnist`",
        "",
        "| attempts granted | " + " | ".join(rule_names) + " |",
        "|---|" + "---|" * len(rule_names),
    ]
    for kind in kinds:
        cells = []
        for rule in rule_names:
            c = counts.get((kind, rule), {"granted": 0, "total": 0})
            lo, hi = wilson_interval(c["granted"], c["total"]) if c["total"] else (0.0, 0.0)
            cells.append(
                f"{c['granted']} / {c['total']} = {100 * c['granted'] / max(1, c['total']):.1f}% "
                f"[{100 * lo:.1f}, {100 * hi:.1f}]"
            )
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Owner and other-writer rows are wanted grants (higher is better); impostor and switch "
        'rows are false accepts (lower is better). 95% Wilson intervals in brackets. "switch": one '
        "frame of another digit, then the profile's digit — two guesses in one attempt, which the "
        "sliding window and the first-n rule without the change rule can grant.",
    ]
    body = "\n".join(lines)
    print(body)
    if not a.no_write:
        print("wrote", write_section("attempt_rule", body))


if __name__ == "__main__":
    main()
