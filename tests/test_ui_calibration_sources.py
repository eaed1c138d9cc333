"""What the unlock and the calibration dialog say and do -- the countdown
shows the rule that ends an attempt; impostors the user need not record (the shipped
gallery); "2 of 300 (0.67%); at 95% confidence up to 1 in 42"; no silent slider clamp; the
dialog chooses its own source; live recording says when it stops; "first n frames"; a
looser threshold's confirmation says when it turns the symbol weak. Real widgets, real
model, real files."""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from desktop_app.core import calibration
from desktop_app.core.calibration import CalibrationData
from desktop_app.ui import calibration_dialog
from desktop_app.ui.calibration_dialog import CalibrationDialog
from symbol_sheets import crossed_spirals
from ui_support import digit_frames, enroll_from_video, make_window, on_modal


def _write(tmp_path, frames, stem):
    out = []
    for i, f in enumerate(frames):
        p = tmp_path / f"{stem}{i}.png"
        cv2.imwrite(str(p), f)
        out.append(str(p))
    return out


def _enroll_images(ctx, name, frames):
    from desktop_app.core.preprocess import prepare_image

    imgs = [r.image for r in (prepare_image(f) for f in frames) if r.ok]
    imgs = np.stack(imgs)
    return ctx.store.add_references(
        name, imgs, None, ctx.embedder.embed_images(imgs), ctx.embedder.fingerprint, create=True, source="test"
    )


def test_the_gallery_is_an_impostor_source_that_supports_the_presets(qtbot, ctx, videos, tmp_path):
    enroll_from_video(ctx, videos["three"], "alice", count=5)
    dlg = CalibrationDialog(ctx, "alice")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.mode.setCurrentIndex(1)  # image files: genuine only
    dlg.genuine_files = _write(tmp_path, digit_frames(3, 6, seed=3100), "g")
    assert dlg.use_gallery.isVisible()
    dlg.use_gallery.setChecked(True)
    dlg.compute_button.click()
    qtbot.waitUntil(lambda: dlg.data is not None, timeout=60000)
    assert dlg.data.genuine.size == 6
    assert dlg.data.impostor.size >= 5000  # every gallery symbol, nothing recorded
    assert "shipped gallery" in dlg.data.source
    presets = dict(zip(calibration_dialog.PRESETS, dlg.preset_buttons))
    assert presets[1e-2].isEnabled() and presets[1e-3].isEnabled()
    # a folder brings its own impostors: the gallery choice is offered for live and files only
    dlg.mode.setCurrentIndex(2)
    assert not dlg.use_gallery.isVisible()


def test_without_the_gallery_the_disabled_preset_says_how_to_get_it(qtbot, ctx, videos, tmp_path):
    enroll_from_video(ctx, videos["three"], "alice", count=5)
    dlg = CalibrationDialog(ctx, "alice")
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.mode.setCurrentIndex(1)
    dlg.genuine_files = _write(tmp_path, digit_frames(3, 4, seed=3200), "g")
    dlg.impostor_files = _write(tmp_path, digit_frames(7, 4, seed=3300), "i")
    dlg.compute_button.click()
    qtbot.waitUntil(lambda: dlg.data is not None, timeout=30000)
    assert "Gallery symbols as impostors" in dlg.preset_note.text()


def test_the_confirmation_says_the_count_and_the_bound():
    g = np.linspace(0.1, 0.3, 50)
    imp = np.concatenate([[0.35, 0.36], np.linspace(0.6, 1.5, 298)])
    risk = calibration.threshold_risk(0.4, g, imp, default_threshold=0.3)
    text = risk.message()
    assert "2 of 300 impostor comparisons were accepted (0.67%)" in text
    assert re.search(r"at 95% confidence up to 1 in 4[12] other symbols may be accepted", text), text


def test_the_slider_never_clamps_the_threshold_in_use(qtbot, ctx, videos):
    """Every sample below 0.45: the dialog starts at the profile's threshold, not at the
    samples' largest distance (0.445 was applied silently, stricter than 0.502)."""
    enroll_from_video(ctx, videos["three"], "alice", count=5)
    dlg = CalibrationDialog(ctx, "alice")
    qtbot.addWidget(dlg)
    current = dlg.current_threshold()
    assert current > 0.45
    rng = np.random.default_rng(0)
    data = CalibrationData(rng.uniform(0.05, 0.25, 40), rng.uniform(0.3, 0.44, 300), "synthetic distances")
    dlg.set_data(data)
    assert dlg.threshold == pytest.approx(current)
    assert dlg._lo <= current <= dlg._hi
    dlg.slider.setValue(dlg.slider.maximum())  # the slider reaches beyond it too
    assert dlg.threshold >= current


def test_live_recording_says_when_it_stops(qtbot, ctx, videos, monkeypatch):
    from desktop_app.core.camera import open_source
    from desktop_app.core.preprocess import preprocess

    monkeypatch.setattr(calibration_dialog, "MAX_LIVE", 3)
    enroll_from_video(ctx, videos["three"], "alice", count=5)
    dlg = CalibrationDialog(ctx, "alice")
    qtbot.addWidget(dlg)
    dlg.rec_gen.setChecked(True)
    with open_source(str(videos["three"])) as src:
        for fr in src:
            r = preprocess(fr.image)
            if r.ok:
                dlg._last_sample = 0.0  # one sample per frame here (the dialog takes 5 per second)
                dlg.on_frame(fr, r)
            if len(dlg.live_genuine) >= 3:
                break
    assert len(dlg.live_genuine) == 3
    assert not dlg.rec_gen.isChecked()  # the button does not stay on
    assert "recording stopped" in dlg.live_counts.text()


def test_the_dialog_chooses_its_source(qtbot, ctx, videos):
    """With a video as the camera, genuine and impostor recording need another source in
    between: the dialog has its own chooser (it is modal)."""
    from desktop_app.ui.capture import Capture, source_opener

    enroll_from_video(ctx, videos["three"], "alice", count=5)
    cap = Capture()
    opener, _ = source_opener(str(videos["three"]))
    cap.start(opener)
    ctx.camera_spec = str(videos["three"])
    dlg = CalibrationDialog(ctx, "alice", cap)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: "three" in dlg.source_desc.text(), timeout=8000)
    assert dlg.source_button.isEnabled()

    def pick_seven(w):
        w.picker.file_radio.setChecked(True)
        w.picker.path_edit.setText(str(videos["seven"]))
        w._ok()

    on_modal(pick_seven)
    dlg.source_button.click()
    qtbot.waitUntil(lambda: "seven" in dlg.source_desc.text(), timeout=8000)
    assert ctx.camera_spec == str(videos["seven"])  # the main window follows the same capture
    qtbot.waitUntil(dlg.preview.has_frame, timeout=8000)
    dlg.close()
    cap.shutdown()


def test_a_looser_threshold_says_when_it_turns_the_symbol_weak(qtbot, ctx, tmp_path):
    _enroll_images(ctx, "spiral", [crossed_spirals(seed=s) for s in range(5)])
    dlg = CalibrationDialog(ctx, "spiral")
    qtbot.addWidget(dlg)
    dlg.mode.setCurrentIndex(1)
    dlg.genuine_files = _write(tmp_path, [crossed_spirals(seed=10 + s) for s in range(4)], "g")
    dlg.use_gallery.setChecked(True)
    dlg.compute_button.click()
    qtbot.waitUntil(lambda: dlg.data is not None, timeout=60000)
    words = calibration.weakening_words(ctx.store, ctx.embedder, "spiral", 1.3)
    assert "becomes weak" in words, words
    dlg.set_threshold(1.3, None)
    texts = []

    def no(w):
        texts.append(w.text())
        w.button(w.StandardButton.No).click()

    on_modal(no)
    dlg.apply_button.click()
    assert texts and "becomes weak" in texts[0] and "looser" in texts[0]
    assert ctx.store.get_profile("spiral").threshold is None


def test_settings_say_first_n_frames(qtbot, ctx):
    from PySide6.QtWidgets import QLabel

    from desktop_app.ui.settings_dialog import SettingsDialog

    dlg = SettingsDialog(ctx)
    qtbot.addWidget(dlg)
    texts = [w.text() for w in dlg.findChildren(QLabel)]
    assert any("first n frames" in t for t in texts)
    assert not any("last n" in t for t in texts)


def test_verify_help_says_first_n():
    from desktop_app.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["verify"]
    help_n = next(a.help for a in sub._actions if a.dest == "n")
    assert "first n" in help_n and "last" not in help_n


def test_the_countdown_shows_when_the_frames_run_out(qtbot, ctx, videos):
    """No symbol at 30 fps: 60 frames end the attempt after about 2 s; the banner counted
    10 s (the time limit) down."""
    enroll_from_video(ctx, videos["three"], "alice", count=5)
    ctx.store.set_setting("policy", {"time_limit_s": 20.0, "max_frames": 60})
    win = make_window(qtbot, ctx, videos["blank"])
    qtbot.waitUntil(lambda: getattr(win, "_fps", None) is not None, timeout=5000)
    fps = win._fps
    seen = []
    win.state_shown.connect(lambda s: seen.append(win.banner.text()))
    with qtbot.waitSignal(win.attempt_finished, timeout=20000) as sig:
        win.start_attempt()
    assert sig.args[0].state == "no_symbol"
    lefts = [int(m.group(1)) for t in seen for m in [re.search(r"(\d+) s left", t)] if m]
    assert lefts, seen
    assert max(lefts) <= int(np.ceil(60 / fps)) + 1 < 20, (lefts, fps)
    win.close()
