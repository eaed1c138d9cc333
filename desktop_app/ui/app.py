"""``twinlock-app``: the desktop application.

    twinlock-app [--camera N | --video FILE] [--model PATH] [--db PATH]

With no camera the app still opens and says so; with no usable model it opens and says
what is wrong and how to get one.
"""

from __future__ import annotations

import argparse
import os
import sys

from desktop_app.core.instance import AlreadyRunning, InstanceLock
from desktop_app.core.paths import database_path
from desktop_app.core.store import StoreError
from desktop_app.core.threads import limit_blas_threads


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 4, as the twinlock CLI's do
        self.print_usage(sys.stderr)
        self.exit(4, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="twinlock-app",
        description="twinlock desktop app: enroll your symbol, unlock with it, tune the threshold, switch models.",
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int, metavar="N", help="webcam index (default: the one in the settings, else 0)")
    src.add_argument("--video", metavar="FILE", help="use a video file (or a folder of images) as the camera")
    p.add_argument("--model", metavar="PATH", help="ONNX model to use instead of the configured one")
    p.add_argument(
        "--db", metavar="PATH", help="enrollment/audit database (default: $TWINLOCK_DB or the user data folder)"
    )
    return p


def create_window(args, app=None):
    """Open the store and model, build and return (ctx, window). Errors a user can fix are
    shown in a message box and return (None, None)."""
    from PySide6.QtWidgets import QMessageBox

    from .context import AppContext
    from .main_window import MainWindow

    camera = args.camera if args.camera is not None else args.video
    try:
        # one decision for the app and the CLI: --db > $TWINLOCK_DB > $TWINLOCK_HOME > the data
        # folder chosen in Settings (core.config) > the user data folder
        db = database_path(args.db)
    except StoreError as exc:
        QMessageBox.critical(None, "twinlock: cannot find the database", str(exc))
        return None, None
    lock = InstanceLock(db)
    try:
        lock.acquire()
    except AlreadyRunning as exc:
        print(f"twinlock-app: {exc}", file=sys.stderr)
        QMessageBox.warning(None, "twinlock is already running", str(exc))
        return None, None
    except OSError as exc:
        QMessageBox.critical(
            None,
            "twinlock: cannot open the database",
            f"Cannot create {lock.path} ({exc.strerror or exc}). Choose a data folder you can "
            "write to (--db PATH, or Tools ▸ Settings in a working start).",
        )
        return None, None
    try:
        ctx = AppContext.open(db=db, model=args.model, camera=camera)
    except StoreError as exc:
        lock.release()
        QMessageBox.critical(None, "twinlock: cannot open the database", str(exc))
        return None, None
    ctx.instance_lock = lock
    win = MainWindow(ctx)
    return ctx, win


def check_args(args) -> str:
    """A message for the user when the options cannot work, else ""."""
    from pathlib import Path

    if args.video is not None and not Path(args.video).exists():
        return (
            f"The video file {args.video} does not exist. Give an existing video file (or a folder "
            "of images) with --video, or leave --video out to use a webcam."
        )
    if args.model is not None and not Path(args.model).is_file():
        return f"The model file {args.model} does not exist. Give an .onnx file exported by 'twinlock export'."
    return ""


def no_display() -> bool:
    """On Linux without X11/Wayland (and no explicit Qt platform) Qt would abort."""
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get("QT_QPA_PLATFORM")
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = check_args(args)
    if problem:
        print(f"twinlock-app: {problem}", file=sys.stderr)
        return 4
    if no_display():
        print(
            "twinlock-app: no graphical display here ($DISPLAY and $WAYLAND_DISPLAY are unset). "
            "Start it from your desktop session, or use the 'twinlock' command line "
            "(twinlock enroll / verify / calibrate).",
            file=sys.stderr,
        )
        return 4
    from PySide6.QtWidgets import QApplication

    limit_blas_threads(1)  # frame-at-a-time matching: one BLAS thread (see core/threads.py)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("twinlock")
    app.setOrganizationName("twinlock")
    ctx, win = create_window(args, app)
    if win is None:
        return 4
    win.resize(1100, 720)
    win.show()
    win.start_camera()
    _quit_on_signals(win)
    try:
        return app.exec()
    finally:
        ctx.close()


def _quit_on_signals(win) -> None:
    """SIGTERM (logout, systemd, kill) and Ctrl+C close the window the normal way (the
    camera thread stopped, the database and the instance lock released), exit status 0.
    Python runs signal handlers between bytecodes: the window's 200 ms timer gives it the
    chance while Qt's event loop waits."""
    import signal

    def handler(signum, frame):
        win.close()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread / not supported here
            pass


if __name__ == "__main__":
    sys.exit(main())
