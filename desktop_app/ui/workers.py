"""Run one long function off the GUI thread, with progress and cancel.

``fn(progress)`` is called in a QThread; ``progress(done, total)`` emits a signal (and raises
:class:`Cancelled` once cancel() was asked, so core loops that report progress stop at
their next step). The result or a user-facing error message comes back by signal.
"""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, QThread, Signal, Slot


class Cancelled(Exception):
    """Raised inside the worker when the user pressed Cancel."""


class _Runner(QObject):
    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, fn, user_errors=()):
        super().__init__()
        self.fn = fn
        self.user_errors = tuple(user_errors)
        self.cancel_event = threading.Event()

    def _progress(self, done, total) -> None:
        if self.cancel_event.is_set():
            raise Cancelled()
        self.progress.emit(int(done), int(total))

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn(self._progress)
        except Cancelled:
            self.cancelled.emit()
        except self.user_errors as exc:
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.failed.emit(str(exc))
        except Exception as exc:  # a bug: say so plainly, keep the window alive
            traceback.print_exc()
            self.failed.emit(f"Unexpected error ({type(exc).__name__}: {exc}). Nothing was changed.")
        else:
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.done.emit(result)


class Job(QObject):
    """One background job. Connect to ``progress``, ``done``, ``failed``, ``cancelled``;
    ``finished`` comes after any of the last three."""

    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn, user_errors=(), parent=None):
        super().__init__(parent)
        self._thread = QThread()
        self._runner = _Runner(fn, user_errors)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.progress.connect(self.progress)
        self._runner.done.connect(self._on_done)
        self._runner.failed.connect(self._on_failed)
        self._runner.cancelled.connect(self._on_cancelled)
        self.running = False

    def start(self) -> None:
        self.running = True
        self._thread.start()

    def cancel(self) -> None:
        self._runner.cancel_event.set()

    def _finish(self) -> None:
        self.running = False
        self._thread.quit()
        self._thread.wait(5000)

    def _on_done(self, result) -> None:
        self._finish()
        self.done.emit(result)
        self.finished.emit()

    def _on_failed(self, msg) -> None:
        self._finish()
        self.failed.emit(msg)
        self.finished.emit()

    def _on_cancelled(self) -> None:
        self._finish()
        self.cancelled.emit()
        self.finished.emit()

    def wait(self, ms: int = 10000) -> bool:
        return self._thread.wait(ms)
