"""The lockout cannot be walked around: one attempt is one try whatever it shows, parallel
attempts never pass the limit, a signal or a kill during an attempt costs its try, a clock
jump never shortens a lock, and a stale pending row is relabelled and counted once.

The real `twinlock` in subprocesses (real signals, real SQLite, real ONNX Runtime) on the
pixel-pooling test model; nothing is mocked."""

import json
import os
import select
import signal
import subprocess
import time

import pytest

from cli_support import ROOT, cli_cmd, cli_env, decisions, enrolled_db, pixel_assets, run_cli, set_settings
from desktop_app.core.embedder import Embedder
from desktop_app.core.preprocess import preprocess
from desktop_app.core.store import LockoutState, Store
from desktop_app.core.verifier import Policy, Verifier
from training.camera_sim import render_frame


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return pixel_assets(tmp_path_factory.mktemp("lockout"), long_video=True)


@pytest.fixture
def db(assets, tmp_path, monkeypatch):
    return enrolled_db(assets, tmp_path, monkeypatch)


def test_twenty_images_of_every_digit_are_one_denied_attempt(assets, db):
    imgs = [x for d in range(10) for x in ("--image", assets[f"d{d}"], "--image", assets[f"d{d}"])]
    r = run_cli(assets, db, "verify", "alice", *imgs, "-k", "2", "-n", "3", "--json")
    assert r.returncode == 1, (r.stdout, r.stderr)
    out = json.loads(r.stdout)
    assert out["decision"] == "denied" and "frames_used" not in out  # (frames used tells how many matched)
    assert "best_distance" not in out  # a denial does not say how close it came
    assert decisions(db)[-1] == "denied"


def test_parallel_attempts_never_pass_the_lockout_limit(assets, db):
    set_settings(db, policy={"lockout_after": 3, "lockout_base_s": 600, "time_limit_s": 300})  # a loaded machine
    procs = [
        subprocess.Popen(
            cli_cmd("verify", "alice", "--image", assets["d7"]),
            cwd=ROOT,
            env=cli_env(assets, db),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    codes = [p.wait(timeout=240) for p in procs]
    outs = [p.stdout.read() + p.stderr.read() for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert set(codes) <= {1, 3}, (codes, outs)
    assert codes.count(1) == 3, (codes, outs, decisions(db))  # exactly the limit was judged; the rest locked
    ds = decisions(db)
    assert ds.count("denied") == 3 and ds.count("locked") == 7 and "pending" not in ds
    # and the owner is locked out too (no grant while locked)
    assert run_cli(assets, db, "verify", "alice", "--video", assets["genuine"]).returncode == 3


def _wait_pending(db, proc, timeout=60):
    """Until the attempt is pending and has judged its first (wrong) frame: `verify -v` writes
    one line per judged frame to stderr (read here without blocking)."""
    deadline = time.monotonic() + timeout
    seen, fd = b"", proc.stderr.fileno()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"verify ended early: {proc.returncode} {proc.communicate()}")
        if select.select([fd], [], [], 0.05)[0]:
            seen += os.read(fd, 65536)
        if b"frame " in seen and "pending" in decisions(db):
            return
    raise AssertionError(f"the attempt never judged a frame: {seen[-500:]!r}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_after_a_wrong_frame_counts_as_a_failure(assets, db, sig):
    set_settings(db, policy={"max_frames": 10000})
    p = subprocess.Popen(
        cli_cmd("verify", "alice", "-v", "--video", assets["long"], "--time-limit", "3000"),
        cwd=ROOT,
        env=cli_env(assets, db),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_pending(db, p)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 128 + int(sig), (out, err)
    assert "abandoned" in err and "Traceback" not in err
    s = Store(db)
    e = s.audit(profile="alice", limit=1)[0]
    assert e.decision == "abandoned" and s.lockout("alice").failures == 1
    assert not s.audit(decision="pending")
    s.close()


def test_a_killed_attempt_is_counted_when_it_started(assets, db):
    set_settings(db, policy={"max_frames": 10000})
    p = subprocess.Popen(
        cli_cmd("verify", "alice", "-v", "--video", assets["long"], "--time-limit", "3000"),
        cwd=ROOT,
        env=cli_env(assets, db),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _wait_pending(db, p)
    p.kill()
    p.communicate(timeout=30)
    assert decisions(db)[-1] == "pending"
    s = Store(db)
    assert s.lockout("alice").failures == 1  # counted when it started; no one asks if it lives
    s.close()
    r = run_cli(assets, db, "verify", "alice", "--video", assets["genuine"])
    assert r.returncode == 0
    assert decisions(db)[-2:] == ["pending", "granted"]  # the killed one stays pending (its label)
    s = Store(db)
    assert s.lockout("alice").failures == 0  # the owner's grant resets the count
    s.close()


class Clock:
    def __init__(self, t):
        self.t = t

    def __call__(self):
        return self.t


def test_a_clock_jump_never_shortens_a_lock_and_a_far_lock_is_tampering(assets, db):
    s = Store(db)
    emb = Embedder(assets["model"], "cpu")
    pol = Policy(k=1, n=1, lockout_after=1, lockout_base_s=60, lockout_max_s=600)
    seven = preprocess(render_frame(7, seed=9))
    v = Verifier(s, emb, "alice", pol)
    v.start_attempt()
    assert v.feed_preprocessed(seven).state == "denied"
    assert 59 < v.lockout_remaining() <= 60
    ahead = Verifier(s, emb, "alice", pol, clock=Clock(time.time() + 86400))  # a day ahead
    st = ahead.start_attempt()
    assert st.state == "locked" and 59 < st.lockout_remaining_s <= 60
    behind = Verifier(s, emb, "alice", pol, clock=Clock(time.time() - 86400))  # a day back
    assert 59 < behind.lockout_remaining() <= 60  # capped at its length
    # a process a day ahead wrote a lock two days out: tampering, audited, set to the maximum
    s.set_lockout("alice", LockoutState(3, time.time() + 2 * 86400, 60))
    st = v.start_attempt()
    assert st.state == "locked" and 599 < st.lockout_remaining_s <= 600
    t = s.audit(decision="lockout_tampered")[0]
    assert "tampered" in t.detail["reason"]
    assert s.lockout("alice").locked_until < time.time() + 601
    s.close()


def test_a_stale_pending_attempt_is_relabelled_and_counted_once(assets, db):
    """A pending row of an earlier boot is relabelled "abandoned". One this twinlock wrote was
    counted when it started (nothing more is counted); one an older twinlock wrote (no
    "charged" mark, it counted at the end) is counted now. No process is asked if it lives."""
    import socket

    from desktop_app.core.decision import Decision

    s = Store(db)
    with s.transaction() as tx:
        for charged in (True, False):
            detail = {"pid": 1, "pstart": "0", "host": socket.gethostname(), "boot": "an-earlier-boot"}
            tx.log("alice", Decision.PENDING, detail={**detail, **({"charged": True} if charged else {})})
    emb = Embedder(assets["model"], "cpu")
    v = Verifier(s, emb, "alice", Policy(lockout_after=5))
    v.start_attempt()
    assert [e.decision for e in s.audit(profile="alice", limit=3)] == ["pending", "abandoned", "abandoned"]
    assert s.lockout("alice").failures == 2  # the legacy row's, and this attempt's own
    v.finish(reason="cancelled")  # nothing compared: this attempt's try is given back
    assert s.lockout("alice").failures == 1
    with pytest.raises(ValueError, match="between 1 and 50"):
        s.set_policy("alice", {"n": 1000})
    s.close()
