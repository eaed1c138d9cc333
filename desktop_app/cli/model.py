"""``twinlock model info [MODEL.onnx] [--provider P] [--json]``: a model's contract,
thresholds, card and provider, after the checks the app makes (needs only the runtime)."""

from __future__ import annotations

import json

from .common import EXIT_SETUP, SetupError


def register(sub) -> None:
    m = sub.add_parser("model", help="show or check an ONNX model and its contract")
    msub = m.add_subparsers(dest="model_command", metavar="ACTION")
    info = msub.add_parser(
        "info",
        help="print a model's contract, thresholds, card and provider",
        description="Validate the model (default: the configured one, else "
        "$TWINLOCK_MODEL, else the shipped default) and print its contract.",
    )
    info.add_argument("path", nargs="?", help="the .onnx file (default: the model in use)")
    info.add_argument(
        "--provider",
        choices=("auto", "cuda", "cpu"),
        default="auto",
        help="execution provider preference (default auto: CUDA if usable)",
    )
    info.add_argument("--json", action="store_true", help="print the contract as JSON")
    info.set_defaults(func=cmd_model_info)
    m.set_defaults(func=lambda args: (m.print_help(), EXIT_SETUP)[1])


def cmd_model_info(args) -> int:
    from desktop_app.core.contract import ContractError, read_contract
    from desktop_app.core.embedder import Embedder, resolve_model_path

    path = resolve_model_path(args.path)
    try:
        c = read_contract(path)
    except ContractError as exc:
        raise SetupError(str(exc)) from None
    try:
        emb = Embedder(path, preference=args.provider, warmup=False)
        provider, fallback = emb.provider, emb.fallback_reason
    except ContractError as exc:
        # a contract that reads but a model ONNX Runtime cannot load or run is not usable (exit 4)
        raise SetupError(str(exc)) from None
    card = path.with_suffix(".md")
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(path),
                    "fingerprint": c.fingerprint,
                    "provider": provider,
                    "fallback_reason": fallback,
                    "card": str(card) if card.exists() else None,
                    "contract": c.raw,
                },
                indent=2,
                sort_keys=True,
            )
        )
        return 0
    prov = c.provenance
    print(f"model:       {path} ({path.stat().st_size / 1024:.0f} KiB)")
    print(f"fingerprint: {c.fingerprint}")
    print(
        f"contract:    version {c.version}; input '{c.input_name}' [N,1,{c.image_size},{c.image_size}] "
        f"float32, {c.polarity.replace('_', ' ')}, x*{c.scale:.6g} then (x-{c.mean:g})/{c.std:g}"
    )
    print(
        f"embedding:   '{c.output_name}' dim {c.embedding_dim}, {c.metric} distance, "
        f"{'L2-normalised' if c.normalized else 'not normalised'}"
    )
    print("thresholds:")
    for key, op in c.thresholds.items():
        mark = "  <- default" if key == c.default_threshold_key else ""
        try:
            print(
                f"  {key:9s} {float(op['threshold']):.4f}  FAR {float(op['far']):.2e}  "
                f"FRR {float(op['frr']) * 100:.3f}%  ({op['genuine']:,} genuine, "
                f"{op['impostor']:,} impostor comparisons){mark}"
            )
        except (KeyError, TypeError, ValueError):
            print(f"  {key:9s} {op}{mark}")
    calib = prov.get("calibration") or {}
    if calib:
        print(f"calibrated:  {calib.get('description', '')}")
    if prov.get("training_data"):
        print(f"trained on:  {prov['training_data']}")
    if prov.get("recipe"):
        print(f"recipe:      {prov['recipe']}")
    q = prov.get("quantization")
    if q:
        print(f"quantized:   int8 ({q.get('method', '')})")
    if prov.get("date"):
        v = prov.get("versions") or {}
        print(
            f"exported:    {prov['date']} with torch {v.get('torch', '?')}, onnx {v.get('onnx', '?')}, "
            f"onnxruntime {v.get('onnxruntime', '?')}"
        )
    print(f"provider:    {provider}" + (f" ({fallback})" if fallback else ""))
    print(f"model card:  {card if card.exists() else 'none beside the model'}")
    return 0
