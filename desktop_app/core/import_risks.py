"""What an imported profile would loosen: a threshold looser than the model's default, or a
policy weaker than the one this app applies (fewer matching frames, more frames or time per
attempt, more denials before a lockout, shorter lockouts, a laxer change rule). Such an import
needs a confirmation and is audited with what it loosened, as calibration does
(core.store.profile_file)."""

from __future__ import annotations

from .policy import app_policy

# policy fields where a larger value is weaker, and where a smaller one is
WEAKER_IF_HIGHER = ("n", "time_limit_s", "max_frames", "lockout_after", "change_factor")
WEAKER_IF_LOWER = ("k", "k_nearest", "lockout_base_s", "lockout_factor", "lockout_max_s")


def import_risks(store, contract, threshold: float | None, policy: dict) -> list[str]:
    """The ways a profile with ``threshold`` and ``policy`` is weaker than the model's default
    threshold (``contract``) and this app's policy (defaults <- the app's "policy" setting),
    in words; [] when it is not. ``store``: where the setting is read (a Store, or the
    ``app_settings`` table a profile import is given)."""
    app = app_policy(store)
    out = []
    default = float(contract.default_threshold)
    for label, t in (("threshold", threshold), ("policy's threshold", (policy or {}).get("threshold"))):
        if t is not None and float(t) > default:
            out.append(f"its {label} {float(t):.4g} is looser than the model's default {default:.4g}")
    for key, v in (policy or {}).items():
        if key in WEAKER_IF_HIGHER and float(v) > float(getattr(app, key)):
            out.append(f"its {key} {float(v):g} is more than this app's {float(getattr(app, key)):g}")
        elif key in WEAKER_IF_LOWER and float(v) < float(getattr(app, key)):
            out.append(f"its {key} {float(v):g} is less than this app's {float(getattr(app, key)):g}")
    return out
