"""Set-ups for the tests that run the real `twinlock` (in this process and in subprocesses) on
the pixel-pooling test model: real SQLite, real ONNX Runtime, real signals; nothing mocked.

- ``pixel_assets`` + ``enrolled_db``: a database where alice enrolled three 3s (the test sets
  ``TWINLOCK_MODEL`` and ``TWINLOCK_DB`` for in-process ``main``); ``run_cli`` runs the CLI on
  it in a subprocess.
- ``probe_world``: a database with alice enrolled and her profile exported, made once; a test
  copies it (``fresh_db``) or checks it is left as it was (``digest``); ``twinlock`` runs the
  CLI in a subprocess, ``one_clear_line`` checks an error is one line, exit 4, no traceback.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2

from desktop_app.cli.main import main
from desktop_app.core.store import Store
from training.camera_sim import junk_frames, render_frame
from pixel_model import make_pixel_model
from ui_support import write_video

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- an enrolled database
def pixel_assets(d: Path, *, long_video: bool = False) -> dict:
    """The pixel model (and a 49-number one), three enrollment 3s, one image of every digit,
    a genuine video; with ``long_video``, a wrong digit then a long stretch of blank paper
    (an attempt that is still running when a test stops it)."""
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
    a["genuine"] = write_video(d / "genuine.avi", [render_frame(3, seed=500 + i) for i in range(6)], 10.0)
    if long_video:
        blank = cv2.resize(junk_frames(seed=2)["blank_paper"], (160, 120))
        seven = cv2.resize(render_frame(7, seed=601), (160, 120))
        a["long"] = write_video(d / "long.avi", [seven] + [blank] * 2500, 10.0)
    return a


def enrolled_db(assets: dict, tmp_path: Path, monkeypatch) -> Path:
    """A fresh database (and data folder) where alice enrolled ``assets["enroll"]``."""
    monkeypatch.setenv("TWINLOCK_MODEL", str(assets["model"]))
    monkeypatch.setenv("TWINLOCK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TWINLOCK_PASSPHRASE", raising=False)
    p = tmp_path / "db.sqlite3"
    monkeypatch.setenv("TWINLOCK_DB", str(p))
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    return p


def cli_env(assets, db, **extra) -> dict:
    e = dict(os.environ, TWINLOCK_MODEL=str(assets["model"]), TWINLOCK_DB=str(db), PYTHONPATH=str(ROOT))
    e.pop("TWINLOCK_PASSPHRASE", None)
    e.update(extra)
    return e


def cli_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "desktop_app.cli.main", *map(str, args)]


def run_cli(assets, db, *args, timeout=120, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        cli_cmd(*args), cwd=ROOT, env=cli_env(assets, db, **extra), capture_output=True, text=True, timeout=timeout
    )


def decisions(db, profile="alice") -> list[str]:
    """The profile's audit decisions, oldest first."""
    s = Store(db)
    try:
        return [e.decision for e in s.audit(profile=profile, limit=0)][::-1]
    finally:
        s.close()


def set_settings(db, **settings) -> None:
    s = Store(db)
    for k, v in settings.items():
        s.set_setting(k, v)
    s.close()


# ---------------------------------------------------------------- a probe world
def probe_world(d: Path) -> dict:
    w = {"dir": d, "model": make_pixel_model(d / "pixel.onnx")}
    w["three"] = d / "three.png"
    cv2.imwrite(str(w["three"]), render_frame(3, seed=300))
    env = dict(
        os.environ,
        TWINLOCK_MODEL=str(w["model"]),
        TWINLOCK_DB=str(d / "db.sqlite3"),
        TWINLOCK_HOME=str(d / "home"),
        PYTHONPATH=str(ROOT),
    )
    env.pop("TWINLOCK_PASSPHRASE", None)
    w["env"] = env
    r = subprocess.run(
        [sys.executable, "-m", "desktop_app.cli.main", "enroll", "alice", str(w["three"])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    w["db"] = d / "db.sqlite3"
    w["export"] = d / "alice.json"
    r = subprocess.run(
        [sys.executable, "-m", "desktop_app.cli.main", "profiles", "export", "alice", str(w["export"])],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return w


def fresh_db(world, tmp_path) -> Path:
    db = tmp_path / "db.sqlite3"
    shutil.copy(world["db"], db)
    return db


def digest(p) -> str | None:
    return hashlib.sha256(Path(p).read_bytes()).hexdigest() if Path(p).is_file() else None


def twinlock(world, *args, env=None, timeout=60, stdin=None) -> subprocess.CompletedProcess:
    e = dict(world["env"], **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "desktop_app.cli.main", *map(str, args)],
        cwd=ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=stdin,
    )


def one_clear_line(r, *words) -> None:
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith(("enrolling", "\r"))]
    assert len(lines) == 1 and lines[0].startswith("twinlock"), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    for w in words:
        assert w in lines[0], (w, lines[0])
