"""Issue 15 items 7-10: the probe's list of tracebacks, hangs and damage, walked one by one.

Every case runs the real `twinlock` in a subprocess (with a timeout, so a hang fails) and
must end with ONE clear line on stderr, exit status 4, no traceback, and nothing changed."""

import base64
import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import onnx
import pytest
from onnx import TensorProto, helper

from desktop_app.core.contract import contract_metadata
from desktop_app.core.store import Store
from frames import render_frame
from pixel_model import make_pixel_model

ROOT = Path(__file__).resolve().parents[1]


def _png_claiming(path, w, h):
    """A small, valid-looking PNG whose header claims w x h pixels."""
    _, buf = cv2.imencode(".png", render_frame(3, seed=1, size=(64, 48)))
    data = bytearray(buf.tobytes())
    ihdr = data[12:29]  # b"IHDR" + 13 bytes
    ihdr[4:12] = struct.pack(">II", w, h)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def _model(path, *, threshold=0.5, fail_at_run=False):
    inp = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 28, 28])
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 196])
    nodes = [
        helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
    ]
    inits = []
    if fail_at_run:  # a reshape that cannot be done: fails inside ONNX Runtime's run()
        inits.append(helper.make_tensor("shape", TensorProto.INT64, [2], [3, -1]))
        nodes.append(helper.make_node("Reshape", ["f", "shape"], ["embedding"]))
    else:
        nodes.append(helper.make_node("LpNormalization", ["f"], ["embedding"], axis=1, p=2))
    model = helper.make_model(
        helper.make_graph(nodes, "t", [inp], [out], initializer=inits), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8

    def op(t):
        return {"threshold": t, "far": 0.001, "frr": 0.05, "genuine": 10, "impostor": 90}

    doc = {
        "version": 1,
        "input": {"name": "image", "size": 28, "polarity": "white_on_black", "scale": 1 / 255, "mean": 0.0, "std": 1.0},
        "output": {"name": "embedding", "dim": 196, "metric": "euclidean", "normalized": True},
        "thresholds": {"far_1e-3": op(threshold)},
        "default_threshold": "far_1e-3",
    }
    for k, v in contract_metadata(doc, model).items():
        e = model.metadata_props.add()
        e.key, e.value = k, v
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("walk")
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


def _fresh_db(world, tmp_path):
    db = tmp_path / "db.sqlite3"
    shutil.copy(world["db"], db)
    return db


def _digest(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest() if Path(p).is_file() else None


def _twinlock(world, *args, env=None, timeout=60, stdin=None):
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


def _one_clear_line(r, *words):
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    lines = [x for x in r.stderr.splitlines() if x.strip() and not x.startswith(("enrolling", "\r"))]
    assert len(lines) == 1 and lines[0].startswith("twinlock"), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    for w in words:
        assert w in lines[0], (w, lines[0])


def _immutable(path, on: bool) -> bool:
    """Make ``path`` unwritable even for root (chattr +i) -- or by mode for other users."""
    if os.geteuid() != 0:
        os.chmod(path, (0o555 if Path(path).is_dir() else 0o444) if on else 0o755)
        return True
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True).returncode == 0


@pytest.mark.parametrize("what", ["file", "folder"])
def test_read_only_database_or_folder(world, tmp_path, what):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "db.sqlite3"
    shutil.copy(world["db"], db)
    target = db if what == "file" else folder
    if not _immutable(target, True):
        pytest.skip("cannot make a file read-only for root here (no chattr)")
    try:
        before = _digest(db)
        r = _twinlock(world, "verify", "alice", "--image", world["three"], "--db", db)
        _one_clear_line(r, "read-only" if what == "file" else "")
        assert _digest(db) == before
    finally:
        _immutable(target, False)


def _fifo(p):
    os.mkfifo(p)
    return p


def _empty(p):
    p.write_bytes(b"")
    return p


def _corrupt_schema(db):
    data = bytearray(Path(db).read_bytes())
    i = data.find(b"tablemetameta")
    assert 0 < i < 4096
    data[i + 5] = 0xFF  # the table's name is no longer valid UTF-8
    Path(db).write_bytes(bytes(data))


CASES = {
    # name: (setup(world, tmp_path) -> (args, env), words in the one line)
    "huge png header": (
        lambda w, t: (["verify", "alice", "--image", _png_claiming(t / "big.png", 40000, 30000)], {}),
        ["pixels"],
    ),
    "20000x20000 png": (lambda w, t: (["enroll", "bob", _png_claiming(t / "big.png", 20000, 20000)], {}), ["pixels"]),
    "contract threshold 0": (
        lambda w, t: (
            ["verify", "alice", "--image", w["three"]],
            {"TWINLOCK_MODEL": str(_model(t / "m.onnx", threshold=0.0))},
        ),
        ["threshold"],
    ),
    "model fails when run": (
        lambda w, t: (
            ["verify", "alice", "--image", w["three"]],
            {"TWINLOCK_MODEL": str(_model(t / "m.onnx", fail_at_run=True))},
        ),
        ["fails when it is run"],
    ),
    "model info on an unusable model": (
        lambda w, t: (["model", "info", _model(t / "m.onnx", fail_at_run=True)], {}),
        ["fails when it is run"],
    ),
    "TWINLOCK_HOME is a file": (
        lambda w, t: (["profiles", "list"], {"TWINLOCK_DB": "", "TWINLOCK_HOME": str(w["three"])}),
        [],
    ),
    "export to a folder": (lambda w, t: (["profiles", "export", "alice", t, "--db", _fresh_db(w, t)], {}), ["folder"]),
    "export under a file": (
        lambda w, t: (["profiles", "export", "alice", w["three"] / "x.json", "--db", _fresh_db(w, t)], {}),
        ["cannot write"],
    ),
    "import a FIFO": (lambda w, t: (["profiles", "import", _fifo(t / "f.json")], {}), ["not a regular file"]),
    "import /dev/urandom": (lambda w, t: (["profiles", "import", "/dev/urandom"], {}), ["not a regular file"]),
    "import a folder": (lambda w, t: (["profiles", "import", t], {}), ["folder"]),
    "db is a FIFO": (lambda w, t: (["profiles", "list", "--db", _fifo(t / "db")], {}), ["not a regular file"]),
    "db is /dev/zero": (lambda w, t: (["profiles", "list", "--db", "/dev/zero"], {}), ["not a regular file"]),
    "0-byte database": (lambda w, t: (["profiles", "list", "--db", _empty(t / "e.db")], {}), ["empty"]),
    "enroll --count -1": (lambda w, t: (["enroll", "bob", "--video", w["three"], "--count", "-1"], {}), ["--count"]),
    "verify --camera -1": (lambda w, t: (["verify", "alice", "--camera", "-1"], {}), ["camera"]),
    "enroll --camera -1": (lambda w, t: (["enroll", "bob", "--camera", "-1"], {}), ["camera"]),
    "doctor --max-cameras 100000": (lambda w, t: (["doctor", "--max-cameras", "100000"], {}), ["--max-cameras"]),
    "enroll a missing file": (lambda w, t: (["enroll", "bob", t / "missing.png"], {}), ["missing.png"]),
    "verify a missing file": (lambda w, t: (["verify", "alice", "--image", t / "missing.png"], {}), ["missing.png"]),
    "image is a folder": (lambda w, t: (["verify", "alice", "--image", t], {}), ["directory"]),
    "image is a FIFO": (lambda w, t: (["verify", "alice", "--image", _fifo(t / "i.png")], {}), ["FIFO"]),
    "image is /dev/zero": (lambda w, t: (["verify", "alice", "--image", "/dev/zero"], {}), ["/dev/zero"]),
    "video is /dev/zero": (lambda w, t: (["verify", "alice", "--video", "/dev/zero"], {}), ["not a regular file"]),
    "a negative time limit": (
        lambda w, t: (["verify", "alice", "--image", w["three"], "--time-limit", "-1"], {}),
        ["--time-limit"],
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_every_probe_case_is_one_clear_line_and_exit_4(world, tmp_path, case):
    setup, words = CASES[case]
    before = _digest(world["db"])
    args, env = setup(world, tmp_path)
    t0 = time.monotonic()
    r = _twinlock(world, *args, env=env, timeout=60)
    _one_clear_line(r, *words)
    assert time.monotonic() - t0 < 30, "took too long"
    assert _digest(world["db"]) == before  # nothing damaged
    assert stat.S_IMODE(os.stat("/dev/zero").st_mode) == 0o666


def test_corrupted_schema_page_in_every_command(world, tmp_path):
    db = _fresh_db(world, tmp_path)
    _corrupt_schema(db)
    before = _digest(db)
    for args in (["profiles", "list"], ["audit"], ["verify", "alice", "--image", world["three"]], ["doctor"]):
        r = _twinlock(world, *args, "--db", db)
        assert r.returncode == 4 and "Traceback" not in r.stderr, (args, r.stderr)
        assert "damaged" in r.stderr + r.stdout, (args, r.stderr, r.stdout)
    assert _digest(db) == before


def test_audit_into_a_closed_pipe(world, tmp_path):
    db = _fresh_db(world, tmp_path)
    e = dict(world["env"], TWINLOCK_DB=str(db))
    p = subprocess.Popen(
        [sys.executable, "-m", "desktop_app.cli.main", "audit"],
        cwd=ROOT,
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    p.stdout.close()  # `| head -0`
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    p.stderr.close()
    # a reader that goes away is normal (issue 23 item 5): quiet, exit 0
    assert p.returncode == 0 and err == "", err


def test_an_existing_file_is_never_chmodded(world, tmp_path):
    db = _fresh_db(world, tmp_path)
    os.chmod(db, 0o644)
    assert _twinlock(world, "profiles", "list", "--db", db).returncode == 0
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o644  # not ours to change
    fresh = tmp_path / "new" / "db.sqlite3"
    Store(fresh).close()
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600  # the one we created is private


def test_an_imported_3_number_embedding_is_never_read(world, tmp_path):
    db = _fresh_db(world, tmp_path)
    doc = json.loads(world["export"].read_text())
    for r in doc["references"]:
        r["embedding"] = [0.1, 0.2, 0.3]
    f = tmp_path / "three.json"
    f.write_text(json.dumps(doc))
    assert _twinlock(world, "profiles", "import", f, "--name", "tri", "--db", db).returncode == 0
    r = _twinlock(world, "verify", "tri", "--image", world["three"], "--db", db)
    assert r.returncode == 0, (r.stdout, r.stderr)  # embedded again from its images: the owner's 3


def test_model_info_accepts_a_good_model(world):
    r = _twinlock(world, "model", "info", world["model"])
    assert r.returncode == 0 and "fingerprint" in r.stdout


def test_enroll_images_with_a_missing_file_enrolls_nothing(world, tmp_path):
    db = _fresh_db(world, tmp_path)
    r = _twinlock(world, "enroll", "alice", world["three"], tmp_path / "gone.png", "--db", db)
    _one_clear_line(r, "gone.png", "Nothing was enrolled")
    s = Store(db)
    assert s.get_profile("alice").n_references == 1
    s.close()


def test_base64_guard_for_the_export_fixture(world):
    doc = json.loads(world["export"].read_text())
    assert base64.b64decode(doc["references"][0]["image_png"])[:4] == b"\x89PNG"
