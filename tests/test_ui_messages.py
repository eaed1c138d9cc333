"""Messages that are true: the final message says what the frames showed (the core's words),
numbers never round to a lie, attempts left before a lockout are shown, the time-left bar
is never stale outside an attempt, and Settings names the video that is the camera."""

from __future__ import annotations

from ui_support import enroll_from_video, make_window

from desktop_app.core.verifier import AttemptState
from desktop_app.ui.main_window import describe_state


def test_denied_says_the_outcome_and_the_attempts_left_never_how_close(qtbot, ctx, videos):
    enroll_from_video(ctx, videos["three"], "alice", count=3)
    ctx.store.set_setting("policy", {"k": 2, "n": 3, "time_limit_s": 8.0, "max_frames": 30, "lockout_after": 3})
    win = make_window(qtbot, ctx, videos["seven"])
    assert "3 attempts left before a lockout" in win.banner.text()
    assert win.time_bar.text() == "not running"
    win.start_attempt()
    assert win.time_bar.text().endswith(" s")  # running: the seconds left
    with qtbot.waitSignal(win.attempt_finished, timeout=8000) as sig:
        pass
    st = sig.args[0]
    assert st.state == "denied"
    text = win.banner.text()
    # no count of matching frames, no distance (core.disclosure)
    assert "the symbol was not accepted" in text, text
    assert "matched" not in text and "needed" not in text and "distance" not in text, text
    assert "2 attempts left before a lockout" in text, text
    assert win.time_bar.text() == "not running"  # not the seconds of the attempt that ended
    win.show_ready()
    assert "2 attempts left before a lockout" in win.banner.text()
    assert win.time_bar.text() == "not running"
    win.close()


def test_the_final_message_never_tells_how_close_an_attempt_came():
    st = AttemptState(
        state="denied",
        final=True,
        best_distance=1.50804,
        threshold=1.50796,
        reason="1 of the 3 frames matched; 2 are needed",
        k=2,
        n=3,
        attempts_left=4,
    )
    state, big, detail = describe_state(st, "alice")
    assert state == "denied" and big == "DENIED"
    assert "1.508" not in detail and "matched" not in detail and "needed" not in detail
    assert "the symbol was not accepted" in detail and "4 attempts left" in detail
    st = AttemptState(state="granted", final=True, best_distance=0.2, threshold=0.823, k=2, n=3)
    assert describe_state(st, "alice")[2] == "the symbol matched"
    st = AttemptState(state="checking", final=False, distance=0.3, threshold=0.8, matches=1, k=2, n=3, time_left_s=5)
    assert describe_state(st, "alice")[1:] == ("CHECKING", "symbol found · 5 s left")


def test_distance_bar_never_shows_an_equal_looking_pair(qtbot):
    from desktop_app.ui.widgets import DistanceBar

    bar = DistanceBar()
    qtbot.addWidget(bar)
    bar.set_values(1.50804, 1.50796)
    a, b = bar.text().replace("distance ", "").split(" > threshold ")  # was "1.508  /  threshold 1.508"
    assert a != b, bar.text()
    bar.set_values(0.2, 0.823)
    assert bar.text() == "distance 0.200 ≤ threshold 0.823"
    bar.set_values(None, 0.823)
    assert bar.text() == "distance —  /  threshold 0.823"


def test_locked_out_shows_no_running_time(qtbot, ctx, videos):
    enroll_from_video(ctx, videos["three"], "bob", count=2)
    ctx.store.set_setting(
        "policy", {"k": 2, "n": 3, "time_limit_s": 8.0, "max_frames": 8, "lockout_after": 1, "lockout_base_s": 30.0}
    )
    win = make_window(qtbot, ctx, videos["seven"])
    with qtbot.waitSignal(win.attempt_finished, timeout=8000) as sig:
        win.start_attempt()
    assert sig.args[0].state == "denied"
    assert win.time_bar.text() == "not running"
    win.show_ready()
    assert win.banner.state == "locked"
    assert win.time_bar.text() == "not running"
    win.close()


def test_settings_names_the_video_in_use_not_camera_0(qtbot, ctx, videos):
    from desktop_app.ui.settings_dialog import SettingsDialog

    ctx.camera_spec = str(videos["three"])
    dlg = SettingsDialog(ctx)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: "Looking" not in dlg.picker.cam_status.text(), timeout=15000)
    assert dlg.picker.file_radio.isChecked()
    assert dlg.picker.path_edit.text() == str(videos["three"])
    items = [dlg.picker.cam_combo.itemText(i) for i in range(dlg.picker.cam_combo.count())]
    assert not any("not responding" in t for t in items), items
    assert str(videos["three"]) in dlg.session_note.text()
    # saving other settings does not turn the session's video into the stored camera
    dlg.k.setValue(2)
    dlg.save()
    assert dlg.result() == 1, dlg.error.text()
    assert ctx.store.get_setting("camera", 0) == 0 and not dlg.camera_changed


def test_camera_dialog_takes_a_typed_video_path(qtbot, videos):
    from desktop_app.ui.camera_dialog import CameraDialog

    dlg = CameraDialog(0)
    qtbot.addWidget(dlg)
    assert dlg.picker.webcam_radio.isChecked()
    qtbot.keyClicks(dlg.picker.path_edit, str(videos["seven"]))  # typed, radio never clicked
    assert dlg.picker.file_radio.isChecked()
    dlg._ok()
    assert dlg.result() == 1, dlg.error_label.text()
    assert dlg.spec == str(videos["seven"])
