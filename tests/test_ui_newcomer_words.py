"""What a newcomer tripped over in the enrollment wizard, Identify, Help ▸
Guide, the passphrase prompt, Settings, the status bar, the strength panel and the charts.
Real widgets (pytest-qt, offscreen), the real model, real files."""

from __future__ import annotations

import re

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWizard

from desktop_app.ui.enroll_wizard import EnrollWizard
from symbol_sheets import crossed_spirals
from ui_support import make_window, on_modal

from test_ui_enroll import next_frame, start_capture


def _to_capture_page(qtbot, ctx, cap, name="alice", k=2):
    wiz = EnrollWizard(ctx, cap)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.profile_page.name_edit.setText(name)
    wiz.next()
    page = wiz.capture_page
    page.k_spin.setValue(k)
    return wiz, page


# --- the wizard -------------------------------------------------------------------------
def test_a_refusal_is_not_overwritten_by_the_next_frame(qtbot, ctx, videos):
    cap = start_capture(qtbot, videos["three"])
    wiz, page = _to_capture_page(qtbot, ctx, cap, k=2)
    next_frame(qtbot, page)
    qtbot.keyClick(page, Qt.Key.Key_Space)
    assert len(page.items) == 1
    qtbot.keyClick(page, Qt.Key.Key_Return)  # Enter before all are taken: says what is missing
    assert "Take 1 more" in page.gate.text()
    next_frame(qtbot, page)
    assert "Take 1 more" in page.gate.text()  # the next frame did not replace it
    next_frame(qtbot, page)
    qtbot.keyClick(page, Qt.Key.Key_Space)
    assert len(page.items) == 2
    next_frame(qtbot, page)
    qtbot.keyClick(page, Qt.Key.Key_Space)  # a third: refused
    refusal = page.gate.text()
    assert refusal.startswith("All 2 references are taken")
    next_frame(qtbot, page)
    assert page.gate.text() == refusal
    assert "press Capture" not in page.gate.text()
    wiz.close()
    cap.shutdown()


def test_space_after_import_captures(qtbot, ctx, videos, tmp_path):
    img = tmp_path / "three.png"
    from training.camera_sim import render_frame

    cv2.imwrite(str(img), render_frame(3, seed=77, size=(320, 240)))
    cap = start_capture(qtbot, videos["three"])
    wiz, page = _to_capture_page(qtbot, ctx, cap, k=3)

    # a click on Import… opens the file dialog (answered here by Cancel: choosing a file in
    # Qt's own dialog under the offscreen platform does not return), then the files come in
    seen = on_modal(lambda w: w.reject())
    qtbot.mouseClick(page.import_button, Qt.MouseButton.LeftButton)
    assert seen == ["QFileDialog"]
    page.import_files([str(img)])
    assert len(page.items) == 1
    assert QApplication.focusWidget() is not page.import_button
    wiz.activateWindow()  # as the window manager does when the file dialog closes
    qtbot.waitUntil(lambda: QApplication.activeWindow() is wiz, timeout=3000)
    next_frame(qtbot, page)
    opened = on_modal(lambda w: w.reject(), give_up_ms=1500)
    qtbot.keyClick(QApplication.focusWidget() or page, Qt.Key.Key_Space)  # where the key goes
    assert len(page.items) == 2  # Space captured from the camera
    qtbot.wait(200)
    opened.cancel()
    assert opened == []  # and the file dialog did not open again
    wiz.close()
    cap.shutdown()


# --- Identify ---------------------------------------------------------------------------
def test_identify_beyond_the_threshold_is_not_recognised(qtbot, ctx, tmp_path):
    from desktop_app.ui.identify_dialog import IdentifyDialog

    dlg = IdentifyDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.resize(1000, 520)
    dlg.show()
    dlg.gallery_combo.setCurrentIndex(1)  # all common symbols
    dlg._gallery = None
    p = tmp_path / "spiral.png"
    cv2.imwrite(str(p), crossed_spirals(seed=3))
    assert dlg.identify_file(str(p))
    r = dlg.last_result
    thr = dlg.threshold()
    assert r.distance > thr  # a personal symbol: no common symbol is within the threshold
    text = dlg.answer.text()
    assert text.startswith("Not recognised: the nearest is") and "this is" not in text.lower()
    assert r.label in text  # named as the gallery spells it
    # the distance column is in view, not behind a scrollbar
    t = dlg.table
    assert t.columnViewportPosition(2) + t.columnWidth(2) <= t.viewport().width()
    assert not t.horizontalScrollBar().isVisible()


def test_identify_keeps_the_gallery_spelling(qtbot, ctx, tmp_path):
    from desktop_app.core.gallery import load_gallery
    from desktop_app.ui.identify_dialog import IdentifyDialog

    g = load_gallery()
    i = int(np.flatnonzero(g.kinds == "Omniglot character")[0])
    p = tmp_path / "omni.png"
    cv2.imwrite(str(p), g.images[i])  # a 28x28 file is taken in model form
    dlg = IdentifyDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.gallery_combo.setCurrentIndex(1)
    dlg._gallery = None
    assert dlg.identify_file(str(p))
    assert dlg.last_result.label == g.labels[i]
    assert g.labels[i] in dlg.answer.text()  # "Grantha #01", not "grantha #01"
    assert dlg.answer.text().startswith("This is")


def test_identify_says_live_is_off_not_no_camera(qtbot, ctx, videos):
    from desktop_app.ui.identify_dialog import IdentifyDialog

    cap = start_capture(qtbot, videos["three"])
    dlg = IdentifyDialog(ctx, cap)
    qtbot.addWidget(dlg)
    assert "No camera" not in dlg.view._message and "Live" in dlg.view._message
    dlg.live.setChecked(True)
    qtbot.waitUntil(dlg.view.has_frame, timeout=5000)
    dlg.live.setChecked(False)
    assert not dlg.view.has_frame() and "Live is off" in dlg.view._message
    dlg.close()
    cap.shutdown()


# --- Help ▸ Guide ---------------------------------------------------------------------------
def test_the_guide_link_to_the_command_line_works_and_developer_notes_are_left_out(qtbot):
    from PySide6.QtGui import QTextCursor

    from desktop_app.ui.guide import GuideDialog

    dlg = GuideDialog()
    qtbot.addWidget(dlg)
    dlg.resize(760, 680)
    dlg.show()
    qtbot.waitExposed(dlg)
    text = dlg.browser.toPlainText()
    assert "xvfb-run" not in text and "scripts/screenshots.py" not in text
    assert "The command line" in text
    doc = dlg.browser.document()
    cur = QTextCursor(doc)
    while True:
        cur = doc.find("the command line", cur)
        assert not cur.isNull(), "no link to the command line"
        cur.setPosition(cur.selectionStart() + 2)
        if cur.charFormat().anchorHref() == "#the-command-line":
            break
        cur.setPosition(cur.position() + 20)
    dlg.browser.setTextCursor(cur)
    dlg.browser.ensureCursorVisible()
    rect = dlg.browser.cursorRect(cur)

    def heading_visible() -> bool:
        h = QTextCursor(doc)
        while True:
            h = doc.find("The command line", h)
            if h.isNull():
                return False
            if h.blockFormat().headingLevel() == 2:
                r = dlg.browser.cursorRect(h)
                return 0 <= r.top() < dlg.browser.viewport().height()

    assert not heading_visible()
    qtbot.mouseClick(dlg.browser.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(heading_visible, timeout=3000)


# --- the passphrase prompt and Settings --------------------------------------------------
def test_one_try_left_and_a_word_after_the_third(qtbot, ctx):
    from desktop_app.ui.admin import require_admin

    ctx.set_passphrase("open sesame")
    msgs, boxes = [], []

    def three_wrong(w):
        for _ in range(3):
            w.edit.setText("nope")
            w._check()
            msgs.append(w.error.text())
        on_modal(lambda b: (boxes.append(b.text()), b.accept()))

    on_modal(three_wrong)
    assert not require_admin(None, ctx, "calibrate the threshold")
    assert msgs[1] == "Wrong passphrase (1 try left)."
    assert msgs[0] == "Wrong passphrase (2 tries left)."
    assert boxes and "could not calibrate the threshold" in boxes[0] and "audit" in boxes[0]


def test_setting_only_the_passphrase_changes_no_settings(qtbot, ctx):
    from desktop_app.ui.settings_dialog import SettingsDialog

    dlg = SettingsDialog(ctx)
    qtbot.addWidget(dlg)

    def fill(w):
        w.p1.setText("a long enough passphrase")
        w.p2.setText("a long enough passphrase")
        w._ok()

    on_modal(fill)
    dlg.set_pass.click()
    dlg.save()
    assert ctx.store.audit(decision="passphrase_set")
    assert not ctx.store.audit(decision="settings_changed")
    assert ctx.store.get_setting("policy", None) is None  # the defaults shown were not written


# --- the main window ---------------------------------------------------------------------
def _enroll(ctx, name, frames):
    from desktop_app.core.preprocess import prepare_image

    imgs = np.stack([r.image for r in (prepare_image(f) for f in frames) if r.ok])
    ctx.store.add_references(
        name, imgs, None, ctx.embedder.embed_images(imgs), ctx.embedder.fingerprint, create=True, source="test"
    )


def test_the_app_opens_on_the_profile_last_used(qtbot, ctx, videos):
    spirals = [crossed_spirals(seed=s) for s in range(3)]
    _enroll(ctx, "anna", spirals)
    _enroll(ctx, "zoe", spirals)
    win = make_window(qtbot, ctx, videos["three"])
    assert win.current_profile() == "anna"  # alphabetical first
    win.profile_combo.setCurrentText("zoe")
    win.close()
    win2 = make_window(qtbot, ctx, videos["three"])
    assert win2.current_profile() == "zoe"
    win2.close()


def test_the_saved_note_fits_the_status_bar_and_is_cleared(qtbot, ctx, videos, tmp_path):
    files = []
    for s in range(3):
        p = tmp_path / f"s{s}.png"
        cv2.imwrite(str(p), crossed_spirals(seed=20 + s))
        files.append(str(p))
    win = make_window(qtbot, ctx, videos["three"])
    win.resize(1280, 760)

    def drive(wiz):
        wiz.profile_page.name_edit.setText("spiral")
        wiz.next()
        wiz.capture_page.k_spin.setValue(3)
        wiz.capture_page.import_files(files)
        wiz.next()
        panel = wiz.summary_page.strength
        if panel.report is not None and not panel.report.allowed:
            panel.override.setChecked(True)
        wiz.button(QWizard.WizardButton.FinishButton).click()

    on_modal(drive)
    win.open_enrollment()
    sb = win.statusBar()
    msg = sb.currentMessage()
    assert msg.startswith("Saved “spiral”"), msg
    used = sum(w.sizeHint().width() for w in (win.model_status, win.provider_status, win.camera_status, win.fps_status))
    assert sb.fontMetrics().horizontalAdvance(msg) + used + 40 < sb.width(), (msg, used, sb.width())
    win.start_attempt()
    assert sb.currentMessage() == ""
    win.close()


# --- the strength panel and the charts ------------------------------------------------------
def test_the_strength_sentence_is_said_once(qtbot, ctx):
    from desktop_app.ui.identify_dialog import StrengthPanel

    panel = StrengthPanel(ctx)
    qtbot.addWidget(panel)
    from desktop_app.core.preprocess import prepare_image

    imgs = np.stack([prepare_image(crossed_spirals(seed=s)).image for s in range(3)])
    panel.assess("nobody", ctx.embedder.embed_images(imgs))
    text = panel.verdict.text()
    assert len(re.findall(r"common symbols", text)) == 1, text


def test_the_eer_is_not_cut_in_the_legend(qtbot):
    from desktop_app.ui.charts import RateChart

    c = RateChart()
    qtbot.addWidget(c)
    c.resize(280, 220)
    rng = np.random.default_rng(0)
    c.set_data(rng.uniform(0.1, 0.5, 200), rng.uniform(0.4, 1.2, 800))
    labels = [m.label() for m in c.chart_.legend().markers()]
    assert all(len(label) <= 9 for label in labels), labels  # FAR, FRR, EER, threshold
    assert c.eer_text.startswith("EER ") and c.eer_text in c.chart_.title()
