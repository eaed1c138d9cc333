"""The capture worker: reads a core FrameSource in its own QThread, preprocesses each frame
there (pure function, thread-safe) and hands (frame, preprocess result) to the GUI thread by
a signal. The GUI thread never waits on the camera.

When the GUI is busy, frames are dropped rather than queued (only one frame is ever in
flight), so the picture stays live and memory stays flat. A source that is not paced in
real time (a video read as fast as possible: the soak test and benchmark) can ask the
worker to wait for the GUI instead (``drop_frames=False``), so every frame it reads is
processed and none is decoded in vain.

A passcode profile's frames are read as a card of its symbols (``set_symbols(n)``: core
``preprocess_card``, a box per symbol in ``result.boxes``); 1 reads one symbol as always.
"""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktop_app.core.camera import CameraError, open_source
from desktop_app.core.preprocess import preprocess, preprocess_card


class CaptureWorker(QObject):
    """Lives in a QThread. ``opener()`` returns an OPENED core FrameSource (called in the
    worker thread, so a slow camera never blocks the window)."""

    frame = Signal(object, object)  # core.camera.Frame, core.preprocess.PreprocessResult
    opened = Signal(str, bool)  # description, is_live
    failed = Signal(str)  # a message for the user
    ended = Signal()  # a finite source (video, images) ran out
    fps = Signal(float)

    def __init__(self, opener, preprocess_config=None, drop_frames: bool = True):
        super().__init__()
        self._opener = opener
        self._cfg = preprocess_config
        self._drop = drop_frames
        self._stop = threading.Event()
        self._in_flight = threading.BoundedSemaphore(1)
        self.symbols = 1  # how each frame is read: one symbol, or a card of this many
        self.source = None

    def stop(self) -> None:
        self._stop.set()

    def frame_done(self) -> None:
        """The GUI calls this when it has shown a frame: the next one may be sent."""
        try:
            self._in_flight.release()
        except ValueError:
            pass

    @Slot()
    def run(self) -> None:
        try:
            self.source = self._opener()
        except CameraError as exc:
            self.failed.emit(str(exc))
            return
        except Exception as exc:  # a source we could not even construct
            self.failed.emit(f"Could not open the camera or video: {exc}")
            return
        src = self.source
        self.opened.emit(src.description, bool(getattr(src, "is_live", False)))
        shown, t0 = 0, time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    fr = src.read()
                except CameraError as exc:
                    self.failed.emit(str(exc))
                    return
                if fr is None:
                    self.ended.emit()
                    return
                if self._drop:
                    if not self._in_flight.acquire(blocking=False):
                        continue  # the GUI is behind: drop this frame
                else:
                    while not self._in_flight.acquire(timeout=0.1):
                        if self._stop.is_set():
                            return  # (the finally closes the source)
                n = self.symbols  # read once: the GUI may change it between frames
                result = preprocess(fr.image, self._cfg) if n == 1 else preprocess_card(fr.image, n, self._cfg)
                self.frame.emit(fr, result)
                shown += 1
                now = time.monotonic()
                if now - t0 >= 1.0:
                    self.fps.emit(shown / (now - t0))
                    shown, t0 = 0, now
        finally:
            try:
                src.close()
            except Exception:
                pass


class Capture(QObject):
    """Owns one CaptureWorker and its thread; restartable with another source."""

    frame = Signal(object, object)
    opened = Signal(str, bool)
    failed = Signal(str)
    ended = Signal()
    fps = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: CaptureWorker | None = None
        self._retired: list = []  # (thread, worker) still winding down after stop()
        self.description = ""
        self.running = False
        self.symbols = 1

    def set_symbols(self, n: int) -> None:
        """Read the next frames as a card of ``n`` symbols (1: one symbol), for this source and
        the next ones. A frame already read the old way may still arrive: ``result.symbols``
        (or ``result.images``) says how it was read."""
        n = int(n)
        if not 1 <= n <= 4:
            raise ValueError(f"a card holds 1 to 4 symbols, not {n}")
        self.symbols = n
        if self._worker is not None:
            self._worker.symbols = n

    def start(self, opener, preprocess_config=None, drop_frames: bool = True) -> None:
        self.stop()
        th = QThread()
        wk = CaptureWorker(opener, preprocess_config, drop_frames)
        wk.symbols = self.symbols
        wk.moveToThread(th)
        th.started.connect(wk.run)
        wk.frame.connect(self._on_frame)
        wk.opened.connect(self._on_opened)
        wk.failed.connect(self._on_failed)
        wk.ended.connect(self._on_ended)
        wk.fps.connect(self.fps)
        # the worker's run() returns on stop/fail/end: then the thread finishes
        wk.failed.connect(th.quit)
        wk.ended.connect(th.quit)
        self._thread, self._worker = th, wk
        self.running = True
        th.start()

    def _on_frame(self, fr, result):
        wk = self.sender()
        try:
            if wk is self._worker:
                self.frame.emit(fr, result)
        finally:
            if isinstance(wk, CaptureWorker):
                wk.frame_done()

    def _on_opened(self, desc, live):
        if self.sender() is not self._worker:
            return
        self.description = desc
        self.opened.emit(desc, live)

    def _on_failed(self, msg):
        if self.sender() is self._worker:
            self.running = False
            self.failed.emit(msg)

    def _on_ended(self):
        if self.sender() is self._worker:
            self.running = False
            self.ended.emit()

    def stop(self, wait_ms: int = 0) -> None:
        """Ask the worker to stop. By default this does not wait: a webcam read can take up to
        its timeout, and the GUI thread never waits on the camera; the old thread winds down
        on its own (its late frames are ignored)."""
        th, wk = self._thread, self._worker
        self._thread = self._worker = None
        self.running = False
        if wk is not None:
            wk.stop()
            wk.frame_done()
        if th is None:
            return
        th.quit()
        if wait_ms:
            th.wait(wait_ms)
        if not th.isFinished():
            pair = (th, wk)
            self._retired.append(pair)
            th.finished.connect(lambda: self._retired.remove(pair) if pair in self._retired else None)

    def shutdown(self, wait_ms: int = 3000) -> None:
        """Stop and wait for every capture thread (closing the app)."""
        self.stop(wait_ms)
        for th, _ in list(self._retired):
            th.wait(wait_ms)
        self._retired.clear()


def source_opener(spec, resolution=(640, 480), realtime: bool = True):
    """(opener, is_file) for a camera spec (webcam index, video file, image folder), opened
    the way the main window opens one: a file loops, at its own frame rate when ``realtime``."""
    is_file = not (isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()))
    res = (int(resolution[0]), int(resolution[1]))

    def opener():
        return open_source(spec, resolution=res, loop=is_file, realtime=is_file and realtime)

    return opener, is_file
