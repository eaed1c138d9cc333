"""The app and the command line share one database without losing writes.

The app makes several Store handles on the same file (its context, the calibration and export
dialogs' own handles, the doctor-style create=False one). Closing any descriptor of the file
drops every POSIX lock the process holds on it, after which a CLI process that ends believes
it is the last user, checkpoints and deletes the -wal/-shm the app still writes to. Here a
real `twinlock` subprocess writes between every kind of handle the app makes; both sides
must see every row, and the file must pass integrity_check."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from desktop_app.core.embedder import Embedder
from desktop_app.core.preprocess import prepare_image
from desktop_app.core.store import Store
from desktop_app.core.verifier import Verifier
from training.camera_sim import render_frame
from pixel_model import make_pixel_model

ROOT = Path(__file__).resolve().parents[1]


def twinlock_cmd() -> list[str]:
    """The installed `twinlock` entry point of this venv (the real CLI)."""
    exe = Path(sys.executable).parent / "twinlock"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "desktop_app.cli.main"]


def run_cli(env, *args, timeout=120):
    return subprocess.run(
        [*twinlock_cmd(), *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def world(tmp_path):
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    model = make_pixel_model(tmp_path / "pixel.onnx")
    three, seven = tmp_path / "three.png", tmp_path / "seven.png"
    cv2.imwrite(str(three), render_frame(3, seed=300))
    cv2.imwrite(str(seven), render_frame(7, seed=700))
    env = dict(os.environ, TWINLOCK_MODEL=str(model), TWINLOCK_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    for k in ("TWINLOCK_PASSPHRASE", "TWINLOCK_DB"):
        env.pop(k, None)
    db = d / "twinlock.sqlite3"
    r = run_cli(env, "enroll", "alice", three, "--db", db)
    assert r.returncode == 0, r.stderr
    return {"db": db, "env": env, "model": model, "three": three, "seven": seven}


def _cli_rows(world) -> set[int]:
    r = run_cli(world["env"], "audit", "--json", "--limit", "0", "--db", world["db"])
    assert r.returncode == 0, r.stderr
    return {int(e["id"]) for e in json.loads(r.stdout)}


def _app_attempt(store, emb, image) -> int:
    """One unlock attempt as the app's window runs it (the core Verifier on the app's store)."""
    ver = Verifier(store, emb, "alice")
    ver.start_attempt()
    st = ver.feed_preprocessed(prepare_image(cv2.imread(str(image)), ver.preprocess_config))
    if not st.final:
        st = ver.finish(reason="end of input")
    return st.audit_id


def test_every_kind_of_app_store_keeps_the_cli_writes_and_its_own(world):
    db, env = world["db"], world["env"]
    emb = Embedder(world["model"], "cpu")
    app = Store(db)  # the app context's store (AppContext.open)
    try:
        # the other handles the app makes on the same file while its context is open
        kinds = [
            lambda: Store(db),  # calibration dialog / export dialog "Use this model" (with Store(db) as st)
            lambda: Store(db, create=False),  # doctor-style: an existing file only
            lambda: Store(str(db)),  # the same path as a string
            lambda: Store(db.parent / "." / db.name),  # another spelling of the same file
        ]
        mine, theirs = set(), set()
        for make in kinds:
            with make() as other:
                mine.add(other.log_attempt("alice", "settings_changed", detail={"by": "other handle"}))
            mine.add(_app_attempt(app, emb, world["seven"]))
            # a real CLI process writes (an unlock attempt) and ends
            r = run_cli(env, "verify", "alice", "--image", world["three"], "--json", "--db", db)
            assert r.returncode == 0, r.stdout + r.stderr
            # the app keeps writing after the CLI process has ended
            mine.add(_app_attempt(app, emb, world["three"]))
            app.set_setting("round", len(mine))
            seen_by_cli = _cli_rows(world)
            assert mine <= seen_by_cli, f"the CLI does not see the app's rows {sorted(mine - seen_by_cli)}"
            theirs = seen_by_cli - mine
            seen_by_app = {e.id for e in app.audit(limit=0)}
            assert theirs <= seen_by_app, f"the app does not see the CLI's rows {sorted(theirs - seen_by_app)}"
        assert len(theirs) >= len(kinds)  # the CLI's grants (and its enrollment row) are all there
        # the -wal the app writes is the file on disk, not a deleted one
        fds = []
        for fd in os.listdir(f"/proc/{os.getpid()}/fd"):
            try:
                fds.append(os.readlink(f"/proc/{os.getpid()}/fd/{fd}"))
            except OSError:
                pass
        assert not [f for f in fds if db.name in f and "(deleted)" in f], fds
        assert app.integrity_check() == "ok"
    finally:
        app.close()
    # after everyone has closed: one file holds every row, and it is sound
    con = sqlite3.connect(db)
    try:
        ids = {r[0] for r in con.execute("SELECT id FROM audit")}
        assert mine | theirs <= ids
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert json.loads(con.execute("SELECT value FROM settings WHERE key='round'").fetchone()[0]) == len(mine)
    finally:
        con.close()


def test_handles_share_one_connection_and_the_last_close_closes_it(tmp_path):
    db = tmp_path / "db.sqlite3"
    a = Store(db)
    b = Store(db)
    assert a._con is b._con  # one connection per file per process
    b.close()
    a.set_setting("still", "open")  # closing one handle leaves the others working
    c = Store(db)
    assert c.get_setting("still") == "open"
    a.close()
    c.close()
    with pytest.raises(Exception, match="closed"):
        a.get_setting("still")
