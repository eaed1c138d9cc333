"""Small things a new user trips over: the enroll wizard's focus, Enter and words, the
confirmation after saving, the in-app guide and the first-run hint."""

from __future__ import annotations

from pathlib import Path

import cv2
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from ui_support import admin_override_weak, digit_frames, on_modal

from desktop_app.ui.capture import Capture
from desktop_app.ui.enroll_wizard import EnrollWizard
from desktop_app.ui.main_window import MainWindow


def start_capture(qtbot, video):
    from desktop_app.core.camera import open_source

    cap = Capture()
    got = []
    cap.frame.connect(lambda fr, res: got.append(1))
    cap.start(lambda: open_source(str(video), loop=True, realtime=True))
    qtbot.waitUntil(lambda: bool(got), timeout=5000)
    return cap


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


def test_help_guide_shows_the_guide_with_screenshots(qtbot, ctx):
    from desktop_app.ui.guide import GUIDE

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    help_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Help")
    names = [a.text() for a in help_menu.actions() if a.text()]
    assert names[0] == "&Guide…" and "&About twinlock" in names
    got = []

    def look(dlg):
        got.append((dlg.browser.toPlainText(), dlg.image_names()))
        dlg.accept()

    seen = on_modal(look)
    win.findChild(type(win.act_start), "actionGuide").trigger()
    assert seen == ["GuideDialog"]
    text, images = got[0]
    assert "Unlock" in text and "Calibrate the threshold" in text and "Security" not in text
    assert "screenshots/main_granted.png" in images and len(images) >= 5
    for name in images:
        assert (Path(GUIDE).parent / name).is_file(), name
    win.close()
