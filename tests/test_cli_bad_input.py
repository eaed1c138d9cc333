"""Bad input to the real `twinlock`, case by case: huge image headers, unusable models, files
that are folders, FIFOs or devices, out-of-range numbers, missing files. Each runs in a
subprocess (with a timeout, so a hang fails) and must end with ONE clear line on stderr, exit
status 4, no traceback, and nothing changed."""

import os
import stat
import struct
import time
import zlib

import cv2
import onnx
import pytest
from onnx import TensorProto, helper

from cli_support import digest, fresh_db, one_clear_line, probe_world, twinlock
from desktop_app.core.contract import contract_metadata
from desktop_app.core.store import Store
from training.camera_sim import render_frame


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return probe_world(tmp_path_factory.mktemp("bad-input"))


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


def _fifo(p):
    os.mkfifo(p)
    return p


def _empty(p):
    p.write_bytes(b"")
    return p


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
    "export to a folder": (lambda w, t: (["profiles", "export", "alice", t, "--db", fresh_db(w, t)], {}), ["folder"]),
    "export under a file": (
        lambda w, t: (["profiles", "export", "alice", w["three"] / "x.json", "--db", fresh_db(w, t)], {}),
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
    before = digest(world["db"])
    args, env = setup(world, tmp_path)
    t0 = time.monotonic()
    r = twinlock(world, *args, env=env, timeout=60)
    one_clear_line(r, *words)
    assert time.monotonic() - t0 < 30, "took too long"
    assert digest(world["db"]) == before  # nothing damaged
    assert stat.S_IMODE(os.stat("/dev/zero").st_mode) == 0o666


def test_enroll_images_with_a_missing_file_enrolls_nothing(world, tmp_path):
    db = fresh_db(world, tmp_path)
    r = twinlock(world, "enroll", "alice", world["three"], tmp_path / "gone.png", "--db", db)
    one_clear_line(r, "gone.png", "Nothing was enrolled")
    s = Store(db)
    assert s.get_profile("alice").n_references == 1
    s.close()
