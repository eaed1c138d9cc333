"""Every guess costs exactly one try, whatever happens to its process.

An attempt is counted as a failure in the transaction that starts it (with the lock check)
and given back only by its own final commit (a grant, or an end that compared nothing).
Real `twinlock verify` processes are stopped (SIGSTOP), killed (SIGKILL), run under another
host name (a new UTS namespace), or signalled right after their final commit; each costs one
try, and after lockout_after of them the right symbol is refused as locked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from desktop_app.core.store import Store
from training.camera_sim import render_frame
from pixel_model import make_pixel_model
from ui_support import write_video

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 3  # lockout_after in these tests


def _cli() -> list[str]:
    exe = Path(sys.executable).parent / "twinlock"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "desktop_app.cli.main"]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("lockout-assets")
    a = {"model": make_pixel_model(d / "pixel.onnx"), "three": d / "three.png", "seven": d / "seven.png"}
    cv2.imwrite(str(a["three"]), render_frame(3, seed=300))
    cv2.imwrite(str(a["seven"]), render_frame(7, seed=700))
    # blank paper for a long while, then a 7: an attempt that stays open until it is stopped
    frames = [render_frame(None, seed=i, size=(96, 72)) for i in range(8)] * 400
    frames += [render_frame(7, seed=700 + i, size=(96, 72)) for i in range(6)]
    a["slow_wrong"] = write_video(d / "slow_wrong.avi", frames)
    return a


@pytest.fixture
def world(tmp_path, assets):
    env = dict(os.environ, TWINLOCK_MODEL=str(assets["model"]), TWINLOCK_HOME=str(tmp_path / "home"))
    env["PYTHONPATH"] = str(ROOT)
    for k in ("TWINLOCK_PASSPHRASE", "TWINLOCK_DB"):
        env.pop(k, None)
    db = tmp_path / "data" / "twinlock.sqlite3"
    env["TWINLOCK_DB"] = str(db)
    r = subprocess.run([*_cli(), "enroll", "alice", str(assets["three"])], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with Store(db) as s:  # the attempts may stay open for minutes (video time); 3 tries, then 60 s locked
        s.set_setting(
            "policy", {"time_limit_s": 300.0, "max_frames": 10000, "lockout_after": LIMIT, "lockout_base_s": 60.0}
        )
    return {"db": db, "env": env, **assets}


def _verify(world, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_cli(), "verify", "alice", *map(str, args), "--json"], env=world["env"], capture_output=True, text=True
    )


def _rows(db, pid=None) -> list[tuple[int, str, dict]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT id, decision, detail FROM audit WHERE profile = 'alice' ORDER BY id").fetchall()
    finally:
        con.close()
    out = [(int(i), d, json.loads(det or "{}")) for i, d, det in rows]
    return [r for r in out if pid is None or r[2].get("pid") == pid]


def _failures(db) -> int:
    with Store(db, create=False) as s:
        return s.lockout("alice").failures


def _wait_pending(db, pid, proc, timeout=120.0) -> int:
    """The id of the pending row process ``pid`` wrote when its attempt started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for rid, decision, _ in _rows(db, pid):
            if decision == "pending":
                return rid
        assert proc.poll() is None, f"the attempt ended before it could be stopped: {proc.communicate()}"
        time.sleep(0.02)
    raise AssertionError("the attempt never started")


def _start_slow_wrong(world, prefix=()) -> subprocess.Popen:
    return subprocess.Popen(
        [*prefix, *_cli(), "verify", "alice", "--video", str(world["slow_wrong"]), "--json"],
        env=world["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _right_one_is_locked(world) -> None:
    r = _verify(world, "--image", world["three"])
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert json.loads(r.stdout)["decision"] == "locked"


def test_the_right_symbol_is_granted_before_any_guess(world):
    """The baseline: the set-up grants the owner (so a refusal below is the lock's doing)."""
    r = _verify(world, "--image", world["three"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert _failures(world["db"]) == 0


def test_stopped_attempts_each_cost_one_try(world):
    procs = [_start_slow_wrong(world) for _ in range(LIMIT)]
    try:
        for p in procs:
            _wait_pending(world["db"], p.pid, p)
            os.kill(p.pid, signal.SIGSTOP)  # Ctrl-Z: the process lives, its attempt never ends
        assert [d for _, d, _ in _rows(world["db"]) if d == "pending"] == ["pending"] * LIMIT
        assert _failures(world["db"]) == LIMIT
        _right_one_is_locked(world)
    finally:
        for p in procs:
            p.kill()
            p.wait(30)
    assert _failures(world["db"]) == LIMIT  # killing them afterwards counts nothing more


def test_killed_attempts_each_cost_one_try(world):
    for _ in range(LIMIT):
        p = _start_slow_wrong(world)
        _wait_pending(world["db"], p.pid, p)
        p.kill()
        p.wait(30)
    assert _failures(world["db"]) == LIMIT
    _right_one_is_locked(world)
    assert _failures(world["db"]) == LIMIT  # the refused one is not counted


def _foreign_host_prefix() -> list[str] | None:
    """Run under another host name in a new UTS namespace, where the machine allows one."""
    if not shutil.which("unshare") or not shutil.which("hostname"):
        return None
    r = subprocess.run(["unshare", "-u", "sh", "-c", "hostname elsewhere-host && hostname"], capture_output=True)
    if r.returncode != 0 or r.stdout.strip() != b"elsewhere-host":
        return None
    return ["unshare", "-u", "sh", "-c", 'hostname elsewhere-host && exec "$@"', "sh"]


def test_attempts_killed_under_another_host_name_each_cost_one_try(world):
    prefix = _foreign_host_prefix()
    if prefix is None:
        # no new UTS namespace here: fake the host name where it is read (socket.gethostname)
        code = (
            "import socket, sys; socket.gethostname = lambda: 'elsewhere-host'; "
            "from desktop_app.cli.main import main; sys.exit(main(sys.argv[1:]))"
        )
        cmd = [sys.executable, "-c", code, "verify", "alice", "--video", str(world["slow_wrong"]), "--json"]
    else:
        cmd = [*prefix, *_cli(), "verify", "alice", "--video", str(world["slow_wrong"]), "--json"]

    def start() -> subprocess.Popen:
        return subprocess.Popen(cmd, env=world["env"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    for _ in range(LIMIT):
        p = start()
        rid = _wait_pending(world["db"], p.pid, p)
        assert [r[2]["host"] for r in _rows(world["db"]) if r[0] == rid] == ["elsewhere-host"]
        p.kill()
        p.wait(30)
    assert _failures(world["db"]) == LIMIT
    _right_one_is_locked(world)


# a real SIGTERM delivered at the first bytecode after the attempt's final COMMIT: the profile
# hook watches the store's transaction generator finish inside Verifier._finish
_SIGNAL_AFTER_COMMIT = """
import os, signal, sys
state = {"armed": 0}
def hook(frame, event, arg):
    code = frame.f_code
    if event == "call" and code.co_name == "_finish" and code.co_filename.endswith("verifier.py"):
        state["armed"] += 1
    elif (event == "return" and arg is None and state["armed"] == 1 and code.co_name == "write"
          and code.co_filename.endswith("database.py")):
        state["armed"] = 2
        sys.setprofile(None)
        os.kill(os.getpid(), signal.SIGTERM)
sys.setprofile(hook)
from desktop_app.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("image,decision,failures", [("seven", "denied", 1), ("three", "granted", 0)])
def test_a_signal_right_after_the_final_commit_counts_nothing_twice(world, image, decision, failures):
    p = subprocess.run(
        [sys.executable, "-c", _SIGNAL_AFTER_COMMIT, "verify", "alice", "--image", str(world[image])],
        env=world["env"],
        capture_output=True,
        text=True,
    )
    assert p.returncode == 128 + signal.SIGTERM, (p.returncode, p.stdout, p.stderr)
    mine = _rows(world["db"])
    attempt_rows = [(d, det) for _, d, det in mine if d not in ("enrolled",) and "pid" in det]
    assert [d for d, _ in attempt_rows] == [decision], attempt_rows  # one row, the real outcome
    assert _failures(world["db"]) == failures
    assert f"recorded as {decision}" in p.stderr, p.stderr


def test_wrong_attempts_then_the_right_one_is_refused_as_locked(world):
    for _ in range(LIMIT):
        r = _verify(world, "--image", world["seven"])
        assert r.returncode in (1, 3), r.stdout + r.stderr
    assert _failures(world["db"]) == LIMIT
    _right_one_is_locked(world)


# ---------------------------------------------------------------- item 5: "locked" says only that
def _comparable(r: subprocess.CompletedProcess) -> dict:
    out = json.loads(r.stdout)
    out.pop("lockout_remaining_s", None)
    out["reason"] = " ".join(w for w in str(out.get("reason", "")).split() if not w.isdigit())
    return out


def test_a_locked_attempt_says_only_locked_whatever_it_was_shown(world, tmp_path):
    # an attempt with the right symbol that is still running when the others lock the profile
    frames = [render_frame(None, seed=i, size=(96, 72)) for i in range(8)] * 300
    frames += [render_frame(3, seed=300 + i, size=(96, 72)) for i in range(6)]
    slow_right = write_video(tmp_path / "slow_right.avi", frames)
    p = subprocess.Popen(
        [*_cli(), "verify", "alice", "--video", str(slow_right), "--json"],
        env=world["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_pending(world["db"], p.pid, p)
        os.kill(p.pid, signal.SIGSTOP)
        for _ in range(LIMIT - 1):  # the other tries, wrong: now the profile is locked
            assert _verify(world, "--image", world["seven"]).returncode == 1
        right, wrong = _verify(world, "--image", world["three"]), _verify(world, "--image", world["seven"])
        assert right.returncode == wrong.returncode == 3, (right.stdout, wrong.stdout)
        assert _comparable(right) == _comparable(wrong)  # nothing tells the right guess apart
        assert json.loads(right.stdout)["decision"] == "locked"
        assert "granted" not in right.stdout + right.stderr
    finally:
        os.kill(p.pid, signal.SIGCONT)
    out, err = p.communicate(timeout=300)
    # the attempt that started before the lock was one of the allowed tries: judged as it is
    assert p.returncode == 0 and json.loads(out)["decision"] == "granted", (out, err)
    locked = [det for _, d, det in _rows(world["db"]) if d == "locked"]
    assert len(locked) == 2
    assert all("would_have_been" not in det for det in locked)
    assert {k for k in locked[0] if k not in ("pid", "pstart", "lockout_remaining_s")} == {
        k for k in locked[1] if k not in ("pid", "pstart", "lockout_remaining_s")
    }


def test_a_source_that_cannot_be_opened_leaves_no_signal_handler_behind(world, tmp_path, monkeypatch):
    """In-process callers (tests, the PAM entry point's parent) keep their own handlers: a
    verify that fails before its attempt must not leave its SIGTERM handler installed (a child
    forked later would turn SIGTERM into an error instead of dying)."""
    from desktop_app.cli.main import main

    bad = tmp_path / "not-a-video.avi"
    bad.write_bytes(b"this is not a video" * 100)
    monkeypatch.setenv("TWINLOCK_DB", str(world["db"]))
    monkeypatch.setenv("TWINLOCK_MODEL", str(world["model"]))
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    assert main(["verify", "alice", "--video", str(bad)]) == 4
    assert {s: signal.getsignal(s) for s in before} == before
    assert _failures(world["db"]) == 0 and not [d for _, d, _ in _rows(world["db"]) if d == "pending"]
