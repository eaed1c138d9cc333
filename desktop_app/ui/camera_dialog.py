"""Choose the frame source: a webcam that was found, or a video file (a fake camera).
Webcams are probed by core ``list_cameras`` in a background thread (bounded time)."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.camera import list_cameras


class _Probe(QObject):
    done = Signal(list)

    def start(self) -> None:
        def work():
            try:
                cams = list_cameras()
            except Exception:
                cams = []
            try:
                self.done.emit(cams)
            except RuntimeError:  # the dialog was closed meanwhile
                pass

        threading.Thread(target=work, daemon=True, name="twinlock-list-cameras").start()


class CameraPicker(QWidget):
    """Radio: webcam (combo of the cameras found) | video file (path + Browse)."""

    def __init__(self, spec=None, parent=None):
        super().__init__(parent)
        lay = QGridLayout(self)
        self.webcam_radio = QRadioButton("Webcam:")
        self.file_radio = QRadioButton("Video file:")
        grp = QButtonGroup(self)
        grp.addButton(self.webcam_radio)
        grp.addButton(self.file_radio)
        self.cam_combo = QComboBox()
        self.cam_combo.setObjectName("cameraCombo")
        self.cam_combo.setMinimumWidth(260)
        self.cam_status = QLabel("Looking for webcams…")
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("videoPath")
        self.path_edit.setPlaceholderText("a video file or a folder of images")
        # typing a path chooses the file option (it was ignored unless its radio was clicked)
        self.path_edit.textEdited.connect(lambda *_: self.file_radio.setChecked(True))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        lay.addWidget(self.webcam_radio, 0, 0)
        lay.addWidget(self.cam_combo, 0, 1)
        lay.addWidget(self.cam_status, 1, 1)
        lay.addWidget(self.file_radio, 2, 0)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        lay.addLayout(row, 2, 1)
        self._initial = spec
        if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
            self.webcam_radio.setChecked(True)
            self.cam_combo.addItem(f"camera {int(spec)}", int(spec))
        else:
            self.file_radio.setChecked(bool(spec))
            self.webcam_radio.setChecked(not spec)
            self.path_edit.setText(str(spec or ""))
        self._probe = _Probe(self)
        self._probe.done.connect(self._cameras_found)
        self._probe.start()

    def _cameras_found(self, cams: list) -> None:
        keep = self.cam_combo.currentData()
        self.cam_combo.clear()
        for c in cams:
            self.cam_combo.addItem(c.description, c.index)
        if not cams:
            self.cam_status.setText("No webcam found. Connect one, or choose a video file.")
            if keep is not None:
                self.cam_combo.addItem(f"camera {keep} (not found)", keep)
        else:
            self.cam_status.setText(f"{len(cams)} webcam(s) found.")
            i = self.cam_combo.findData(keep)
            if i >= 0:
                self.cam_combo.setCurrentIndex(i)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Video or images as a fake camera", "", "Video (*.avi *.mp4 *.mkv *.mov *.webm);;All files (*)"
        )
        if path:
            self.path_edit.setText(path)
            self.file_radio.setChecked(True)

    def spec(self):
        if self.file_radio.isChecked():
            text = self.path_edit.text().strip()
            return text or None
        return self.cam_combo.currentData()

    def error(self) -> str:
        s = self.spec()
        if s is None:
            return (
                "Choose a video file."
                if self.file_radio.isChecked()
                else "No webcam to choose. Connect one, or choose a video file."
            )
        if self.file_radio.isChecked() and not Path(s).exists():
            return f"The file {s} does not exist."
        return ""


class CameraDialog(QDialog):
    def __init__(self, spec=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Camera")
        lay = QVBoxLayout(self)
        self.picker = CameraPicker(spec)
        lay.addWidget(self.picker)
        self.remember_box = QCheckBox("Use this source next time too")
        lay.addWidget(self.remember_box)
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #b00020")
        lay.addWidget(self.error_label)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self._ok)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.spec = spec
        self.remember = False

    def _ok(self) -> None:
        err = self.picker.error()
        if err:
            self.error_label.setText(err)
            return
        self.spec = self.picker.spec()
        self.remember = self.remember_box.isChecked()
        self.accept()
