"""``export_checkpoint``: checkpoint -> verified, calibrated ONNX file with its contract.

Order of work, each step able to refuse (then nothing is written at the destination):

1. load the checkpoint and its tower (torch), export the tower to ONNX, check the graph;
2. parity: the same random and digit batches (1, 7, 256) through torch and ONNX Runtime
   must agree to 1e-5;
3. calibration with ONNX Runtime on held-out images: EER, FAR 1e-3 and 1e-4 thresholds;
4. optionally int8 quantization, re-calibrated, refused when it loses too much accuracy;
   then, on the final graph, camera-like frames of the held-out digits (``camera_*``) and,
   for a model trained with Omniglot, the held-out alphabets: symbols it never saw, as
   clean pairs (``symbol_*``) and as camera-like frames (``symbol_camera_*``);
5. the final bytes go to a temporary file beside the destination, are checked again
   (ONNX checker, contract, fingerprint, parity) and only then renamed over it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.contract import (
    CONTRACT_VERSION,
    ContractError,
    contract_metadata,
    graph_fingerprint,
    read_contract,
)

from . import calibrate as cal
from . import parity as par
from . import quantize as qnt
from .errors import ExportError
from .onnx_graph import INPUT_NAME, OUTPUT_NAME, embedding_dim, strip_debug_info, tower_to_onnx

PROVISIONAL_KEY = "uncalibrated"


@dataclass
class ExportResult:
    path: Path
    fingerprint: str
    size_bytes: int
    contract: dict
    parity: dict
    calibration: dict
    quantization: dict | None = None
    timings_ms: dict = field(default_factory=dict)

    @property
    def thresholds(self) -> dict:
        return self.contract["thresholds"]

    @property
    def default_threshold_key(self) -> str:
        return self.contract["default_threshold"]


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    if hasattr(x, "item"):
        try:
            return _jsonable(x.item())
        except Exception:
            pass
    return str(x)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _versions() -> dict:
    import onnx
    import onnxruntime
    import torch

    v = {
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    try:
        import onnxscript

        v["onnxscript"] = onnxscript.__version__
    except Exception:
        pass
    return v


def _evaluation_figures(metrics) -> dict:
    """The checkpoint's figures without the per-epoch history (kept small for metadata)."""
    if not isinstance(metrics, dict):
        return {}
    out = {}
    for k, v in metrics.items():
        if k in ("history", "config") or (isinstance(v, (list, tuple)) and len(v) > 3):
            continue  # per-epoch history: not for the contract
        out[k] = v
    return _jsonable(out)


def build_contract(cfg: dict, dim: int, normalized: bool, thresholds: dict, default_key: str, provenance: dict) -> dict:
    """The contract document (JSON fields exactly as ``read_contract`` reads them)."""
    return _jsonable(
        {
            "version": CONTRACT_VERSION,
            "input": {
                "name": INPUT_NAME,
                "size": 28,
                "polarity": "white_on_black",
                "scale": 1 / 255,
                "mean": float(cfg.get("mean", 0.0)),
                "std": float(cfg.get("std", 1.0)),
                "layout": "NCHW",
                "dtype": "float32",
                "shape": ["N", 1, 28, 28],
            },
            "output": {"name": OUTPUT_NAME, "dim": int(dim), "metric": "euclidean", "normalized": bool(normalized)},
            "thresholds": thresholds,
            "default_threshold": default_key,
            "provenance": provenance,
        }
    )


def with_contract(proto, contract: dict):
    """A copy of ``proto`` carrying ``contract`` (and its fingerprint) in metadata_props."""
    import onnx

    m = onnx.ModelProto()
    m.CopyFrom(proto)
    del m.metadata_props[:]
    for k, v in contract_metadata(contract, m).items():
        m.metadata_props.add(key=k, value=v)
    return m


def _provisional(proto, cfg, dim, normalized):
    """The graph with a placeholder contract, so the app's Embedder can run it for
    parity and calibration before the thresholds exist. Never leaves the work folder."""
    th = {PROVISIONAL_KEY: {"threshold": 1e-6}}  # a placeholder (> 0); never leaves the work folder
    return with_contract(
        proto, build_contract(cfg, dim, normalized, th, PROVISIONAL_KEY, {"note": "provisional, not calibrated"})
    )


def _save(proto, path: Path) -> None:
    import onnx

    onnx.save_model(proto, str(path), save_as_external_data=False)


def _embedder(path, log):
    from desktop_app.core.embedder import Embedder

    try:
        return Embedder(path, preference="cpu", intra_op_threads=max(1, min(4, os.cpu_count() or 1)))
    except ContractError as exc:
        raise ExportError(f"the exported file does not pass the app's own checks: {exc}") from None


def _model_form(images_u8: np.ndarray, cfg: dict) -> np.ndarray:
    x = images_u8.astype(np.float32)[:, None] / np.float32(255.0)
    return ((x - np.float32(cfg.get("mean", 0.0))) / np.float32(cfg.get("std", 1.0))).astype(np.float32)


def _load(checkpoint):
    from training.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint

    try:
        ckpt = load_checkpoint(checkpoint)
        model = model_from_checkpoint(ckpt)
    except CheckpointError as exc:
        raise ExportError(str(exc)) from None
    return ckpt, model


def export_checkpoint(
    checkpoint: str | os.PathLike,
    dest: str | os.PathLike,
    *,
    quantize: bool = False,
    data_dir=None,
    calib_count: int | None = cal.DEFAULT_CALIB_COUNT,
    seed: int = 0,
    max_eer_increase_points: float = qnt.MAX_EER_INCREASE_POINTS,
    max_frr_increase_points: float = qnt.MAX_FRR_INCREASE_POINTS,
    allow_synthetic: bool = True,
    tolerance: float = par.TOLERANCE,
    camera: bool = True,
    camera_probes: int = 1500,
    symbols: bool = True,
    omniglot=None,
    symbol_probes: int = 1500,
    progress: bool = True,
    log=print,
    _tamper=None,
) -> ExportResult:
    """Export ``checkpoint`` to ``dest`` (see the module doc). Raises :class:`ExportError`.

    ``_tamper`` (tests only) may change the exported graph before the parity check, to
    prove that a graph which does not compute the tower is refused.
    """

    dest = Path(dest)
    if dest.exists() and dest.is_dir():
        raise ExportError(f"{dest} is a folder; give the path of the .onnx file to write.")
    if dest.suffix.lower() != ".onnx":
        raise ExportError(f"{dest}: the output file name must end in .onnx.")
    _check_writable(dest)
    ckpt_path = Path(checkpoint)
    ckpt, model = _load(ckpt_path)
    cfg = dict(ckpt.get("config") or {})
    normalized = bool(cfg.get("normalized", getattr(model, "normalized", False)))

    log(
        f"exporting {ckpt_path} ({ckpt.get('arch')}, {sum(p.numel() for p in model.parameters()):,} parameters) to ONNX"
    )
    calib = cal.calibration_set(
        ckpt, data_dir=data_dir, count=calib_count, seed=seed, allow_synthetic=allow_synthetic, log=log
    )
    log(f"calibration data: {calib.description['description']}")
    proto = tower_to_onnx(model)
    dim = embedding_dim(proto)

    from .synthetic import synthetic_digits

    synth, _ = synthetic_digits(64, seed=seed + 1)
    digits = _model_form(np.concatenate([calib.images[:192], synth]), cfg)
    cases = par.parity_inputs(digits, seed=seed)

    with tempfile.TemporaryDirectory(prefix="twinlock-export-") as work:
        work = Path(work)
        float_prov = work / "float.onnx"
        if _tamper is not None:
            proto = _tamper(proto)
        prov = _provisional(proto, cfg, dim, normalized)
        _save(prov, float_prov)

        emb_float = _embedder(float_prov, log)
        refs = par.torch_outputs(model, cases)
        report = par.check_parity(model, emb_float, cases, tolerance, refs=refs)
        if not report.ok:
            kind, b, d = report.worst()
            raise ExportError(
                f"parity check failed: PyTorch and ONNX Runtime differ by {d:.3g} on "
                f"{kind} inputs at batch {b} (allowed {tolerance:g}). The exported "
                "graph does not compute the tower; nothing was written."
            )
        log(
            f"parity ok: max |torch - onnxruntime| = {report.max_abs_diff:.2e} over batches "
            f"{', '.join(map(str, par.BATCHES))} (random and digit inputs)"
        )

        log("calibrating with ONNX Runtime (all pairs among the calibration images)")
        th_float, _emb_cal, gen, imp = cal.calibrate(emb_float, calib, progress=progress)
        calib_desc = dict(
            calib.description,
            genuine_comparisons=int(gen.size),
            impostor_comparisons=int(imp.size),
            runtime=f"onnxruntime {_versions()['onnxruntime']} CPU",
            method="all pairs i<j, euclidean",
        )
        timings = {
            "float_batch1_ms": qnt.time_embedder(emb_float, 1),
            "float_batch256_ms": qnt.time_embedder(emb_float, 256),
        }
        final_graph, thresholds, quant_info = proto, th_float, None
        q_ref = None

        if quantize:
            q_proto, thresholds, quant_info, q_ref, q_gen, q_imp = _quantized(
                float_prov,
                proto,
                th_float,
                calib,
                cfg,
                dim,
                normalized,
                work,
                seed,
                timings,
                max_eer_increase_points,
                max_frr_increase_points,
                progress,
                log,
            )
            final_graph = q_proto
            calib_desc.update(genuine_comparisons=q_gen, impostor_comparisons=q_imp)

        if camera:
            # the app compares camera frames with the nearest enrolled reference: measure that
            from .camera_calibration import camera_thresholds

            cam_prov = work / "camera.onnx"
            _save(_provisional(final_graph, cfg, dim, normalized), cam_prov)
            log("calibrating on camera-like frames of the same images (per profile, nearest reference)")
            thresholds = dict(
                thresholds,
                **camera_thresholds(
                    _embedder(cam_prov, log),
                    calib.images,
                    calib.labels,
                    source=calib.description["description"],
                    probes=camera_probes,
                    seed=seed,
                    progress=progress,
                ),
            )
        held = None
        if symbols:
            from training.evaluate import omniglot_holdout

            try:
                held = omniglot_holdout(ckpt, omniglot)
            except ValueError as exc:
                raise ExportError(f"cannot calibrate on the held-out alphabets: {exc}") from None
        if held is not None:
            sym_prov = work / "symbols.onnx"
            _save(_provisional(final_graph, cfg, dim, normalized), sym_prov)
            emb_s = _embedder(sym_prov, log)
            names = sorted({held.alphabets[a] for a in np.unique(held.alphabet)})
            src = (
                f"the {len(held.images)} drawings of {np.unique(held.character).size} characters of "
                f"the {len(names)} Omniglot background alphabets held out of training "
                f"({', '.join(names)}): symbols the model never saw"
            )
            log(f"calibrating on unseen symbols: {src}")
            e = cal.embed_all(emb_s, held.images, progress=progress)
            g_s, i_s = cal.pair_distances(e, held.character, progress=progress)
            for k, v in cal.thresholds_from_distances(g_s, i_s).items():
                thresholds[f"symbol_{k}"] = dict(v, source=f"all pairs of {src}")
            del g_s, i_s
            if camera:
                from .camera_calibration import camera_thresholds

                log("calibrating on camera-like frames of the unseen symbols (nearest reference)")
                cam_s = camera_thresholds(
                    emb_s,
                    held.images,
                    held.character,
                    source=src,
                    probes=symbol_probes,
                    seed=seed,
                    progress=progress,
                    profiles_per_label=1,
                )
                thresholds.update({f"symbol_{k}": v for k, v in cam_s.items()})
        default_key = cal.choose_default(thresholds)
        provenance = {
            "training_data": _training_data(ckpt),
            "recipe": cfg.get("recipe", ""),
            "arch": ckpt.get("arch"),
            "model_kwargs": ckpt.get("model_kwargs"),
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "epochs": cfg.get("epochs"),
            "best_epoch": ckpt.get("epoch"),
            "margin": cfg.get("margin"),
            "seed": cfg.get("seed"),
            "batch_size": cfg.get("batch_size"),
            "holdout_classes": cfg.get("holdout_classes", []),
            "omniglot_holdout_alphabets": (ckpt.get("class_split") or {}).get("omniglot_holdout_alphabets") or [],
            "evaluation": _evaluation_figures(ckpt.get("metrics")),
            "calibration": calib_desc,
            "parity": report.as_dict(),
            "quantization": quant_info,
            "default_threshold_rule": cal.DEFAULT_RULE,
            "versions": _versions(),
            "training_versions": ckpt.get("versions"),
            "checkpoint": {"file": ckpt_path.name, "sha256": _sha256(ckpt_path), "created": ckpt.get("created")},
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "exporter": "twinlock export",
        }
        contract = build_contract(cfg, dim, normalized, thresholds, default_key, provenance)
        final = with_contract(final_graph, contract)
        fingerprint = graph_fingerprint(final)
        data = final.SerializeToString()

        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        except OSError as exc:
            raise ExportError(f"cannot write in {dest.parent} ({exc.strerror or exc}); nothing was written.") from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            _verify_written(tmp, fingerprint, model, cases, refs, tolerance, q_ref, log)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
    log(f"wrote {dest} ({len(data) / 1024:.0f} KiB, fingerprint {fingerprint[:12]})")
    return ExportResult(
        path=dest,
        fingerprint=fingerprint,
        size_bytes=len(data),
        contract=contract,
        parity=report.as_dict(),
        calibration=calib_desc,
        quantization=quant_info,
        timings_ms=timings,
    )


def _quantized(
    float_prov,
    proto,
    th_float,
    calib,
    cfg,
    dim,
    normalized,
    work,
    seed,
    timings,
    max_eer_points,
    max_frr_points,
    progress,
    log,
):
    """int8 model of the verified float graph, calibrated with its own embeddings and compared
    with float on the same pairs; raises :class:`ExportError` beyond the accuracy bound."""
    import onnx

    q_path = work / "int8.onnx"
    rng_idx = np.random.default_rng(seed + 7).permutation(len(calib.images))
    rng_imgs = _model_form(calib.images[rng_idx[: qnt.RANGE_CALIBRATION_IMAGES]], cfg)
    log("quantizing to int8 (static QDQ, per-channel weights)")
    qnt.quantize_int8(float_prov, q_path, INPUT_NAME, rng_imgs, work)
    q_proto = strip_debug_info(onnx.load(str(q_path)))
    q_prov = work / "int8_prov.onnx"
    _save(_provisional(q_proto, cfg, dim, normalized), q_prov)
    emb_q = _embedder(q_prov, log)
    th_q, emb_q_cal, gen_q, imp_q = cal.calibrate(emb_q, calib, progress=progress)
    cmp = qnt.compare(th_float, th_q, max_eer_points, max_frr_points)
    timings.update(int8_batch1_ms=qnt.time_embedder(emb_q, 1), int8_batch256_ms=qnt.time_embedder(emb_q, 256))
    info = dict(
        cmp,
        float_bytes=len(proto.SerializeToString()),
        int8_bytes=len(q_proto.SerializeToString()),
        method="onnxruntime quantize_static, QDQ, int8 weights per channel, uint8 "
        "activations, MinMax ranges; the first convolution kept float",
        range_calibration_images=len(rng_imgs),
        float_fingerprint=graph_fingerprint(proto),
        timings_ms=dict(timings),
    )
    if not cmp["ok"]:
        raise ExportError(
            "int8 quantization refused: it loses too much accuracy on the calibration pairs "
            f"(EER {cmp['float_eer'] * 100:.3f}% -> {cmp['int8_eer'] * 100:.3f}%, "
            f"{cmp['delta_eer_points']:+.3f} points, allowed +{max_eer_points:g}; "
            f"FRR at FAR 1e-3 {cmp['float_frr_at_far_1e-3'] * 100:.2f}% -> "
            f"{cmp['int8_frr_at_far_1e-3'] * 100:.2f}%, {cmp['delta_frr_at_far_1e-3_points']:+.2f} "
            f"points, allowed +{max_frr_points:g}). Export the float model "
            "(without --quantize); nothing was written."
        )
    return q_proto, th_q, info, (calib.images[:256], emb_q_cal[:256]), int(gen_q.size), int(imp_q.size)


def _check_writable(dest: Path) -> None:
    """Fail before the long work when the destination folder cannot take a new file."""
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".probe", dir=dest.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ExportError(f"cannot write {dest}: {exc.strerror or exc}. Choose a folder you can write to.") from None


def _training_data(ckpt: dict) -> str:
    cfg = ckpt.get("config") or {}
    val = ckpt.get("val_indices")
    split = ckpt.get("class_split") or {}
    classes = split.get("train_classes")
    text = "MNIST training set"
    if val is not None:
        text += f" minus {len(val)} images held out for validation"
    if classes is not None:
        text += f"; classes trained on: {', '.join(str(int(c)) for c in classes)}"
    if cfg.get("data_dir"):
        text += f" (data dir {cfg['data_dir']})"
    held = split.get("omniglot_holdout_alphabets")
    if held:
        tr = split.get("omniglot_train_alphabets") or []
        text += (
            f"; Omniglot background set (never the evaluation set), {len(tr)} alphabets trained on, "
            f"{len(held)} held out for validation and calibration: {', '.join(held)}"
        )
    return text


def _verify_written(path: Path, fingerprint: str, model, cases, refs, tolerance, q_ref, log) -> None:
    """Check the exact bytes about to become the destination file."""
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
        contract = read_contract(path)
    except ContractError as exc:
        raise ExportError(f"the written file fails the contract check: {exc}") from None
    except Exception as exc:
        raise ExportError(f"the written file fails the ONNX checker: {exc}") from None
    if contract.fingerprint != fingerprint:
        raise ExportError("the written file's fingerprint differs from the exported graph's.")
    emb = _embedder(path, log)
    if q_ref is None:
        report = par.check_parity(model, emb, cases, tolerance, refs=refs)
        if not report.ok:
            kind, b, d = report.worst()
            raise ExportError(
                f"the written file fails the parity check ({d:.3g} on {kind} inputs at batch {b}); nothing was written."
            )
    else:
        x, ref = q_ref
        d = float(np.max(np.abs(emb.embed_images(x) - ref))) if len(x) else 0.0
        if d > 1e-6:
            raise ExportError(
                f"the written int8 file does not reproduce the calibrated embeddings "
                f"(differs by {d:.3g}); nothing was written."
            )


def describe(result: ExportResult) -> str:
    """A short human summary of an export (CLI output)."""
    lines = [
        f"model:        {result.path} ({result.size_bytes / 1024:.0f} KiB)",
        f"fingerprint:  {result.fingerprint}",
        f"parity:       max abs diff {result.parity['max_abs_diff']:.2e} "
        f"(allowed {result.parity['tolerance']:g}, batches {result.parity['batches']})",
        f"calibration:  {result.calibration['description']}",
        f"              {result.calibration['genuine_comparisons']:,} genuine / "
        f"{result.calibration['impostor_comparisons']:,} impostor comparisons",
        "thresholds:",
    ]
    for key, op in result.thresholds.items():
        mark = "  (default)" if key == result.default_threshold_key else ""
        sup = "" if op.get("supported", True) else "  [too few comparisons to support this FAR]"
        lines.append(
            f"  {key:9s} t={op['threshold']:.4f}  FAR={op['far']:.2e}  FRR={op['frr'] * 100:.3f}%"
            f"  ({op['false_rejects']}/{op['genuine']} genuine rejected, "
            f"{op['false_accepts']}/{op['impostor']} impostors accepted){sup}{mark}"
        )
    t = result.timings_ms
    lines.append(
        f"speed (CPU):  batch 1 {t['float_batch1_ms']:.2f} ms, batch 256 {t['float_batch256_ms']:.1f} ms (float)"
    )
    q = result.quantization
    if q:
        lines.append(
            f"int8:         {q['int8_bytes'] / 1024:.0f} KiB vs float {q['float_bytes'] / 1024:.0f} KiB;"
            f" batch 1 {t['int8_batch1_ms']:.2f} ms, batch 256 {t['int8_batch256_ms']:.1f} ms"
        )
        lines.append(
            f"              EER {q['float_eer'] * 100:.3f}% -> {q['int8_eer'] * 100:.3f}% "
            f"({q['delta_eer_points']:+.3f} points); FRR@FAR1e-3 "
            f"{q['float_frr_at_far_1e-3'] * 100:.2f}% -> {q['int8_frr_at_far_1e-3'] * 100:.2f}% "
            f"({q['delta_frr_at_far_1e-3_points']:+.2f} points)"
        )
    return "\n".join(lines)
