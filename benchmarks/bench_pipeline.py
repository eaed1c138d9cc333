"""Full-pipeline accuracy on camera-realistic frames: preprocessing -> ONNX model -> verifier.

Run as unlocks run (see training/camera_sim.py for the frames):
- profiles: for each digit, ``--enrollers`` writers (MNIST test images) each enrolled from
  5 frames of one capture session of their digit;
- genuine attempts: the same digit written by OTHER writers, each attempt a capture session of
  ``--frames`` consecutive frames (one sheet of paper, small hand jitter, fresh sensor noise);
- impostor attempts: every other digit's sessions against the profile;
- junk sessions (blank paper, uniform colour, noise, skin blobs, printed letters, shapes)
  against every profile.
Reported per threshold (the model's shipped default and its other MNIST calibrations, plus
thresholds chosen per frame on camera frames of further writers, never the evaluated ones):
FTA, FRR and FAR for single frames and for k-of-n attempts through the real Verifier, with
counts and 95% Wilson intervals.

    python -m benchmarks.bench_pipeline --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.camera_sim import JUNK_KINDS, render_digit, render_junk, session
from benchmarks.report import ci, machine, pct, write_section
from desktop_app.core.embedder import Embedder
from desktop_app.core.calibration import load_mnist_dir as load_mnist
from desktop_app.core.metrics import supports_far, threshold_at_far, wilson_interval
from desktop_app.core.preprocess import PreprocessConfig, preprocess
from desktop_app.core.store import Store
from desktop_app.core.verifier import Policy, Verifier, frame_distances

FPS = 15.0


PRE_CFG = PreprocessConfig()


def acquire(frames, embedder):
    """Preprocess + embed a session: (list of PreprocessResult, embeddings for the ok ones)."""
    res = [preprocess(f, PRE_CFG) for f in frames]
    ok = [r.image for r in res if r.ok]
    emb = embedder.embed_images(np.stack(ok)) if ok else np.zeros((0, embedder.dim), np.float32)
    return res, emb


def run_attempt(verifier: Verifier, results, embs) -> str:
    verifier.start_attempt(t=0.0)
    j = 0
    st = verifier.state
    for i, r in enumerate(results):
        e = None
        if r.ok:
            e = embs[j]
            j += 1
        st = verifier.feed_preprocessed(r, t=i / FPS, embedding=e)
        if st.final:
            return st.state
    return verifier.finish(t=len(results) / FPS).state


def rate_row(label, errors, n):
    lo, hi = wilson_interval(errors, n)
    return f"| {label} | {errors} / {n} | {pct(errors / n if n else 0.0, 3)} | {ci(lo, hi)} |"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data/mnist")
    ap.add_argument("--model", default=None, help="ONNX model (default: the shipped model)")
    ap.add_argument("--enrollers", type=int, default=3, help="profiles per digit")
    ap.add_argument("--writers", type=int, default=40, help="attempt sessions per digit")
    ap.add_argument("--frames", type=int, default=6, help="frames per attempt session")
    ap.add_argument("--junk", type=int, default=20, help="junk sessions per junk kind")
    ap.add_argument(
        "--calib-writers",
        type=int,
        default=20,
        help="sessions per digit by further writers, used only to choose camera-calibrated thresholds",
    )
    ap.add_argument(
        "--owner-sessions",
        type=int,
        default=4,
        help="new captures of each profile's own enrolled drawing (the owner unlocking)",
    )
    ap.add_argument("-k", type=int, default=2)
    ap.add_argument("-n", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--section", default="pipeline")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--no-filled-check",
        action="store_true",
        help="preprocessing as it was before the 'filled blob' check (for before/after)",
    )
    ap.add_argument("--only-default", action="store_true", help="only the shipped default threshold")
    a = ap.parse_args(argv)

    t_start = time.time()
    if a.no_filled_check:
        PRE_CFG.max_fill = float("inf")
    rng = np.random.default_rng(a.seed)
    x, y = load_mnist(a.data_dir, "test")
    emb = Embedder(a.model)
    c = emb.contract
    thresholds = {"shipped default (" + c.default_threshold_key + ")": c.default_threshold}
    for key in ("eer", "far_1e-3", "far_1e-4", "camera_far_1e-3", "camera_far_1e-4"):
        if key in c.thresholds and key != c.default_threshold_key:
            thresholds.setdefault(f"calibrated {key}", float(c.thresholds[key]["threshold"]))

    # writers: disjoint enrollers and attempt writers per digit
    enroll_idx, attempt_idx, calib_idx = {}, {}, {}
    for d in range(10):
        ids = rng.permutation(np.flatnonzero(y == d))
        enroll_idx[d] = ids[: a.enrollers]
        attempt_idx[d] = ids[a.enrollers : a.enrollers + a.writers]
        calib_idx[d] = ids[a.enrollers + a.writers : a.enrollers + a.writers + a.calib_writers]

    tmp = tempfile.mkdtemp(prefix="twinlock-bench-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
    store = Store(Path(tmp) / "bench.sqlite3")
    profiles = []  # (name, digit)
    owner = []  # (profile name, results, embeddings): the enrolled drawing in a new capture
    for d in range(10):
        for w, idx in enumerate(enroll_idx[d]):
            res, e = acquire(session(render_digit(x[idx], rng), rng, 5), emb)
            ok = [r for r in res if r.ok]
            if not ok:
                print(f"warning: enrollment of digit {d} writer {w} acquired nothing; skipped")
                continue
            name = f"d{d}w{w}"
            store.add_references(
                name,
                np.stack([r.image for r in ok]),
                [r.crop for r in ok],
                e,
                emb.fingerprint,
                create=True,
                source="bench",
            )
            profiles.append((name, d))
            for _ in range(a.owner_sessions):  # the owner shows the enrolled sheet again later
                owner.append((name, *acquire(session(render_digit(x[idx], rng), rng, a.frames), emb)))
    refs = {name: store.reference_embeddings(name, emb.fingerprint) for name, _ in profiles}

    # camera-calibrated thresholds: single-frame distances of FURTHER writers (not evaluated
    # below) to the same profiles -- what a per-profile calibration with live captures does
    if a.calib_writers:
        cg, ci_ = [], []
        for d in range(10):
            for i in calib_idx[d]:
                res, e = acquire(session(render_digit(x[int(i)], rng), rng, a.frames), emb)
                if len(e) == 0:
                    continue
                for name, pd in profiles:
                    (cg if pd == d else ci_).append(frame_distances(e, refs[name]))
        cg, ci_ = np.concatenate(cg), np.concatenate(ci_)
        for far in (1e-3, 1e-4):
            op = threshold_at_far(cg, ci_, far)
            thresholds[
                f"camera-calibrated FAR {far:g} per frame ({op.impostor:,} impostor / "
                f"{op.genuine:,} genuine frames of other writers{'' if supports_far(op.impostor, far) else ', too few to support it'})"
            ] = op.threshold

    if a.only_default:  # (the calibration frames above were still drawn: same frames as a full run)
        thresholds = dict(list(thresholds.items())[:1])

    # attempt sessions
    sessions = []  # (digit or None, kind, results, embs)
    todo = [(d, int(i)) for d in range(10) for i in attempt_idx[d]]
    for d, i in tqdm(todo, desc="digit sessions", unit="session"):
        res, e = acquire(session(render_digit(x[i], rng), rng, a.frames), emb)
        sessions.append((d, "digit", res, e))
    for kind in tqdm(JUNK_KINDS, desc="junk sessions", unit="kind"):
        for _ in range(a.junk):
            res, e = acquire(session(render_junk(kind, rng), rng, a.frames), emb)
            sessions.append((None, kind, res, e))

    digit_frames = sum(len(s[2]) for s in sessions if s[0] is not None)
    digit_fta = sum(sum(not r.ok for r in s[2]) for s in sessions if s[0] is not None)
    reasons = {}
    for s in sessions:
        if s[0] is not None:
            for r in s[2]:
                if not r.ok:
                    reasons[r.code] = reasons.get(r.code, 0) + 1
    junk_frames = sum(len(s[2]) for s in sessions if s[0] is None)
    junk_acq = sum(sum(r.ok for r in s[2]) for s in sessions if s[0] is None)

    # single-frame distances: every acquired frame against every profile
    gen_d, imp_d, junk_d = [], [], []
    for d, kind, res, e in sessions:
        if len(e) == 0:
            continue
        for name, pd in profiles:
            dist = frame_distances(e, refs[name])
            (junk_d if d is None else gen_d if d == pd else imp_d).append(dist)
    gen_d, imp_d = np.concatenate(gen_d), np.concatenate(imp_d)
    junk_d = np.concatenate(junk_d) if junk_d else np.zeros(0)

    lines = [
        f"Machine: {machine()}. Model: `{Path(emb.path).name}` (fingerprint {c.short_fingerprint}), "
        f"provider {emb.provider}.",
        "",
        f"Command: `python -m benchmarks.bench_pipeline --data-dir ../shared/data/mnist --enrollers {a.enrollers} "
        f"--writers {a.writers} --frames {a.frames} --junk {a.junk} --calib-writers {a.calib_writers} "
        f"--owner-sessions {a.owner_sessions}{' --no-filled-check' if a.no_filled_check else ''}"
        f"{' --only-default' if a.only_default else ''} --section {a.section} -k {a.k} -n {a.n} --seed {a.seed}`",
        "",
        f"{len(profiles)} profiles ({a.enrollers} writers × 10 digits, 5 enrollment frames each); "
        f"{10 * a.writers} digit sessions by other writers and {a.junk * len(JUNK_KINDS)} junk sessions, "
        f"{a.frames} frames each (640×480, camera_sim seed {a.seed}). Attempts: k={a.k} of the last n={a.n} "
        f"acquired frames within the threshold, at most {a.frames} frames; lockout disabled for the count.",
        "",
        "**Failure to acquire (single frames)**",
        "",
        "| frames | no symbol / frames | rate | 95% CI |",
        "|---|---|---|---|",
        rate_row("real digits", digit_fta, digit_frames),
        f"| junk (acquired as a symbol) | {junk_acq} / {junk_frames} | {pct(junk_acq / max(junk_frames, 1), 1)} | |",
        "",
        "Reasons on real digits: " + (", ".join(f"{k} {v}" for k, v in sorted(reasons.items())) or "none"),
        "",
    ]

    policy0 = Policy(
        k=a.k, n=a.n, time_limit_s=3600.0, max_frames=max(a.frames, a.n), lockout_after=10**9, lockout_base_s=0.0
    )
    for label, thr in thresholds.items():
        att = {"gen": [0, 0, 0], "imp": [0, 0], "junk": [0, 0]}  # gen: rejected, no_symbol, total
        junk_grants = {}  # kind -> profile digits it was granted for
        verifiers = {name: Verifier(store, emb, name, replace(policy0, threshold=thr)) for name, _ in profiles}
        own = [0, 0]
        for name, res, e in owner:
            own[0] += run_attempt(verifiers[name], res, e) != "granted"
            own[1] += 1
        for si, (d, kind, res, e) in enumerate(
            tqdm(sessions, desc=f"attempts @ {thr:.3f}", unit="session", leave=False)
        ):
            for pi, (name, pd) in enumerate(profiles):
                if d is not None and d != pd and (si + pi) % 3:
                    continue  # a third of the impostor pairings (the same third at every threshold)
                outcome = run_attempt(verifiers[name], res, e)
                if d is None:
                    if outcome == "granted":
                        junk_grants.setdefault(kind, []).append(pd)
                    att["junk"][0] += outcome == "granted"
                    att["junk"][1] += 1
                elif d == pd:
                    att["gen"][0] += outcome != "granted"
                    att["gen"][1] += outcome == "no_symbol"
                    att["gen"][2] += 1
                else:
                    att["imp"][0] += outcome == "granted"
                    att["imp"][1] += 1
        fr1 = int((gen_d > thr).sum())
        fa1 = int((imp_d <= thr).sum())
        ja1 = int((junk_d <= thr).sum())
        lines += [
            f"**Threshold {thr:.4f} — {label}**",
            "",
            "| measure | errors / trials | rate | 95% CI |",
            "|---|---|---|---|",
            rate_row("FRR, single frame (acquired genuine frames)", fr1, gen_d.size),
            rate_row("FAR, single frame (acquired impostor frames)", fa1, imp_d.size),
            rate_row("junk frames accepted, single frame", ja1, junk_d.size),
            rate_row(f"FRR per attempt, {a.k} of {a.n}: the owner's enrolled drawing, new capture", own[0], own[1]),
            rate_row(
                f"FRR per attempt, {a.k} of {a.n}: same digit by other writers "
                f"(incl. {att['gen'][1]} ending with no symbol)",
                att["gen"][0],
                att["gen"][2],
            ),
            rate_row(f"FAR per attempt, {a.k} of {a.n}", att["imp"][0], att["imp"][1]),
            rate_row("junk sessions granted", att["junk"][0], att["junk"][1]),
            "",
        ]
        if junk_grants:
            lines += [
                "Junk granted, by kind (profile digits it matched): "
                + "; ".join(
                    f"{k}: {len(v)} ({', '.join(str(x) for x in sorted(set(v)))})"
                    for k, v in sorted(junk_grants.items())
                ),
                "",
            ]

    # plots
    img_dir = Path("docs/img")
    img_dir.mkdir(parents=True, exist_ok=True)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from desktop_app.core.metrics import det_curve

        fig, ax = plt.subplots(1, 2, figsize=(11, 4))
        bins = np.linspace(0, max(gen_d.max(), imp_d.max()), 80)
        ax[0].hist(gen_d, bins, alpha=0.6, density=True, label=f"genuine frames ({gen_d.size})")
        ax[0].hist(imp_d, bins, alpha=0.6, density=True, label=f"impostor frames ({imp_d.size})")
        if junk_d.size:
            ax[0].hist(junk_d, bins, alpha=0.5, density=True, label=f"junk frames ({junk_d.size})")
        for label, thr in thresholds.items():
            ax[0].axvline(thr, ls="--", lw=1)
        ax[0].set_xlabel("distance to profile (nearest reference)")
        ax[0].legend(fontsize=8)
        ax[0].set_title("camera-realistic frames: distances")
        det = det_curve(gen_d, imp_d, 400)
        m = (det["far"] > 0) & (det["frr"] > 0)
        ax[1].loglog(det["far"][m], det["frr"][m])
        ax[1].set_xlabel("FAR (single frame)")
        ax[1].set_ylabel("FRR (single frame)")
        ax[1].grid(True, which="both", alpha=0.3)
        ax[1].set_title("DET, single frame")
        fig.tight_layout()
        if not a.no_write:
            fig.savefig(img_dir / f"{a.section}_distances_det.png", dpi=90)
        lines += [f"![distances and DET](img/{a.section}_distances_det.png)", ""]
    except Exception as exc:  # plotting is optional
        lines += [f"(plot skipped: {exc})", ""]
    lines += [f"Run time {time.time() - t_start:.0f} s."]
    title = "## Full pipeline on camera-realistic frames" + (
        " — BEFORE the filled-blob check (for comparison)" if a.no_filled_check else ""
    )
    body = title + "\n\n" + "\n".join(lines)
    print(body)
    if not a.no_write:
        print("wrote", write_section(a.section, body))
    store.close()


if __name__ == "__main__":
    main()
