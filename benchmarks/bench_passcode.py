"""Passcodes of several symbols, measured before they are built: how far does asking for 2 or
3 unseen symbols in order (each checked against its own references) get toward Windows Hello's
false-accept bar (below 1 in 100,000 with false rejects below 5%)? Writes the "passcode"
section of docs/benchmarks.md.

    python -m benchmarks.bench_passcode --omniglot runs/omniglot3.npz --model runs/fold0.onnx

Data: the Omniglot background alphabets the model held out of training (symbols it never saw),
clean drawings in model form (not camera frames). A *profile* of one symbol is a character
with references drawn by 5 people (what enrollment gives); the other drawers are probes. A
position matches when the nearest reference lies within the per-position threshold ``t``.

- Owner card (genuine): one probe drawer draws the profile's L characters; accepted when every
  position matches. FRR per card over all ordered L-tuples of distinct characters and every
  drawer who drew them all (the same hand on every position: its correlation is kept).
- Impostor card: one attacker drawer draws L characters, each different from the position's
  character (the attacker does not know the passcode; any held-out character, any alphabet);
  accepted when every position matches. Counted as every combination of that drawer's
  impostor drawings over the positions (ordered tuples of distinct profile characters): many
  millions of comparisons from a few thousand drawings. They share drawings, so they are not
  independent: the count overstates the evidence, as for every all-pairs figure here.
- Independence: the same-drawer FAR beside FAR_1(t)^L (what independent positions would give),
  and the Pearson correlation of the two positions' distances on random cards of one hand.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_symbols import held_out
from benchmarks.report import machine, pct, write_section
from desktop_app.core.paths import DEFAULT_MODEL
from export.calibrate import (
    PASSCODE_GRID,
    PASSCODE_REFS,
    PASSCODE_TARGET_FAR,
    passcode_counts,
    passcode_distances,
)

TARGET = PASSCODE_TARGET_FAR
REFS, GRID = PASSCODE_REFS, PASSCODE_GRID  # the export's own counting (export.calibrate.passcode_points)


def distances(e, char, drawer, seed=0):
    """(dist [profiles, drawings] nearest-reference distance, probe-usable mask, profile chars)."""
    return passcode_distances(e, char, drawer, refs=REFS, seed=seed)


def curve(dist, usable, char, drawer, chars, length):
    """FAR, FRR per card and the impostor / genuine card counts on GRID for passcodes of ``length``
    (each point counted by export.calibrate.passcode_counts, as the shipped points are)."""
    far, frr = [], []
    gen_n = imp_n = 0.0
    for t in GRID:
        fa, imp_n, ga, gen_n = passcode_counts(dist, usable, char, drawer, chars, float(t), length)
        far.append(fa / imp_n)
        frr.append(1 - ga / gen_n)
    return np.array(far), np.array(frr), imp_n, gen_n


def correlation(dist, usable, char, drawer, chars, seed=1, cards=200_000):
    """Pearson r of position-1 and position-2 distances on random impostor cards drawn by ONE
    hand, beside cards whose two positions are drawn by two different hands (r ~ 0 by design),
    and on owner cards (one hand drawing both of its characters)."""
    rng = np.random.default_rng(seed)
    drawers = np.unique(drawer)
    out = {}
    for name, same in (("one hand", True), ("two hands", False)):
        d1, d2 = [], []
        for _ in range(cards):
            c1, c2 = rng.choice(chars.size, 2, replace=False)
            q1 = rng.choice(drawers)
            q2 = q1 if same else rng.choice(drawers[drawers != q1])
            x1 = np.flatnonzero((drawer == q1) & (char != chars[c1]) & usable[c1])
            x2 = np.flatnonzero((drawer == q2) & (char != chars[c2]) & usable[c2])
            if x1.size and x2.size:
                d1.append(dist[c1, rng.choice(x1)])
                d2.append(dist[c2, rng.choice(x2)])
            if len(d1) >= cards // 10:
                break
        out[name] = float(np.corrcoef(d1, d2)[0, 1])
    g1, g2 = [], []
    for _ in range(cards // 10):
        c1, c2 = rng.choice(chars.size, 2, replace=False)
        q = rng.choice(drawers)
        x1 = np.flatnonzero((drawer == q) & (char == chars[c1]) & usable[c1])
        x2 = np.flatnonzero((drawer == q) & (char == chars[c2]) & usable[c2])
        if x1.size and x2.size:
            g1.append(dist[c1, x1[0]])
            g2.append(dist[c2, x2[0]])
    out["owner"] = float(np.corrcoef(g1, g2)[0, 1])
    return out


def at_target(far, frr, target=TARGET):
    """The largest threshold on GRID whose FAR <= target: (threshold, FAR, FRR) or None."""
    ok = np.flatnonzero(far <= target)
    if ok.size == 0:
        return None
    i = ok[-1]
    return float(GRID[i]), float(far[i]), float(frr[i])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--omniglot", required=True, help="converted background set (python -m training.omniglot)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    from desktop_app.core.contract import read_contract
    from desktop_app.core.embedder import Embedder

    t0 = time.time()
    held, names = held_out(read_contract(a.model), a.omniglot)
    emb = Embedder(Path(a.model), preference="cpu")
    e = np.concatenate([emb.embed_images(held.images[s : s + 512]) for s in range(0, len(held.images), 512)])
    char, drawer = np.asarray(held.character), np.asarray(held.drawer)
    dist, usable, chars = distances(e, char, drawer)
    rows, curves = [], {}
    for length in (1, 2, 3):
        far, frr, imp_n, gen_n = curve(dist, usable, char, drawer, chars, length)
        curves[length] = (far, frr)
        for target in (1e-3, 1e-4, 1e-5):
            if 3 / target > imp_n:
                continue
            p = at_target(far, frr, target)
            rows.append((length, target, p, imp_n, gen_n))
    corr = correlation(dist, usable, char, drawer, chars)
    far1 = curves[1][0]
    lines = [
        f"Reproduce: `python -m benchmarks.bench_passcode --omniglot {a.omniglot} --model {a.model}`  ",
        f"{machine()}; ONNX Runtime CPU; {time.time() - t0:.0f} s. Model {emb.contract.fingerprint[:12]}.",
        "",
        f"Held-out alphabets ({', '.join(names)}): {chars.size} characters, {len(e):,} clean drawings in model "
        f"form (not camera frames). A profile position: a character with {REFS} references by {REFS} drawers; "
        "probes are the other drawers. Owner card: one drawer draws every position (FRR per card). Impostor "
        "card: one attacker drawer draws, at each position, any character but the right one; every "
        "combination of that drawer's drawings is counted (comparisons share drawings). Per-position "
        "threshold: the largest on a 0.0025 grid whose measured card FAR is at or below the target.",
        "",
        "| symbols | target FAR per card | per-position threshold | measured FAR | owner FRR per card | "
        "impostor cards compared | owner cards |",
        "|---|---|---|---|---|---|---|",
    ]
    for length, target, p, imp_n, gen_n in rows:
        if p is None:
            lines.append(f"| {length} | {target:.0e} | none on the grid | | | {imp_n:,.0f} | {gen_n:,.0f} |")
            continue
        t, far, frr = p
        lines.append(f"| {length} | {target:.0e} | {t:.4f} | {far:.2e} | {pct(frr, 1)} | {imp_n:,.0f} | {gen_n:,.0f} |")
    lines += [
        "",
        "Independence of positions: same-hand card FAR against FAR₁(t)^L at the two-symbol threshold, and the "
        "correlation of the two positions' distances:",
        "",
    ]
    two = [r for r in rows if r[0] == 2 and r[1] == TARGET and r[2] is not None]
    if two:
        t = two[0][2][0]
        i = int(np.flatnonzero(np.isclose(GRID, t))[0])
        lines.append(
            f"- at t = {t:.4f}: one symbol FAR₁ = {far1[i]:.2e}, so independent positions would give "
            f"{far1[i] ** 2:.2e} for two; measured (one hand on both) {curves[2][0][i]:.2e}."
        )
    lines.append(
        f"- Pearson r of position distances: impostor cards by one hand {corr['one hand']:+.3f}, by two hands "
        f"{corr['two hands']:+.3f} (independent by design); owner cards {corr['owner']:+.3f}."
    )
    lines += [
        "",
        "What this does not measure: camera frames of a whole card (segmentation, k-of-n frames: see "
        '"Passcode attempts on camera-like cards", `python -m benchmarks.bench_passcode_attempts`), the owner '
        "re-drawing their own symbol (here another person's drawing of the character: an upper bound of the "
        "owner's FRR), an attacker who has seen the card. The per-position thresholds found here, counted the "
        "same way by `export/calibrate.passcode_points`, are the shipped model's passcode points "
        "(`twinlock model calibrate-passcode`).",
    ]
    body = "\n".join(lines)
    print(body)
    if not a.no_write:
        write_section(
            "passcode", "## Passcodes of several symbols (clean drawings; the per-position points)\n\n" + body
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
