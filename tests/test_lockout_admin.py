"""Wrong admin passphrases wait, and names never forge the log.

Wrong admin passphrases are counted like unlock attempts (when the try starts, in the
database) and after five of them each further try waits a growing delay -- across processes,
so a script of CLI runs gets no more. New passphrases need 8 characters; an older, shorter
one still verifies. A profile name is validated before anything is written (also on the
wrong-passphrase path), and `twinlock audit` prints every field on one line with control
characters escaped."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from desktop_app.core import passphrase as pp
from desktop_app.core.settings import set_admin_passphrase
from desktop_app.core.store import LockoutState, Store, boot_clock, boot_id
from training.camera_sim import render_frame
from pixel_model import make_pixel_model

ROOT = Path(__file__).resolve().parents[1]
PASS = "the right admin passphrase"


def _cli() -> list[str]:
    exe = Path(sys.executable).parent / "twinlock"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "desktop_app.cli.main"]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("admin-assets")
    a = {"model": make_pixel_model(d / "pixel.onnx"), "three": d / "three.png"}
    cv2.imwrite(str(a["three"]), render_frame(3, seed=300))
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
    with Store(db) as s:
        set_admin_passphrase(s, PASS, via="test")
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    good.write_text(PASS + "\n")
    bad.write_text("not the passphrase\n")
    return {"db": db, "env": env, "good": good, "bad": bad, "out": tmp_path / "alice.json", **assets}


def _export(world, pfile, name="alice") -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_cli(), "profiles", "export", name, str(world["out"]), "--passphrase-file", str(pfile)],
        env=world["env"],
        capture_output=True,
        text=True,
    )


def _admin_lock(db) -> LockoutState:
    with Store(db) as s:
        return s.lockout(pp.ADMIN_LOCK_KEY)


def _expire(db) -> None:
    """Let the running delay end (as if its time had passed, on both clocks), keeping the count."""
    with Store(db) as s:
        lock = s.lockout(pp.ADMIN_LOCK_KEY)
        s.set_lockout(
            pp.ADMIN_LOCK_KEY,
            LockoutState(lock.failures, time.time() - 1, lock.lock_s, boot_id(), boot_clock() - lock.lock_s - 1),
        )


def test_wrong_passphrases_then_the_right_one_waits(world):
    for _ in range(pp.ADMIN_FREE_TRIES):
        r = _export(world, world["bad"])
        assert r.returncode == 4 and "wrong admin passphrase" in r.stderr, r.stderr
    assert _admin_lock(world["db"]).failures == pp.ADMIN_FREE_TRIES
    # the right passphrase now waits: not even compared, nothing exported, audited
    r = _export(world, world["good"])
    assert r.returncode == 4 and "try again in" in r.stderr and "Too many wrong admin passphrases" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not world["out"].exists()
    with Store(world["db"]) as s:
        delayed = [e for e in s.audit(decision="passphrase_failed", limit=0) if "delayed_s" in e.detail]
        assert len(delayed) == 1 and 0 < delayed[0].detail["delayed_s"] <= pp.ADMIN_BASE_S
    # the delay grows with every further wrong one ...
    _expire(world["db"])
    assert _export(world, world["bad"]).returncode == 4
    lock = _admin_lock(world["db"])
    assert lock.failures == pp.ADMIN_FREE_TRIES + 1 and lock.lock_s == pp.ADMIN_BASE_S * pp.ADMIN_FACTOR
    assert _export(world, world["good"]).returncode == 4  # waiting again
    # ... and the right one, once the delay is over, works and resets the count
    _expire(world["db"])
    r = _export(world, world["good"])
    assert r.returncode == 0, r.stderr
    assert world["out"].is_file() and _admin_lock(world["db"]).failures == 0


def test_parallel_wrong_passphrases_are_counted_before_they_are_compared(world):
    procs = [
        subprocess.Popen(
            [*_cli(), "profiles", "export", "alice", str(world["out"]), "--passphrase-file", str(world["bad"])],
            env=world["env"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    errs = [p.communicate(timeout=240)[1] for p in procs]
    compared = [e for e in errs if "wrong admin passphrase for" in e]
    waited = [e for e in errs if "try again in" in e]
    assert len(compared) == pp.ADMIN_FREE_TRIES and len(waited) == 10 - pp.ADMIN_FREE_TRIES, errs


def test_new_passphrases_need_8_characters_and_an_older_short_one_still_verifies(world):
    with Store(world["db"]) as s:
        with pytest.raises(pp.PassphraseError, match="at least 8"):
            set_admin_passphrase(s, "seven77")
        assert s.get_setting("admin_passphrase") and pp.verify_passphrase(PASS, s.get_setting("admin_passphrase"))
        # a hash an older twinlock stored for a 4-character passphrase
        salt = os.urandom(16)
        dk = hashlib.scrypt(b"abcd", salt=salt, n=1024, r=8, p=1, dklen=32)
        legacy = f"scrypt$n=1024,r=8,p=1${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"
        s.set_setting("admin_passphrase", legacy)
    short = world["good"].with_name("short.txt")
    short.write_text("abcd\n")
    r = _export(world, short)
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------- item 12: names and the log
FORGED = "x\n2026-12-02 12:00:00  alice            granted"


def _audit_count(db) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("command", ["export", "verify"])
@pytest.mark.parametrize("name", [FORGED, "\x1b[2J\x1b[31mbob", "a" * 5000], ids=["newline", "ansi", "5000"])
def test_a_bad_profile_name_is_refused_before_anything_is_written(world, name, command):
    before = _audit_count(world["db"])
    if command == "export":  # the wrong-passphrase path
        r = _export(world, world["bad"], name=name)
    else:  # --debug asks for the passphrase before the profile is looked up
        r = subprocess.run(
            [
                *_cli(),
                "verify",
                name,
                "--image",
                str(world["three"]),
                "--debug",
                "--passphrase-file",
                str(world["bad"]),
            ],
            env=world["env"],
            capture_output=True,
            text=True,
        )
    assert r.returncode == 4 and "Traceback" not in r.stderr, r.stderr
    assert any(w in r.stderr for w in ("not a valid profile name", "at most 64", "There is no profile")), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "\x1b" not in r.stderr  # the name shown escaped
    assert _audit_count(world["db"]) == before  # nothing written, the wrong try included
    assert _admin_lock(world["db"]).failures == 0  # and nothing counted


def test_audit_prints_every_field_on_one_line_with_control_characters_escaped(world):
    # rows an older twinlock (or a hand with sqlite3) wrote with a forged name and reason
    con = sqlite3.connect(world["db"])
    con.execute(
        "INSERT INTO audit(time, profile, decision, detail) VALUES (?, ?, 'passphrase_failed', ?)",
        (time.time(), FORGED, json.dumps({"reason": "ok\x1b[31m\u202egranted\r\nfake"})),
    )
    con.commit()
    con.close()
    r = subprocess.run(
        [*_cli(), "audit", "--limit", "0", "--passphrase-file", str(world["good"]), "--distances"],
        env=world["env"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == _audit_count(world["db"])  # one line per row: no forged line
    assert not any(ch in r.stdout for ch in "\x1b\r\u202e")
    forged = next(ln for ln in lines if "passphrase_failed" in ln)
    assert "x\\n2026-12-02" in forged and "\\x1b[31m\\u202egranted\\r\\nfake" in forged


def test_the_apps_audit_viewer_shows_every_field_on_one_line(qtbot, tmp_path):
    from desktop_app.ui.audit_viewer import AuditViewer
    from desktop_app.ui.context import AppContext

    db = tmp_path / "data" / "twinlock.sqlite3"
    with Store(db) as s:
        s.log_attempt(None, "settings_changed")
    _sql_insert_forged(db)
    ctx = AppContext(store=Store(db))
    try:
        v = AuditViewer(ctx)
        qtbot.addWidget(v)
        texts = [v.table.item(r, c).text() for r in range(v.table.rowCount()) for c in range(v.table.columnCount())]
        assert any("x\\n2026-12-02" in t for t in texts)
        assert not any(ch in t for t in texts for ch in "\n\r\x1b\u202e")
    finally:
        ctx.close()


def _sql_insert_forged(db) -> None:
    con = sqlite3.connect(db)
    con.execute(
        "INSERT INTO audit(time, profile, decision, detail) VALUES (?, ?, 'passphrase_failed', ?)",
        (time.time(), FORGED, json.dumps({"reason": "ok\x1b[31m\u202egranted\r\nfake"})),
    )
    con.commit()
    con.close()
