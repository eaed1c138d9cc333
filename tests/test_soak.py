"""Soak: the real main window (offscreen) on a looping video processes 20,000 frames through
its own code path -- capture worker (read + preprocess in its thread) -> MainWindow.on_frame
-> the core Verifier (real ONNX Runtime embedding, shipped model) -- with unlock attempts
back to back (granted for the enrolled 3, denied for the 7, frames without a symbol
between), and is alive and responsive at the end, with flat memory and flat reference
counts of True/False/None.

With PySide6 6.12.0 the window aborted after ~80 s of camera frames (bool_dealloc: one
reference to True lost per signal emission); see tests/test_bindings_refcount.py.

The video is read as fast as the window takes the frames (MainWindow.video_realtime =
False: the capture worker waits for the window instead of dropping frames), so 20,000
frames take ~100-130 s on 2 shared cores instead of 11 minutes at 30 fps. The longer run is
benchmarks/bench_soak.py (--minutes).
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ui_support import SoakDriver, enroll_from_video, rss_mib, singleton_refcounts, soak_video

from desktop_app.ui.main_window import MainWindow

pytestmark = pytest.mark.slow  # about 2 minutes: `-m "not slow"` leaves it out

FRAMES = 20_000
WARMUP = 1_000
# Measured (shipped model, 320x240 frames, 2 shared cores): after a 1,500-frame warm-up RSS
# grew by 2.5 MiB over the next 20,000 frames (242.8 -> 245.3 MiB) and was flat for the last
# 7,000 (the SQLite page cache and the allocator's arenas fill up first). The 6.12.0 defect
# was a crash, not growth, but a real per-frame leak of one 320x240 frame (225 KiB) or one
# 28x28 float image (3 KiB) would add 4.4 GiB or 61 MiB here: 40 MiB catches the latter
# with 16x headroom over what was measured.
RSS_GROWTH_BOUND_MIB = 40.0
REFCOUNT_TOLERANCE = 100  # a leak of one reference per frame moves True by 20,000


def test_main_window_soak_20000_frames_with_attempts(qtbot, ctx, tmp_path, videos):
    enroll_from_video(ctx, videos["three"], "alice", count=5)
    # attempts decide quickly (2 of the first 3 acquired frames); denials never lock out, so
    # attempts keep running through the whole soak
    ctx.store.set_setting("policy", {"k": 2, "n": 3, "time_limit_s": 30.0, "max_frames": 60, "lockout_base_s": 0.0})
    ctx.camera_spec = str(soak_video(tmp_path / "soak.avi", size=(200, 150)))
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.video_realtime = False
    win.resize(640, 480)  # painting a bigger window costs more per frame than the model
    win.show()
    win.start_camera()
    app = QApplication.instance()
    drv = SoakDriver(win)
    drv.start()
    drv.run_until(app, lambda d: d.frames >= WARMUP)
    rss0, refs0, frames0 = rss_mib(), singleton_refcounts(), drv.frames
    embedded0, outcomes0 = drv.frames_embedded, dict(drv.outcomes)
    samples: list = []
    t0 = time.monotonic()
    drv.run_until(app, lambda d: d.frames >= frames0 + FRAMES, samples, sample_every=2000)
    seconds = time.monotonic() - t0
    rss1, refs1 = rss_mib(), singleton_refcounts()
    drv.stop()

    frames = drv.frames - frames0
    granted = drv.outcomes["granted"] - outcomes0.get("granted", 0)
    denied = drv.outcomes["denied"] - outcomes0.get("denied", 0)
    embedded = drv.frames_embedded - embedded0
    report = (
        f"{frames} frames in {seconds:.0f} s ({frames / seconds:.0f} fps), {embedded} embedded, "
        f"{granted} granted / {denied} denied, RSS {rss0} -> {rss1} MiB, refs {refs0} -> {refs1}, "
        f"samples {samples}"
    )
    print(report)
    assert frames >= FRAMES
    # attempts ran the whole time, both ways, each one audited
    assert embedded >= 0.7 * FRAMES, report
    assert granted >= 1000 and denied >= 1000, report
    assert len(ctx.store.audit(profile="alice", decision="granted", limit=10**6)) >= granted
    assert len(ctx.store.audit(profile="alice", decision="denied", limit=10**6)) >= denied
    # no reference leak per emission (6.12.0: True -1 per signal, abort after ~150)
    drift = {k: refs1[k] - refs0[k] for k in refs0}
    assert all(abs(v) <= REFCOUNT_TOLERANCE for v in drift.values()), report
    if rss0 is not None:
        assert rss1 - rss0 <= RSS_GROWTH_BOUND_MIB, report

    # alive and responsive: a queued call is answered, frames still arrive, and a new
    # attempt changes the banner and the bars
    answered = []
    QTimer.singleShot(0, lambda: answered.append(time.monotonic()))
    asked = time.monotonic()
    qtbot.waitUntil(lambda: bool(answered), timeout=2000)
    assert answered[0] - asked < 1.0
    n = drv.frames
    qtbot.waitUntil(lambda: drv.frames > n + 20, timeout=5000)
    assert win.isVisible() and win.capture.running
    win.show_ready()
    assert win.banner.state == "waiting"
    with qtbot.waitSignal(win.attempt_finished, timeout=10000) as sig:
        win.start_attempt()
    assert sig.args[0].state in ("granted", "denied", "no_symbol")
    assert win.banner.state == {"no_symbol": "no_symbol"}.get(sig.args[0].state, sig.args[0].state)
    win.close()
    assert not win.capture.running
