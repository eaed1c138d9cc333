"""The Qt bindings do not leak references to True / False / None on signal emissions.

PySide6 6.12.0 dropped one reference to ``True`` on every emission of a signal to a Python
slot; the app emits several signals per camera frame, so after ~80 s of frames Python
aborted ("Fatal Python error: bool_dealloc", rc 134). These tests emit the app's OWN signals
(the capture worker's, the main window's, the background job's) 10,000 times each to
Python slots (the window's real slots where it has them) and check that the reference
counts of the three singletons stay where they were. On 6.12.0 the drift is ~10,000; a
healthy build drifts by a handful at most (other objects that happen to be created or
freed meanwhile). The installed bindings are also checked against the pin in pyproject.toml.
"""

from __future__ import annotations

import gc
import re
import sys
import tomllib
from pathlib import Path


N = 10_000
TOLERANCE = 50  # out of 10,000 emissions; the 6.12.0 defect moves True by ~N


def singleton_counts() -> dict:
    gc.collect()
    return {"True": sys.getrefcount(True), "False": sys.getrefcount(False), "None": sys.getrefcount(None)}


def drift(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in before}


def assert_flat(before, after, what, tolerance=TOLERANCE):
    d = drift(before, after)
    assert all(abs(v) <= tolerance for v in d.values()), (
        f"{what}: reference counts of True/False/None drifted by {d} "
        "(a refcount defect in the Qt bindings; see the PySide6 pin in pyproject.toml)"
    )


def probe_then_run(body, what):
    """A few rounds first: on a defective build 10,000 rounds would free True itself and
    abort the interpreter before any assertion could say why (True starts near 150)."""
    before = singleton_counts()
    for i in range(4):
        body(i)
    assert_flat(before, singleton_counts(), f"{what} (first 4 rounds)", tolerance=3)
    before = singleton_counts()
    for i in range(N):
        body(i)
    after = singleton_counts()
    assert_flat(before, after, what)


def test_installed_bindings_match_the_pin():
    import PySide6
    import shiboken6

    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    deps = tomllib.loads(text)["project"]["dependencies"]
    pins = {m.group(1): m.group(2) for d in deps if (m := re.match(r"\s*(PySide6-[A-Za-z]+)\s*==\s*([\w.]+)", d))}
    assert pins.get("PySide6-Essentials"), f"PySide6-Essentials is not pinned exactly in pyproject.toml: {deps}"
    pinned = pins["PySide6-Essentials"]
    assert PySide6.__version__ == pinned, (
        f"PySide6 {PySide6.__version__} is installed but pyproject.toml pins {pinned}: "
        "reinstall (.venv/bin/pip install -e .)"
    )
    assert shiboken6.__version__ == pinned, f"shiboken6 {shiboken6.__version__} != PySide6 pin {pinned}"
    assert pins.get("PySide6-Addons", pinned) == pinned, "PySide6-Addons and -Essentials are pinned differently"
    assert not PySide6.__version__.startswith("6.12.0"), "PySide6 6.12.0 leaks a reference to True per emission"


def test_capture_and_job_signals_do_not_leak_singletons(qtbot):
    from desktop_app.ui.capture import CaptureWorker
    from desktop_app.ui.workers import Job

    wk = CaptureWorker(lambda: None)
    calls = {"n": 0}

    def slot(*args):  # a Python slot that keeps nothing
        calls["n"] += 1

    for sig in (wk.frame, wk.opened, wk.failed, wk.ended, wk.fps):
        sig.connect(slot)
    job = Job(lambda progress: None)
    for sig in (job.progress, job.done, job.failed, job.cancelled, job.finished):
        sig.connect(slot)

    # warm up (first emissions create cached signal/slot objects)
    wk.opened.emit("warm", True)
    job.done.emit(None)

    def body(i):
        wk.opened.emit("video", bool(i & 1))
        wk.frame.emit(None, None)
        wk.ended.emit()
        wk.fps.emit(30.0)
        job.done.emit(True)
        job.done.emit(None)
        job.cancelled.emit()
        job.progress.emit(i, N)

    probe_then_run(body, "capture worker / job signals")
    assert calls["n"] == 8 * (N + 4) + 2  # every emission reached the slot


def test_main_window_signals_to_its_real_slots_do_not_leak(qtbot, ctx):
    """The window's own signal path: Capture's signals into MainWindow's slots (camera
    opened, fps, frames with a real preprocess result), and its state_shown /
    attempt_finished to a Python slot."""
    from desktop_app.core.camera import Frame
    from desktop_app.core.preprocess import preprocess
    from desktop_app.ui.main_window import MainWindow

    from training.camera_sim import render_frame

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    image = render_frame(3, seed=1, size=(160, 120))
    result = preprocess(image)
    fr = Frame(image=image, index=0, t=0.0, source="test")
    seen = {"n": 0}

    def count(*_):
        seen["n"] += 1

    win.state_shown.connect(count)
    win.attempt_finished.connect(count)
    win.capture.opened.emit("video warm", True)
    win.capture.frame.emit(fr, result)

    def body(i):
        win.capture.opened.emit("video", bool(i & 1))
        win.capture.fps.emit(25.0)
        win.capture.frame.emit(fr, result)
        win.state_shown.emit("waiting")
        win.attempt_finished.emit(None)

    probe_then_run(body, "main window signals")
    assert seen["n"] >= 2 * N
    assert win.camera_status.text() == "camera: video"
    assert win.fps_status.text() == "25.0 fps"
    win.close()
