"""One home per admin action (core.admin_actions): each action driven through both front ends
-- the real CLI (``desktop_app.cli.main.main``) on one database and the real Qt window and
dialogs (offscreen, every confirmation answered) on another, the same profile enrolled in
both with the same model -- leaves the same audit rows: the same events with the same keys
and, apart from the front end's name ("via") and the file, the same values.

A second home that came back (a front end that writes its own row, checks in another order
or records other keys) makes these differ."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import cv2
import pytest
from PySide6.QtWidgets import QMessageBox

from desktop_app.cli.main import main
from desktop_app.core import calibration as cal
from desktop_app.core.settings import set_admin_passphrase
from desktop_app.core.store import LockoutState, Store
from training.camera_sim import render_frame
from ui_support import enroll_from_video, on_modal

PASSPHRASE = "open sesame"
SKIP = ("via", "file", "action", "lockout_remaining_s")  # the front end, its file and words; a clock


@pytest.fixture
def fronts(qtbot, ctx, ui_model, videos, tmp_path, monkeypatch):
    """(app window, app store, CLI store): alice enrolled in both databases from the same
    frames with the same model; the CLI runs in this process on its own database."""
    from desktop_app.ui.main_window import MainWindow

    cli_dir = tmp_path / "cli"
    cli_dir.mkdir(mode=0o700)
    monkeypatch.setenv("TWINLOCK_DB", str(cli_dir / "twinlock.sqlite3"))
    monkeypatch.setenv("TWINLOCK_MODEL", str(ui_model))
    monkeypatch.delenv("TWINLOCK_PASSPHRASE", raising=False)
    cli = Store(cli_dir / "twinlock.sqlite3")
    for c in (ctx, SimpleNamespace(store=cli, embedder=ctx.embedder)):
        enroll_from_video(c, videos["three"], "alice", count=5)
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    yield win, ctx.store, cli
    win.close()
    cli.close()


def _last_id(store) -> int:
    rows = store.audit(limit=1)
    return rows[0].id if rows else 0


def _rows_since(store, since: int) -> list:
    """The rows written since ``since``, but the model's first use (the CLI's first command
    that loads it accepts the shipped model's contract; the app did when it opened)."""
    rows = (r for r in store.audit(limit=1000) if r.id > since and r.decision != "model_accepted")
    return sorted(rows, key=lambda r: r.id)


def _shape(rows) -> list:
    return [(r.decision, sorted(r.detail)) for r in rows]


def _values(rows) -> list:
    return [{k: v for k, v in r.detail.items() if k not in SKIP} for r in rows]


def _same(app_rows, cli_rows, events) -> None:
    assert [r.decision for r in app_rows] == events, _shape(app_rows)
    assert _shape(app_rows) == _shape(cli_rows)
    assert _values(app_rows) == _values(cli_rows)
    for rows, via in ((app_rows, "app"), (cli_rows, "cli")):
        assert all(r.detail.get("via", via) == via for r in rows)


def test_export_and_its_refusal_leave_the_same_rows(fronts, tmp_path):
    win, app, cli = fronts
    a0, c0 = _last_id(app), _last_id(cli)
    assert main(["profiles", "export", "alice", str(tmp_path / "c.json")]) == 0
    win.export_profile(str(tmp_path / "a.json"))
    assert (tmp_path / "a.json").is_file() and (tmp_path / "c.json").is_file()
    _same(_rows_since(app, a0), _rows_since(cli, c0), ["profile_exported"])

    # locked out: refused (audited) before any passphrase is asked, nothing written
    for s in (app, cli):
        set_admin_passphrase(s, PASSPHRASE, via="test")
        s.set_lockout("alice", LockoutState(5, time.time() + 300, 300))
    a0, c0 = _last_id(app), _last_id(cli)
    assert main(["profiles", "export", "alice", str(tmp_path / "c2.json")]) == 4
    seen = on_modal(lambda w: w.accept())
    win.export_profile(str(tmp_path / "a2.json"))
    assert seen == ["QMessageBox"]  # the refusal, not the passphrase dialog
    assert not (tmp_path / "a2.json").exists() and not (tmp_path / "c2.json").exists()
    _same(_rows_since(app, a0), _rows_since(cli, c0), ["export_refused"])


def test_the_passphrase_gate_leaves_the_same_rows(fronts, tmp_path, monkeypatch):
    win, app, cli = fronts
    for s in (app, cli):
        set_admin_passphrase(s, PASSPHRASE, via="test")
    a0, c0 = _last_id(app), _last_id(cli)
    monkeypatch.setenv("TWINLOCK_PASSPHRASE", "not the passphrase")
    assert main(["profiles", "export", "alice", str(tmp_path / "c.json")]) == 4

    def wrong_once(w):  # one wrong try, then the user gives up
        w.edit.setText("not the passphrase")
        w._check()
        w.reject()

    on_modal(wrong_once)
    win.export_profile(str(tmp_path / "a.json"))
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "c.json").exists()
    _same(_rows_since(app, a0), _rows_since(cli, c0), ["passphrase_failed"])

    # the right one: the gate writes nothing, the action its row
    a0, c0 = _last_id(app), _last_id(cli)
    monkeypatch.setenv("TWINLOCK_PASSPHRASE", PASSPHRASE)
    assert main(["profiles", "export", "alice", str(tmp_path / "c.json")]) == 0

    def right(w):
        w.edit.setText(PASSPHRASE)
        w._check()

    on_modal(right)
    win.export_profile(str(tmp_path / "a.json"))
    _same(_rows_since(app, a0), _rows_since(cli, c0), ["profile_exported"])


def _images(tmp_path, digit, seeds) -> list[str]:
    out = []
    for s in seeds:
        p = tmp_path / f"d{digit}_{s}.png"
        cv2.imwrite(str(p), render_frame(digit, seed=s))
        out.append(str(p))
    return out


def test_a_confirmed_threshold_leaves_the_same_rows(qtbot, fronts, ctx, tmp_path):
    """A target FAR of 1e-3 that a few impostors cannot support needs a confirmation: the CLI
    gives it with --yes, the calibration dialog with Yes; both rows say what was confirmed,
    with the false accepts and rejects (the app recorded them, the CLI did not)."""
    from desktop_app.ui.calibration_dialog import CalibrationDialog

    win, app, cli = fronts
    genuine = _images(tmp_path, 3, range(800, 804))
    impostor = _images(tmp_path, 7, range(900, 904)) + _images(tmp_path, 1, range(910, 914))
    a0, c0 = _last_id(app), _last_id(cli)
    argv = ["calibrate", "alice", "--genuine", *genuine, "--impostor", *impostor, "--apply", "--yes"]
    assert main(argv) == 0

    data = cal.from_image_files(app, ctx.embedder, "alice", genuine, impostor, 1)
    rec = cal.recommend(data, 1e-3)
    assert win._inspect("alice", "calibrate", "Calibrate", "calibrate the threshold")  # as open_calibration
    dlg = CalibrationDialog(ctx, "alice", None, win)
    qtbot.addWidget(dlg)
    dlg.set_data(data)
    dlg.set_threshold(rec["threshold"], 1e-3)
    asked_text: list[str] = []
    asked = on_modal(lambda w: (asked_text.append(w.text()), w.button(QMessageBox.StandardButton.Yes).click()))
    dlg.apply()
    assert asked == ["QMessageBox"] and "too few" in asked_text[0]
    app_rows, cli_rows = _rows_since(app, a0), _rows_since(cli, c0)
    assert [r.decision for r in app_rows] == ["profile_inspected", "threshold_set"]
    # the inspection: the same keys, but the CLI also counts the files it compared (the app
    # opens its dialog before any sample is chosen)
    assert set(app_rows[0].detail) <= set(cli_rows[0].detail)
    assert set(cli_rows[0].detail) - set(app_rows[0].detail) == {"genuine", "impostor"}
    _same(app_rows[1:], cli_rows[1:], ["threshold_set"])
    row = app_rows[1].detail
    assert row["confirmed"] is True and row["unsupported"] is True
    assert {"false_accepts", "false_rejects"} <= set(cli_rows[1].detail)
    assert app.get_profile("alice").threshold == pytest.approx(cli.get_profile("alice").threshold)
    dlg.close()

    # declined: nothing changes, nothing is written (the CLI without --yes and no terminal)
    a0, c0 = _last_id(app), _last_id(cli)
    assert main(argv[:-1]) == 4
    dlg = CalibrationDialog(ctx, "alice", None, win)
    qtbot.addWidget(dlg)
    dlg.set_data(data)
    dlg.set_threshold(rec["threshold"] * 1.01, 1e-3)
    on_modal(lambda w: w.button(QMessageBox.StandardButton.No).click())
    dlg.apply()
    assert "Not applied" in dlg.source_label.text()
    assert [r.decision for r in _rows_since(app, a0)] == []
    assert [r.decision for r in _rows_since(cli, c0)] == ["profile_inspected"]
    dlg.close()


def test_a_loosening_import_and_a_removal_leave_the_same_rows(fronts, tmp_path):
    win, app, cli = fronts
    f = tmp_path / "alice.json"
    app.export_profile("alice", f)
    doc = json.loads(f.read_text())
    doc["policy"] = {"lockout_after": 100}  # no lockout to speak of: loosens the lock
    f.write_text(json.dumps(doc))

    a0, c0 = _last_id(app), _last_id(cli)
    assert main(["profiles", "import", str(f), "--name", "bob", "--yes"]) == 0
    steps = []

    def loosen(w):  # the app asks about the policy, then (the name is taken) for another name
        steps.append(w.text())
        on_modal(rename)
        w.button(QMessageBox.StandardButton.Yes).click()

    def rename(w):
        steps.append("rename")
        w.setTextValue("bob")
        w.accept()

    on_modal(loosen)
    win.import_profile(str(f))
    assert "lockout_after 100" in steps[0] and steps[1:] == ["rename"]  # asked once, not again
    _same(_rows_since(app, a0), _rows_since(cli, c0), ["profile_imported"])
    assert _rows_since(app, a0)[0].detail["confirmed"] is True

    a0, c0 = _last_id(app), _last_id(cli)
    assert main(["profiles", "remove", "bob", "--yes"]) == 0

    def pick(w):
        w.setTextValue("bob")
        w.accept()
        on_modal(lambda box: box.button(QMessageBox.StandardButton.Yes).click())

    on_modal(pick)
    win.remove_profile()
    assert not app.has_profile("bob") and not cli.has_profile("bob")
    _same(_rows_since(app, a0), _rows_since(cli, c0), ["profile_removed"])


def test_the_inspection_gate_leaves_the_same_rows(fronts, monkeypatch, videos):
    """The test mode refused while locked out, then opened: the same rows from `twinlock test`
    and the window's Test mode."""
    win, app, cli = fronts
    for s in (app, cli):
        s.set_lockout("alice", LockoutState(5, time.time() + 300, 300))
    a0, c0 = _last_id(app), _last_id(cli)
    assert main(["test", "alice", "--video", str(videos["three"]), "--frames", "1"]) == 3
    seen = on_modal(lambda w: w.accept())
    win.open_test_mode("alice")
    assert seen == ["QMessageBox"]
    _same(_rows_since(app, a0), _rows_since(cli, c0), ["inspect_refused"])
