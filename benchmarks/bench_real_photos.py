"""Real phone photos of handwritten digits through the image-file path, and what the model
makes of them.

``../shared/data/real_photos`` (70 photos, 7 writers x the digits 0-9, see its README; never
committed, never needed by the tests) goes through ``prepare_image(load_image(path))``, the
path of ``twinlock enroll IMAGE``, ``verify --image`` and the wizard's import. Measured:

- failure to acquire (FTA), by reason and by writer;
- the 28x28 results as a contact sheet (``docs/img/real_photos_sheet.png``: one row per
  writer, digits 0-9; a red cross where nothing was acquired);
- nearest-other-writer labelling: every acquired photo is embedded with the model, and
  labelled with the digit of its nearest photo among the OTHER writers' (each of them
  enrolled one-shot): the share labelled right.

    python -m benchmarks.bench_real_photos [--photos ../shared/data/real_photos] [--model M.onnx]
                                          [--write docs/benchmarks.md] [--before REV]

``--before REV`` runs the single-module ``prepare_image`` of an older commit (e.g. bec5a77, the
last before preprocessing became named steps) for the before/after row.
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np


def _rel(p) -> str:
    from desktop_app.core.paths import REPO_ROOT

    try:
        return str(Path(p).resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(p)


def _old_prepare(rev: str):
    """``prepare_image`` of desktop_app/core/preprocess.py at git ``rev`` (before the package)."""
    from benchmarks.preprocess_fta import _old_module

    return _old_module(rev).prepare_image


def contact_sheet(results, writers, path: Path) -> None:
    """One row per writer, digits 0-9, each 28x28 result scaled 3x; red cross: not acquired."""
    cell = 28 * 3 + 4
    sheet = np.full((cell * len(writers), cell * 10, 3), 60, np.uint8)
    for r_i, wtr in enumerate(writers):
        for d in range(10):
            y0, x0 = r_i * cell + 2, d * cell + 2
            res = results.get((wtr, d))
            if res is not None and res.ok:
                big = cv2.resize(res.image, (84, 84), interpolation=cv2.INTER_NEAREST)
                sheet[y0 : y0 + 84, x0 : x0 + 84] = big[..., None]
            else:
                cv2.line(sheet, (x0, y0), (x0 + 83, y0 + 83), (0, 0, 220), 2)
                cv2.line(sheet, (x0 + 83, y0), (x0, y0 + 83), (0, 0, 220), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", sheet)
    from desktop_app.core.paths import atomic_write_bytes

    atomic_write_bytes(path, buf.tobytes())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", default="../shared/data/real_photos")
    ap.add_argument("--model", default=None)
    ap.add_argument("--write", default="", help="markdown file whose real-photos section to (re)write")
    ap.add_argument("--sheet", default="docs/img/real_photos_sheet.png")
    ap.add_argument("--before", default="", help="git revision whose single-module prepare_image to run")
    a = ap.parse_args(argv)

    from desktop_app.core.embedder import Embedder
    from desktop_app.core.metrics import pairwise_distances
    from desktop_app.core.preprocess import load_image, prepare_image

    prep = _old_prepare(a.before) if a.before else prepare_image
    root = Path(a.photos)
    manifest = root / "manifest.csv"
    if not manifest.is_file():
        raise SystemExit(f"no {manifest}: point --photos at the real_photos folder")
    rows = list(csv.DictReader(manifest.open()))
    results, codes, per_writer = {}, Counter(), defaultdict(Counter)
    for r in rows:
        res = prep(load_image(root / r["file"]))
        key = (r["source"], int(r["label"]))
        results[key] = res
        codes[res.code] += 1
        per_writer[r["source"]][res.code] += 1
    writers = sorted(per_writer)
    n = len(rows)
    n_fail = n - codes["ok"]
    print(
        f"{n} photos, FTA {n_fail} = {100.0 * n_fail / n:.1f}%  "
        + ", ".join(f"{c} {k}" for c, k in codes.most_common() if c != "ok")
    )
    for wtr in writers:
        c = per_writer[wtr]
        print(
            f"  {wtr:24s} acquired {c['ok']}/{sum(c.values())}  "
            + ", ".join(f"{k} {v}" for k, v in c.items() if k != "ok")
        )

    emb = Embedder(a.model)
    keys = [k for k, v in results.items() if v.ok]
    e = emb.embed_images(np.stack([results[k].image for k in keys]))
    d = pairwise_distances(e, e)
    src = np.array([k[0] for k in keys])
    lab = np.array([k[1] for k in keys])
    right, wrong = 0, []
    for i in range(len(keys)):
        other = src != src[i]
        j = np.flatnonzero(other)[int(np.argmin(d[i, other]))]
        if lab[j] == lab[i]:
            right += 1
        else:
            wrong.append(f"{keys[i][0]}/{keys[i][1]}->{lab[j]}")
    acc = right / max(1, len(keys))
    print(
        f"nearest other writer's photo has the same digit: {right}/{len(keys)} = {100 * acc:.1f}% "
        f"(model {emb.fingerprint[:12]})"
    )
    if wrong:
        print("  wrong: " + ", ".join(wrong))
    if not a.before:
        contact_sheet(results, writers, Path(a.sheet))
        print(f"contact sheet: {a.sheet}")
    if a.write:
        from benchmarks.report import write_section

        cmd = (
            "python -m benchmarks.bench_real_photos"
            + (f" --before {a.before}" if a.before else "")
            + (f" --model {_rel(a.model)}" if a.model else "")
        )
        why = ", ".join(f"{c} {k}" for c, k in codes.most_common() if c != "ok") or "-"
        lines = [
            f"Real photos{' at ' + a.before if a.before else ''} (`{_rel(root)}`, {n} phone photos, "
            f"{len(writers)} writers; image-file path `prepare_image(load_image(path))`): `{cmd}`",
            "",
            f"- FTA: **{100.0 * n_fail / n:.1f}%** ({n_fail} of {n}; {why})",
            f"- nearest photo of another writer has the same digit (one-shot, model "
            f"{emb.fingerprint[:12]}): **{100 * acc:.1f}%** ({right} of {len(keys)} acquired)",
            "",
            "| writer | acquired | refused (reasons) |",
            "|---|---|---|",
        ]
        for wtr in writers:
            c = per_writer[wtr]
            lines.append(
                f"| {wtr} | {c['ok']}/{sum(c.values())} | "
                f"{', '.join(f'{k} {v}' for k, v in c.items() if k != 'ok') or '-'} |"
            )
        if wrong:
            lines += ["", "Labelled wrong: " + ", ".join(wrong)]
        if not a.before:
            lines += [
                "",
                f"The 28x28 results, one row per writer, digits 0-9: ![real photos]({Path(a.sheet).relative_to('docs') if a.sheet.startswith('docs/') else a.sheet})",
            ]
        write_section("real_photos_before" if a.before else "real_photos", "\n".join(lines), Path(a.write))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
