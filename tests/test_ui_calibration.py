"""Calibration dialog: distances computed in a background job from prepared samples, charts
drawn, threshold chosen by target FAR or by dragging, Apply persisted + audited, Reset."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ui_support import digit_frames, enroll_from_video, on_modal

from desktop_app.core import calibration, metrics
from desktop_app.ui.calibration_dialog import CalibrationDialog


@pytest.fixture
def sample_files(tmp_path):
    def write(frames, stem):
        out = []
        for i, f in enumerate(frames):
            p = tmp_path / f"{stem}{i}.png"
            cv2.imwrite(str(p), f)
            out.append(str(p))
        return out

    genuine = write(digit_frames(3, 8, seed=3000), "g")
    impostor = write([f for d in (1, 4, 7, 8) for f in digit_frames(d, 4, seed=100 * d + 5000)], "i")
    return genuine, impostor


def test_calibration_dialog_computes_and_applies(qtbot, ctx, videos, sample_files):
    enroll_from_video(ctx, videos["three"], "alice", count=5)
    dlg = CalibrationDialog(ctx, "alice")
    qtbot.addWidget(dlg)
    dlg.show()
    assert not dlg.apply_button.isEnabled()
    dlg.mode.setCurrentIndex(1)  # image files
    dlg.compute_button.click()
    assert "Choose genuine AND impostor" in dlg.source_label.text()
    dlg.genuine_files, dlg.impostor_files = sample_files
    dlg.compute_button.click()
    assert dlg.job is not None
    qtbot.waitUntil(lambda: dlg.data is not None, timeout=15000)
    g, i = dlg.data.genuine, dlg.data.impostor
    assert g.size == 8 and i.size == 16
    assert "8 genuine and 16 impostor" in dlg.source_label.text()
    # the charts hold the data
    assert dlg.hist.gen.count() > 0 and dlg.hist.imp.count() > 0
    assert dlg.rates.far.count() == 300 and dlg.rates.eer.count() == 1
    e, et = metrics.eer(g, i)
    assert dlg.rates.eer.at(0).x() == pytest.approx(et) and dlg.rates.eer.at(0).y() == pytest.approx(e)
    assert dlg.det.curve.count() > 0 and dlg.det.point.count() == 1

    # presets the 16 impostor comparisons cannot support are disabled, with the reason
    for b, f in zip(dlg.preset_buttons, (1e-2, 1e-3, 1e-4)):
        assert not b.isEnabled()
        assert f"needs at least {int(np.ceil(3 / f)):,} impostor comparisons" in b.toolTip()
        assert "these samples have 16" in b.toolTip()
    assert dlg.preset_note.isVisible() if dlg.isVisible() else True
    assert "needs at least 300 impostor comparisons" in dlg.preset_note.text()

    # the core's recommendation, chosen programmatically, is flagged as unsupported
    dlg.choose_far(1e-2)
    rec = calibration.recommend(dlg.data, 1e-2)
    assert dlg.threshold == pytest.approx(rec["threshold"])
    assert "target FAR 0.01" in dlg.point_label.text()
    assert f"of {i.size} impostor comparisons" in dlg.point_label.text()
    assert dlg.warning_label.text() and "collect more impostor" in dlg.warning_label.text().lower()
    assert dlg.hist.threshold_series.at(0).x() == pytest.approx(rec["threshold"])

    # dragging: a threshold between the distances, figures from metrics.operating_point
    dlg.slider.setValue(dlg.slider.maximum() // 2)
    assert dlg.target_far is None
    op = metrics.operating_point(g, i, dlg.threshold)
    assert f"FRR {calibration.percent_text(op.frr)}" in dlg.point_label.text()

    # a threshold stricter than the model default is applied without a question, audited
    default = ctx.embedder.contract.default_threshold
    chosen = float(min(default * 0.9, np.median(g)))
    dlg.set_threshold(chosen, None)
    seen = on_modal(lambda w: w.reject())
    dlg.apply_button.click()
    assert seen == []
    seen.cancel()
    assert ctx.store.get_profile("alice").threshold == pytest.approx(chosen)
    entry = ctx.store.audit(profile="alice", decision="threshold_set")[0]
    assert entry.threshold == pytest.approx(chosen)
    assert entry.detail["impostor"] == 16 and entry.detail["genuine"] == 8
    assert entry.detail["looser_than_default"] is False
    assert "now uses threshold" in dlg.current_label.text()

    dlg.reset_button.click()
    assert ctx.store.get_profile("alice").threshold is None
    assert ctx.store.audit(profile="alice", decision="threshold_reset")
    assert "model's default threshold" in dlg.current_label.text()
    dlg.close()


def test_live_capture_samples(qtbot, ctx, videos):
    from desktop_app.core.camera import open_source
    from desktop_app.ui.capture import Capture

    enroll_from_video(ctx, videos["three"], "bob", count=3)
    cap = Capture()
    dlg = CalibrationDialog(ctx, "bob", cap)
    qtbot.addWidget(dlg)
    assert dlg.mode.currentIndex() == 0  # live capture is the first choice
    dlg.compute_button.click()
    assert "Record some genuine AND some impostor" in dlg.source_label.text()
    cap.start(lambda: open_source(str(videos["three"]), loop=True, realtime=True))
    dlg.rec_gen.click()
    qtbot.waitUntil(lambda: len(dlg.live_genuine) >= 6, timeout=5000)
    dlg.rec_imp.click()  # one recording at a time
    assert not dlg.rec_gen.isChecked()
    cap.start(lambda: open_source(str(videos["seven"]), loop=True, realtime=True))
    qtbot.waitUntil(lambda: len(dlg.live_impostor) >= 6, timeout=5000)
    cap.shutdown()
    assert "genuine" in dlg.live_counts.text()
    dlg.compute_button.click()
    qtbot.waitUntil(lambda: dlg.data is not None, timeout=10000)
    assert dlg.data.genuine.size == len(dlg.live_genuine)
    assert dlg.data.impostor.size == len(dlg.live_impostor)
    # the enrolled digit is closer to its references than the other digit
    assert np.median(dlg.data.genuine) < np.median(dlg.data.impostor)
    dlg.close()


def test_labelled_folder_with_progress_and_a_bad_folder(qtbot, ctx, videos, tmp_path):
    from training.synthetic_digits import synthetic_digits

    enroll_from_video(ctx, videos["three"], "cara", count=2)
    x, y = synthetic_digits(120, seed=9)
    root = tmp_path / "labelled"
    for i, (img, lab) in enumerate(zip(x, y)):
        d = root / str(int(lab))
        d.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(d / f"{i}.png"), img)
    dlg = CalibrationDialog(ctx, "cara")
    qtbot.addWidget(dlg)
    dlg.mode.setCurrentIndex(2)
    dlg.folder_edit.setText(str(tmp_path / "nowhere"))
    dlg.compute_button.click()
    qtbot.waitUntil(lambda: not dlg.job.running, timeout=5000)
    assert "is not a folder" in dlg.source_label.text() and dlg.data is None
    progress = []
    dlg.folder_edit.setText(str(root))
    dlg.compute_button.click()
    dlg.job.progress.connect(lambda d, t: progress.append((d, t)))
    qtbot.waitUntil(lambda: dlg.data is not None, timeout=15000)
    assert progress and progress[-1][0] == progress[-1][1]  # reported per label, to the end
    assert "labelled folder" in dlg.data.source
    assert dlg.data.impostor.size > dlg.data.genuine.size > 0
    assert dlg.compute_button.isEnabled() and not dlg.cancel_button.isEnabled()


def test_a_looser_threshold_is_applied_only_after_a_confirmation_in_words(qtbot, ctx, videos, sample_files):
    """The issue's case: few impostors, a threshold at the edge of the impostor distances,
    looser than the model default. Apply asks, in words; No leaves it; Yes applies and
    audits the counts behind it."""
    enroll_from_video(ctx, videos["three"], "dora", count=5)
    dlg = CalibrationDialog(ctx, "dora")
    qtbot.addWidget(dlg)
    dlg.mode.setCurrentIndex(1)
    dlg.genuine_files, dlg.impostor_files = sample_files
    dlg.compute_button.click()
    qtbot.waitUntil(lambda: dlg.data is not None, timeout=15000)
    default = ctx.embedder.contract.default_threshold
    loose = float(min(dlg.data.impostor.min() * 0.999, dlg._hi))
    loose = max(loose, default * 1.2)
    dlg.set_threshold(loose, None)
    risk = calibration.threshold_risk(loose, dlg.data.genuine, dlg.data.impostor, default)
    assert risk.looser_than_default and risk.needs_confirmation
    texts = []

    def say_no(w):
        texts.append(w.text())
        w.button(w.StandardButton.No).click()

    on_modal(say_no)
    dlg.apply_button.click()
    assert texts and "looser than the model's calibrated default" in texts[0]
    assert f"{risk.words}" in texts[0] and "other symbols may be accepted" in texts[0]
    assert ctx.store.get_profile("dora").threshold is None  # No: nothing changed
    assert not ctx.store.audit(profile="dora", decision="threshold_set")
    assert "Not applied" in dlg.source_label.text()

    on_modal(lambda w: w.button(w.StandardButton.Yes).click())
    dlg.apply_button.click()
    assert ctx.store.get_profile("dora").threshold == pytest.approx(loose)
    e = ctx.store.audit(profile="dora", decision="threshold_set")[0]
    assert e.detail["confirmed"] is True and e.detail["looser_than_default"] is True
    assert e.detail["impostor"] == 16 and e.detail["false_accepts"] == risk.false_accepts
    assert e.detail["far_upper_95"] == pytest.approx(risk.far_upper, rel=1e-3)
    assert e.detail["words"] == risk.words


def test_dialog_fits_1280x800_with_help_and_live_camera(qtbot, ctx, videos):
    from desktop_app.core.camera import open_source
    from desktop_app.ui.capture import Capture

    enroll_from_video(ctx, videos["three"], "emil", count=2)
    cap = Capture()
    dlg = CalibrationDialog(ctx, "emil", cap)
    qtbot.addWidget(dlg)
    dlg.show()
    hint = dlg.minimumSizeHint()
    assert hint.width() <= 1280 - 20 and hint.height() <= 800 - 60, hint
    assert dlg.width() <= 1280 - 20 and dlg.height() <= 800 - 60, dlg.size()
    for w in (dlg.apply_button, dlg.det, dlg.reset_button):  # nothing off-screen
        r = w.geometry()
        pos = w.mapTo(dlg, r.topLeft() - r.topLeft())
        assert pos.x() + w.width() <= dlg.width() and pos.y() + w.height() <= dlg.height()
    help_ = dlg.live_help
    assert help_.wordWrap() and help_.height() >= help_.heightForWidth(help_.width())  # not cut
    assert not dlg.preview.has_frame()
    cap.start(lambda: open_source(str(videos["three"]), loop=True, realtime=True))
    qtbot.waitUntil(dlg.preview.has_frame, timeout=5000)  # the live camera is shown while recording
    cap.shutdown()
    dlg.close()
