"""``twinlock model info [MODEL.onnx] [--provider P] [--json]``: a model's contract,
thresholds, card and provider, after the checks the app makes (needs only the runtime).
``twinlock model use MODEL.onnx``: use that model from now on and accept its contract (its
thresholds) for this database -- an admin action (core settings.switch_model, model_trust).
``twinlock model calibrate-passcode``: a copy of a model with passcode points (cli/passcode_points)."""

from __future__ import annotations

import json

from desktop_app.core.admin_actions import Declined, confirm_model_risk
from desktop_app.core.contract import ContractError, read_contract
from desktop_app.core.embedder import Embedder, resolve_model_path
from desktop_app.core.settings import switch_model

from .common import (
    EXIT_OK,
    EXIT_SETUP,
    SetupError,
    add_common,
    friendly,
    open_store,
    progress_bar,
    require_admin,
)


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
    use = msub.add_parser(
        "use",
        help="use a model from now on and accept its contract (its thresholds) for this database (admin)",
        description="Validate the model, re-embed every reference with it (all or nothing), make it the "
        "configured model and accept its contract: a model whose contract differs from the accepted "
        "one (an edited threshold) is refused until an admin does this. Needs the admin passphrase "
        "when one is set; audited.",
    )
    use.add_argument("path", help="the .onnx file")
    use.add_argument(
        "--yes",
        action="store_true",
        help="use it even when its default threshold is looser than FAR 1e-3 or not supported by "
        "its counts (otherwise that needs a confirmation; audited either way)",
    )
    add_common(use)
    use.set_defaults(func=cmd_model_use)
    from .passcode_points import register as register_passcode

    register_passcode(msub)
    m.set_defaults(func=lambda args: (m.print_help(), EXIT_SETUP)[1])


def cmd_model_info(args) -> int:
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


def _confirm_risk(args) -> bool:
    """core admin_actions.confirm_model_risk (the rule the export dialog applies too): --yes
    or a "y" at the prompt. False when no confirmation is needed."""
    from pathlib import Path

    from .admin_gate import confirmation

    contract = Embedder(Path(args.path).expanduser(), "cpu", warmup=False).contract
    try:
        return confirm_model_risk(contract, confirmation(args))
    except Declined:
        raise SetupError(
            "not switched: this model needs a confirmation (see the warning); add --yes to use it anyway"
        ) from None


@friendly
def cmd_model_use(args) -> int:
    if args.model:
        raise SetupError("model use takes the model as its argument, not --model")
    store = open_store(args)
    require_admin(args, store, "model use")
    confirmed = _confirm_risk(args)
    emb = switch_model(
        store, args.path, preference=args.provider, progress=progress_bar("re-embedding"), risk_confirmed=confirmed
    )
    print(
        f"now using {emb.path} (fingerprint {emb.contract.short_fingerprint}, default threshold "
        f"{emb.contract.default_threshold:.4f}); its contract is accepted for this database"
    )
    return EXIT_OK
