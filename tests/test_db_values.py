"""The database keeps its word.

A threshold is never written without its audit row (a real SIGKILL right after the write);
a pending row's clock-skew flag survives the attempt's end; a read-only database is called
read-only, not damaged; a refused database gets no -wal/-shm beside it; and values read back
from the database (a negative failure count, a policy outside the bounds, text where a
number belongs) are refused with a message, never used."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import pytest

from desktop_app.core.embedder import Embedder
from desktop_app.core.store import SCHEMA_VERSION, Store, StoreError
from desktop_app.core.verifier import Policy, Verifier
from training.camera_sim import render_frame
from pixel_model import make_pixel_model

ROOT = Path(__file__).resolve().parents[1]


def _cli() -> list[str]:
    exe = Path(sys.executable).parent / "twinlock"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "desktop_app.cli.main"]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("values-assets")
    a = {"model": make_pixel_model(d / "pixel.onnx"), "dir": d}
    for name, digit, seed in (("three", 3, 300), ("three_b", 3, 310), ("seven", 7, 700), ("one", 1, 100)):
        a[name] = d / f"{name}.png"
        cv2.imwrite(str(a[name]), render_frame(digit, seed=seed))
    return a


@pytest.fixture
def world(tmp_path, assets):
    env = dict(os.environ, TWINLOCK_MODEL=str(assets["model"]), TWINLOCK_HOME=str(tmp_path / "home"))
    env["PYTHONPATH"] = str(ROOT)
    env.pop("TWINLOCK_PASSPHRASE", None)
    db = tmp_path / "data" / "twinlock.sqlite3"
    env["TWINLOCK_DB"] = str(db)
    r = subprocess.run([*_cli(), "enroll", "alice", str(assets["three"])], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return {"db": db, "env": env, **assets}


def _run(world, *args, prefix=(), env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*prefix, *map(str, args)], env=dict(world["env"], **(env or {})), capture_output=True, text=True
    )


def _sql(db, sql, args=()):
    con = sqlite3.connect(db)
    try:
        rows = con.execute(sql, args).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


# ---------------------------------------------------------------- calibrate --apply: one transaction
# a real SIGKILL at the first bytecode after the store's threshold write returns
_KILL_AFTER_THRESHOLD_WRITE = """
import os, signal, sys
def hook(frame, event, arg):
    code = frame.f_code
    if event == "return" and code.co_name == "set_threshold" and code.co_filename.endswith("profiles.py"):
        os.kill(os.getpid(), signal.SIGKILL)
sys.setprofile(hook)
from desktop_app.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_threshold_is_never_written_without_its_audit_row(world):
    before = _sql(world["db"], "SELECT threshold FROM profiles WHERE name='alice'")[0][0]
    r = _run(
        world,
        "calibrate",
        "alice",
        "--genuine",
        world["three"],
        world["three_b"],
        "--impostor",
        world["seven"],
        world["one"],
        "--target-far",
        "0.5",
        "--apply",
        "--yes",
        prefix=[sys.executable, "-c", _KILL_AFTER_THRESHOLD_WRITE],
    )
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stdout, r.stderr)  # killed where we meant
    after = _sql(world["db"], "SELECT threshold FROM profiles WHERE name='alice'")[0][0]
    rows = _sql(world["db"], "SELECT threshold, detail FROM audit WHERE decision='threshold_set'")
    assert after != before  # the write happened before the kill ...
    assert len(rows) == 1 and rows[0][0] == after  # ... and its audit row with it
    assert json.loads(rows[0][1])["old"] == before


# ---------------------------------------------------------------- clock skew kept
def test_a_pending_rows_clock_skew_flag_is_kept_when_the_attempt_ends(world):
    emb = Embedder(world["model"], "cpu")
    with Store(world["db"]) as s:
        s.log_attempt("alice", "no_symbol")
        s.query("UPDATE audit SET time = time + 86400 WHERE id = (SELECT MAX(id) FROM audit)")  # a forged time
        v = Verifier(s, emb, "alice", Policy(k=1, n=1))
        v.start_attempt()
        pending = s.audit(profile="alice", limit=1)[0]
        assert pending.decision == "pending" and "clock_skew_s" in pending.detail
        img = cv2.imread(str(world["seven"]))
        st = v.feed(img)
        assert st.final and st.state == "denied"
        done = s.audit(profile="alice", limit=1)[0]
        assert done.id == pending.id and done.decision == "denied"
        assert done.detail["clock_skew_s"] == pending.detail["clock_skew_s"]


# ---------------------------------------------------------------- read-only and refused files
def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_a_read_only_database_is_called_read_only_not_damaged(world):
    if os.geteuid() == 0:  # root writes anything: the CLI runs as nobody on nobody's files
        if not shutil.which("setpriv"):
            pytest.skip("setpriv is needed to run as another user")
        folder = Path(tempfile.mkdtemp(prefix="twinlock-ro-"))
        try:
            db = folder / "twinlock.sqlite3"
            shutil.copy(world["db"], db)
            for p in (folder, db):
                os.chown(p, 65534, 65534)
            os.chmod(db, 0o400)
            prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
            env = {"TWINLOCK_HOME": str(folder / "home"), "TWINLOCK_CONFIG": str(folder / "config.json")}
            before, names = _digest(db), sorted(os.listdir(folder))
            r = _run(world, *_cli(), "audit", "--db", db, prefix=prefix, env=env)
            assert r.returncode == 4 and "read-only" in r.stderr, r.stderr
            assert "damaged" not in r.stderr and "start a new one" not in r.stderr
            assert len(r.stderr.strip().splitlines()) == 1
            assert _digest(db) == before and sorted(os.listdir(folder)) == names
            os.chmod(db, 0o600)
            os.chmod(folder, 0o500)  # the folder read-only: no -wal can be made
            r = _run(world, *_cli(), "audit", "--db", db, prefix=prefix, env=env)
            assert r.returncode == 4 and "read-only" in r.stderr and "damaged" not in r.stderr, r.stderr
        finally:
            os.chmod(folder, 0o700)
            shutil.rmtree(folder)
    else:
        db = world["db"]
        os.chmod(db, 0o400)
        r = _run(world, *_cli(), "audit", "--db", db)
        os.chmod(db, 0o600)
        assert r.returncode == 4 and "read-only" in r.stderr and "damaged" not in r.stderr, r.stderr


def _wal_db(path: Path, version: int, app: str | None) -> Path:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    if app:
        con.execute("INSERT INTO meta VALUES ('app', ?)", (app,))
    con.execute(f"PRAGMA user_version = {version}")
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize(
    "version,app,words",
    [(0, "other-program", "another program"), (SCHEMA_VERSION + 1, "twinlock", "newer twinlock")],
    ids=["foreign", "newer"],
)
def test_a_refused_database_gets_no_wal_or_shm_beside_it(tmp_path, version, app, words):
    folder = tmp_path / "data"
    folder.mkdir(mode=0o700)
    db = _wal_db(folder / "x.sqlite3", version, app)
    before, names = _digest(db), sorted(os.listdir(folder))
    assert names == ["x.sqlite3"]
    with pytest.raises(StoreError, match=words):
        Store(db)
    assert _digest(db) == before and sorted(os.listdir(folder)) == names


# ---------------------------------------------------------------- values read back are checked
@pytest.mark.parametrize(
    "sql,words",
    [
        ("INSERT OR REPLACE INTO lockout(profile, failures) VALUES ('alice', -1000000)", "failure count of '-1000000'"),
        ("INSERT OR REPLACE INTO lockout(profile, failures) VALUES ('alice', 'many')", "failure count of 'many'"),
        ("UPDATE profiles SET policy = '{\"lockout_after\": 1000}' WHERE name = 'alice'", "lockout_after is 1000"),
        ("UPDATE profiles SET policy = '[1, 2]' WHERE name = 'alice'", "not a JSON object"),
        ("UPDATE profiles SET threshold = 'loose' WHERE name = 'alice'", "a threshold of 'loose'"),
        ("UPDATE profiles SET threshold = -1 WHERE name = 'alice'", "a threshold of '-1"),
    ],
    ids=["negative-failures", "text-failures", "policy-bounds", "policy-type", "text-threshold", "negative-threshold"],
)
def test_values_read_from_the_database_are_checked(world, sql, words):
    _sql(world["db"], sql)
    for img in ("seven", "three"):  # a wrong guess and the right one: neither is judged
        r = _run(world, *_cli(), "verify", "alice", "--image", world[img])
        assert r.returncode == 4, (img, r.returncode, r.stdout, r.stderr)
        assert words in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    assert not _sql(world["db"], "SELECT 1 FROM audit WHERE decision IN ('granted', 'denied', 'pending')")


def test_a_damaged_audit_row_is_shown_and_named_never_a_traceback(world):
    _sql(
        world["db"],
        "INSERT INTO audit(time, profile, decision, best_distance, frames_used) "
        "VALUES (1.7e9, 'alice', 'denied', 'close', 'three')",
    )
    with Store(world["db"]) as s:
        row = next(e for e in s.audit(limit=0) if e.decision == "denied")
        assert row.best_distance is None and row.frames_used == 0
        assert set(row.detail["damaged"]) == {"best_distance", "frames_used"}
    r = _run(world, *_cli(), "audit", "--distances")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
