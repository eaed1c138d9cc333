"""Screenshots of the real twinlock windows for the README, taken under a virtual X display:

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshots.py \
        [--model MODEL.onnx] [--mnist DIR] [--checkpoint runs/x/best.pt] [--out docs/screenshots]

It builds a throw-away data folder, a fake camera (a video file of one handwritten MNIST
digit drawn on paper, filmed with camera-like faults by training.camera_sim) and an
impostor video (another digit), enrolls through the wizard, runs unlock attempts, and grabs
each screen with QWidget.grab(). With --checkpoint the export dialog runs a real export.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def wait(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(pred, timeout_s: float = 20.0, step_ms: int = 50) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        wait(step_ms)
    return False


def grab(widget, out: Path, name: str) -> Path:
    wait(150)
    path = out / f"{name}.png"
    if not widget.grab().save(str(path)):
        raise SystemExit(f"could not write {path}")
    print(f"wrote {path}")
    return path


def digits_from_mnist(mnist: Path | None):
    """(genuine 28x28, impostor 28x28 list) from MNIST test images, else synthetic digits."""
    if mnist and (mnist / "t10k-images-idx3-ubyte.gz").exists():
        from desktop_app.core.calibration import load_mnist_dir

        x, y = load_mnist_dir(mnist, "test")
        three = x[np.flatnonzero(y == 3)[4]]
        others = [x[np.flatnonzero(y == d)[2]] for d in (7, 1, 5, 8)]
        return three, others
    from training.synthetic_digits import synthetic_digits

    x, y = synthetic_digits(60, seed=1)
    return x[np.flatnonzero(y == 3)[0]], [x[np.flatnonzero(y == d)[0]] for d in (7, 1, 5, 8)]


def write_video(path: Path, digit28, count: int, seed: int, size=(640, 480)) -> Path:
    from training.camera_sim import render_digit

    rng = np.random.default_rng(seed)
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, size)
    for i in range(count):
        d = digit28[i % len(digit28)] if isinstance(digit28, list) else digit28
        vw.write(render_digit(d, rng, size))
    vw.release()
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="ONNX model (default: the shipped model)")
    ap.add_argument(
        "--mnist",
        default=os.environ.get("TWINLOCK_DATA_DIR", "/work/shared/data/mnist"),
        help="MNIST folder for realistic digits and the calibration screenshot",
    )
    ap.add_argument("--checkpoint", help="run a real export of this checkpoint in the export dialog")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="twinlock-shots-"))
    os.environ["TWINLOCK_HOME"] = str(tmp / "home")
    os.environ["TWINLOCK_CONFIG"] = str(tmp / "config.json")  # never the user's config file

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.paths import DEFAULT_MODEL

    model = Path(args.model or DEFAULT_MODEL)
    if not model.exists():
        raise SystemExit(f"no model at {model}: pass --model")
    mnist = Path(args.mnist) if args.mnist else None

    app = QApplication.instance() or QApplication([sys.argv[0]])
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp / "qsettings"))
    app.setApplicationName("twinlock")

    from desktop_app.ui.context import AppContext
    from desktop_app.ui.main_window import MainWindow

    three, others = digits_from_mnist(mnist)
    genuine_video = write_video(tmp / "three.avi", three, 45, seed=1)
    impostor_video = write_video(tmp / "seven.avi", others[0], 45, seed=2)

    ctx = AppContext.open(db=tmp / "twinlock.sqlite3", model=str(model), camera=str(genuine_video))
    ctx.store.set_setting(
        "policy", {"k": 2, "n": 3, "time_limit_s": 6.0, "max_frames": 12, "lockout_after": 2, "lockout_base_s": 60.0}
    )
    win = MainWindow(ctx)
    win.resize(1180, 760)
    win.show()
    win.start_camera()
    wait_until(win.frame_view.has_frame)

    # --- enrollment wizard ------------------------------------------------------------
    from desktop_app.ui.enroll_wizard import EnrollWizard

    wiz = EnrollWizard(ctx, win.capture, win)
    wiz.show()
    wiz.profile_page.name_edit.setText("alice")
    grab(wiz, out, "enroll_1_profile")
    wiz.next()
    page = wiz.capture_page
    while len(page.items) < 5:
        page._latest = None
        wait_until(lambda: page._latest is not None and page._latest[1].ok, 5)
        page.capture_current()
        wait(120)
    page._latest = None
    wait_until(lambda: page._latest is not None and page._latest[1].ok, 5)
    grab(wiz, out, "enroll_2_capture")
    wiz.next()
    strength = wiz.summary_page.strength
    if strength.report is not None and not strength.report.allowed:
        strength.override.setChecked(True)  # a digit is "weak" for the any-symbol default: an admin overrides
    grab(wiz, out, "enroll_3_consistency")
    wiz.next()  # Save (validatePage saves)
    if wiz.saved_profile is None:
        wiz.accept()
    wiz.close()
    win.refresh_profiles(select="alice")

    # --- main window states -----------------------------------------------------------
    wait(600)
    grab(win, out, "main_ready")
    states = []
    win.attempt_finished.connect(lambda st: states.append(st))
    win.start_attempt()
    wait_until(lambda: states, 10)
    grab(win, out, "main_granted")
    ctx.camera_spec = str(impostor_video)
    win.start_camera()
    wait(800)
    for i in range(2):
        states.clear()
        win.start_attempt()
        wait_until(lambda: states, 12)
        if i == 0:
            grab(win, out, "main_denied")
    wait(300)
    states.clear()
    win.start_attempt()  # refused: locked out, countdown
    wait(1200)
    grab(win, out, "main_locked")

    # --- calibration ------------------------------------------------------------------
    from desktop_app.ui.calibration_dialog import CalibrationDialog

    ctx.store.set_lockout("alice", __import__("desktop_app.core.store", fromlist=["LockoutState"]).LockoutState())
    ctx.camera_spec = str(genuine_video)
    win.start_camera()
    cal = CalibrationDialog(ctx, "alice", win.capture, win)
    cal.show()
    # live capture first: the camera is shown while samples are recorded
    cal.rec_gen.setChecked(True)
    wait(2500)
    grab(cal, out, "calibration_live")
    cal.set_source(str(impostor_video))  # the dialog's own source chooser (it is modal)
    wait_until(lambda: "seven" in cal.source_desc.text(), 10)
    cal.rec_imp.setChecked(True)
    wait(2500)
    cal.rec_imp.setChecked(False)
    if mnist and (mnist / "t10k-images-idx3-ubyte.gz").exists():
        cal.mode.setCurrentIndex(3)
        cal.mnist_edit.setText(str(mnist))
        cal.mnist_limit.setValue(3000)
    else:
        cal.use_gallery.setChecked(True)  # the shipped gallery as impostors: the presets can be supported
    cal.compute()
    wait_until(lambda: cal.data is not None, 120)
    if cal.preset_buttons[1].isEnabled():
        cal.choose_far(1e-3)
    grab(cal, out, "calibration")
    # a threshold looser than the model default: Apply asks first, in words
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QMessageBox

    cal.set_threshold(min(cal._hi, 1.5 * ctx.embedder.contract.default_threshold), None)

    def answer():
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            grab(box, out, "calibration_confirm")
            box.button(QMessageBox.StandardButton.No).click()
        else:
            QTimer.singleShot(100, answer)

    QTimer.singleShot(300, answer)
    cal.apply()
    cal.close()

    # --- export dialog ----------------------------------------------------------------
    from desktop_app.ui.export_dialog import ExportDialog

    exp = ExportDialog(ctx, win)
    exp.show()
    if args.checkpoint:
        exp.ckpt_radio.setChecked(True)
        exp.ckpt_edit.setText(args.checkpoint)
        exp.out_edit.setText(str(tmp / "new-model.onnx"))
        exp.start()
        wait(4000)
        grab(exp, out, "export_running")
        wait_until(lambda: exp.new_contract is not None or exp.start_button.isEnabled(), 600)
    else:
        exp.onnx_radio.setChecked(True)
        exp.onnx_edit.setText(str(model))
        exp.start()
    grab(exp, out, "export")
    exp.close()

    # --- settings and audit -------------------------------------------------------------
    from desktop_app.ui.audit_viewer import AuditViewer
    from desktop_app.ui.settings_dialog import SettingsDialog

    st = SettingsDialog(ctx, win)
    st.show()
    wait(3500)  # let the webcam probe finish ("no webcam found")
    grab(st, out, "settings")
    st.close()
    au = AuditViewer(ctx, win)
    au.show()
    grab(au, out, "audit")
    au.close()
    from desktop_app.ui.guide import GuideDialog

    gd = GuideDialog(win)
    gd.show()
    wait(300)
    grab(gd, out, "guide")
    gd.close()

    # --- no camera ------------------------------------------------------------------------
    ctx.camera_spec = str(tmp / "unplugged.avi")
    win.start_camera()
    wait_until(lambda: win.banner.state == "no_camera", 5)
    grab(win, out, "main_no_camera")
    win.close()
    ctx.close()
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)  # skip PySide6's interpreter-shutdown teardown of many windows (can abort)
