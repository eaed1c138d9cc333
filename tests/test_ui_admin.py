"""Admin actions in the app: one database for the app and the CLI (chosen in Settings, kept
in core.config), every admin action gated and audited, profile export guarded, one app
window per database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ui_support import enroll_from_video, on_modal

from desktop_app.core.instance import AlreadyRunning, InstanceLock
from desktop_app.ui.main_window import MainWindow
from desktop_app.ui.settings_dialog import SettingsDialog

import pytest


def twinlock_cli() -> list[str]:
    exe = Path(sys.executable).with_name("twinlock")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "desktop_app.cli.main"]


def open_window(args):
    """create_window, failing (not hanging) if it shows a message box."""
    from desktop_app.ui.app import create_window

    unexpected = []
    guard = on_modal(lambda w: (unexpected.append(w.text()), w.accept()))
    c, win = create_window(args)
    guard.cancel()
    assert c is not None and not unexpected, unexpected
    return c, win


def decisions(store, decision):
    return store.audit(decision=decision, limit=1000)


def test_data_folder_chosen_in_the_app_is_followed_by_the_cli(
    qtbot, tmp_path, monkeypatch, isolated_qsettings, ui_model, videos
):
    """Settings ▸ Data folder writes core.config in the platform config dir; the app's next
    start and the real `twinlock profiles list` (same HOME / XDG_CONFIG_HOME, no --db) both
    open the database there."""
    from desktop_app.core.config import config_path
    from desktop_app.ui.app import build_parser

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINLOCK_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"))
    for k in [k for k in os.environ if k.startswith("TWINLOCK_")]:
        monkeypatch.delenv(k)
    for k in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(k, env[k])
    assert config_path() == home / ".config" / "twinlock" / "config.json"

    # first start: the default user data folder
    args = build_parser().parse_args(["--video", str(videos["three"]), "--model", str(ui_model)])
    c, win = open_window(args)
    qtbot.addWidget(win)
    assert c.store.path == home / ".local/share/twinlock/twinlock.sqlite3"
    dlg = SettingsDialog(c, win)
    qtbot.addWidget(dlg)
    chosen = tmp_path / "my data"
    dlg.data_edit.setText(str(chosen))
    dlg.save()
    assert dlg.result() == 1, dlg.error.text()
    assert config_path().is_file() and str(chosen) in config_path().read_text()
    changed = decisions(c.store, "settings_changed")
    assert changed and changed[0].detail["changed"]["data_folder"]["new"] == str(chosen)
    win.close()
    c.close()

    # the next start opens the database in the chosen folder; a profile enrolled there ...
    c, win = open_window(args)
    qtbot.addWidget(win)
    assert c.store.path == chosen / "twinlock.sqlite3"
    enroll_from_video(c, videos["three"], "zoe", count=2)
    win.close()
    c.close()
    # ... is what the command line sees, with no --db and no TWINLOCK_* variable
    out = subprocess.run(twinlock_cli() + ["profiles", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "zoe" in out.stdout
    doctor = subprocess.run(
        twinlock_cli() + ["profiles", "show", "zoe"], env=env, capture_output=True, text=True, timeout=120
    )
    assert doctor.returncode == 0, doctor.stderr

    # a damaged config file: one clear message, no traceback
    config_path().write_text("{not json")
    out = subprocess.run(twinlock_cli() + ["profiles", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 4 and "config file" in out.stderr and "Traceback" not in out.stderr


def test_settings_and_passphrase_changes_are_audited(qtbot, ctx):
    dlg = SettingsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.k.setValue(3)
    dlg.n.setValue(4)
    dlg.command.setText("true")
    dlg.passphrase_action = ("set", "open sesame 1")
    dlg.save()
    assert dlg.result() == 1, dlg.error.text()
    ch = decisions(ctx.store, "settings_changed")[0].detail["changed"]
    assert ch["policy"]["new"]["k"] == 3 and ch["command_on_grant"] == {"old": None, "new": "true"}
    assert "admin_passphrase" not in ch  # never the hash in the log
    assert len(decisions(ctx.store, "passphrase_set")) == 1

    dlg = SettingsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.passphrase_action = ("set", "open sesame 2")
    dlg.save()
    assert len(decisions(ctx.store, "passphrase_changed")) == 1
    assert len(decisions(ctx.store, "settings_changed")) == 1  # nothing else changed: no entry
    assert ctx.check_passphrase("open sesame 2")


def test_failed_passphrase_attempts_are_audited(qtbot, ctx):
    from desktop_app.ui.admin import require_admin

    ctx.set_passphrase("open sesame")

    def two_wrong(w):
        for _ in range(2):
            w.edit.setText("nope")
            w._check()
        w.reject()

    on_modal(two_wrong)
    assert not require_admin(None, ctx, "change the settings")
    failed = decisions(ctx.store, "passphrase_failed")
    assert len(failed) == 2 and failed[0].detail["action"] == "change the settings"
    assert "nope" not in str(failed[0].detail)


def test_profile_export_needs_the_passphrase_is_refused_while_locked_and_audited(qtbot, ctx, tmp_path, videos):
    enroll_from_video(ctx, videos["three"], "alice", count=2)
    ctx.set_passphrase("open sesame")
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    dest = tmp_path / "alice.json"

    def wrong(w):
        w.edit.setText("guess")
        w._check()
        w.reject()

    on_modal(wrong)
    win.export_profile(str(dest))
    assert not dest.exists()
    assert decisions(ctx.store, "passphrase_failed")[0].profile == "alice"
    assert not decisions(ctx.store, "profile_exported")

    def right(w):
        w.edit.setText("open sesame")
        w._check()

    on_modal(right)
    win.export_profile(str(dest))
    assert dest.is_file() and "alice" in dest.read_text()
    ex = decisions(ctx.store, "profile_exported")
    assert len(ex) == 1 and ex[0].profile == "alice" and ex[0].detail["file"] == str(dest.resolve())

    # locked out: refused before any passphrase is asked, audited, nothing written
    import time

    from desktop_app.core.store import LockoutState

    ctx.store.set_lockout("alice", LockoutState(5, time.time() + 60))
    assert ctx.store.lockout("alice").remaining() > 0
    seen = on_modal(lambda w: w.accept())
    dest2 = tmp_path / "again.json"
    win.export_profile(str(dest2))
    assert seen == ["QMessageBox"]  # the refusal, not the passphrase dialog
    assert not dest2.exists()
    refused = decisions(ctx.store, "export_refused")
    assert len(refused) == 1 and refused[0].detail["reason"] == "the profile is locked out"
    win.close()


def test_second_app_on_the_same_database_says_so_and_exits(qtbot, tmp_path, ui_model, videos, isolated_qsettings):
    from desktop_app.ui.app import build_parser, create_window

    db = tmp_path / "one.sqlite3"
    args = build_parser().parse_args(["--video", str(videos["three"]), "--model", str(ui_model), "--db", str(db)])
    c1, w1 = open_window(args)
    qtbot.addWidget(w1)
    texts = []
    seen = on_modal(lambda w: (texts.append(w.text()), w.accept()))
    c2, w2 = create_window(args)
    assert (c2, w2) == (None, None)
    assert seen == ["QMessageBox"] and "already running on the database" in texts[0] and str(db) in texts[0]
    assert str(os.getpid()) in texts[0]

    # the command line is not blocked by the app's lock: a concurrent CLI on the same database works
    out = subprocess.run(
        twinlock_cli() + ["profiles", "list", "--db", str(db)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    # another database: a second window is fine; closing the first frees its database
    w1.close()
    c1.close()
    c3, w3 = open_window(args)
    w3.close()
    c3.close()


def _wait_reading(proc, video: Path, timeout: float = 60) -> None:
    """Until ``proc`` has read the video file at three different offsets (its descriptors'
    positions in /proc/PID/fdinfo): the capture worker is taking frames, not just started."""
    import time

    target, seen = os.path.realpath(video), set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(seen) < 3:
        assert proc.poll() is None, proc.communicate()
        for fd in Path(f"/proc/{proc.pid}/fd").iterdir():
            try:
                if os.readlink(fd) == target:
                    info = Path(f"/proc/{proc.pid}/fdinfo/{fd.name}").read_text()
                    seen.add((fd.name, int(info.split("pos:")[1].split()[0])))
            except (OSError, IndexError, ValueError):
                continue  # a descriptor closed meanwhile
        time.sleep(0.02)
    assert len(seen) >= 3, f"the app did not read {video}: {seen}"


@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="reads /proc/PID/fdinfo (Linux)")
def test_the_real_app_runs_and_ends_cleanly_on_sigterm(tmp_path, ui_model, videos):
    """`twinlock-app --video` as a process (offscreen): it takes the database's instance lock,
    processes frames, and SIGTERM (a logout) closes it normally: exit 0, lock released."""
    import signal
    import time

    from desktop_app.core.instance import lock_path

    db = tmp_path / "app.sqlite3"
    exe = Path(sys.executable).with_name("twinlock-app")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "desktop_app.ui.app"]
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    p = subprocess.Popen(
        cmd + ["--video", str(videos["three"]), "--model", str(ui_model), "--db", str(db)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        lock = lock_path(db)
        while time.monotonic() < deadline and not (lock.exists() and lock.read_text().strip() == str(p.pid)):
            assert p.poll() is None, p.communicate()
            time.sleep(0.1)
        assert lock.read_text().strip() == str(p.pid)
        with pytest.raises(AlreadyRunning):
            InstanceLock(db).acquire()
        _wait_reading(p, videos["three"])  # frames flowing: the app keeps reading the video
        assert p.poll() is None
        p.send_signal(signal.SIGTERM)
        _out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(10)
    assert p.returncode == 0, err
    assert "Traceback" not in err and "Fatal" not in err
    with InstanceLock(db) as again:
        assert again.held
