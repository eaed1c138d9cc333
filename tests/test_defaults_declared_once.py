"""Every default and bound declared once: the policy bounds (core policy.POLICY_BOUNDS) are
the settings dialog's ranges and what Policy.validate allows; every app setting the code
reads or writes is declared in core settings.DEFAULTS, and no caller keeps a default of its
own that disagrees; `twinlock export` takes its defaults from the exporter's ExportOptions.
Each test fails when a second home comes back."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

from desktop_app.core.policy import POLICY_BOUNDS, Policy, check_profile_values
from desktop_app.core.settings import DEFAULTS, setting
from desktop_app.core.store import Store

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "desktop_app"
SETTING_CALLS = {"get_setting", "set_setting", "delete_setting", "setting"}


# --------------------------------------------------------------------------- policy bounds
def test_policy_validate_holds_n_to_the_core_bound():
    lo, hi = POLICY_BOUNDS["n"]
    assert Policy(k=1, n=hi, max_frames=hi).validate().n == hi
    with pytest.raises(ValueError, match=f"between {lo} and {hi}"):
        Policy(k=1, n=hi + 1, max_frames=hi + 1).validate()
    with pytest.raises(ValueError, match="n is"):
        check_profile_values(None, {"n": hi + 1})


def test_the_settings_dialog_takes_its_ranges_and_words_from_the_core(qtbot, ctx):
    from PySide6.QtWidgets import QFormLayout

    from desktop_app.ui.settings_dialog import SettingsDialog

    dlg = SettingsDialog(ctx)
    qtbot.addWidget(dlg)
    spins = {
        "k": dlg.k,
        "n": dlg.n,
        "time_limit_s": dlg.time_limit,
        "max_frames": dlg.max_frames,
        "k_nearest": dlg.k_nearest,
        "lockout_after": dlg.lockout_after,
        "lockout_base_s": dlg.lockout_base,
        "lockout_factor": dlg.lockout_factor,
        "lockout_max_s": dlg.lockout_max,
    }
    for field, spin in spins.items():
        assert (spin.minimum(), spin.maximum()) == pytest.approx(POLICY_BOUNDS[field]), field
    # the one bound the dialog does not show is a verifier detail, not a setting
    assert set(POLICY_BOUNDS) - set(spins) == {"change_factor"}

    # k of the *first* n frames, as the verifier decides (test_verifier: first n acquired)
    form = dlg.n.parentWidget().layout()
    assert isinstance(form, QFormLayout)
    label = form.labelForField(dlg.n).text()
    assert "first n frames" in label and "last" not in label

    # every setting the dialog saves is a declared one
    assert set(dlg.values()) <= set(DEFAULTS)


# --------------------------------------------------------------------------- settings keys
def _module(path: Path):
    rel = path.relative_to(ROOT).with_suffix("")
    return importlib.import_module(".".join(rel.parts))


def _constant(path: Path, tree, name: str):
    """The value of ``name`` in ``path``'s module, or where the file imports it from (also
    inside a function)."""
    value = getattr(_module(path), name, None)
    if value is not None:
        return value
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == name for a in node.names):
            base = importlib.import_module(("." * node.level) + (node.module or ""), package if node.level else None)
            return getattr(base, name, None)
    return None


def _setting_calls():
    """(file, line, key or None, default node or None) for every settings call in the app; a
    key held in a module constant is resolved through the module."""
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in SETTING_CALLS:
                continue
            args = list(node.args)
            if name == "setting":
                args = args[1:]  # setting(store, key)
            if not args:
                continue
            key, default = args[0], (args[1] if name == "get_setting" and len(args) > 1 else None)
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                yield path, node.lineno, key.value, default
            elif isinstance(key, ast.Name):
                value = _constant(path, tree, key.id)
                yield path, node.lineno, value if isinstance(value, str) else None, default
            else:
                yield path, node.lineno, None, default


# the places that handle any key (the settings functions themselves) or a key per model
GENERIC = {
    ("core/settings.py", "key"),  # setting() and save_settings(): any declared key
    ("core/model_trust.py", "_key"),  # model_trust.KEY_PREFIX + a fingerprint
}


def test_every_setting_the_app_reads_or_writes_is_declared_with_its_default():
    seen, undeclared, disagree = set(), [], []
    for path, line, key, default in _setting_calls():
        where = f"{path.relative_to(APP)}:{line}"
        if key is None:
            src = path.read_text().splitlines()[line - 1]
            assert any(str(path.relative_to(APP)) == f and n in src for f, n in GENERIC), (
                f"{where}: a setting whose key cannot be read here: {src.strip()}"
            )
            continue
        seen.add(key)
        if key not in DEFAULTS:
            undeclared.append(f"{where}: {key}")
        elif default is not None:
            try:
                literal = ast.literal_eval(default)
            except ValueError:
                continue  # a computed default (DEFAULTS[...], the model's level)
            if literal != DEFAULTS[key]:
                disagree.append(f"{where}: {key} defaults to {literal!r}, DEFAULTS says {DEFAULTS[key]!r}")
    # the audit log's retention is read by the store in its own SQL
    for path in APP.rglob("*.py"):
        for key in re.findall(r"\baudit_retention_\w+", path.read_text()):
            seen.add(key)
            if key not in DEFAULTS:
                undeclared.append(f"{path.relative_to(APP)}: {key}")
    assert not undeclared, undeclared
    assert not disagree, disagree
    assert {"first_run_hint_dismissed", "audit_retention_rows", "audit_retention_days"} <= seen
    assert set(DEFAULTS) <= seen, set(DEFAULTS) - seen  # nothing declared for nothing


def test_setting_gives_the_declared_default_and_refuses_an_undeclared_key(tmp_path):
    with Store(tmp_path / "db.sqlite3") as s:
        for key, default in DEFAULTS.items():
            assert setting(s, key) == default
        s.set_setting("first_run_hint_dismissed", True)
        assert setting(s, "first_run_hint_dismissed") is True
        got = setting(s, "resolution")
        got.append(0)  # a caller's copy, never the declaration itself
        assert DEFAULTS["resolution"] == [640, 480]
        with pytest.raises(KeyError):
            setting(s, "not_a_setting")


# --------------------------------------------------------------------------- export options
def test_twinlock_export_takes_its_defaults_from_the_exporter():
    pytest.importorskip("torch")
    from desktop_app.cli.export import export_options
    from desktop_app.cli.main import build_parser
    from export.pipeline import ExportOptions

    parse = build_parser().parse_args
    args = parse(["export", "ck.pt", "-o", "m.onnx"])
    for opt in ("calib_count", "seed", "max_eer_increase", "max_frr_increase", "camera_probes", "symbol_folds"):
        assert getattr(args, opt) is None, opt  # "the exporter's", never a copy of its number
    assert export_options(args) == ExportOptions()
    given = parse(
        ["export", "ck.pt", "-o", "m.onnx", "--calib-count", "0", "--seed", "3", "--camera-probes", "7"]
        + ["--no-camera-calibration", "--quantize", "--max-eer-increase", "0.5", "--symbol-folds", "a.pt"]
    )
    opts = export_options(given)
    assert (opts.calib_count, opts.seed, opts.camera_probes, opts.camera, opts.quantize) == (None, 3, 7, False, True)
    assert (opts.max_eer_increase_points, opts.symbol_folds) == (0.5, ("a.pt",))
    assert opts.max_frr_increase_points == ExportOptions().max_frr_increase_points
