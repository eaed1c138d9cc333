"""The model card: a markdown page beside a model, written from the model file's own contract
(so the card cannot disagree with the file) plus the figures of ``twinlock evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

from desktop_app.core.contract import read_contract


def _pct(x) -> str:
    try:
        return f"{float(x) * 100:.3f}%"
    except (TypeError, ValueError):
        return str(x)


def _flatten(d, prefix="") -> list[tuple[str, object]]:
    rows = []
    if isinstance(d, dict):
        for k, v in d.items():
            rows += _flatten(v, f"{prefix}{k}.")
        return rows
    return [(prefix.rstrip("."), d)]


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)) and len(v) > 12:
        return f"[{len(v)} values]"
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def figures_table(d: dict) -> str:
    rows = [(k, v) for k, v in _flatten(d) if not (isinstance(v, (list, tuple)) and len(v) > 12)]
    return "\n".join(["| figure | value |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in rows])


def evaluation_section(ev: dict) -> str:
    """The headline figures of ``twinlock evaluate`` (its JSON), then every figure."""
    out = []
    ap = ev.get("all_pairs") if isinstance(ev, dict) else None
    if isinstance(ap, dict) and "eer" in ap:
        rows = ["| figure (MNIST test set) | value |", "|---|---|"]
        if "pair_accuracy" in ev:
            rows.append(
                f"| pair accuracy (seed protocol, {ev.get('test_pairs', '?'):,} pairs, threshold "
                f"{float(ev.get('threshold', float('nan'))):.4f} chosen on validation pairs) | "
                f"{_pct(ev['pair_accuracy'])} |"
            )
        rows.append(f"| ROC AUC (all pairs) | {float(ap.get('roc_auc', float('nan'))):.6f} |")
        rows.append(f"| EER (all pairs) | {_pct(ap['eer'])} |")
        for k, op in (ap.get("at_far") or {}).items():
            sup = "" if op.get("supported", True) else " (too few impostor pairs to support)"
            rows.append(f"| FRR at FAR {k} | {_pct(op['frr'])}{sup} |")
        if "nn_accuracy" in ev:
            rows.append(f"| 1-NN digit accuracy vs the training gallery | {_pct(ev['nn_accuracy'])} |")
        rows.append(f"| comparisons | {int(ap.get('genuine', 0)):,} genuine, {int(ap.get('impostor', 0)):,} impostor |")
        out += rows + [""]
    for key, title in (
        ("omniglot", "Unseen symbols: the {n} Omniglot background alphabets held out of training"),
        (
            "omniglot_out_of_fold",
            "Unseen symbols, out of fold: this model trained on every background alphabet, so these are the "
            "figures of its fold model (the same recipe and epochs) on the {n} alphabets that fold held out",
        ),
    ):
        om = ev.get(key) if isinstance(ev, dict) else None
        if isinstance(om, dict) and "one_shot" in om:
            out += _omniglot_rows(om, title.format(n=len(om["alphabets"]))) + [""]
    out += ["<details><summary>every figure in the evaluate JSON</summary>", "", figures_table(ev), "", "</details>"]
    return "\n".join(out)


def _omniglot_rows(om: dict, title: str) -> list:
    os_, ap2 = om["one_shot"], om["all_pairs"]
    rows = [
        f"{title} ({', '.join(om['alphabets'])}; {om['characters']} characters, "
        f"{om['drawings']:,} drawings acquired by the app's preprocessing).",
        "",
        "| figure (held-out alphabets) | value |",
        "|---|---|",
        f"| {os_['ways']}-way one-shot within an alphabet (Koch's protocol; {os_['trials']} seeded "
        f"trials, {os_['queries']:,} queries) | {_pct(os_['accuracy'])} (95% CI "
        f"{_pct(os_['ci95'][0])}–{_pct(os_['ci95'][1])}) |",
    ]
    fs = om.get("five_shot")
    if isinstance(fs, dict):
        rows.append(
            f"| {fs['ways']}-way 5-shot within an alphabet (references by 5 drawers, nearest reference; "
            f"{fs['trials']} trials) | {_pct(fs['accuracy'])} (95% CI {_pct(fs['ci95'][0])}–{_pct(fs['ci95'][1])}) |"
        )
    rows += [
        f"| ROC AUC (all pairs) | {float(ap2.get('roc_auc', float('nan'))):.6f} |",
        f"| EER (all pairs) | {_pct(ap2['eer'])} |",
    ]
    for k, op in (ap2.get("at_far") or {}).items():
        sup = "" if op.get("supported", True) else " (too few impostor pairs to support)"
        rows.append(
            f"| FRR at FAR {k} | {_pct(op['frr'])} ({op['false_rejects']:,} of "
            f"{op['genuine']:,} genuine; {op['false_accepts']:,} of {op['impostor']:,} "
            f"impostor accepted){sup} |"
        )
    return rows


def quantization_section(q: dict) -> str:
    t = q.get("timings_ms") or {}
    rows = [
        f"{q.get('method', 'int8')}; activation ranges from {q.get('range_calibration_images')} "
        "held-out images. Float and int8 compared on the same calibration pairs, ONNX Runtime CPU:",
        "",
        "| | float32 | int8 | change | bound |",
        "|---|---|---|---|---|",
        f"| size | {q['float_bytes']:,} B | {q['int8_bytes']:,} B | {q['int8_bytes'] / q['float_bytes']:.2f}× | |",
        f"| EER | {_pct(q['float_eer'])} | {_pct(q['int8_eer'])} | "
        f"{q['delta_eer_points']:+.3f} points | +{q['max_eer_increase_points']:g} points |",
        f"| FRR at FAR 1e-3 | {_pct(q['float_frr_at_far_1e-3'])} | {_pct(q['int8_frr_at_far_1e-3'])} | "
        f"{q['delta_frr_at_far_1e-3_points']:+.3f} points | +{q['max_frr_increase_points']:g} points |",
    ]
    if t:
        rows += [
            f"| batch 1 (ms, median) | {t.get('float_batch1_ms', float('nan')):.3f} | "
            f"{t.get('int8_batch1_ms', float('nan')):.3f} | | |",
            f"| batch 256 (ms, median) | {t.get('float_batch256_ms', float('nan')):.1f} | "
            f"{t.get('int8_batch256_ms', float('nan')):.1f} | | |",
        ]
    rows += ["", f"Float graph fingerprint: `{q.get('float_fingerprint')}`."]
    return "\n".join(rows)


def thresholds_table(c) -> str:
    lines = [
        "| operating point | threshold | FAR | FRR | false rejects / genuine | false accepts / impostor | supported |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, op in c.thresholds.items():
        name = f"**{key}** (default)" if key == c.default_threshold_key else key
        lines.append(
            f"| {name} | {float(op['threshold']):.5f} | {float(op['far']):.2e} | "
            f"{_pct(op['frr'])} | {op['false_rejects']:,} / {op['genuine']:,} | "
            f"{op['false_accepts']:,} / {op['impostor']:,} | {op.get('supported', '')} |"
        )
    return "\n".join(lines)


def passcode_section(c) -> list[str]:
    """The contract's passcode points, or nothing when it has none."""
    pts = c.passcodes
    if not pts:
        return []
    lines = [
        "## Passcode points",
        "",
        "A passcode of 2-4 symbols on one card matches only when every position lies within its "
        "threshold of its own references, in order. Each point is the per-position threshold at "
        "which the whole card's FAR is at most its target, with the counts behind it:",
        "",
        "| point | per-position threshold | card FAR | FRR per card | false accepts / impostor cards | owner cards |",
        "|---|---|---|---|---|---|",
    ]
    for key, op in sorted(pts.items()):
        lines.append(
            f"| {key} | {float(op['thresholds'][0]):.4f} | {float(op['far']):.2e} | {_pct(op['frr'])} | "
            f"{int(op['false_accepts']):,} / {int(op['impostor']):,} | {int(op['genuine']):,} |"
        )
    first = next(iter(pts.values()))
    lines += ["", f"Data: {first.get('source', '?')}. Counted: {first.get('method', '?')}.", ""]
    apart = [(k, op) for k, op in sorted(pts.items()) if isinstance(op.get("held_apart"), dict)]
    if apart:
        h0 = apart[0][1]["held_apart"]
        lines += [
            f"Measured at the same thresholds on the held-apart alphabets ({', '.join(h0.get('alphabets', []))}), "
            "which took no part in choosing them:",
            "",
            "| point | per-position threshold | card FAR | FRR per card | false accepts / impostor cards | owner cards |",
            "|---|---|---|---|---|---|",
        ]
        for key, op in apart:
            h = op["held_apart"]
            lines.append(
                f"| {key} | {float(op['thresholds'][0]):.4f} | {float(h['far']):.2e} | {_pct(h['frr'])} | "
                f"{int(h['false_accepts']):,} / {int(h['impostor']):,} | {int(h['genuine']):,} |"
            )
        lines.append("")
    return lines


def model_card(
    model_path,
    evaluation: dict | None = None,
    command: str | None = None,
    commands: list[str] | None = None,
    title: str | None = None,
    notes: str = "",
) -> str:
    """Markdown for the model at ``model_path``."""
    path = Path(model_path)
    c = read_contract(path)
    p = c.provenance
    calib = p.get("calibration") or {}
    q = p.get("quantization")
    v = p.get("versions") or {}
    out = [
        f"# {title or path.stem}",
        "",
        "The model card of a twinlock embedding model. Everything below the figures from "
        "`twinlock evaluate` is read from the model file's own contract.",
        "",
        "| | |",
        "|---|---|",
        f"| file | `{path.name}` ({path.stat().st_size:,} bytes) |",
        f"| fingerprint (sha256 of graph and weights) | `{c.fingerprint}` |",
        f"| contract version | {c.version} |",
        f"| input | `{c.input_name}` float32 [N, 1, {c.image_size}, {c.image_size}], white ink on black, "
        f"x·{c.scale:.6g} then (x − {c.mean:g}) / {c.std:g} |",
        f"| output | `{c.output_name}` [N, {c.embedding_dim}], {c.metric} distance, "
        f"{'L2-normalised (distances in [0, 2])' if c.normalized else 'not normalised'} |",
        f"| weights | {'int8 (quantized)' if q else 'float32'} |",
        f"| architecture | {p.get('arch')} {json.dumps(p.get('model_kwargs'))}, "
        f"{p.get('parameters', '?'):,} parameters |"
        if isinstance(p.get("parameters"), int)
        else f"| architecture | {p.get('arch')} |",
        "",
        "## Training",
        "",
        f"- data: {p.get('training_data', '?')}",
        f"- recipe: {p.get('recipe', '?')}",
        f"- epochs {p.get('epochs')}, checkpoint from epoch {p.get('best_epoch')}, margin {p.get('margin')}, "
        f"batch {p.get('batch_size')}, seed {p.get('seed')}, held-out classes "
        f"{p.get('holdout_classes') or 'none'}",
        f"- checkpoint `{(p.get('checkpoint') or {}).get('file')}` sha256 "
        f"`{(p.get('checkpoint') or {}).get('sha256')}`, created "
        f"{(p.get('checkpoint') or {}).get('created')}",
        "",
    ]
    if evaluation:
        out += [
            "## Figures from `twinlock evaluate` (MNIST test set"
            + ("; held-out Omniglot alphabets)" if "omniglot" in evaluation else ")"),
            "",
        ]
        if q:
            out += [
                "These are the figures of the float checkpoint this file was quantized from (PyTorch); "
                "what int8 changes is measured under *Quantization* below, on the calibration "
                "pairs.",
                "",
            ]
        out += [evaluation_section(evaluation), ""]
    else:
        out += ["## Figures from `twinlock evaluate`", "", "Not measured for this card.", ""]
    if p.get("evaluation"):
        out += ["## Validation figures recorded in the checkpoint", "", figures_table(p["evaluation"]), ""]
    out += [
        "## Calibrated thresholds",
        "",
        f"Calibrated at export with ONNX Runtime ({calib.get('runtime', '?')}) on "
        f"{calib.get('description', '?')}: all pairs among them, "
        f"{calib.get('genuine_comparisons', 0):,} genuine and "
        f"{calib.get('impostor_comparisons', 0):,} impostor comparisons. A comparison is accepted "
        "when its distance is ≤ the threshold.",
        "",
        thresholds_table(c),
        "",
        *(
            [
                f"The camera_* points are measured as the app uses the model: "
                f"{c.thresholds['camera_far_1e-3'].get('source', '')}. They are single-frame rates; "
                "the camera images are simulated (training/camera_sim.py), not a real webcam.",
                "",
            ]
            if "camera_far_1e-3" in c.thresholds
            else []
        ),
        *(
            [
                f"The symbol_* points are for symbols the model never saw: "
                f"{c.thresholds['symbol_far_1e-3'].get('source', '')}; symbol_camera_* are camera-like "
                f"frames of those drawings against the nearest reference "
                f"({c.thresholds.get('symbol_camera_far_1e-3', {}).get('source', 'not measured')}).",
                "",
            ]
            if "symbol_far_1e-3" in c.thresholds
            else []
        ),
        f"Default: **{c.default_threshold_key}** (threshold {c.default_threshold:.5f}). Rule: "
        f"{p.get('default_threshold_rule', '')}. An unlock should let almost no one else in "
        "(FAR 1e-3 is about one accepted impostor frame in a thousand) while the owner rarely "
        "has to try twice; the app's k-of-n frame policy lowers the per-attempt FRR further. "
        "FAR 1e-4 is offered for stricter use.",
        "",
        "Caveats: pairs share images (each image is in many pairs), so the comparisons are not "
        "independent and the counts overstate the evidence; these are MNIST digits, and webcam "
        "images of a drawn symbol reduced to MNIST form are further from the training data, so "
        "check the FRR on your own images with `twinlock calibrate` and adjust the threshold.",
        "",
        *passcode_section(c),
    ]
    par = p.get("parity") or {}
    if par:
        what = "the float graph that was then quantized" if q else "this file"
        out += [
            "## Parity with PyTorch",
            "",
            f"For {what}: max |PyTorch − ONNX Runtime| = {par.get('max_abs_diff', 0):.2e} over "
            f"batches {par.get('batches')} of {' and '.join(par.get('inputs', []))} inputs (allowed "
            f"{par.get('tolerance')})."
            + (
                " An int8 file cannot match PyTorch to that precision; it "
                "is judged by its accuracy instead (next section)."
                if q
                else ""
            ),
            "",
        ]
    if q:
        out += ["## Quantization", "", quantization_section(q), ""]
    out += [
        "## Versions",
        "",
        f"Exported {p.get('date')} with " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        f"Trained with {json.dumps(p.get('training_versions'))}.",
        "",
    ]
    cmds = list(commands or []) + ([command] if command else [])
    if cmds:
        out += ["## Reproduce", "", "```sh"] + cmds + ["```", ""]
    if notes:
        out += [notes.rstrip(), ""]
    return "\n".join(out)
