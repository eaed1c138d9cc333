"""The real `twinlock` in subprocesses -- a closed
output pipe, --help, intermixed options and positionals, enroll's counts and words,
calibrate --mnist's wording, strength --minimum's "(was ...)"."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from desktop_app.core.decision import AuditEvent
from desktop_app.core.store import Store
from training.camera_sim import render_frame
from ui_support import digit_frames, write_video

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path, **extra):
    env = dict(os.environ, TWINLOCK_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT), **extra)
    env.pop("TWINLOCK_DB", None)
    env.pop("TWINLOCK_MODEL", None)
    env.pop("TWINLOCK_PASSPHRASE", None)
    return env


def _run(tmp_path, *args, timeout=180, **extra):
    return subprocess.run(
        [sys.executable, "-m", "desktop_app.cli.main", *map(str, args)],
        cwd=ROOT,
        env=_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def big_audit_db(tmp_path):
    """A database whose audit listing is far longer than a pipe's buffer (64 KiB)."""
    db = tmp_path / "big.sqlite3"
    with Store(db) as st:
        for i in range(3000):
            st.log_attempt(None, AuditEvent.SETTINGS_CHANGED, detail={"reason": f"row {i} " + "x" * 60})
    return db


def _head(tmp_path, args, lines: int):
    """`twinlock ARGS | head -LINES`: read LINES lines, then close the pipe."""
    p = subprocess.Popen(
        [sys.executable, "-m", "desktop_app.cli.main", *map(str, args)],
        cwd=ROOT,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    got = [p.stdout.readline() for _ in range(lines)]
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait(timeout=120)
    p.stderr.close()
    return p.returncode, got, err


@pytest.mark.parametrize("lines", [0, 1])
def test_a_closed_pipe_ends_the_listing_quietly(tmp_path, big_audit_db, lines):
    rc, got, err = _head(tmp_path, ["audit", "--limit", "3000", "--db", big_audit_db], lines)
    assert rc == 0, err
    assert err == "", err  # no "the output was closed", no traceback
    assert all(g for g in got)


def test_a_closed_pipe_never_turns_a_verify_into_a_grant(tmp_path):
    """verify decides access: whatever happens to its output, a closed pipe is never exit 0
    unless the attempt was granted (here: no profile, exit 4)."""
    rc, _, err = _head(tmp_path, ["verify", "nobody", "--image", tmp_path / "none.png"], 0)
    assert rc == 4 and "Traceback" not in err


def test_help_is_for_users(tmp_path):
    r = _run(tmp_path, "--help")
    assert r.returncode == 0
    assert "entry point" not in r.stdout and "``" not in r.stdout and "builds the parser" not in r.stdout
    assert "unlock" in r.stdout.lower() and "Exit status" in r.stdout


def _symbol_png(path, digit=3, seed=1):
    cv2.imwrite(str(path), render_frame(digit, seed=seed, size=(320, 240)))
    return path


def test_enroll_options_between_positionals(tmp_path):
    """`twinlock enroll NAME --allow-weak A.png B.png`."""
    a, b = _symbol_png(tmp_path / "a.png", seed=1), _symbol_png(tmp_path / "b.png", seed=2)
    db = tmp_path / "t.sqlite3"
    r = _run(tmp_path, "enroll", "me", "--allow-weak", a, b, "--db", db)
    assert r.returncode == 0, r.stderr
    assert "enrolled 2 reference image(s) into profile 'me'" in r.stdout
    # image files: nothing skipped is not announced as "0 frame(s) skipped"
    assert "frame(s)" not in r.stdout and "0 frame" not in r.stdout and "skipped" not in r.stdout
    # profiles export NAME --db X FILE
    out = tmp_path / "me.json"
    r = _run(tmp_path, "profiles", "export", "me", "--db", db, out)
    assert r.returncode == 0, r.stderr
    assert out.is_file() and out.stat().st_size > 0


def test_enroll_names_skipped_image_files(tmp_path):
    a = _symbol_png(tmp_path / "a.png", seed=1)
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), render_frame(None, seed=3, size=(320, 240)))
    r = _run(tmp_path, "enroll", "me", a, blank, "--allow-weak", "--db", tmp_path / "t.sqlite3")
    assert r.returncode == 0, r.stderr
    assert "1 image file without a usable symbol skipped" in r.stdout
    assert "frame" not in r.stdout


def test_enroll_progress_from_a_video_counts_frames_not_references(tmp_path):
    """The bar counted every frame of a video against --count ("0/5 ... 144img")."""
    video = write_video(tmp_path / "three.avi", digit_frames(3, 40, seed=30))
    r = _run(tmp_path, "enroll", "me", "--video", video, "--allow-weak", "--db", tmp_path / "t.sqlite3")
    assert r.returncode == 0, r.stderr
    assert "/5" not in r.stderr, r.stderr  # no total of --count for a video's frames
    assert "img" not in r.stderr
    assert "enrolled 5 reference image(s)" in r.stdout


def _mnist_dir(d: Path) -> Path:
    """A tiny MNIST folder (IDX files) of rendered digits: 20 of each."""
    import struct

    from desktop_app.core.preprocess import preprocess

    d.mkdir()
    imgs, labels = [], []
    for digit in range(10):
        k = 0
        seed = digit * 1000
        while k < 12:
            seed += 1
            r = preprocess(render_frame(digit, seed=seed, size=(160, 120)))
            if r.ok:
                imgs.append(r.image)
                labels.append(digit)
                k += 1
    x = np.stack(imgs).astype(np.uint8)
    y = np.array(labels, np.uint8)
    for prefix in ("t10k", "train"):
        (d / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, len(x), 28, 28) + x.tobytes())
        (d / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, len(y)) + y.tobytes())
    return d


def test_calibrate_mnist_says_the_samples_were_digits(tmp_path):
    db = tmp_path / "t.sqlite3"
    a, b = _symbol_png(tmp_path / "a.png", seed=1), _symbol_png(tmp_path / "b.png", seed=2)
    assert _run(tmp_path, "enroll", "me", a, b, "--allow-weak", "--db", db).returncode == 0
    r = _run(tmp_path, "calibrate", "me", "--mnist", _mnist_dir(tmp_path / "mnist"), "--limit", "120", "--db", db)
    assert r.returncode == 0, r.stderr
    assert "MNIST digits, not the symbol enrolled in 'me'" in r.stdout


def test_strength_minimum_says_what_was_in_force(tmp_path):
    db = tmp_path / "t.sqlite3"
    before = _run(tmp_path, "strength", "--db", db)
    assert before.returncode == 0, before.stderr
    shown = before.stdout.split("minimum strength for enrollment: ")[1].split()[0]
    r = _run(tmp_path, "strength", "--minimum", "strong", "--db", db)
    assert r.returncode == 0, r.stderr
    assert f"(was '{shown}')" in r.stdout, (before.stdout, r.stdout)
