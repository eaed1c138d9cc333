"""Nothing tells a guesser how close they came.

During an attempt `twinlock verify` (and -v) says only whether a symbol was found and the
outcome; distances and per-frame results are the admin's (`twinlock test`, `verify --debug`).
Comparing an input with a profile or telling what its symbol looks like (calibrate with image
files, `strength PROFILE`, `profiles show --strength`, the test mode) is an admin action: the
passphrase, refused while locked out, audited; `audit` shows distances only with --distances.
Real CLI, real SQLite, real ONNX Runtime on the pixel test model; nothing mocked."""

from __future__ import annotations

import json
import time

import cv2
import pytest

from desktop_app.cli.main import main
from desktop_app.core.settings import set_admin_passphrase
from desktop_app.core.store import LockoutState, Store
from training.camera_sim import render_frame
from pixel_model import make_pixel_model

PASS = "a long admin passphrase"


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("oracle")
    a = {"model": make_pixel_model(d / "pixel.onnx"), "enroll": []}
    for i in range(3):
        p = d / f"three_{i}.png"
        cv2.imwrite(str(p), render_frame(3, seed=300 + i))
        a["enroll"].append(str(p))
    for digit in (3, 7):
        p = d / f"digit{digit}.png"
        cv2.imwrite(str(p), render_frame(digit, seed=400 + digit))
        a[f"d{digit}"] = str(p)
    return a


@pytest.fixture
def db(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("TWINLOCK_MODEL", str(assets["model"]))
    monkeypatch.delenv("TWINLOCK_PASSPHRASE", raising=False)
    p = tmp_path / "db.sqlite3"
    monkeypatch.setenv("TWINLOCK_DB", str(p))
    assert main(["enroll", "alice", *assets["enroll"], "--allow-weak"]) == 0
    return p


def _with_passphrase(db, tmp_path):
    with Store(db) as s:
        set_admin_passphrase(s, PASS, via="test")
    f = tmp_path / "pass.txt"
    f.write_text(PASS + "\n")
    return str(f)


def _lock(db, seconds=600.0):
    with Store(db) as s:
        s.set_lockout("alice", LockoutState(5, time.time() + seconds, seconds))


def _audit(db, decision):
    with Store(db) as s:
        return s.audit(decision=decision)


# ------------------------------------------------------------------ item 4: verify says little
def test_verify_v_says_only_whether_a_symbol_was_found(assets, db, capsys):
    capsys.readouterr()
    args = ["verify", "alice", "--image", assets["d3"], "--image", assets["d7"], "--image", assets["d7"]]
    rc = main([*args, "-k", "2", "-n", "3", "-v"])
    cap = capsys.readouterr()
    text = cap.out + cap.err
    assert rc == 1, text
    assert "matching" not in text and "distance" not in text and "matched" not in text, text
    assert "frame(s) used" not in text and "needed" not in text, text
    frames = [line for line in cap.err.splitlines() if line.startswith("frame ")]
    assert frames and all(line.endswith("symbol found") or "no symbol" in line for line in frames), frames
    assert cap.out.startswith("denied: the symbol was not accepted") and "attempt(s) left" in cap.out


def test_verify_json_tells_no_match_count(assets, db, capsys):
    capsys.readouterr()
    rc = main(["verify", "alice", "--image", assets["d3"], "--image", assets["d7"], "-k", "2", "-n", "2", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and out["decision"] == "denied"
    for key in ("best_distance", "matches", "frames_used", "frames_seen"):
        assert key not in out, key
    assert "matched" not in out["reason"] and "needed" not in out["reason"]
    # the admin still sees all of it (no passphrase set: --debug is allowed)
    assert main(["verify", "alice", "--image", assets["d3"], "--debug", "--json"]) == 0
    dbg = json.loads(capsys.readouterr().out)
    assert dbg["best_distance"] is not None and dbg["matches"] == 1


def test_a_grant_prints_no_distance_either(assets, db, capsys):
    capsys.readouterr()
    assert main(["verify", "alice", "--image", assets["d3"]]) == 0
    out = capsys.readouterr().out
    assert out.startswith("granted") and "distance" not in out and "threshold" not in out, out


def test_audit_shows_distances_only_with_the_passphrase(assets, db, tmp_path, capsys):
    assert main(["verify", "alice", "--image", assets["d7"]]) == 1
    pf = _with_passphrase(db, tmp_path)
    capsys.readouterr()
    assert main(["audit", "--json", "--decision", "denied"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["best_distance"] is None and rows[0]["frames_used"] is None
    assert "reason" not in rows[0]["detail"] and "matches" not in rows[0]["detail"]
    assert main(["audit", "--decision", "denied"]) == 0
    assert "best -" in capsys.readouterr().out
    assert main(["audit", "--distances"]) == 4  # no passphrase given
    assert main(["audit", "--json", "--distances", "--decision", "denied", "--passphrase-file", pf]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["best_distance"] is not None and "reason" in rows[0]["detail"]


# ------------------------------------------------------------------ item 6: admin actions
@pytest.mark.parametrize(
    "argv",
    [
        lambda a: ["calibrate", "alice", "--genuine", a["d3"], "--impostor", a["d7"]],
        lambda a: ["strength", "alice"],
        lambda a: ["profiles", "show", "alice", "--strength"],
        lambda a: ["test", "alice", "--image", a["d3"]],
    ],
    ids=["calibrate", "strength", "profiles-show", "test-mode"],
)
def test_looking_inside_a_profile_is_an_admin_action(assets, db, tmp_path, capsys, argv):
    pf = _with_passphrase(db, tmp_path)
    args = argv(assets)
    capsys.readouterr()
    # no passphrase: refused, nothing compared
    assert main(args) == 4
    cap = capsys.readouterr()
    assert "needs the admin passphrase" in cap.err
    assert "EER" not in cap.out and "strength:" not in cap.out and "distance" not in cap.out
    assert not _audit(db, "profile_inspected")
    # a wrong one: refused and audited
    bad = tmp_path / "bad.txt"
    bad.write_text("not the passphrase\n")
    assert main([*args, "--passphrase-file", str(bad)]) == 4
    assert _audit(db, "passphrase_failed")
    # the right one: done and audited
    assert main([*args, "--passphrase-file", pf]) == 0
    row = _audit(db, "profile_inspected")[0]
    assert row.profile == "alice" and row.detail["by"] == "admin passphrase" and row.detail["via"] == "cli"
    # while locked out: refused (exit 3) even with the passphrase, and audited
    _lock(db)
    capsys.readouterr()
    assert main([*args, "--passphrase-file", pf]) == 3
    cap = capsys.readouterr()
    assert "locked out" in cap.err and "distance" not in cap.out and "strength:" not in cap.out
    assert _audit(db, "inspect_refused")[0].detail["lockout_remaining_s"] > 0


def test_profiles_show_keeps_its_plain_facts_without_the_passphrase(assets, db, tmp_path, capsys):
    _with_passphrase(db, tmp_path)
    capsys.readouterr()
    assert main(["profiles", "show", "alice"]) == 0
    out = capsys.readouterr().out
    assert "references:  3" in out and "add --strength (admin)" in out and "nearest" not in out


def test_test_mode_prints_each_frames_distance(assets, db, tmp_path, capsys):
    capsys.readouterr()
    save = tmp_path / "seen"
    assert (
        main(["test", "alice", "--image", assets["d3"], "--image", assets["d7"], "--json", "--save-dir", str(save)])
        == 0
    )
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["match"] for r in recs] == [True, False]
    assert recs[0]["distance"] <= recs[0]["threshold"] < recs[1]["distance"]
    assert len(list(save.glob("*.png"))) == 2  # what the model saw, 28x28
    assert cv2.imread(str(next(save.glob("*.png"))), cv2.IMREAD_GRAYSCALE).shape == (28, 28)
    # not an attempt: nothing pending, nothing counted
    with Store(db) as s:
        assert not s.audit(decision="pending") and s.lockout("alice").failures == 0


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
