"""Issue 15: the lockout cannot be walked around (concurrency, signals, kills, overrides,
imports, the clock) and a run never rewrites stored data quietly.

Everything runs the real `twinlock` CLI in subprocesses (real signals, real SQLite, real
ONNX Runtime) on the pixel-pooling test model; nothing is mocked."""

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from desktop_app.cli.main import main
from desktop_app.core.contract import ContractError, contract_metadata
from desktop_app.core.embedder import Embedder
from desktop_app.core.passphrase import hash_passphrase
from desktop_app.core.preprocess import preprocess
from desktop_app.core.store import LockoutState, Store, StoreError
from desktop_app.core.verifier import Policy, Verifier
from frames import junk_frames, render_frame
from ui_support import write_video
from pixel_model import make_pixel_model

ROOT = Path(__file__).resolve().parents[1]


def _video(path, frames, fps=10.0):
    return write_video(path, frames, fps)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("hard")
    a = {"dir": d, "model": make_pixel_model(d / "pixel.onnx"), "model49": make_pixel_model(d / "pixel49.onnx", pool=4)}
    a["enroll"] = []
    for i in range(3):
        p = d / f"three_{i}.png"
        cv2.imwrite(str(p), render_frame(3, seed=300 + i))
        a["enroll"].append(str(p))
    for digit in range(10):
        p = d / f"digit{digit}.png"
        cv2.imwrite(str(p), render_frame(digit, seed=400 + digit))
        a[f"d{digit}"] = str(p)
    a["genuine"] = _video(d / "genuine.avi", [render_frame(3, seed=500 + i) for i in range(6)])
    # a wrong digit, then a long stretch of blank paper: an attempt that is still running
    blank = cv2.resize(junk_frames(seed=2)["blank_paper"], (160, 120))
    seven = cv2.resize(render_frame(7, seed=601), (160, 120))
    a["long"] = _video(d / "long.avi", [seven] + [blank] * 2500)
    return a


@pytest.fixture
def db(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("TWINLOCK_MODEL", str(assets["model"]))
    monkeypatch.setenv("TWINLOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TWINLOCK_PASSPHRASE", raising=False)
    p = tmp_path / "db.sqlite3"
    monkeypatch.setenv("TWINLOCK_DB", str(p))
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    return p


def _env(assets, db, **extra):
    e = dict(os.environ, TWINLOCK_MODEL=str(assets["model"]), TWINLOCK_DB=str(db), PYTHONPATH=str(ROOT))
    e.pop("TWINLOCK_PASSPHRASE", None)
    e.update(extra)
    return e


def _cmd(*args):
    return [sys.executable, "-m", "desktop_app.cli.main", *map(str, args)]


def _run(assets, db, *args, timeout=120, **extra):
    return subprocess.run(
        _cmd(*args), cwd=ROOT, env=_env(assets, db, **extra), capture_output=True, text=True, timeout=timeout
    )


def _decisions(db, profile="alice"):
    s = Store(db)
    try:
        return [e.decision for e in s.audit(profile=profile, limit=0)][::-1]
    finally:
        s.close()


def _set(db, **settings):
    s = Store(db)
    for k, v in settings.items():
        s.set_setting(k, v)
    s.close()


# ---------------------------------------------------------------- 1. one attempt, one try
def test_twenty_images_of_every_digit_are_one_denied_attempt(assets, db):
    imgs = [x for d in range(10) for x in ("--image", assets[f"d{d}"], "--image", assets[f"d{d}"])]
    r = _run(assets, db, "verify", "alice", *imgs, "-k", "2", "-n", "3", "--json")
    assert r.returncode == 1, (r.stdout, r.stderr)
    out = json.loads(r.stdout)
    assert out["decision"] == "denied" and "frames_used" not in out  # (frames used tells how many matched)
    assert "best_distance" not in out  # a denial does not say how close it came
    assert _decisions(db)[-1] == "denied"


# ---------------------------------------------------------------- 2. concurrency
def test_parallel_attempts_never_pass_the_lockout_limit(assets, db):
    _set(db, policy={"lockout_after": 3, "lockout_base_s": 600, "time_limit_s": 300})  # a loaded machine
    procs = [
        subprocess.Popen(
            _cmd("verify", "alice", "--image", assets["d7"]),
            cwd=ROOT,
            env=_env(assets, db),
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
    assert codes.count(1) == 3, (codes, outs, _decisions(db))  # exactly the limit was judged; the rest locked
    ds = _decisions(db)
    assert ds.count("denied") == 3 and ds.count("locked") == 7 and "pending" not in ds
    # and the owner is locked out too (no grant while locked)
    assert _run(assets, db, "verify", "alice", "--video", assets["genuine"]).returncode == 3


# ---------------------------------------------------------------- 3. interrupting hides nothing
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
        if b"frame " in seen and "pending" in _decisions(db):
            return
    raise AssertionError(f"the attempt never judged a frame: {seen[-500:]!r}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_after_a_wrong_frame_counts_as_a_failure(assets, db, sig):
    _set(db, policy={"max_frames": 10000})
    p = subprocess.Popen(
        _cmd("verify", "alice", "-v", "--video", assets["long"], "--time-limit", "3000"),
        cwd=ROOT,
        env=_env(assets, db),
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
    _set(db, policy={"max_frames": 10000})
    p = subprocess.Popen(
        _cmd("verify", "alice", "-v", "--video", assets["long"], "--time-limit", "3000"),
        cwd=ROOT,
        env=_env(assets, db),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _wait_pending(db, p)
    p.kill()
    p.communicate(timeout=30)
    assert _decisions(db)[-1] == "pending"
    s = Store(db)
    assert s.lockout("alice").failures == 1  # counted when it started; no one asks if it lives
    s.close()
    r = _run(assets, db, "verify", "alice", "--video", assets["genuine"])
    assert r.returncode == 0
    assert _decisions(db)[-2:] == ["pending", "granted"]  # the killed one stays pending (its label)
    s = Store(db)
    assert s.lockout("alice").failures == 0  # the owner's grant resets the count
    s.close()


# ---------------------------------------------------------------- 4. overrides and imports
def test_threshold_override_needs_the_passphrase_is_audited_and_resets_nothing(assets, db, tmp_path):
    _set(db, admin_passphrase=hash_passphrase("open sesame"))
    s = Store(db)
    s.set_lockout("alice", LockoutState(2, 0.0))
    s.close()
    r = _run(assets, db, "verify", "alice", "--image", assets["d7"], "--threshold", "1.9")
    assert r.returncode == 4 and "passphrase" in r.stderr
    r = _run(assets, db, "verify", "alice", "--image", assets["d7"], "--threshold", "1.9", TWINLOCK_PASSPHRASE="wrong")
    assert r.returncode == 4 and "wrong admin passphrase" in r.stderr
    pf = tmp_path / "pass.txt"
    pf.write_text("open sesame\n")
    r = _run(assets, db, "verify", "alice", "--image", assets["d7"], "--threshold", "1.9", "--passphrase-file", pf)
    assert r.returncode == 0, r.stderr  # the loose override grants junk ...
    s = Store(db)
    g = s.audit(decision="granted")[0]
    assert g.detail["override"]["threshold"] == 1.9 and g.detail["override"]["by"] == "admin passphrase"
    assert s.lockout("alice").failures == 2  # ... but never resets the failures
    assert s.audit(decision="passphrase_failed")
    s.close()


def test_admin_commands_ask_for_the_passphrase(assets, db, tmp_path):
    _set(db, admin_passphrase=hash_passphrase("open sesame"))
    f = tmp_path / "a.json"
    for args in (
        ["enroll", "alice", *assets["enroll"]],
        ["profiles", "remove", "alice", "--yes"],
        ["profiles", "export", "alice", f],
        ["calibrate", "alice", "--reset"],
        ["verify", "alice", "--image", assets["d3"], "--debug"],
    ):
        r = _run(assets, db, *args)
        assert r.returncode == 4 and "needs the admin passphrase" in r.stderr, (args, r.stderr)
    assert not f.exists()
    assert _run(assets, db, "profiles", "export", "alice", f, TWINLOCK_PASSPHRASE="open sesame").returncode == 0
    s = Store(db)
    assert s.audit(decision="profile_exported")[0].detail["references"] == 3
    assert s.get_profile("alice").n_references == 3
    s.close()


def test_export_is_refused_while_locked_and_audited(assets, db, tmp_path):
    s = Store(db)
    s.set_lockout("alice", LockoutState(5, time.time() + 300, 300))
    s.close()
    r = _run(assets, db, "profiles", "export", "alice", tmp_path / "x.json")
    assert r.returncode == 4 and "locked out" in r.stderr and not (tmp_path / "x.json").exists()
    assert _decisions(db)[-1] == "export_refused"


def test_import_over_a_locked_profile_keeps_its_lockout(assets, db, tmp_path):
    f = tmp_path / "alice.json"
    assert main(["profiles", "export", "alice", str(f)]) == 0
    s = Store(db)
    s.set_lockout("alice", LockoutState(7, time.time() + 600, 600))
    s.close()
    assert main(["profiles", "import", str(f), "--overwrite"]) == 0
    s = Store(db)
    assert s.lockout("alice").failures == 7 and s.lockout("alice").remaining() > 500
    s.close()


def _export_doc(db, tmp_path):
    f = tmp_path / "good.json"
    assert main(["profiles", "export", "alice", str(f)]) == 0
    return json.loads(f.read_text())


def _bad_docs():
    def thr(v):
        return lambda d: d.__setitem__("threshold", v)

    def pol(**kw):
        return lambda d: d.__setitem__("policy", kw)

    def ref(key, v):
        return lambda d: d["references"][0].__setitem__(key, v)

    return {
        "threshold 99": thr(99),
        "threshold -1": thr(-1),
        "threshold 0": thr(0),
        "threshold inf": thr("inf"),
        "threshold text": thr("x"),
        "n 1000": pol(n=1000),
        "k text": pol(k="x"),
        "k 1.5": pol(k=1.5),
        "lockout_after 0": pol(lockout_after=0),
        "lockout nan": pol(lockout_base_s=float("nan")),
        "unknown policy key": pol(bogus=1),
        "policy list": lambda d: d.__setitem__("policy", [1]),
        # (the embeddings and fingerprints in a file are never read: tests/test_import_recompute.py)
        "version abc": lambda d: d.__setitem__("version", "abc"),
        "no references": lambda d: d.__setitem__("references", []),
        "16-bit crop": ref(
            "crop_png",
            __import__("base64")
            .b64encode(cv2.imencode(".png", np.full((20, 20), 4000, np.uint16))[1].tobytes())
            .decode(),
        ),
        "crop 5000 wide": ref(
            "crop_png",
            __import__("base64").b64encode(cv2.imencode(".png", np.zeros((2, 5000), np.uint8))[1].tobytes()).decode(),
        ),
        "crop not a PNG": ref(
            "crop_png", __import__("base64").b64encode(cv2.imencode(".bmp", np.zeros((9, 9), np.uint8))[1]).decode()
        ),
    }


@pytest.mark.parametrize("case", list(_bad_docs()))
def test_bad_imports_are_refused_with_one_line_and_nothing_written(assets, db, tmp_path, case, capsys):
    doc = _export_doc(db, tmp_path)
    _bad_docs()[case](doc)
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(doc))
    capsys.readouterr()
    assert main(["profiles", "import", str(f), "--name", "bob"]) == 4
    err = capsys.readouterr().err
    assert err.startswith("twinlock: ") and err.count("\n") == 1 and "Traceback" not in err
    s = Store(db)
    assert not s.has_profile("bob")
    s.close()


def test_a_deeply_nested_import_is_refused(assets, db, tmp_path, capsys):
    f = tmp_path / "deep.json"
    f.write_text("[" * 100000 + "]" * 100000)
    assert main(["profiles", "import", str(f)]) == 4
    assert "not readable JSON" in capsys.readouterr().err


# ---------------------------------------------------------------- 5. the clock
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


# ---------------------------------------------------------------- 6. a run never rewrites stored data
def _model_with(path, nodes, out_dim, inits=(), contract_dim=None):
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", out_dim])
    graph = helper.make_graph(nodes, "t", [inp], [out], initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8

    def op(t):
        return {"threshold": t, "far": 0.001, "frr": 0.05, "genuine": 10, "impostor": 90}

    doc = {
        "version": 1,
        "input": {"name": "image", "size": 28, "polarity": "white_on_black", "scale": 1 / 255, "mean": 0.0, "std": 1.0},
        "output": {"name": "embedding", "dim": contract_dim or out_dim, "metric": "euclidean", "normalized": True},
        "thresholds": {"far_1e-3": op(0.5)},
        "default_threshold": "far_1e-3",
    }
    for k, v in contract_metadata(doc, model).items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(model, str(path))
    return path


def _nan_model(path):
    nan = helper.make_tensor("nan", TensorProto.FLOAT, [1], [float("nan")])
    return _model_with(
        path,
        [
            helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["p"], ["f"], axis=1),
            helper.make_node("Mul", ["f", "nan"], ["embedding"]),
        ],
        196,
        [nan],
    )


def _constant_model(path):
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [0.1])
    return _model_with(
        path,
        [
            helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Flatten", ["p"], ["f"], axis=1),
            helper.make_node("Mul", ["f", "zero"], ["z"]),
            helper.make_node("Add", ["z", "one"], ["embedding"]),
        ],
        196,
        [zero, one],
    )


def _lying_dim_model(path):  # the graph gives 49 numbers, the contract promises 64
    return _model_with(
        path,
        [
            helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[4, 4], strides=[4, 4]),
            helper.make_node("Flatten", ["p"], ["f"], axis=1),
            helper.make_node("LpNormalization", ["f"], ["embedding"], axis=1, p=2),
        ],
        "D",
        contract_dim=64,
    )


@pytest.mark.parametrize(
    "make,message", [(_nan_model, "non-finite"), (_constant_model, "same point"), (_lying_dim_model, "promises.*64")]
)
def test_broken_models_are_refused_at_load(tmp_path, make, message):
    with pytest.raises(ContractError, match=message):
        Embedder(make(tmp_path / "m.onnx"), "cpu")


def test_verify_with_another_model_never_rewrites_references(assets, db, tmp_path):
    s = Store(db)
    before = s.reference_embeddings("alice", Embedder(assets["model"], "cpu").fingerprint).copy()
    s.close()
    for model in (assets["model49"], _nan_model(tmp_path / "nan.onnx")):
        r = _run(assets, db, "verify", "alice", "--image", assets["d3"], TWINLOCK_MODEL=str(model))
        assert r.returncode == 4 and r.stderr.count("\n") == 1, r.stderr
    s = Store(db)
    assert np.array_equal(s.reference_embeddings("alice", Embedder(assets["model"], "cpu").fingerprint), before)
    assert not s.audit(decision="reembedded")
    s.close()


def test_doctor_checks_every_stored_image(assets, db, capsys):
    con = sqlite3.connect(db)
    con.execute("UPDATE refs SET crop = X'89504e470d0a1a0a00' WHERE id = (SELECT MAX(id) FROM refs)")
    con.commit()
    con.close()
    capsys.readouterr()
    assert main(["doctor", "--max-cameras", "1"]) == 4
    out = capsys.readouterr().out
    assert "cannot be decoded" in out and "all good" not in out


# ---------------------------------------------------------------- 11. distances and the audit log
def test_denials_show_no_distance_unless_debug(assets, db, capsys):
    capsys.readouterr()
    assert main(["verify", "alice", "--image", assets["d7"], "-v"]) == 1
    cap = capsys.readouterr()
    assert "distance" not in cap.out + cap.err and "attempt(s) left" in cap.out
    assert main(["verify", "alice", "--image", assets["d7"], "--debug"]) == 1
    assert "best distance" in capsys.readouterr().out
    s = Store(db)
    assert s.audit(decision="denied")[0].best_distance is not None  # the admin still sees it
    s.close()


def test_audit_retention_is_applied_on_write(assets, db):
    _set(db, audit_retention_rows=5)
    s = Store(db)
    for _ in range(12):
        s.log_attempt("alice", "no_symbol")
    assert len(s.audit(limit=0)) == 5
    s.set_setting("audit_retention_rows", 0)
    s.set_setting("audit_retention_days", 1)
    s._q("UPDATE audit SET time = time - 3 * 86400")
    s.log_attempt("alice", "granted")
    assert [e.decision for e in s.audit(limit=0)] == ["granted"]
    s.close()


def test_locked_database_is_one_clear_line(assets, db):
    holder = sqlite3.connect(db, isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.monotonic()
        r = _run(assets, db, "verify", "alice", "--image", assets["d3"], timeout=90)
        assert r.returncode == 4 and "busy" in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert time.monotonic() - t0 > 9
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_store_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for p, msg in ((fifo, "not a regular file"), (tmp_path, "a folder"), (Path("/dev/zero"), "not a regular")):
        mode = os.stat(p).st_mode
        with pytest.raises(StoreError, match=msg):
            Store(p)
        assert os.stat(p).st_mode == mode
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    with pytest.raises(StoreError, match="empty"):
        Store(empty)
    assert empty.stat().st_size == 0


def test_calibrate_apply_never_loosens_the_lock_without_a_confirmation(assets, db, capsys):
    """The core rule (calibration.threshold_risk): looser than the model default, or a FAR the
    impostor count cannot support, is applied only with --yes (or a yes at the prompt), audited."""
    args = [
        "calibrate",
        "alice",
        "--genuine",
        assets["d3"],
        "--impostor",
        *[assets[f"d{d}"] for d in range(10) if d != 3],
        "--target-far",
        "0.5",
        "--apply",
    ]
    capsys.readouterr()
    assert main(args) == 4
    err = capsys.readouterr().err
    assert "looser than the model's calibrated default" in err and "needs a confirmation" in err
    s = Store(db)
    assert s.get_profile("alice").threshold is None and not s.audit(decision="threshold_set")
    s.close()
    assert main([*args, "--yes"]) == 0
    s = Store(db)
    e = s.audit(decision="threshold_set")[0]
    assert e.detail["looser_than_default"] is True and e.detail["confirmed"] is True
    assert s.get_profile("alice").threshold > 0.48
    s.close()


def test_a_stale_pending_attempt_is_relabelled_and_counted_once(assets, db):
    """A pending row of an earlier boot is relabelled "abandoned". One this twinlock wrote was
    counted when it started (nothing more is counted); one an older twinlock wrote (no
    "charged" mark, it counted at the end) is counted now. No process is asked if it lives."""
    import socket

    from desktop_app.core.store import PENDING

    s = Store(db)
    with s.transaction() as tx:
        for charged in (True, False):
            detail = {"pid": 1, "pstart": "0", "host": socket.gethostname(), "boot": "an-earlier-boot"}
            tx.log("alice", PENDING, detail={**detail, **({"charged": True} if charged else {})})
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


def test_an_audit_time_off_the_boot_clock_is_flagged(assets, db):
    """A process with its clock a day ahead writes a forged time; the next honest row says
    its wall time disagrees with the boot clock's reckoning (and by how much)."""
    s = Store(db)
    s.log_attempt("alice", "no_symbol")
    s._q("UPDATE audit SET time = time + 86400 WHERE id = (SELECT MAX(id) FROM audit)")  # the forged row
    s.log_attempt("alice", "no_symbol")
    flagged = s.audit(limit=1)[0]
    assert flagged.detail["clock_skew_s"] == pytest.approx(-86400, abs=60)
    s.log_attempt("alice", "no_symbol")
    assert "clock_skew_s" not in s.audit(limit=1)[0].detail  # honest after honest: no flag
    s.close()
