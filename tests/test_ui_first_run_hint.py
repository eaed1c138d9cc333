"""The main window's first-run hint: saving a profile is confirmed, the hint ticks off what
is done and goes away when all three steps are, and can be shown again or dismissed for good.
Real widgets (pytest-qt, offscreen), real files."""

from __future__ import annotations

import cv2
from PySide6.QtWidgets import QWizard

from ui_support import admin_override_weak, digit_frames, on_modal

from desktop_app.ui.main_window import MainWindow


def write_pngs(tmp_path, digit, n):
    out = []
    for i, f in enumerate(digit_frames(digit, n, seed=40)):
        p = tmp_path / f"d{digit}_{i}.png"
        cv2.imwrite(str(p), f)
        out.append(str(p))
    return out


def test_saving_is_confirmed_and_the_first_run_hint_follows(qtbot, ctx, tmp_path):
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    assert win.hint_box.isVisible()
    text = win.hint_label.text()
    assert "1. enroll" in text and "2. test an unlock" in text and "3. calibrate" in text

    files = write_pngs(tmp_path, 3, 3)

    def drive(wiz):
        wiz.profile_page.name_edit.setText("bea")
        wiz.next()
        wiz.capture_page.k_spin.setValue(3)
        wiz.capture_page.import_files(files)
        wiz.next()
        admin_override_weak(wiz)  # a 3 is weak with the default model
        wiz.button(QWizard.WizardButton.FinishButton).click()

    seen = on_modal(drive)
    win.open_enrollment()
    assert seen == ["EnrollWizard"]
    assert ctx.store.get_profile("bea").n_references == 3
    assert "Saved: “bea” has 3 references" in win.banner.text()  # the confirmation
    assert "Saved" in win.statusBar().currentMessage()
    assert "✓" in win.hint_label.text() and "<s>enroll" in win.hint_label.text()
    assert "2. test an unlock" in win.hint_label.text()
    ctx.store.log_attempt("bea", "denied", best_distance=1.0, threshold=0.8)
    ctx.store.log_attempt("bea", "threshold_set", threshold=0.7)
    win.refresh_hint()
    assert not win.hint_box.isVisible()  # all three done
    win.show_hint_again()
    win.dismiss_hint()
    assert not win.hint_box.isVisible() and ctx.store.get_setting("first_run_hint_dismissed") is True
    win.close()
