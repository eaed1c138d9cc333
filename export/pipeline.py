"""``export_checkpoint``: checkpoint -> verified, calibrated ONNX file with its contract.

The steps, in order (one function each, read top to bottom in :func:`export_checkpoint`); each can
refuse, and then nothing is written at the destination:

1. ``check_destination``: a writable ``.onnx`` path, before any long work;
2. ``load_source``: the checkpoint and its tower (torch);
3. ``calibration_data``: the held-out images (the checkpoint's validation images);
4. ``build_graph``: the tower as one ONNX graph (checked) and the parity inputs;
5. ``check_parity``: the same random and digit batches (1, 7, 256) through torch and ONNX
   Runtime must agree to 1e-5;
6. ``calibrate_float``: EER, FAR 1e-3 and 1e-4 thresholds with ONNX Runtime;
7. ``quantize`` (optional): int8, re-calibrated, refused when it loses too much accuracy;
8. ``calibrate_camera``: on the final graph, camera-like frames of the held-out digits
   (``camera_*``); ``calibrate_symbols``: for a model trained with Omniglot, the held-out
   alphabets: symbols it never saw, as clean pairs (``symbol_*``) and as camera-like
   frames (``symbol_camera_*``); ``calibrate_passcodes``: from the same alphabets, the
   passcode points (``passcodes``: one threshold per position for cards of 2-4 symbols);
9. ``model_contract``: thresholds, default operating point and provenance;
10. ``write_verified``: the final bytes are checked as a file (ONNX checker, contract,
    fingerprint, parity) and only then written over the destination with
    ``paths.atomic_write_bytes`` (the old file or the whole new one).

How to export is one :class:`ExportOptions`; its ``progress`` is tqdm bars, nothing, or a
callable (export/progress.py).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.paths import atomic_write_bytes
from desktop_app.core.contract import (
    CONTRACT_VERSION,
    PIXEL_SCALE,
    ContractError,
    contract_metadata,
    graph_fingerprint,
    normalise_pixels,
    read_contract,
)

from . import calibrate as cal
from . import parity as par
from . import quantize as qnt
from .errors import ExportError
from .onnx_graph import INPUT_NAME, OUTPUT_NAME, embedding_dim, strip_debug_info, tower_to_onnx
from .progress import step

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
                "scale": PIXEL_SCALE,
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


def _tower_input(images_u8: np.ndarray, cfg: dict) -> np.ndarray:
    """uint8 model images -> the tower's input, normalised as the app's embedder does it."""
    return normalise_pixels(images_u8, float(cfg.get("mean", 0.0)), float(cfg.get("std", 1.0)))


@dataclass(frozen=True)
class ExportOptions:
    """How to export: what :func:`export_checkpoint` takes besides the checkpoint and the
    destination (``twinlock export`` fills it from its options, and the app's export dialog
    runs that command).

    ``quantize``: int8 too, refused beyond ``max_eer_increase_points`` /
    ``max_frr_increase_points``; ``data_dir``/``calib_count``/``seed``: the held-out images
    the thresholds are calibrated on (synthetic digits when they are missing and
    ``allow_synthetic``); ``tolerance``: the parity bound; ``camera``/``camera_probes``:
    thresholds on camera-like frames; ``symbols``/``omniglot``/``symbol_probes``/
    ``symbol_folds``: thresholds on unseen symbols; ``passcode_frames``: the passcode points
    on clean drawings ("clean") or on camera-like frames of half the held-out alphabets,
    measured on the other half ("camera"); ``progress``: tqdm bars (True), nothing
    (False), or a ``report(stage, done, total, message)`` callable (export.progress)."""

    quantize: bool = False
    data_dir: str | os.PathLike | None = None
    calib_count: int | None = cal.DEFAULT_CALIB_COUNT
    seed: int = 0
    max_eer_increase_points: float = qnt.MAX_EER_INCREASE_POINTS
    max_frr_increase_points: float = qnt.MAX_FRR_INCREASE_POINTS
    allow_synthetic: bool = True
    tolerance: float = par.TOLERANCE
    camera: bool = True
    camera_probes: int = 1500
    symbols: bool = True
    omniglot: str | os.PathLike | None = None
    symbol_probes: int = 1500
    passcode_frames: str = "clean"  # or "camera": calibrate.camera_passcode_points
    symbol_folds: tuple = ()  # fold checkpoints: out-of-fold symbol_* thresholds (export.folds)
    progress: bool | Callable = True  # see export.progress
    log: Callable[[str], None] = print


@dataclass
class Source:
    """The loaded checkpoint: its dict, the torch tower and the config the contract needs."""

    path: Path
    ckpt: dict
    model: object
    cfg: dict
    normalized: bool

    @property
    def parameters(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))

    def provisional_file(self, proto, dim: int, path: Path, log) -> object:
        """``proto`` with a placeholder contract written to ``path`` (in the work folder), and
        the app's Embedder on it."""
        _save(_provisional(proto, self.cfg, dim, self.normalized), path)
        return _embedder(path, log)


@dataclass
class FloatModel:
    """The exported float graph, checked against the tower."""

    proto: object
    dim: int
    path: Path  # its provisional file in the work folder
    embedder: object
    cases: list  # the parity inputs
    refs: list  # the tower's outputs on them
    report: par.ParityReport


@dataclass
class Quantized:
    proto: object
    thresholds: dict
    info: dict
    reference: tuple  # (images, embeddings) the written int8 file must reproduce
    genuine: int
    impostor: int


# --------------------------------------------------------------------------- the steps
def load_source(checkpoint, log) -> Source:
    """Step 1: the checkpoint and its tower (torch)."""
    from training.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint

    path = Path(checkpoint)
    try:
        ckpt = load_checkpoint(path)
        model = model_from_checkpoint(ckpt)
    except CheckpointError as exc:
        raise ExportError(str(exc)) from None
    cfg = dict(ckpt.get("config") or {})
    src = Source(path, ckpt, model, cfg, bool(cfg.get("normalized", getattr(model, "normalized", False))))
    log(f"exporting {path} ({ckpt.get('arch')}, {src.parameters:,} parameters) to ONNX")
    return src


def calibration_data(src: Source, opts: ExportOptions) -> cal.CalibrationSet:
    """Step 2: the held-out images the thresholds are calibrated on."""
    calib = cal.calibration_set(
        src.ckpt,
        data_dir=opts.data_dir,
        count=opts.calib_count,
        seed=opts.seed,
        allow_synthetic=opts.allow_synthetic,
        log=opts.log,
    )
    opts.log(f"calibration data: {calib.description['description']}")
    return calib


def build_graph(src: Source, calib: cal.CalibrationSet, opts: ExportOptions):
    """Step 3: the tower as one ONNX graph, and the inputs its parity is checked on:
    (graph, embedding size, parity cases)."""
    from training.synthetic_digits import synthetic_digits

    step(opts.progress, "export", "exporting the tower to ONNX")
    proto = tower_to_onnx(src.model)
    dim = embedding_dim(proto)
    synth, _ = synthetic_digits(64, seed=opts.seed + 1)
    digits = _tower_input(np.concatenate([calib.images[:192], synth]), src.cfg)
    return proto, dim, par.parity_inputs(digits, seed=opts.seed)


def check_parity(src: Source, proto, dim: int, cases, work: Path, opts: ExportOptions) -> FloatModel:
    """Step 4: the same batches through torch and ONNX Runtime must agree to the tolerance."""
    step(opts.progress, "parity", "checking ONNX Runtime against PyTorch")
    path = work / "float.onnx"
    emb = src.provisional_file(proto, dim, path, opts.log)
    refs = par.torch_outputs(src.model, cases)
    report = par.check_parity(src.model, emb, cases, opts.tolerance, refs=refs)
    if not report.ok:
        kind, b, d = report.worst()
        raise ExportError(
            f"parity check failed: PyTorch and ONNX Runtime differ by {d:.3g} on "
            f"{kind} inputs at batch {b} (allowed {opts.tolerance:g}). The exported "
            "graph does not compute the tower; nothing was written."
        )
    opts.log(
        f"parity ok: max |torch - onnxruntime| = {report.max_abs_diff:.2e} over batches "
        f"{', '.join(map(str, par.BATCHES))} (random and digit inputs)"
    )
    return FloatModel(proto, dim, path, emb, cases, refs, report)


def calibrate_float(fm: FloatModel, calib: cal.CalibrationSet, opts: ExportOptions):
    """Step 5: thresholds from all pairs of the calibration images, measured with ONNX
    Runtime: (thresholds, calibration description, timings)."""
    opts.log("calibrating with ONNX Runtime (all pairs among the calibration images)")
    thresholds, _emb, gen, imp = cal.calibrate(fm.embedder, calib, progress=opts.progress)
    desc = dict(
        calib.description,
        genuine_comparisons=int(gen.size),
        impostor_comparisons=int(imp.size),
        runtime=f"onnxruntime {_versions()['onnxruntime']} CPU",
        method="all pairs i<j, euclidean",
    )
    timings = {
        "float_batch1_ms": qnt.time_embedder(fm.embedder, 1),
        "float_batch256_ms": qnt.time_embedder(fm.embedder, 256),
    }
    return thresholds, desc, timings


def quantize(
    src: Source, fm: FloatModel, th_float: dict, calib, work: Path, timings: dict, opts: ExportOptions
) -> Quantized:
    """Step 6 (--quantize): an int8 model of the verified float graph, calibrated with its own
    embeddings and compared with float on the same pairs; refused beyond the accuracy bound."""
    import onnx

    step(opts.progress, "quantize", "quantizing to int8")
    q_path = work / "int8.onnx"
    rng_idx = np.random.default_rng(opts.seed + 7).permutation(len(calib.images))
    rng_imgs = _tower_input(calib.images[rng_idx[: qnt.RANGE_CALIBRATION_IMAGES]], src.cfg)
    opts.log("quantizing to int8 (static QDQ, per-channel weights)")
    qnt.quantize_int8(fm.path, q_path, INPUT_NAME, rng_imgs, work)
    q_proto = strip_debug_info(onnx.load(str(q_path)))
    emb_q = src.provisional_file(q_proto, fm.dim, work / "int8_prov.onnx", opts.log)
    th_q, emb_q_cal, gen_q, imp_q = cal.calibrate(emb_q, calib, progress=opts.progress)
    max_eer, max_frr = opts.max_eer_increase_points, opts.max_frr_increase_points
    cmp = qnt.compare(th_float, th_q, max_eer, max_frr)
    timings.update(int8_batch1_ms=qnt.time_embedder(emb_q, 1), int8_batch256_ms=qnt.time_embedder(emb_q, 256))
    info = dict(
        cmp,
        float_bytes=len(fm.proto.SerializeToString()),
        int8_bytes=len(q_proto.SerializeToString()),
        method="onnxruntime quantize_static, QDQ, int8 weights per channel, uint8 "
        "activations, MinMax ranges; the first convolution kept float",
        range_calibration_images=len(rng_imgs),
        float_fingerprint=graph_fingerprint(fm.proto),
        timings_ms=dict(timings),
    )
    if not cmp["ok"]:
        raise ExportError(
            "int8 quantization refused: it loses too much accuracy on the calibration pairs "
            f"(EER {cmp['float_eer'] * 100:.3f}% -> {cmp['int8_eer'] * 100:.3f}%, "
            f"{cmp['delta_eer_points']:+.3f} points, allowed +{max_eer:g}; "
            f"FRR at FAR 1e-3 {cmp['float_frr_at_far_1e-3'] * 100:.2f}% -> "
            f"{cmp['int8_frr_at_far_1e-3'] * 100:.2f}%, {cmp['delta_frr_at_far_1e-3_points']:+.2f} "
            f"points, allowed +{max_frr:g}). Export the float model "
            "(without --quantize); nothing was written."
        )
    reference = (calib.images[:256], emb_q_cal[:256])
    return Quantized(q_proto, th_q, info, reference, int(gen_q.size), int(imp_q.size))


def calibrate_camera(src: Source, graph, dim: int, calib, work: Path, opts: ExportOptions) -> dict:
    """Step 7: the app compares camera frames with the nearest enrolled reference: measure
    that on camera-like frames of the calibration images (``camera_*``)."""
    from .camera_calibration import camera_thresholds

    emb = src.provisional_file(graph, dim, work / "camera.onnx", opts.log)
    opts.log("calibrating on camera-like frames of the same images (per profile, nearest reference)")
    return camera_thresholds(
        emb,
        calib.images,
        calib.labels,
        source=calib.description["description"],
        probes=opts.camera_probes,
        seed=opts.seed,
        progress=opts.progress,
    )


def calibrate_symbols(src: Source, graph, dim: int, work: Path, opts: ExportOptions) -> dict:
    """Step 8: for a model trained with Omniglot, the held-out alphabets (symbols it never
    saw) as clean pairs (``symbol_*``) and as camera-like frames (``symbol_camera_*``);
    {} for a model without them."""
    from training.evaluate import omniglot_holdout

    try:
        held = omniglot_holdout(src.ckpt, opts.omniglot)
    except ValueError as exc:
        raise ExportError(f"cannot calibrate on the held-out alphabets: {exc}") from None
    if held is None and opts.symbol_folds:
        from .folds import load_folds, out_of_fold_thresholds

        return out_of_fold_thresholds(load_folds(opts.symbol_folds, src.ckpt, opts.omniglot), opts)
    if held is None:
        return {}
    emb = src.provisional_file(graph, dim, work / "symbols.onnx", opts.log)
    names = sorted({held.alphabets[a] for a in np.unique(held.alphabet)})
    desc = (
        f"the {len(held.images)} drawings of {np.unique(held.character).size} characters of "
        f"the {len(names)} Omniglot background alphabets held out of training "
        f"({', '.join(names)}): symbols the model never saw"
    )
    opts.log(f"calibrating on unseen symbols: {desc}")
    e = cal.embed_all(emb, held.images, progress=opts.progress)
    g, i = cal.all_pair_distances(e, held.character, progress=opts.progress)
    out = {
        f"symbol_{k}": dict(v, source=f"all pairs of {desc}") for k, v in cal.thresholds_from_distances(g, i).items()
    }
    del g, i
    if opts.camera:
        from .camera_calibration import camera_thresholds

        opts.log("calibrating on camera-like frames of the unseen symbols (nearest reference)")
        cam = camera_thresholds(
            emb,
            held.images,
            held.character,
            source=desc,
            probes=opts.symbol_probes,
            seed=opts.seed,
            progress=opts.progress,
            profiles_per_label=1,
        )
        out.update({f"symbol_{k}": v for k, v in cam.items()})
    return {k: dict(v, alphabets=names) for k, v in out.items()}


def calibrate_passcodes(src: Source, graph, dim: int, work: Path, opts: ExportOptions) -> dict:
    """Step 8b: the passcode points (``passcode2_far_1e-5`` ...: one threshold per position,
    chosen so that a whole card of 2, 3 or 4 held-out characters keeps FAR at or below 1e-5,
    counted as ``calibrate.passcode_points`` counts) from the held-out alphabets' clean
    drawings, or with ``opts.passcode_frames == "camera"`` from camera-like frames of half of
    them, measured on the other half (``calibrate.camera_passcode_points``); {} for a model
    without them, or a length with too few impostor cards (3 / FAR)."""
    from training.evaluate import omniglot_holdout

    try:
        held = omniglot_holdout(src.ckpt, opts.omniglot)
    except ValueError:
        return {}  # calibrate_symbols has said why
    if held is None:
        return {}
    emb = src.provisional_file(graph, dim, work / "passcodes.onnx", opts.log)
    names = sorted({held.alphabets[a] for a in np.unique(held.alphabet)})
    if opts.passcode_frames == "camera":
        if len(names) < 2:
            raise ExportError(
                f"--passcode-frames camera needs two or more held-out alphabets (one half to choose the points on, "
                f"one to measure them on); this checkpoint holds out {len(names)}. Use --passcode-frames clean."
            )
        opts.log("calibrating passcode points on camera-like frames of half the held-out alphabets")
        return cal.camera_passcode_points(emb, held, seed=opts.seed, log=opts.log)
    source = (
        f"clean drawings (model form) of the {np.unique(held.character).size} characters of the {len(names)} "
        f"Omniglot background alphabets held out of training ({', '.join(names)}): {len(held.images):,} "
        "drawings, symbols the model never saw"
    )
    opts.log("calibrating passcode points (2-4 unseen symbols on one card) on the held-out alphabets")
    e = cal.embed_all(emb, held.images, progress=opts.progress)
    return cal.passcode_points(e, held.character, held.drawer, source)


def model_contract(src: Source, dim: int, thresholds: dict, calib_desc: dict, report, quant_info) -> dict:
    """Step 9: the contract the file carries: input, output, thresholds and the default
    operating point, provenance."""
    ckpt, cfg = src.ckpt, src.cfg
    provenance = {
        "training_data": _training_data(ckpt),
        "recipe": cfg.get("recipe", ""),
        "arch": ckpt.get("arch"),
        "model_kwargs": ckpt.get("model_kwargs"),
        "parameters": src.parameters,
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
        "checkpoint": {"file": src.path.name, "sha256": _sha256(src.path), "created": ckpt.get("created")},
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "exporter": "twinlock export",
    }
    default_key = cal.choose_default(thresholds)
    return build_contract(cfg, dim, src.normalized, thresholds, default_key, provenance)


def write_verified(final, dest: Path, work: Path, check: Callable[[Path, str], None], opts: ExportOptions):
    """Step 10: the final bytes are checked as a file (ONNX checker, contract, fingerprint,
    parity) and only then written over ``dest`` atomically (paths.atomic_write_bytes: the
    old file or the whole new one, never a part). (bytes, fingerprint)."""
    step(opts.progress, "write", "checking and writing the model file")
    fingerprint = graph_fingerprint(final)
    data = final.SerializeToString()
    staged = work / "final.onnx"
    staged.write_bytes(data)
    check(staged, fingerprint)
    try:
        atomic_write_bytes(dest, data, mode=0o644)
    except OSError as exc:
        raise ExportError(f"cannot write in {dest.parent} ({exc.strerror or exc}); nothing was written.") from None
    return data, fingerprint


# --------------------------------------------------------------------------- the whole
def export_checkpoint(checkpoint, dest, opts: ExportOptions | None = None) -> ExportResult:
    """Export ``checkpoint`` to ``dest`` (see the module doc): the steps in order; each may
    refuse (:class:`ExportError`), and then nothing is written at ``dest``."""
    opts = opts or ExportOptions()
    dest = check_destination(dest)
    step(opts.progress, "load", "loading the checkpoint")
    src = load_source(checkpoint, opts.log)
    calib = calibration_data(src, opts)
    proto, dim, cases = build_graph(src, calib, opts)
    with tempfile.TemporaryDirectory(prefix="twinlock-export-") as work:
        work = Path(work)
        fm = check_parity(src, proto, dim, cases, work, opts)
        thresholds, calib_desc, timings = calibrate_float(fm, calib, opts)
        graph, quant_info, q_ref = fm.proto, None, None
        if opts.quantize:
            q = quantize(src, fm, thresholds, calib, work, timings, opts)
            graph, thresholds, quant_info, q_ref = q.proto, q.thresholds, q.info, q.reference
            calib_desc.update(genuine_comparisons=q.genuine, impostor_comparisons=q.impostor)
        if opts.camera:
            thresholds = dict(thresholds, **calibrate_camera(src, graph, dim, calib, work, opts))
        passcodes = {}
        if opts.symbols:
            thresholds.update(calibrate_symbols(src, graph, dim, work, opts))
            passcodes = calibrate_passcodes(src, graph, dim, work, opts)
        contract = model_contract(src, dim, thresholds, calib_desc, fm.report, quant_info)
        if passcodes:
            contract["passcodes"] = passcodes

        def check(path, fingerprint):
            _verify_written(path, fingerprint, src.model, cases, fm.refs, opts.tolerance, q_ref, opts.log)

        data, fingerprint = write_verified(with_contract(graph, contract), dest, work, check, opts)
    opts.log(f"wrote {dest} ({len(data) / 1024:.0f} KiB, fingerprint {fingerprint[:12]})")
    return ExportResult(
        path=dest,
        fingerprint=fingerprint,
        size_bytes=len(data),
        contract=contract,
        parity=fm.report.as_dict(),
        calibration=calib_desc,
        quantization=quant_info,
        timings_ms=timings,
    )


def check_destination(dest) -> Path:
    """Refuse a destination that cannot take the file before any long work."""
    dest = Path(dest)
    if dest.exists() and dest.is_dir():
        raise ExportError(f"{dest} is a folder; give the path of the .onnx file to write.")
    if dest.suffix.lower() != ".onnx":
        raise ExportError(f"{dest}: the output file name must end in .onnx.")
    _check_writable(dest)
    return dest


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
