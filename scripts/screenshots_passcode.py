"""Screenshots of a passcode in the real windows, for docs/guide.md, taken under a
virtual X display:

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python scripts/screenshots_passcode.py \
        [--model MODEL.onnx] [--out docs/screenshots]

A throw-away data folder and a fake camera: a video of a card with two handwritten digits
(3 then 7) side by side, filmed with camera-like faults by training.camera_sim. It enrolls
the card through the wizard (2 symbols), runs an unlock attempt and opens the calibration
dialog, grabbing each screen with QWidget.grab(). The model must carry the passcode point
for 2 symbols (the shipped default does).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from screenshots import grab, wait, wait_until  # noqa: E402  (the helpers of scripts/screenshots.py)


def card_video(path: Path, digits, count: int, seed: int, size=(640, 480)) -> Path:
    from desktop_app.core.preprocess import mnist_form
    from training.camera_sim import render_card_frame
    from training.synthetic_digits import digit_strokes

    rng = np.random.default_rng(seed)
    imgs = [mnist_form(digit_strokes(d, 200, seed=seed + 7 * i)) for i, d in enumerate(digits)]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15.0, size)
    for _ in range(count):
        vw.write(render_card_frame(imgs, rng, size))
    vw.release()
    return path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="ONNX model with passcode points (default: the shipped model)")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="twinlock-passcode-shots-"))
    os.environ["TWINLOCK_HOME"] = str(tmp / "home")
    os.environ["TWINLOCK_CONFIG"] = str(tmp / "config.json")  # never the user's config file

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.paths import DEFAULT_MODEL

    model = Path(args.model or DEFAULT_MODEL)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp / "qsettings"))
    app.setApplicationName("twinlock")

    from desktop_app.ui.calibration_dialog import CalibrationDialog
    from desktop_app.ui.context import AppContext
    from desktop_app.ui.enroll_wizard import EnrollWizard
    from desktop_app.ui.main_window import MainWindow

    video = card_video(tmp / "card37.avi", [3, 7], 40, seed=10)
    ctx = AppContext.open(db=tmp / "twinlock.sqlite3", model=str(model), camera=str(video))
    if ctx.embedder is None:
        raise SystemExit(ctx.model_error)
    ctx.store.set_setting("first_run_hint_dismissed", True)
    win = MainWindow(ctx)
    win.resize(1180, 760)
    win.show()
    win.start_camera()
    wait_until(win.frame_view.has_frame)

    # --- the wizard: two symbols on one card ------------------------------------------
    wiz = EnrollWizard(ctx, win.capture, win)
    wiz.show()
    wiz.profile_page.name_edit.setText("alice")
    wiz.profile_page.symbols_spin.setValue(2)
    grab(wiz, out, "passcode_1_profile")
    wiz.next()
    page = wiz.capture_page
    page.k_spin.setValue(4)
    while len(page.items) < 4:
        page._latest = None
        wait_until(lambda: page._latest is not None and page._latest[1].ok, 5)
        page.capture_current()
        wait(120)
    page._latest = None
    wait_until(lambda: page._latest is not None and page._latest[1].ok, 5)
    grab(wiz, out, "passcode_2_capture")
    wiz.next()
    strength = wiz.summary_page.strength
    if strength.report is not None and not strength.report.allowed:
        strength.override.setChecked(True)  # digits are common symbols: an admin overrides
    grab(wiz, out, "passcode_3_strength")
    wiz.next()  # Save (validatePage saves)
    if wiz.saved_profile is None:
        raise SystemExit("the wizard did not save the passcode")
    wiz.close()
    win.refresh_profiles(select="alice")

    # --- unlock: the card's boxes, numbered left to right ------------------------------
    wait(600)
    states = []
    win.attempt_finished.connect(lambda st: states.append(st))
    win.start_attempt()
    wait_until(lambda: states, 10)
    grab(win, out, "passcode_unlock")
    print("attempt:", states[-1].state if states else "none")

    # --- calibration: the passcode point and its counts --------------------------------
    win.capture.set_symbols(1)  # as the window opens it: live samples are one symbol each
    cal = CalibrationDialog(ctx, "alice", win.capture, win)
    cal.show()
    wait_until(lambda: cal.preview.has_frame(), 5)
    grab(cal, out, "passcode_calibration")
    cal.close()
    win.close()
    ctx.close()
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)  # skip PySide6's interpreter-shutdown teardown of many windows (can abort)
