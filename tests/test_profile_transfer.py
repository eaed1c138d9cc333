"""Profile export and import: export is refused while the profile is locked out (audited), an
import over a locked profile keeps its lockout, a damaged or hostile file is refused with one
line and nothing written, and an imported embedding is never read (the images are embedded
again). The real `twinlock` on the pixel test model."""

import base64
import json
import time

import cv2
import numpy as np
import pytest

from cli_support import (
    decisions,
    enrolled_db,
    fresh_db,
    pixel_assets,
    probe_world,
    run_cli,
    twinlock,
)
from desktop_app.cli.main import main
from desktop_app.core.store import LockoutState, Store


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return pixel_assets(tmp_path_factory.mktemp("transfer"))


@pytest.fixture
def db(assets, tmp_path, monkeypatch):
    return enrolled_db(assets, tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return probe_world(tmp_path_factory.mktemp("transfer-world"))


def test_export_is_refused_while_locked_and_audited(assets, db, tmp_path):
    s = Store(db)
    s.set_lockout("alice", LockoutState(5, time.time() + 300, 300))
    s.close()
    r = run_cli(assets, db, "profiles", "export", "alice", tmp_path / "x.json")
    assert r.returncode == 4 and "locked out" in r.stderr and not (tmp_path / "x.json").exists()
    assert decisions(db)[-1] == "export_refused"


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


def test_an_imported_3_number_embedding_is_never_read(world, tmp_path):
    db = fresh_db(world, tmp_path)
    doc = json.loads(world["export"].read_text())
    for r in doc["references"]:
        r["embedding"] = [0.1, 0.2, 0.3]
    f = tmp_path / "three.json"
    f.write_text(json.dumps(doc))
    assert twinlock(world, "profiles", "import", f, "--name", "tri", "--db", db).returncode == 0
    r = twinlock(world, "verify", "tri", "--image", world["three"], "--db", db)
    assert r.returncode == 0, (r.stdout, r.stderr)  # embedded again from its images: the owner's 3


def test_base64_guard_for_the_export_fixture(world):
    doc = json.loads(world["export"].read_text())
    assert base64.b64decode(doc["references"][0]["image_png"])[:4] == b"\x89PNG"
