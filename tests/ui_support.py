"""Helpers for the UI tests: the model to use, a fake camera (a video file written with
cv2.VideoWriter from synthetic camera frames), an app context on a temporary database."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from training.camera_sim import render_frame


def model_path(tmp_dir: Path) -> Path:
    """The shipped default model: the UI tests run on the real one (a missing model fails them)."""
    from desktop_app.core.paths import DEFAULT_MODEL

    assert DEFAULT_MODEL.is_file(), f"the shipped model {DEFAULT_MODEL} is missing"
    return DEFAULT_MODEL


def digit_frames(digit, n: int, seed: int = 0, size=(320, 240)) -> list[np.ndarray]:
    return [render_frame(digit, seed=seed + i, size=size) for i in range(n)]


def write_video(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    """An MJPG .avi, the most portable codec of opencv-python-headless."""
    h, w = frames[0].shape[:2]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert vw.isOpened(), "cv2.VideoWriter could not open an MJPG writer"
    for f in frames:
        vw.write(f)
    vw.release()
    return path


def enroll_from_video(ctx, video: Path, profile: str, count: int = 5) -> int:
    """Enroll with the core only (no wizard): the first ``count`` good frames of ``video``."""
    from desktop_app.core.camera import make_source
    from desktop_app.core.preprocess import preprocess

    imgs, crops = [], []
    with make_source(str(video)) as src:
        for fr in src:
            r = preprocess(fr.image)
            if r.ok:
                imgs.append(r.image)
                crops.append(r.crop)
            if len(imgs) == count:
                break
    emb = ctx.embedder.embed_images(np.stack(imgs))
    return ctx.store.add_references(
        profile,
        np.stack(imgs),
        crops,
        emb,
        ctx.embedder.fingerprint,
        create=not ctx.store.has_profile(profile),
        source="test",
    )


class _Seen(list):
    """The names of the modal dialogs handled; cancel() stops waiting for one."""

    cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def on_modal(action, delay=30, give_up_ms=20000):
    """Run ``action(dialog)`` on the next modal dialog (exec() blocks the test). Stops
    polling after ``give_up_ms`` or cancel(), so a dialog that never came cannot be
    answered in a later test."""
    import time

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    seen = _Seen()
    end = time.monotonic() + give_up_ms / 1000.0

    def poll():
        if seen.cancelled or time.monotonic() > end:
            return
        w = QApplication.activeModalWidget()
        if w is None:
            QTimer.singleShot(delay, poll)
            return
        seen.append(type(w).__name__)
        try:
            action(w)
        except BaseException:  # close the dialog, so a failed action cannot block exec()
            try:
                w.reject() if hasattr(w, "reject") else w.close()
            except Exception:
                pass
            raise

    QTimer.singleShot(delay, poll)
    return seen


# --- soak: the real window on a looping video, attempts back to back ------------------------
def soak_video(path: Path, per_digit: int = 24, size=(320, 240)) -> Path:
    """A video that alternates an enrolled 3, another digit (7) and blank paper, so that a
    soak's back-to-back attempts are granted, denied and see frames without a symbol."""
    frames = (
        digit_frames(3, per_digit, seed=300, size=size)
        + digit_frames(7, per_digit, seed=700, size=size)
        + [render_frame(None, seed=900 + i, size=size) for i in range(4)]
    )
    return write_video(path, frames)


def rss_mib() -> float | None:
    """This process's resident memory (Linux /proc; None elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def singleton_refcounts() -> dict:
    import gc
    import sys

    gc.collect()
    return {"True": sys.getrefcount(True), "False": sys.getrefcount(False), "None": sys.getrefcount(None)}


class SoakDriver:
    """Keeps unlock attempts running back to back on a MainWindow through its own slots
    (start_attempt after every attempt_finished) and counts what the window processed:
    every frame the capture worker delivered to the window (on_frame ran for it: preprocess
    in the worker, embed + verifier in on_frame during an attempt) and every outcome."""

    def __init__(self, win):
        from collections import Counter

        from PySide6.QtCore import QTimer

        self.win = win
        self.frames = 0
        self.frames_embedded = 0
        self.outcomes = Counter()
        self.running = False
        self._single_shot = QTimer.singleShot
        win.capture.frame.connect(self._on_frame)
        win.attempt_finished.connect(self._on_finished)

    def _on_frame(self, fr, result) -> None:
        self.frames += 1

    def _on_finished(self, st) -> None:
        self.outcomes[st.state] += 1
        self.frames_embedded += st.frames_used
        if self.running:
            self._single_shot(0, self._next)

    def _next(self) -> None:
        if self.running and not self.win.attempt_active:
            self.win.start_attempt()

    def start(self) -> None:
        self.running = True
        self._next()

    def stop(self) -> None:
        self.running = False
        self.win.cancel_attempt()

    def run_until(self, app, done, samples: list | None = None, sample_every: int = 1000) -> None:
        """Process events until ``done(self)``; every ``sample_every`` frames append
        (frames, seconds, RSS MiB) to ``samples``. Restarts the attempt loop if it stalled
        (e.g. a dropped final state), so the soak measures the pipeline, not a race."""
        import time

        from PySide6.QtCore import QEventLoop

        wait = QEventLoop.ProcessEventsFlag.WaitForMoreEvents  # the window's 200 ms timer wakes it
        t0 = time.monotonic()
        next_sample = 0
        last_frames, last_change = -1, t0
        while not done(self):
            app.processEvents(wait)
            if self.frames != last_frames:
                last_frames, last_change = self.frames, time.monotonic()
            elif time.monotonic() - last_change > 30:
                raise AssertionError(f"no frame reached the window for 30 s (after {self.frames} frames)")
            if self.running and not self.win.attempt_active:
                self._next()
            if samples is not None and self.frames >= next_sample:
                samples.append((self.frames, time.monotonic() - t0, rss_mib()))
                next_sample += sample_every


def make_window(qtbot, ctx, video):
    """The real main window on a video file as the camera, shown, with a first frame in."""
    from desktop_app.ui.main_window import MainWindow

    ctx.camera_spec = str(video)
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    win.start_camera()
    qtbot.waitUntil(win.frame_view.has_frame, timeout=5000)
    return win


def admin_override_weak(wiz):
    """The shipped default (an any-symbol model) calls a digit weak and refuses it below its
    'fair' minimum: these tests enroll digits to exercise the rest of the wizard, so an admin
    ticks the override (tests/test_ui_identify.py tests the refusal itself)."""
    panel = wiz.summary_page.strength
    assert panel.report is not None and panel.report.level == "weak" and not panel.report.allowed, panel.report
    panel.override.setChecked(True)
