"""During an unlock attempt the window says
only whether a symbol was found and the outcome (no distance bar, no matching-frames count);
the distances live in Tools > Test mode, which needs the passphrase, is audited, is refused
while the profile is locked out, and never runs during an attempt. Real widgets, a video file
as the camera, the shipped model."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox
from ui_support import enroll_from_video, make_window

from desktop_app.core.store import LockoutState
from desktop_app.ui.admin import PassphraseDialog
from desktop_app.ui.test_mode_dialog import TestModeDialog
from desktop_app.ui.widgets import DistanceBar

PASS = "open sesame twice"


def test_an_attempt_shows_no_distance_and_no_match_count(qtbot, ctx, videos):
    enroll_from_video(ctx, videos["three"], "alice", count=3)
    ctx.store.set_setting("policy", {"k": 2, "n": 3, "time_limit_s": 8.0, "max_frames": 30})
    win = make_window(qtbot, ctx, videos["seven"])
    assert not win.findChildren(DistanceBar)  # the bar under the camera is gone
    labels = [w.text() for w in win.findChildren(QLabel)]
    assert not any("Matching" in t for t in labels), labels
    shown = []
    win.state_shown.connect(lambda _s: shown.append(win.banner.text()))
    with qtbot.waitSignal(win.attempt_finished, timeout=10000) as sig:
        win.start_attempt()
    assert sig.args[0].state == "denied"
    assert any("CHECKING" in t for t in shown), shown  # the frames were seen, as "symbol found"
    for text in shown:
        assert "distance" not in text and "threshold" not in text, text
        assert " of 2" not in text and "matched" not in text and "needed" not in text, text
    win.close()


def _answer_modals(steps, give_up_s=30.0):
    """Answer the next modal dialogs in order: ``steps`` is a list of (class, action)."""
    end = time.monotonic() + give_up_s
    todo = list(steps)

    def poll():
        if not todo or time.monotonic() > end:
            return
        w = QApplication.activeModalWidget()
        cls, action = todo[0]
        if isinstance(w, cls) and w.isVisible() and action(w):
            todo.pop(0)
        QTimer.singleShot(30, poll)

    QTimer.singleShot(30, poll)
    return todo


def test_test_mode_needs_the_passphrase_and_shows_the_live_distance(qtbot, ctx, videos):
    enroll_from_video(ctx, videos["three"], "alice", count=3)
    ctx.set_passphrase(PASS)
    win = make_window(qtbot, ctx, videos["three"])
    seen = {}

    def type_passphrase(w):
        w.edit.setText(PASS)
        w._check()
        return True

    def watch(w):
        if len(w.readings) < 3:
            return False  # wait for frames
        seen["readings"] = list(w.readings)
        seen["bar"] = w.distance_bar.text()
        seen["label"] = w.reading_label.text()
        seen["attempt_active"] = win.attempt_active
        w.reject()
        return True

    left = _answer_modals([(PassphraseDialog, type_passphrase), (TestModeDialog, watch)])
    win.open_test_mode()
    assert not left, left
    found = [r for r in seen["readings"] if r.found]
    assert found and all(r.distance is not None and r.threshold > 0 for r in found)
    assert "threshold" in seen["bar"] and "distance" in seen["bar"]
    assert "threshold" in seen["label"] or "no symbol" in seen["label"]
    assert seen["attempt_active"] is False  # never during an unlock
    row = ctx.store.audit(decision="profile_inspected")[0]
    assert row.detail == {"action": "test mode", "via": "app", "by": "admin passphrase"}
    # not an attempt: nothing pending, nothing counted
    assert not ctx.store.audit(decision="pending") and ctx.store.lockout("alice").failures == 0
    win.close()


def test_test_mode_is_refused_while_locked_out_and_cancels_a_running_attempt(qtbot, ctx, videos):
    enroll_from_video(ctx, videos["three"], "alice", count=3)
    win = make_window(qtbot, ctx, videos["blank"])
    win.start_attempt()
    assert win.attempt_active
    ctx.store.set_lockout("alice", LockoutState(5, time.time() + 600, 600))
    messages = []

    def read_box(w):
        messages.append(w.text())
        w.accept()
        return True

    left = _answer_modals([(QMessageBox, read_box)])
    win.open_test_mode()
    assert not left and "locked out" in messages[0], messages
    assert not win.attempt_active  # the attempt was ended before anything else
    assert ctx.store.audit(decision="inspect_refused")[0].detail["via"] == "app"
    assert not ctx.store.audit(decision="profile_inspected")
    win.close()


def test_calibration_is_refused_while_locked_out_and_audited_otherwise(qtbot, ctx, videos):
    from desktop_app.ui.calibration_dialog import CalibrationDialog

    enroll_from_video(ctx, videos["three"], "alice", count=2)
    win = make_window(qtbot, ctx, videos["three"])
    ctx.store.set_lockout("alice", LockoutState(5, time.time() + 600, 600))
    messages = []

    def read_box(w):
        messages.append(w.text())
        w.accept()
        return True

    left = _answer_modals([(QMessageBox, read_box)])
    win.open_calibration()
    assert not left and "locked out" in messages[0]
    assert ctx.store.audit(decision="inspect_refused")[0].detail["action"] == "calibrate"
    ctx.store.set_lockout("alice", LockoutState(0, 0.0))
    left = _answer_modals([(CalibrationDialog, lambda w: w.reject() or True)])
    win.open_calibration()
    assert not left
    assert ctx.store.audit(decision="profile_inspected")[0].detail["action"] == "calibrate"
    win.close()


def test_the_audit_log_shows_distances_only_to_the_admin(qtbot, ctx, videos):
    from desktop_app.ui.audit_viewer import COLUMNS, AuditViewer

    enroll_from_video(ctx, videos["three"], "alice", count=2)
    ctx.store.log_attempt(
        "alice", "denied", best_distance=0.61, threshold=0.5, frames_used=3, detail={"reason": "1 of 3 matched"}
    )
    ctx.set_passphrase(PASS)
    win = make_window(qtbot, ctx, videos["three"])
    col = COLUMNS.index("best distance")
    seen = []

    def read(w):
        seen.append([w.table.item(r, col).text() for r in range(w.table.rowCount())])
        seen.append([w.table.item(r, len(COLUMNS) - 1).text() for r in range(w.table.rowCount())])
        w.reject()
        return True

    def cancel(w):
        w.reject()
        return True

    left = _answer_modals([(PassphraseDialog, cancel), (AuditViewer, read)])
    win.open_audit()  # no passphrase given: the log without distances
    assert not left and "0.610" not in seen[0] and not any("matched" in d for d in seen[1])

    def type_passphrase(w):
        w.edit.setText(PASS)
        w._check()
        return True

    left = _answer_modals([(PassphraseDialog, type_passphrase), (AuditViewer, read)])
    win.open_audit()
    assert not left and "0.610" in seen[2] and any("1 of 3 matched" in d for d in seen[3])
    win.close()
