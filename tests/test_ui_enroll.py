"""Enrollment through the wizard, from a fake camera (a video file) and from image files; the
wizard's focus, Enter key and words."""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from ui_support import admin_override_weak, digit_frames

from desktop_app.ui.capture import Capture
from desktop_app.ui.enroll_wizard import EnrollWizard


def start_capture(qtbot, video):
    from desktop_app.core.camera import open_source

    cap = Capture()
    frames = []
    cap.frame.connect(lambda fr, res: frames.append(res))
    cap.start(lambda: open_source(str(video), loop=True, realtime=True))
    qtbot.waitUntil(lambda: len(frames) > 0, timeout=5000)
    return cap


def next_frame(qtbot, page):
    page._latest = None
    qtbot.waitUntil(lambda: page._latest is not None, timeout=3000)


def test_enroll_through_wizard_from_fake_camera(qtbot, ctx, videos):
    cap = start_capture(qtbot, videos["three"])
    wiz = EnrollWizard(ctx, cap)
    qtbot.addWidget(wiz)
    wiz.show()
    # page 1: a bad name is refused with a message, a good one accepted
    pp = wiz.profile_page
    qtbot.keyClicks(pp.name_edit, "../etc")
    wiz.next()
    assert wiz.currentPage() is pp and pp.error.text()
    pp.name_edit.setText("alice")
    wiz.next()
    page = wiz.capture_page
    assert wiz.currentPage() is page
    page.k_spin.setValue(4)
    assert not page.isComplete()
    assert not wiz.button(QWizard.WizardButton.NextButton).isEnabled()
    for _ in range(4):
        next_frame(qtbot, page)
        assert page._latest[1].ok, page._latest[1].reason
        qtbot.keyClick(page, Qt.Key.Key_Space)  # Capture (Space)
    assert len(page.items) == 4 and page.list.count() == 4
    assert "4 of 4" in page.count_label.text()
    # retake: discard #2, capture another
    page.list.item(1).setSelected(True)
    page.discard_selected()
    assert len(page.items) == 3 and not page.isComplete()
    assert [page.list.item(i).text() for i in range(3)] == ["#1", "#2", "#3"]
    next_frame(qtbot, page)
    page.capture_button.click()
    assert page.isComplete() and wiz.button(QWizard.WizardButton.NextButton).isEnabled()
    wiz.next()
    summ = wiz.summary_page
    assert wiz.currentPage() is summ
    assert summ.table.rowCount() == 4
    assert "4 references" in summ.message.text()
    assert summ.report.distances.shape == (4, 4)
    admin_override_weak(wiz)  # a 3 is weak with the default model
    wiz.button(QWizard.WizardButton.FinishButton).click()
    assert wiz.saved_profile == "alice"
    prof = ctx.store.get_profile("alice")
    assert prof.n_references == 4
    refs = ctx.store.references("alice")
    assert all(r.fingerprint == ctx.embedder.fingerprint for r in refs)
    np.testing.assert_allclose(refs[0].embedding, summ.embeddings[0], atol=1e-6)
    assert refs[0].image.shape == (28, 28) and refs[0].crop is not None
    assert ctx.store.audit(profile="alice", decision="enrolled")
    cap.shutdown()


def test_capture_gate_refuses_frames_without_a_symbol(qtbot, ctx, videos):
    cap = start_capture(qtbot, videos["blank"])
    wiz = EnrollWizard(ctx, cap)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.profile_page.name_edit.setText("bob")
    wiz.next()
    page = wiz.capture_page
    next_frame(qtbot, page)
    assert not page.capture_current()
    assert page.gate.text().startswith("Not taken:")
    assert page.items == []
    cap.shutdown()


def test_import_files_with_outlier_warning(qtbot, ctx, tmp_path):
    cap = Capture()  # no camera at all
    wiz = EnrollWizard(ctx, cap)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.profile_page.name_edit.setText("carol")
    wiz.next()
    page = wiz.capture_page
    assert not page.capture_current() and "No camera" in page.gate.text()
    paths = []
    for i, f in enumerate(digit_frames(3, 5, seed=300) + digit_frames(7, 1, seed=700)):
        p = tmp_path / f"img{i}.png"
        cv2.imwrite(str(p), f)
        paths.append(str(p))
    bad = tmp_path / "not-an-image.png"
    bad.write_bytes(b"nope")
    page.k_spin.setValue(6)
    page.import_files(paths + [str(bad)])
    assert len(page.items) == 6
    assert "not-an-image.png" in page.import_errors.text()
    wiz.next()
    rep = wiz.summary_page.report
    # the 7 among five 3s stands out (a sloppy 3 may too, with a weak model)
    assert 5 in rep.outliers and len(rep.outliers) <= 2, rep.median_to_others
    assert "#6 (median distance" in wiz.summary_page.message.text()


def test_add_references_to_an_existing_profile(qtbot, ctx, tmp_path, videos):
    from ui_support import enroll_from_video

    enroll_from_video(ctx, videos["three"], "dora", count=2)
    wiz = EnrollWizard(ctx, Capture(), preselect="dora")
    qtbot.addWidget(wiz)
    wiz.show()
    pp = wiz.profile_page
    pp.name_edit.setText("dora")  # taken: refused with a way out
    wiz.next()
    assert wiz.currentPage() is pp and "already exists" in pp.error.text()
    pp.existing_radio.setChecked(True)
    assert pp.combo.currentText() == "dora"
    wiz.next()
    p = tmp_path / "extra.png"
    cv2.imwrite(str(p), digit_frames(3, 1, seed=301)[0])
    wiz.capture_page.k_spin.setValue(1)
    wiz.capture_page.import_files([str(p)])
    wiz.next()
    admin_override_weak(wiz)
    wiz.button(QWizard.WizardButton.FinishButton).click()
    assert ctx.store.get_profile("dora").n_references == 3


def test_wizard_focus_enter_and_words(qtbot, ctx, videos):
    cap = start_capture(qtbot, videos["three"])
    wiz = EnrollWizard(ctx, cap)
    qtbot.addWidget(wiz)
    wiz.show()
    pp = wiz.profile_page
    qtbot.waitUntil(lambda: wiz.focusWidget() is pp.name_edit, timeout=2000)  # type the name at once
    qtbot.keyClicks(wiz.focusWidget(), "alice")
    assert pp.name_edit.text() == "alice"
    wiz.next()
    page = wiz.capture_page
    page.k_spin.setValue(2)
    for _ in range(2):
        page._latest = None
        qtbot.waitUntil(lambda: page._latest is not None and page._latest[1].ok, timeout=3000)
        page.capture_button.click()  # the last button used: Enter must not click it
    assert len(page.items) == 2
    page._latest = None
    qtbot.waitUntil(lambda: page._latest is not None and page._latest[1].ok, timeout=3000)
    qtbot.keyClick(page, Qt.Key.Key_Space)  # a third capture is refused, with the reason
    assert len(page.items) == 2 and "All 2 references are taken" in page.gate.text()
    assert "2 of 2 references taken" in page.count_label.text()
    qtbot.keyClick(page.capture_button, Qt.Key.Key_Return)  # Enter: Next, not a capture
    assert len(page.items) == 2
    assert wiz.currentPage() is wiz.summary_page
    assert "Save stores them" in wiz.summary_page.subTitle() and "Finish" not in wiz.summary_page.subTitle()
    assert wiz.buttonText(QWizard.WizardButton.FinishButton) == "Save"
    wiz.reject()
    cap.shutdown()
