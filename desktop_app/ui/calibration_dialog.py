"""Threshold calibration dialog.

Samples: live capture of genuine attempts (the enrolled symbol) and impostor attempts
(anything else), image files, a labelled folder, or an MNIST folder; the shipped gallery's
common symbols can be the impostors (nothing to record). The live source (webcam or video)
can be changed inside the dialog, between genuine and impostor recording. The distances are
computed by core ``calibration`` in a background job with progress and cancel; the charts
and every figure shown come from core ``metrics``; Apply/Reset are core
``calibration.apply_threshold`` / ``reset_threshold`` (persisted and audited).

A passcode profile (2-4 symbols) shows the model's passcode operating point for its length
with the counts behind it (core ``passcode.describe_passcode_point``) and the per-position
thresholds it is verified with (``passcode.position_thresholds``); the admin rules (apply,
reset, the confirmation of a looser threshold) are the same.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core import calibration as cal, metrics
from desktop_app.core.calibration import CalibrationError, describe_point, preset_support, recommend
from desktop_app.core.settings import DEFAULTS, effective_threshold, setting
from desktop_app.core.admin_actions import Declined, apply_threshold, reset_threshold
from desktop_app.core.gallery import GalleryError
from desktop_app.core.passcode import describe_passcode_point, point_key, position_thresholds
from desktop_app.core.paths import mnist_dir
from desktop_app.core.store import Store, StoreError
from desktop_app.core.verifier import resolve_policy

from .charts import DetChart, HistogramChart, RateChart
from .widgets import FrameView
from .workers import Job

PRESETS = (1e-2, 1e-3, 1e-4)
SLIDER_STEPS = 1000
MAX_LIVE = 300
LIVE_RATE_HZ = 5.0  # live samples taken per second: consecutive frames are near copies


class CalibrationDialog(QDialog):
    def __init__(self, ctx, profile: str, capture=None, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.profile = profile
        self.capture = capture
        self.data = None  # core CalibrationData
        self.job: Job | None = None
        self.target_far: float | None = None
        self.threshold: float | None = None
        self.live_genuine: list[np.ndarray] = []
        self.live_impostor: list[np.ndarray] = []
        self.genuine_files: list[str] = []
        self.impostor_files: list[str] = []
        self._lo, self._hi = 0.0, 2.0
        self._last_sample = 0.0
        self.setWindowTitle(f"Calibrate the threshold — {profile}")
        self._build()
        if capture is not None:
            capture.frame.connect(self.on_frame)
            capture.opened.connect(self._source_opened)
            self.source_desc.setText(f"Source: {capture.description or 'opening…'}")
        else:
            self.source_desc.setText("No camera: use image files or the gallery.")
        self._gallery_note()
        self.refresh_current()
        self._enable_threshold(False)

    # --- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        src = QGroupBox("Samples")
        sl = QVBoxLayout(src)
        self.mode = QComboBox()
        self.mode.setObjectName("sourceMode")
        self.mode.addItems(["Live capture", "Image files", "Labelled folder", "MNIST folder"])
        sl.addWidget(self.mode)
        self.stack = QStackedWidget()
        self.mode.currentIndexChanged.connect(self.stack.setCurrentIndex)
        sl.addWidget(self.stack)

        live = QWidget()
        ll = QFormLayout(live)
        self.rec_gen = QPushButton("Record genuine  (G)")
        self.rec_gen.setCheckable(True)
        self.rec_gen.setShortcut("G")
        self.rec_gen.setObjectName("recordGenuine")
        self.rec_imp = QPushButton("Record impostor  (I)")
        self.rec_imp.setCheckable(True)
        self.rec_imp.setShortcut("I")
        self.rec_imp.setObjectName("recordImpostor")
        self.rec_gen.toggled.connect(lambda on: on and self.rec_imp.setChecked(False))
        self.rec_imp.toggled.connect(lambda on: on and self.rec_gen.setChecked(False))
        self.live_counts = QLabel("0 genuine · 0 impostor")
        self.live_counts.setObjectName("liveCounts")
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear_live)
        # the live camera, so you see what is being recorded (ROI green when a symbol is found)
        self.preview = FrameView()
        self.preview.setObjectName("livePreview")
        self.preview.setMinimumSize(240, 180)
        self.preview.setFixedHeight(180)
        self.preview.set_message("No camera picture yet.")
        ll.addRow(self.preview)
        self.source_button = QPushButton("Camera or video…")
        self.source_button.setObjectName("calibrationSource")
        self.source_button.setToolTip("Change what the camera shows, e.g. between genuine and impostor recording")
        self.source_button.setEnabled(self.capture is not None)
        self.source_button.clicked.connect(self.choose_source)
        self.source_desc = QLabel("")
        self.source_desc.setObjectName("calibrationSourceText")
        self.source_desc.setWordWrap(True)
        srow = QHBoxLayout()
        srow.addWidget(self.source_desc, 1)
        srow.addWidget(self.source_button, 0)
        ll.addRow(srow)
        ll.addRow(self.rec_gen)
        ll.addRow(self.rec_imp)
        self.live_counts.setWordWrap(True)
        row_c = QHBoxLayout()
        row_c.addWidget(self.live_counts, 1)
        row_c.addWidget(clear, 0)
        ll.addRow(row_c)
        self.live_help = QLabel(
            "Genuine: show your enrolled symbol, varied a little. "
            "Impostor: show other symbols and digits. "
            f"{LIVE_RATE_HZ:g} frames per second are taken."
        )
        self.live_help.setObjectName("liveHelp")
        self.live_help.setWordWrap(True)
        ll.addRow(self.live_help)
        self.stack.addWidget(live)

        files = QWidget()
        fl = QFormLayout(files)
        bg = QPushButton("Genuine images…")
        bg.clicked.connect(lambda: self._pick_files(True))
        bi = QPushButton("Impostor images…")
        bi.clicked.connect(lambda: self._pick_files(False))
        self.files_label = QLabel("0 genuine, 0 impostor files")
        fl.addRow(bg)
        fl.addRow(bi)
        fl.addRow(self.files_label)
        self.stack.addWidget(files)

        folder = QWidget()
        fo = QFormLayout(folder)
        self.folder_edit = QLineEdit()
        self.folder_edit.setObjectName("labelledFolder")
        self.folder_edit.setPlaceholderText("folder/<label>/*.png")
        b = QPushButton("Browse…")
        b.clicked.connect(lambda: self._pick_dir(self.folder_edit))
        fo.addRow("Folder:", self.folder_edit)
        fo.addRow(b)
        self.stack.addWidget(folder)

        mn = QWidget()
        mf = QFormLayout(mn)

        self.mnist_edit = QLineEdit(str(mnist_dir()))
        self.mnist_edit.setObjectName("mnistFolder")
        b2 = QPushButton("Browse…")
        b2.clicked.connect(lambda: self._pick_dir(self.mnist_edit))
        self.mnist_limit = QSpinBox()
        self.mnist_limit.setRange(100, 10000)
        self.mnist_limit.setSingleStep(500)
        self.mnist_limit.setValue(2000)
        mf.addRow("MNIST folder:", self.mnist_edit)
        mf.addRow(b2)
        mf.addRow("Images:", self.mnist_limit)
        self.stack.addWidget(mn)
        self.use_gallery = QCheckBox("Gallery symbols as impostors")  # fits the samples column
        self.use_gallery.setObjectName("galleryImpostors")
        self.use_gallery.setToolTip(
            "Add the shipped gallery's 5,088 common symbols as impostors, nothing to record: digits in "
            "many hands, letters, shapes and Omniglot characters, what a guesser would draw. Enough of "
            "them to support FAR 1e-2 and 1e-3."
        )
        self.use_gallery.setChecked(False)
        self.use_gallery.toggled.connect(lambda _: self._gallery_note())
        sl.addWidget(self.use_gallery)
        self.mode.currentIndexChanged.connect(lambda _: self._gallery_note())

        row = QHBoxLayout()
        self.compute_button = QPushButton("Compute")
        self.compute_button.setObjectName("computeButton")
        self.compute_button.clicked.connect(self.compute)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.compute_button)
        row.addWidget(self.cancel_button)
        sl.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        sl.addWidget(self.progress)
        self.source_label = QLabel("")
        self.source_label.setObjectName("sourceLabel")
        self.source_label.setWordWrap(True)
        sl.addWidget(self.source_label)
        sl.addStretch(1)
        src.setFixedWidth(290)
        top.addWidget(src)

        charts = QSplitter(Qt.Orientation.Horizontal)
        self.hist = HistogramChart()
        self.rates = RateChart()
        self.det = DetChart()
        for c in (self.hist, self.rates, self.det):
            c.setMinimumSize(280, 220)  # three charts + the samples fit a 1280×800 screen
            charts.addWidget(c)
        top.addWidget(charts, 1)
        outer.addLayout(top, 1)

        thr = QGroupBox("Threshold")
        tl = QVBoxLayout(thr)
        prow = QHBoxLayout()
        prow.addWidget(QLabel("Target FAR:"))
        self.preset_buttons = []
        for f in PRESETS:
            b = QPushButton(f"{f:g}")
            b.setObjectName(f"preset_{f:g}")
            b.clicked.connect(lambda _=False, f=f: self.choose_far(f))
            prow.addWidget(b)
            self.preset_buttons.append(b)
        prow.addWidget(QLabel("  or drag:"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName("thresholdSlider")
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.valueChanged.connect(self._slider_moved)
        prow.addWidget(self.slider, 1)
        tl.addLayout(prow)
        self.preset_note = QLabel("")
        self.preset_note.setObjectName("presetNote")
        self.preset_note.setWordWrap(True)
        self.preset_note.setVisible(False)
        tl.addWidget(self.preset_note)
        self.point_label = QLabel("Compute the distances first.")
        self.point_label.setObjectName("pointLabel")
        self.point_label.setWordWrap(True)
        tl.addWidget(self.point_label)
        self.warning_label = QLabel("")
        self.warning_label.setObjectName("farWarning")
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #8a4b00; font-weight: bold")
        self.warning_label.setVisible(False)
        tl.addWidget(self.warning_label)
        self.current_label = QLabel("")
        self.current_label.setObjectName("currentThreshold")
        tl.addWidget(self.current_label)
        brow = QHBoxLayout()
        self.apply_button = QPushButton("Apply")
        self.apply_button.setObjectName("applyButton")
        self.apply_button.clicked.connect(self.apply)
        self.reset_button = QPushButton("Reset to the model default")
        self.reset_button.setObjectName("resetButton")
        self.reset_button.clicked.connect(self.reset)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        brow.addStretch(1)
        brow.addWidget(self.reset_button)
        brow.addWidget(self.apply_button)
        brow.addWidget(close)
        tl.addLayout(brow)
        outer.addWidget(thr)
        self.passcode_box = QGroupBox("Passcode operating point")
        self.passcode_box.setObjectName("passcodeBox")
        pl = QVBoxLayout(self.passcode_box)
        self.passcode_label = QLabel("")
        self.passcode_label.setObjectName("passcodePoint")
        self.passcode_label.setWordWrap(True)
        self.passcode_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        pl.addWidget(self.passcode_label)
        outer.addWidget(self.passcode_box)
        self.passcode_box.setVisible(False)
        self._fit_screen()

    def _fit_screen(self) -> None:
        """Start at a size that fits the screen (1280×800 included) with the title bar."""
        from PySide6.QtGui import QGuiApplication

        scr = self.screen() or QGuiApplication.primaryScreen()
        avail = scr.availableGeometry() if scr is not None else None
        w, h = 1240, 720
        if avail is not None:
            w, h = min(w, avail.width() - 40), min(h, avail.height() - 60)
        hint = self.minimumSizeHint()
        self.resize(max(w, min(hint.width(), 1240)), max(h, min(hint.height(), 720)))

    # --- samples ----------------------------------------------------------------------
    def on_frame(self, fr, result) -> None:
        if self.mode.currentIndex() == 0:
            self.preview.set_frame(fr.image, roi=result.roi, bbox=result.bbox, found=result.ok, paper=result.paper)
        if not result.ok:
            return
        now = time.monotonic()
        if now - self._last_sample < 1.0 / LIVE_RATE_HZ:
            return
        if self.rec_gen.isChecked():
            samples, button, what = self.live_genuine, self.rec_gen, "genuine"
        elif self.rec_imp.isChecked():
            samples, button, what = self.live_impostor, self.rec_imp, "impostor"
        else:
            return
        samples.append(result.image.copy())
        self._last_sample = now
        text = f"{len(self.live_genuine)} genuine · {len(self.live_impostor)} impostor"
        if len(samples) >= MAX_LIVE:  # the most one recording keeps: say so, and stop
            button.setChecked(False)
            text += f" — {MAX_LIVE} {what} samples is the most kept; recording stopped"
        self.live_counts.setText(text)

    # --- the live source ------------------------------------------------------------
    def choose_source(self) -> None:
        """Pick another webcam or video here (the dialog stays open: e.g. a video of your
        symbol for genuine samples, then one of other symbols for impostors)."""
        from .camera_dialog import CameraDialog

        dlg = CameraDialog(self.current_source(), self)
        dlg.setObjectName("calibrationCameraDialog")
        if dlg.exec():
            self.set_source(dlg.spec, remember=dlg.remember)

    def current_source(self):
        spec = getattr(self.ctx, "camera_spec", None)
        return spec if spec is not None else setting(self.ctx.store, "camera")

    def set_source(self, spec, remember: bool = False) -> None:
        """Use ``spec`` as the camera from now on (the main window follows: one capture)."""
        from .capture import source_opener

        if self.capture is None:
            return
        self.rec_gen.setChecked(False)
        self.rec_imp.setChecked(False)
        self.ctx.camera_spec = spec
        if remember:
            self.ctx.store.set_setting("camera", spec)
        res = setting(self.ctx.store, "resolution") or DEFAULTS["resolution"]
        opener, _ = source_opener(spec, res)
        self.preview.set_message(f"Opening {spec}…")
        self.source_desc.setText(f"Source: opening {spec}…")
        self.capture.start(opener, drop_frames=True)

    def _source_opened(self, desc: str, live: bool) -> None:
        self.source_desc.setText(f"Source: {desc}")

    def _gallery_note(self) -> None:
        """The gallery applies to live capture and image files (folders bring their own impostors)."""
        self.use_gallery.setVisible(self.mode.currentIndex() in (0, 1))
        self.live_help.setText(
            "Genuine: show your enrolled symbol, varied a little. "
            + (
                "Impostor: optional with the gallery ticked; show other symbols you fear a guesser would draw. "
                if self.use_gallery.isChecked()
                else "Impostor: show other symbols and digits. "
            )
            + f"{LIVE_RATE_HZ:g} frames per second are taken, at most {MAX_LIVE} of each."
        )

    def clear_live(self) -> None:
        self.live_genuine.clear()
        self.live_impostor.clear()
        self.live_counts.setText("0 genuine · 0 impostor")

    def _pick_files(self, genuine: bool) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self,
            "Genuine images" if genuine else "Impostor images",
            "",
            "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)",
        )
        if genuine:
            self.genuine_files = list(paths)
        else:
            self.impostor_files = list(paths)
        self.files_label.setText(f"{len(self.genuine_files)} genuine, {len(self.impostor_files)} impostor files")

    def _pick_dir(self, edit: QLineEdit) -> None:
        d = QFileDialog.getExistingDirectory(self, "Folder", edit.text())
        if d:
            edit.setText(d)

    def k_nearest(self) -> int:
        try:
            return int(resolve_policy(self.ctx.store, self.profile, self.ctx.embedder).k_nearest)
        except Exception:
            return 1

    def make_job_fn(self):
        """The function the background job runs, or a message saying what is missing."""
        emb = self.ctx.embedder
        db = self.ctx.store.path
        prof = self.profile
        kn = self.k_nearest()
        mode = self.mode.currentIndex()
        gal = self.use_gallery.isChecked()
        if mode == 0:
            g, i = list(self.live_genuine), list(self.live_impostor)
            if not g or not (i or gal):
                return (
                    "Record some genuine frames first (button G)."
                    if gal
                    else "Record some genuine AND some impostor frames first (buttons G and I), or tick the gallery."
                )

            def fn(progress):
                with Store(db) as st:
                    imp = np.stack(i) if i else np.zeros((0, 28, 28), np.uint8)
                    return cal.from_images(st, emb, prof, np.stack(g), imp, k_nearest=kn, gallery=gal)

            return fn
        if mode == 1:
            g, i = list(self.genuine_files), list(self.impostor_files)
            if not g or not (i or gal):
                return (
                    "Choose genuine image files first."
                    if gal
                    else "Choose genuine AND impostor image files first, or tick the gallery."
                )

            def fn(progress):
                with Store(db) as st:
                    return cal.from_image_files(st, emb, prof, g, i, k_nearest=kn, gallery=gal)

            return fn
        if mode == 2:
            folder = self.folder_edit.text().strip()
            if not folder:
                return "Choose a labelled folder (one sub-folder of images per label)."
            return lambda progress: cal.from_labelled_folder(emb, folder, k_nearest=kn, progress=progress)
        folder = self.mnist_edit.text().strip()
        limit = self.mnist_limit.value()
        if not folder:
            return "Choose the folder that holds the MNIST files."
        return lambda progress: cal.from_mnist(emb, folder, limit=limit, k_nearest=kn, progress=progress)

    # --- computing --------------------------------------------------------------------
    def compute(self) -> None:
        if self.ctx.embedder is None:
            QMessageBox.warning(self, "Calibrate", "There is no usable model.")
            return
        fn = self.make_job_fn()
        if isinstance(fn, str):
            self.source_label.setText(fn)
            return
        self.rec_gen.setChecked(False)
        self.rec_imp.setChecked(False)

        self.job = Job(fn, user_errors=(CalibrationError, StoreError, GalleryError, ValueError, OSError), parent=self)
        self.job.progress.connect(self._progress)
        self.job.done.connect(self.set_data)
        self.job.failed.connect(lambda m: self.source_label.setText(f"Could not compute: {m}"))
        self.job.cancelled.connect(lambda: self.source_label.setText("Cancelled."))
        self.job.finished.connect(self._job_finished)
        self.compute_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        self.source_label.setText("Computing distances…")
        self.job.start()

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _job_finished(self) -> None:
        self.compute_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if self.data is not None else 0)

    def cancel(self) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()

    def set_data(self, data) -> None:
        g, i = np.asarray(data.genuine, float), np.asarray(data.impostor, float)
        if g.size == 0 or i.size == 0:
            self.source_label.setText(
                f"{data.source}: need at least one genuine and one impostor comparison. Add samples."
            )
            return
        self.data = data
        self.source_label.setText(f"{data.source}: {g.size:,} genuine and {i.size:,} impostor comparisons.")
        self.hist.set_data(g, i)
        self.rates.set_data(g, i)
        self.det.set_data(g, i)
        lo, hi = float(min(g.min(), i.min())), float(max(g.max(), i.max()))
        # the range covers the threshold in use and the model default too: never a silent
        # clamp to the samples' largest distance (stricter than the profile's threshold)
        cur_thr = self.current_threshold()
        default = None if self.ctx.embedder is None else float(self.ctx.embedder.contract.default_threshold)
        keep = [v for v in (cur_thr, default) if v is not None and np.isfinite(v)]
        self._lo = max(1e-4, 0.9 * min([lo, *keep]))
        self._hi = max([hi * 1.02, 2e-4, *(v * 1.02 for v in keep)])
        self._enable_threshold(True)
        # start at the profile's current threshold when it lies in range, else at FAR 1e-3
        # when the samples support it, else at the current threshold moved into range
        cur = self.current_threshold()
        if cur is not None and self._lo <= cur <= self._hi:
            self.set_threshold(cur, None)
        elif self.preset_buttons[PRESETS.index(1e-3)].isEnabled():
            self.choose_far(1e-3)
        else:
            self.set_threshold(min(max(cur if cur is not None else self._lo, self._lo), self._hi), None)

    def _enable_threshold(self, on: bool) -> None:
        """Presets only where the impostor count supports them (core preset_support): a
        disabled one says why in its tooltip and under the buttons."""
        reasons = []
        for f, b in zip(PRESETS, self.preset_buttons):
            ok, why = (True, "") if self.data is None else preset_support(self.data.impostor.size, f)
            b.setEnabled(on and ok)
            b.setToolTip(why or f"the threshold at which FAR {f:g} is expected")
            if on and not ok:
                reasons.append(why)
        hint = (
            " Or tick “Gallery symbols as impostors” and Compute again: no recording needed."
            if reasons and not self.use_gallery.isChecked() and self.mode.currentIndex() in (0, 1)
            else ""
        )
        self.preset_note.setText(
            "Disabled presets: "
            + " ".join(reasons[:1])
            + (f" (and {len(reasons) - 1} stricter)" if len(reasons) > 1 else "")
            + hint
            if reasons
            else ""
        )
        self.preset_note.setVisible(bool(reasons))
        self.slider.setEnabled(on)
        self.apply_button.setEnabled(on)

    # --- choosing ---------------------------------------------------------------------
    def choose_far(self, far: float) -> None:
        if self.data is None:
            return
        rec = recommend(self.data, far)
        self.set_threshold(float(rec["threshold"]), far)

    def _slider_moved(self, v: int) -> None:
        if self.data is None or getattr(self, "_setting", False):
            return
        t = self._lo + (self._hi - self._lo) * v / SLIDER_STEPS
        self.set_threshold(t, None)

    def set_threshold(self, t: float, target_far: float | None) -> None:
        self.threshold, self.target_far = float(t), target_far
        self._setting = True
        span = (self._hi - self._lo) or 1.0
        self.slider.setValue(int(round((t - self._lo) / span * SLIDER_STEPS)))
        self._setting = False
        op = metrics.operating_point(self.data.genuine, self.data.impostor, self.threshold)
        self.op = op
        line, warn = describe_point(op, target_far)
        if target_far is not None:
            line = f"target FAR {target_far:g}: " + line
        self.point_label.setText(line)
        self.warning_label.setText(warn)
        self.warning_label.setVisible(bool(warn))
        for c in (self.hist, self.rates):
            c.set_threshold(self.threshold)
        self.det.set_point(op.far, op.frr)

    # --- applying ---------------------------------------------------------------------
    def _effective(self):
        """The core's answer to "which threshold applies" (settings.effective_threshold)."""
        contract = None if self.ctx.embedder is None else self.ctx.embedder.contract
        return effective_threshold(self.ctx.store, self.ctx.store.get_profile(self.profile), contract)

    def current_threshold(self) -> float | None:
        try:
            return self._effective().value
        except Exception:
            return None

    def profile_symbols(self) -> int:
        """How many symbols the profile holds (1 for one not enrolled)."""
        store = self.ctx.store
        return int(store.get_profile(self.profile).symbols) if store.has_profile(self.profile) else 1

    def refresh_passcode(self) -> None:
        """A passcode: the model's point for its length (counts included) and the thresholds
        each position is verified with now."""
        n = self.profile_symbols()
        self.passcode_box.setVisible(n > 1)
        if n == 1:
            return
        contract = None if self.ctx.embedder is None else self.ctx.embedder.contract
        key = point_key(n)
        op = (contract.passcodes if contract is not None else {}).get(key)
        lines = (
            describe_passcode_point(key, op)
            if op
            else [f"The model in use has no passcode point for {n} symbols ('{key}')."]
        )
        if op and op.get("method"):
            self.passcode_label.setToolTip(f"How it was counted: {op['method']}")
        try:
            pt = position_thresholds(self.ctx.store.get_profile(self.profile), contract)
            vals = ", ".join(f"{t:.4f}" for t in pt.values)
            now = (
                f"“{self.profile}” ({n} symbols) uses its own threshold on every symbol ({vals}), set by an admin."
                if pt.source == "profile"
                else f"“{self.profile}” ({n} symbols) uses the model's point {pt.key}: thresholds {vals}."
            )
        except StoreError as exc:
            now = str(exc)
        self.passcode_label.setText("\n".join([now, *lines]))

    def refresh_current(self) -> None:
        self.refresh_passcode()
        if self.profile_symbols() > 1:  # the one-symbol default does not apply to a passcode
            prof = self.ctx.store.get_profile(self.profile)
            self.current_label.setText(
                f"“{self.profile}” now uses its own threshold {prof.threshold:.4f} on every symbol."
                if prof.threshold is not None
                else f"“{self.profile}” now uses the model's passcode point (below)."
            )
            return
        try:
            eff = self._effective()
        except Exception as exc:
            self.current_label.setText(str(exc))
            return
        dtxt = "—" if eff.model_default is None else f"{eff.model_default:.4f}"
        if eff.source in ("model default", "no model"):
            self.current_label.setText(f"“{self.profile}” now uses the model's default threshold {dtxt}.")
        else:
            self.current_label.setText(f"“{self.profile}” now uses threshold {eff.value:.4f} (model default {dtxt}).")

    def apply(self) -> None:
        """core.admin_actions.apply_threshold: a looser threshold (or an unsupported FAR) is
        confirmed in words first; the threshold and its audit row in one transaction. The
        passphrase was asked when the dialog opened (core.admin_actions.inspect_profile)."""
        from .admin import confirmation

        if self.data is None or self.threshold is None:
            return
        try:
            apply_threshold(
                self.ctx.store,
                self.profile,
                self.threshold,
                self.data,
                via="app",
                confirm=confirmation(self, "Loosen the lock?", "confirmLooser"),
                embedder=self.ctx.embedder,
                target_far=self.target_far,
            )
        except Declined:
            self.source_label.setText("Not applied: the threshold stays as it was.")
            return
        except (CalibrationError, StoreError, ValueError) as exc:
            QMessageBox.critical(self, "Apply", f"The threshold was not changed: {exc}")
            return
        self.refresh_current()

    def reset(self) -> None:
        try:
            reset_threshold(self.ctx.store, self.profile, via="app")
        except StoreError as exc:
            QMessageBox.critical(self, "Reset", str(exc))
            return
        self.refresh_current()

    def done(self, r) -> None:
        if self.job is not None and self.job.running:
            self.job.cancel()
            self.job.wait(5000)
        if self.capture is not None:
            for sig, slot in ((self.capture.frame, self.on_frame), (self.capture.opened, self._source_opened)):
                try:
                    sig.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        super().done(r)
