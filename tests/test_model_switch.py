"""A model whose default operating point is looser than FAR 1e-3, or not
supported by its counts (rule of three), is used only after a confirmation in words, and the
switch is audited with what was confirmed -- in the export dialog's "Use this model" and in
`twinlock model use` alike (one core rule: calibration.model_risk)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from desktop_app.core import calibration
from desktop_app.core.contract import CONTRACT_KEY
from desktop_app.core.embedder import Embedder
from desktop_app.core.store import Store
from pixel_model import make_pixel_model
from ui_support import on_modal

ROOT = Path(__file__).resolve().parents[1]


def with_default_point(src: Path, dest: Path, key: str, op: dict) -> Path:
    """``src`` with its contract's default operating point replaced (the fingerprint covers
    the graph and weights only, so the file stays valid)."""
    m = onnx.load(str(src))
    for kv in m.metadata_props:
        if kv.key == CONTRACT_KEY:
            doc = json.loads(kv.value)
            doc["thresholds"][key] = op
            doc["default_threshold"] = key
            kv.value = json.dumps(doc, sort_keys=True)
    onnx.save(m, str(dest))
    return dest


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    base = make_pixel_model(d / "pixel.onnx")
    # the model: eer at 0.507 with FAR 0.15 ("lets one in 7 through")
    loose = with_default_point(
        base,
        d / "loose.onnx",
        "eer",
        {"threshold": 0.507, "far": 0.15, "frr": 0.15, "genuine": 900, "impostor": 9000, "false_accepts": 1350},
    )
    # FAR 1e-3 claimed on 90 impostor comparisons: the counts cannot support it
    thin = with_default_point(
        base,
        d / "thin.onnx",
        "far_1e-3",
        {"threshold": 0.4, "far": 0.0, "frr": 0.1, "genuine": 30, "impostor": 90, "target_far": 0.001},
    )
    return {"ok": base, "loose": loose, "thin": thin}


def test_the_rule(models):
    ok = calibration.model_risk(Embedder(models["ok"], "cpu", warmup=False).contract)
    assert not ok.needs_confirmation
    loose = calibration.model_risk(Embedder(models["loose"], "cpu", warmup=False).contract)
    assert loose.looser and loose.needs_confirmation
    assert "1 in 7" in loose.message() and "1,350 of 9,000" in loose.message()
    thin = calibration.model_risk(Embedder(models["thin"], "cpu", warmup=False).contract)
    assert thin.unsupported and not thin.looser and "at least 3,000" in thin.message()


def _twinlock(tmp_path, *args):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TWINLOCK_HOME=str(tmp_path / "home"))
    for k in ("TWINLOCK_DB", "TWINLOCK_MODEL", "TWINLOCK_PASSPHRASE"):
        env.pop(k, None)
    return subprocess.run(
        [sys.executable, "-m", "desktop_app.cli.main", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("which", ["loose", "thin"])
def test_model_use_needs_yes(tmp_path, models, which):
    db = tmp_path / "db.sqlite3"
    r = _twinlock(tmp_path, "model", "use", models[which], "--db", db)
    assert r.returncode == 4, r.stdout + r.stderr
    assert "add --yes" in r.stderr and "other symbols" in r.stderr
    with Store(db) as st:
        assert st.get_setting("model_path", None) is None  # nothing changed
        assert not st.audit(decision="model_switched")
    r = _twinlock(tmp_path, "model", "use", models[which], "--yes", "--db", db)
    assert r.returncode == 0, r.stderr
    with Store(db) as st:
        assert st.get_setting("model_path", None) == str(models[which].resolve())
        row = st.audit(decision="model_switched")[0]
    assert row.detail["risk_confirmed"] is True
    assert row.detail["looser_than_far_limit"] is (which == "loose")
    assert row.detail["unsupported"] is (which == "thin")


def test_model_use_of_a_sound_model_asks_nothing(tmp_path, models):
    db = tmp_path / "db.sqlite3"
    r = _twinlock(tmp_path, "model", "use", models["ok"], "--db", db)
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr
    with Store(db) as st:
        assert "risk_confirmed" not in st.audit(decision="model_switched")[0].detail


def test_the_core_refuses_without_the_confirmation(tmp_path, models):
    from desktop_app.core.settings import switch_model

    with Store(tmp_path / "db.sqlite3") as st:
        with pytest.raises(calibration.ModelRiskError, match="1 in 7"):
            switch_model(st, models["loose"], preference="cpu")
        assert st.get_setting("model_path", None) is None


def test_use_this_model_asks_in_words(qtbot, ctx, models):
    from desktop_app.ui.export_dialog import ExportDialog

    old = ctx.embedder.fingerprint
    dlg = ExportDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.onnx_radio.setChecked(True)
    dlg.onnx_edit.setText(str(models["loose"]))
    dlg.start_button.click()
    assert dlg.use_button.isEnabled(), dlg.result_label.text()
    texts = []

    def no(w):
        texts.append(w.text())
        w.button(w.StandardButton.No).click()

    on_modal(no)
    dlg.use_button.click()
    assert texts and "1 in 7" in texts[0] and "audit" in texts[0]
    assert "Not switched" in dlg.result_label.text()
    assert ctx.embedder.fingerprint == old and not ctx.store.audit(decision="model_switched")

    on_modal(lambda w: w.button(w.StandardButton.Yes).click())
    dlg.use_button.click()
    qtbot.waitUntil(lambda: dlg.switched, timeout=30000)
    row = ctx.store.audit(decision="model_switched")[0]
    assert row.detail["risk_confirmed"] is True and row.detail["far"] == pytest.approx(0.15)


def test_export_dialog_says_what_is_missing_for_an_empty_path(qtbot, ctx):
    from desktop_app.ui.export_dialog import ExportDialog

    dlg = ExportDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.onnx_radio.setChecked(True)
    dlg.onnx_edit.setText("   ")
    dlg.start_button.click()
    text = dlg.result_label.text()
    assert "folder" not in text and " . " not in text
    assert "Choose the .onnx model file" in text
