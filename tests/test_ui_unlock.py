"""Main window with a fake camera (video file): granted for the enrolled digit, denied for
another, lockout shown with its countdown and lifted, no camera said plainly."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from ui_support import enroll_from_video, make_window

from desktop_app.ui.main_window import MainWindow


def fast_policy(ctx, **kw):
    # a generous time limit (a loaded machine may stall frames); denials come from max_frames
    pol = {"k": 2, "n": 3, "time_limit_s": 8.0, "max_frames": 8}
    pol.update(kw)
    ctx.store.set_setting("policy", pol)


def test_granted_for_enrolled_digit_then_denied_for_another(qtbot, ctx, videos):
    enroll_from_video(ctx, videos["three"], "alice", count=5)
    fast_policy(ctx)
    win = make_window(qtbot, ctx, videos["three"])
    assert win.current_profile() == "alice"
    assert win.banner.state == "waiting" and "READY" in win.banner.text()
    assert "model:" in win.model_status.text() and win.provider_status.text() == "provider: CPU"
    qtbot.waitUntil(lambda: "fps" in win.fps_status.text() and "—" not in win.fps_status.text(), timeout=4000)

    with qtbot.waitSignal(win.attempt_finished, timeout=6000) as sig:
        qtbot.keyClick(win, " ")  # keyboard: Space starts an attempt
    st = sig.args[0]
    assert st.state == "granted", st.reason
    assert win.banner.state == "granted" and "GRANTED" in win.banner.text()
    assert st.best_distance <= st.threshold
    assert ctx.store.audit(profile="alice", decision="granted")

    # the same profile shown a 7: denied (time limit or max frames), audited
    win.ctx.camera_spec = str(videos["seven"])
    win.start_camera()
    qtbot.waitUntil(lambda: f"video {videos['seven'].name}" in win.camera_status.text(), timeout=8000)
    win._last_result = None  # the next frame is the 7's
    qtbot.waitUntil(lambda: win._last_result is not None, timeout=8000)
    with qtbot.waitSignal(win.attempt_finished, timeout=8000) as sig:
        win.act_start.trigger()
    st = sig.args[0]
    assert st.state == "denied", st.reason
    assert win.banner.state == "denied" and "DENIED" in win.banner.text()
    assert st.best_distance > st.threshold
    assert ctx.store.audit(profile="alice", decision="denied")
    win.close()


def test_lockout_shown_with_countdown_and_lifted(qtbot, ctx, videos):
    enroll_from_video(ctx, videos["three"], "bob", count=3)
    fast_policy(ctx, lockout_after=1, lockout_base_s=2.0, max_frames=4)
    win = make_window(qtbot, ctx, videos["seven"])
    with qtbot.waitSignal(win.attempt_finished, timeout=6000) as sig:
        qtbot.keyClick(win, " ")
    assert sig.args[0].state == "denied"
    assert "locked out" in sig.args[0].reason

    # the next attempt is refused at once: LOCKED OUT with a countdown
    with qtbot.waitSignal(win.attempt_finished, timeout=2000) as sig:
        qtbot.keyClick(win, " ")
    assert sig.args[0].state == "locked"
    assert win.banner.state == "locked"
    assert "LOCKED OUT 0:0" in win.banner.text()
    assert ctx.store.audit(profile="bob", decision="locked")
    # the countdown runs out and the window says so; a new attempt is possible again
    qtbot.waitUntil(lambda: win.banner.state == "waiting", timeout=4000)
    assert "Lockout over" in win.banner.text()
    win.ctx.camera_spec = str(videos["three"])
    win.start_camera()
    qtbot.wait(200)
    with qtbot.waitSignal(win.attempt_finished, timeout=6000) as sig:
        qtbot.keyClick(win, " ")
    assert sig.args[0].state == "granted"
    win.close()


def test_escape_cancels_an_attempt(qtbot, ctx, videos):
    enroll_from_video(ctx, videos["three"], "carol", count=3)
    fast_policy(ctx, time_limit_s=30, max_frames=1000, k=50, n=50)
    win = make_window(qtbot, ctx, videos["seven"])
    qtbot.keyClick(win, " ")
    assert win.attempt_active
    with qtbot.waitSignal(win.attempt_finished, timeout=2000) as sig:
        qtbot.keyClick(win, Qt.Key.Key_Escape)
    assert sig.args[0].state == "cancelled"
    assert not win.attempt_active
    assert ctx.store.audit(profile="carol", decision="cancelled")
    win.close()


def test_no_camera_still_opens_and_says_so(qtbot, ctx, tmp_path, videos):
    ctx.camera_spec = str(tmp_path / "missing.avi")
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    win.start_camera()
    qtbot.waitUntil(lambda: win.banner.state == "no_camera", timeout=5000)
    assert "NO CAMERA" in win.banner.text()
    assert win.camera_status.text() == "camera: none"
    assert not win.frame_view.has_frame()
    enroll_from_video(ctx, videos["three"], "erin", count=2)
    win.refresh_profiles()
    assert win.banner.state == "no_camera"  # a profile does not hide the missing camera
    qtbot.keyClick(win, " ")  # no attempt without a camera
    assert not win.attempt_active and win.banner.state == "no_camera"
    ctx.store.remove_profile("erin")
    win.refresh_profiles()
    # without a profile, the window says what to do once a camera is there
    win.on_camera_opened("x", False)
    assert "NO PROFILE" in win.banner.text()
    win.close()


def test_command_on_grant_runs(qtbot, ctx, videos, tmp_path):
    enroll_from_video(ctx, videos["three"], "dave", count=3)
    fast_policy(ctx)
    marker = tmp_path / "granted.txt"
    ctx.store.set_setting("command_on_grant", f"sh -c 'echo unlocked > {marker}'")
    win = make_window(qtbot, ctx, videos["three"])
    with qtbot.waitSignal(win.attempt_finished, timeout=6000) as sig:
        qtbot.keyClick(win, " ")
    assert sig.args[0].state == "granted"
    qtbot.waitUntil(marker.exists, timeout=5000)
    assert marker.read_text().strip() == "unlocked"
    win.close()


def test_app_opens_with_a_broken_model_and_says_why(qtbot, tmp_path, isolated_qsettings, videos):
    from desktop_app.ui.app import build_parser, create_window

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x00" * 10)
    args = build_parser().parse_args(
        ["--video", str(videos["three"]), "--model", str(bad), "--db", str(tmp_path / "db.sqlite3")]
    )
    c, win = create_window(args)
    qtbot.addWidget(win)
    assert c.embedder is None and "not a readable ONNX model" in c.model_error
    assert win.banner.text().startswith("NO MODEL") and "not a readable ONNX model" in win.banner.text()
    assert win.model_status.text() == "model: no model"
    win.close()
    c.close()
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--camera", "x"])
    assert exc.value.code == 4


def test_no_symbol_shown_then_attempt_times_out(qtbot, ctx, videos):
    enroll_from_video(ctx, videos["three"], "fred", count=2)
    fast_policy(ctx, time_limit_s=1.2)
    win = make_window(qtbot, ctx, videos["blank"])
    shown = []
    win.state_shown.connect(shown.append)
    with qtbot.waitSignal(win.attempt_finished, timeout=5000) as sig:
        qtbot.keyClick(win, " ")
        qtbot.waitUntil(lambda: win.banner.state == "no_symbol", timeout=2000)
        assert "NO SYMBOL" in win.banner.text() and "s left" in win.banner.text()
    assert sig.args[0].state == "no_symbol" and sig.args[0].final
    assert "NO SYMBOL SEEN" in win.banner.text()
    assert ctx.store.audit(profile="fred", decision="no_symbol")
    assert ctx.store.lockout("fred").failures == 0  # a failure to acquire is not a denial
    win.close()


def test_app_refuses_bad_options_and_a_missing_display_clearly(tmp_path, monkeypatch, capsys):
    from desktop_app.ui.app import main

    assert main(["--video", str(tmp_path / "nope.avi")]) == 4
    assert "does not exist" in capsys.readouterr().err
    assert main(["--model", str(tmp_path / "nope.onnx")]) == 4
    assert "model file" in capsys.readouterr().err
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    assert main(["--db", str(tmp_path / "db.sqlite3")]) == 4
    err = capsys.readouterr().err
    assert "no graphical display" in err and "Traceback" not in err


def test_remove_profile_asks_confirmation_and_passphrase(qtbot, ctx, videos):
    from PySide6.QtWidgets import QMessageBox

    from ui_support import on_modal

    enroll_from_video(ctx, videos["three"], "gina", count=2)
    ctx.set_passphrase("open sesame")
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    steps = []

    def pick(w):  # QInputDialog: which profile
        steps.append(type(w).__name__)
        w.setTextValue("gina")
        w.accept()
        on_modal(passphrase)

    def passphrase(w):  # every admin action asks the passphrase before its confirmation
        steps.append(type(w).__name__)
        w.edit.setText("open sesame")
        w._check()
        on_modal(confirm)

    def confirm(w):  # QMessageBox: are you sure
        steps.append(type(w).__name__)
        w.button(QMessageBox.StandardButton.Yes).click()

    on_modal(pick)
    win.remove_profile()
    assert steps == ["QInputDialog", "PassphraseDialog", "QMessageBox"]
    assert not ctx.store.has_profile("gina")
    assert win.profile_combo.count() == 0 and "NO PROFILE" in win.banner.text()
    assert ctx.store.audit(decision="profile_removed")
    win.close()


def test_export_then_import_profile_under_another_name(qtbot, ctx, videos, tmp_path):
    from ui_support import on_modal

    enroll_from_video(ctx, videos["three"], "hana", count=2)
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    out = tmp_path / "hana.twinlock.json"
    win.export_profile(str(out))
    assert out.exists()

    def rename(w):  # the name is taken: ask for another
        w.setTextValue("hana2")
        w.accept()

    seen = on_modal(rename)
    win.import_profile(str(out))
    assert seen == ["QInputDialog"]
    assert ctx.store.get_profile("hana2").n_references == 2
    assert win.current_profile() == "hana2"

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    msgs = []
    on_modal(lambda w: (msgs.append(w.text()), w.accept()))
    win.import_profile(str(bad))
    assert msgs and msgs[0].startswith("Nothing was imported:")
    assert sorted(ctx.profile_names()) == ["hana", "hana2"]
    win.close()
