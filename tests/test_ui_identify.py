"""Tools ▸ Identify… and the enrollment wizard's strength panel: real widgets (offscreen), the
shipped model in ONNX Runtime, real SQLite, a fake camera from a video file."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtWidgets import QWizard

import symbol_sheets as S

from desktop_app.core.strength import set_policy_level
from desktop_app.ui.capture import Capture
from desktop_app.ui.enroll_wizard import EnrollWizard
from desktop_app.ui.identify_dialog import IdentifyDialog


@pytest.fixture
def shipped_ctx(ctx):
    from desktop_app.core.paths import DEFAULT_MODEL

    if ctx.embedder.path.resolve() != DEFAULT_MODEL.resolve():
        pytest.skip("needs the shipped model")
    return ctx


def test_identify_dialog_on_files_and_a_user_gallery(qtbot, shipped_ctx, tmp_path):
    dlg = IdentifyDialog(shipped_ctx, None)
    qtbot.addWidget(dlg)
    dlg.show()
    assert not dlg.live.isEnabled()  # no camera given
    p = tmp_path / "four.png"
    cv2.imwrite(str(p), S.digit(4, 2))
    assert dlg.identify_file(str(p))
    assert dlg.last_result.label == "4"
    assert dlg.answer.text().startswith("This is a 4 (distance ")
    assert dlg.table.rowCount() == 8 and dlg.table.item(0, 0).text() == "4"
    assert float(dlg.table.item(0, 2).text()) == pytest.approx(dlg.last_result.distance, abs=1e-3)
    assert dlg.digit._image is not None and "shipped MNIST digits" in dlg.gallery_label.text()
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 235, np.uint8))
    assert not dlg.identify_file(str(blank))
    assert dlg.answer.text().startswith("No symbol:") and dlg.table.rowCount() == 0
    assert not dlg.identify_file(str(tmp_path / "missing.png")) and "no such file" in dlg.answer.text()
    # a user's labelled folder
    gal = tmp_path / "gal"
    for lab, fn in (("seven", S.seven), ("spirals", S.crossed_spirals)):
        (gal / lab).mkdir(parents=True)
        for i in range(2):
            cv2.imwrite(str(gal / lab / f"{i}.png"), fn(i))
    assert dlg.set_gallery_folder(gal)
    q = tmp_path / "spir.png"
    cv2.imwrite(str(q), S.crossed_spirals(5))
    assert dlg.identify_file(str(q)) and dlg.last_result.label == "spirals"
    assert dlg.gallery_combo.currentIndex() == 2 and "4 images of" in dlg.gallery_label.text()


def test_identify_dialog_live_from_the_camera(qtbot, shipped_ctx, videos):
    from desktop_app.core.camera import open_source

    cap = Capture()
    cap.start(lambda: open_source(str(videos["seven"]), loop=True, realtime=True))
    dlg = IdentifyDialog(shipped_ctx, cap)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.live.setChecked(True)
    qtbot.waitUntil(lambda: dlg.last_result is not None, timeout=8000)
    assert dlg.last_result.label == "7" and dlg.view.has_frame()
    dlg.live.setChecked(False)
    dlg.reject()
    cap.shutdown()


def _import_sevens(qtbot, ctx, tmp_path, name):
    wiz = EnrollWizard(ctx, Capture())
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.profile_page.name_edit.setText(name)
    wiz.next()
    paths = []
    for i in range(3):
        p = tmp_path / f"{name}{i}.png"
        cv2.imwrite(str(p), S.seven(i))
        paths.append(str(p))
    wiz.capture_page.k_spin.setValue(3)
    wiz.capture_page.import_files(paths)
    wiz.next()
    assert wiz.currentPage() is wiz.summary_page
    return wiz


def test_wizard_strength_panel_refuses_weak_unless_overridden(qtbot, shipped_ctx, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    set_policy_level(shipped_ctx.store, "fair")
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(a[2]))
    wiz = _import_sevens(qtbot, shipped_ctx, tmp_path, "dave")
    panel = wiz.summary_page.strength
    assert panel.report.level == "weak" and panel.report.looks_like.label == "7"
    assert "this looks like the digit 7" in panel.verdict.text()
    assert len(panel.neighbours) == 6 and panel.override.isVisibleTo(wiz)
    wiz.button(QWizard.WizardButton.FinishButton).click()
    assert wiz.saved_profile is None and not shipped_ctx.store.has_profile("dave")
    assert warned and "below the minimum strength" in warned[0]
    panel.override.setChecked(True)
    wiz.button(QWizard.WizardButton.FinishButton).click()
    assert wiz.saved_profile == "dave" and shipped_ctx.store.get_profile("dave").n_references == 3
    over = shipped_ctx.store.audit(profile="dave", decision="enroll_weak_override")
    assert len(over) == 1 and over[0].detail["by"] == "app override"


def test_wizard_strength_panel_advisory_policy(qtbot, shipped_ctx, tmp_path):
    set_policy_level(shipped_ctx.store, "weak")  # the admin accepts any symbol
    wiz = _import_sevens(qtbot, shipped_ctx, tmp_path, "erin")
    panel = wiz.summary_page.strength
    assert panel.report.level == "weak" and not panel.override.isVisibleTo(wiz)
    wiz.button(QWizard.WizardButton.FinishButton).click()
    assert wiz.saved_profile == "erin"
    assert not shipped_ctx.store.audit(profile="erin", decision="enroll_weak_override")
