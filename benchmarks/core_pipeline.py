"""Frame pipeline speed and camera-frame accuracy of the runtime core.

Frames come from :mod:`training.camera_sim` (MNIST test digits drawn on paper as a webcam
would see them, plus junk frames). Measured:

- preprocessing time per frame (median, p90) at 640x480 and 1280x720;
- one frame through the whole pipeline: preprocess + embed (batch 1) + distance to a
  5-reference profile + decision (``Verifier.feed_preprocessed``), median and p90;
- failure-to-acquire rate on digit frames, and how often junk frames are (wrongly) accepted
  as a symbol;
- per-frame accept rates on camera frames at the model's default threshold: each label is a
  profile enrolled from 5 camera frames of that label; genuine = other frames of the label,
  impostor = frames of the other labels;
- whole attempts through the verifier: a drawing enrolled from 5 captures, then attempts of 3
  fresh captures of the same drawing, of another digit, and of the same digit by another writer.

    python -m benchmarks.core_pipeline --count 300 --drawings 60 [--model M.onnx] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from training.camera_sim import JUNK_KINDS, render_digit, render_junk


def _rel(p) -> str:
    from desktop_app.core.paths import REPO_ROOT

    try:
        return str(Path(p).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


def _ms(fn, *a):
    t = time.perf_counter()
    out = fn(*a)
    return out, (time.perf_counter() - t) * 1000.0


def attempts(emb, x, y, rng, drawings: int) -> dict:
    """Granted counts of whole attempts: genuine, other digit, same digit by another writer."""
    import tempfile

    from desktop_app.core.preprocess import preprocess
    from desktop_app.core.store import Store
    from desktop_app.core.verifier import Policy, Verifier

    def captures(img, n):
        out = [preprocess(render_digit(img, rng)) for _ in range(n)]
        return [r for r in out if r.ok]

    pick = rng.choice(len(x), drawings, replace=False)
    counts = {"genuine": [0, 0], "other_digit": [0, 0], "same_digit": [0, 0]}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "attempts.sqlite3")
        pol = Policy(lockout_after=10**6)
        for j, i in enumerate(pick):
            refs = captures(x[i], 5)
            if len(refs) < 2:
                continue
            imgs = np.stack([r.image for r in refs])
            name = f"p{j}"
            store.add_references(name, imgs, None, emb.embed_images(imgs), emb.fingerprint, create=True)
            ver = Verifier(store, emb, name, pol)
            same = np.flatnonzero((y == y[i]) & (np.arange(len(y)) != i))
            other = np.flatnonzero(y != y[i])
            for kind, src in (
                ("genuine", i),
                ("same_digit", int(rng.choice(same))),
                ("other_digit", int(rng.choice(other))),
            ):
                ver.start_attempt(t=0)
                st = ver.state
                for f_i, r in enumerate(captures(x[src], 3)):
                    st = ver.feed_preprocessed(r, t=0.1 * (f_i + 1))
                    if st.final:
                        break
                if not st.final:
                    st = ver.finish(t=1.0)
                counts[kind][0] += int(st.state == "granted")
                counts[kind][1] += 1
        store.close()
    return counts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=300, help="digit frames (default 300)")
    ap.add_argument("--junk", type=int, default=10, help="junk frames per kind (default 10)")
    ap.add_argument("--model", default=None, help="ONNX model (default: the shipped one)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--drawings", type=int, default=40, help="drawings for whole-attempt figures")
    ap.add_argument("--write", default=None, help="update the core section of this markdown file")
    a = ap.parse_args(argv)

    import tempfile

    from desktop_app.core.calibration import load_mnist_dir
    from desktop_app.core.embedder import Embedder
    from desktop_app.core.metrics import wilson_interval
    from desktop_app.core.paths import mnist_dir
    from desktop_app.core.preprocess import preprocess
    from desktop_app.core.store import Store
    from desktop_app.core.verifier import Policy, Verifier, frame_distances

    x, y = load_mnist_dir(mnist_dir(a.data_dir), "test")
    rng = np.random.default_rng(a.seed)
    idx = rng.choice(len(x), a.count, replace=False)
    frames = [render_digit(x[i], rng) for i in idx]
    labels = y[idx]

    import cv2

    results = [preprocess(f) for f in frames]
    # timings: the machine may be shared, so each is the lowest of 3 passes' medians (and p90s)
    passes = [[_ms(preprocess, f)[1] for f in frames[:150]] for _ in range(3)]
    pre_ms = min(passes, key=np.median)
    hd = [cv2.resize(f, (1280, 720)) for f in frames[:100]]
    hd_ms = min(([_ms(preprocess, f)[1] for f in hd] for _ in range(3)), key=np.median)
    ok = np.array([r.ok for r in results])
    junk_ok = 0
    n_junk = 0
    for kind in JUNK_KINDS:
        for _ in range(a.junk):
            junk_ok += int(preprocess(render_junk(kind, rng)).ok)
            n_junk += 1

    emb = Embedder(a.model, "cpu")
    # profiles: per label, 5 good frames as references; the rest are probes
    good = np.flatnonzero(ok)
    imgs = np.stack([results[i].image for i in good])
    vecs = emb.embed_images(imgs)
    lab = labels[good]
    refs, probes = {}, []
    for c in np.unique(lab):
        ids = np.flatnonzero(lab == c)
        refs[c] = vecs[ids[:5]]
        probes.extend(ids[5:])
    thr = emb.contract.default_threshold
    gen = imp = gen_acc = imp_acc = 0
    for j in probes:
        for c, r in refs.items():
            d = float(frame_distances(vecs[j], r)[0])
            if c == lab[j]:
                gen += 1
                gen_acc += d <= thr
            else:
                imp += 1
                imp_acc += d <= thr

    # whole frame pipeline through the verifier, one frame at a time
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.sqlite3")
        c0 = int(lab[0])
        store.add_references("bench", imgs[lab == c0][:5], None, vecs[lab == c0][:5], emb.fingerprint, create=True)
        ver = Verifier(store, emb, "bench", Policy(k=60, n=60, max_frames=100000, time_limit_s=1e9))
        runs = []
        for _ in range(3):
            ver.start_attempt(t=0)
            pipe = []
            for i, f in enumerate(frames[:150]):
                t = time.perf_counter()
                ver.feed(f, t=i * 0.01)
                pipe.append((time.perf_counter() - t) * 1000.0)
                if ver.state.final:
                    ver.start_attempt(t=i * 0.01)
            ver.finish(reason="cancelled")
            runs.append(pipe)
        pipe = min(runs, key=np.median)
        store.close()

    att = attempts(emb, x, y, rng, a.drawings)

    fta = 1 - ok.mean()
    frr = 1 - gen_acc / max(gen, 1)
    far = imp_acc / max(imp, 1)
    lines = [
        f"Core frame pipeline (`python -m benchmarks.core_pipeline --count {a.count} --drawings {a.drawings}`), "
        "CPU, 1 ORT thread; frames from `training/camera_sim.py` (MNIST test digits as a webcam sees them). "
        "Times: the lowest of 3 passes' median (p90) over 150 frames, on a shared 2-core machine "
        f"(load average {os.getloadavg()[0]:.1f} at the end).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| preprocess 640x480, median / p90 | {np.median(pre_ms):.2f} / {np.percentile(pre_ms, 90):.2f} ms |",
        f"| preprocess 1280x720, median / p90 | {np.median(hd_ms):.2f} / {np.percentile(hd_ms, 90):.2f} ms |",
        f"| whole frame (preprocess + embed + distance + decision), median / p90 | {np.median(pipe):.2f} / "
        f"{np.percentile(pipe, 90):.2f} ms |",
        f"| failure to acquire on digit frames | {fta:.1%} ({int((~ok).sum())}/{len(ok)}) |",
        f"| junk frames taken as a symbol (then judged by distance) | {junk_ok}/{n_junk} |",
        f"| per-frame FRR at the default threshold {thr:.3f} | {frr:.2%} ({gen - gen_acc}/{gen}, 95% CI "
        f"{wilson_interval(gen - gen_acc, gen)[0]:.2%}-{wilson_interval(gen - gen_acc, gen)[1]:.2%}) |",
        f"| per-frame FAR at the default threshold | {far:.3%} ({imp_acc}/{imp}, 95% CI "
        f"{wilson_interval(imp_acc, imp)[0]:.3%}-{wilson_interval(imp_acc, imp)[1]:.3%}) |",
        "",
        f"Model: `{_rel(emb.path)}` (fingerprint {emb.contract.short_fingerprint}). Profiles: 5 camera frames per "
        "label; genuine = the other frames of the label, impostor = frames of other labels. Junk kinds: "
        + ", ".join(JUNK_KINDS)
        + " (letters and shapes are plausible symbols; a digit-like one, e.g. a circle for 0 or B for 8, can be granted: see the full-pipeline section for how often).",
        "",
        "Whole unlock attempts (the verifier's default policy: 2 of the last 3 acquired frames within "
        f"the threshold, 10 s). {a.drawings} drawings (MNIST test digits), each enrolled from 5 captures; "
        "an attempt shows 3 fresh captures of one drawing:",
        "",
        "| attempt | granted |",
        "|---|---|",
        f"| the enrolled drawing (genuine) | {att['genuine'][0]}/{att['genuine'][1]} |",
        f"| a drawing of another digit (impostor) | {att['other_digit'][0]}/{att['other_digit'][1]} |",
        f"| another writer's drawing of the SAME digit | {att['same_digit'][0]}/{att['same_digit'][1]} |",
        "",
        "The last row is by design: the shipped model learned digit identity from MNIST, not "
        "handwriting identity, so a symbol should be one that others will not draw alike.",
    ]
    text = "\n".join(lines)
    print(text)
    if a.write:
        p = Path(a.write)
        doc = p.read_text() if p.exists() else "# Benchmarks\n"
        start, end = "<!-- core:start -->", "<!-- core:end -->"
        block = f"{start}\n## Runtime core\n\n{text}\n{end}"
        if start in doc and end in doc:
            doc = doc[: doc.index(start)] + block + doc[doc.index(end) + len(end) :]
        else:
            doc = doc.rstrip("\n") + "\n\n" + block + "\n"
        p.write_text(doc)


if __name__ == "__main__":
    main()
