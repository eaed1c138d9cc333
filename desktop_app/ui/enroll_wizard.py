"""Enrollment wizard: choose or create a profile -> capture K good frames (the core
preprocessing quality gate decides what is good; each capture is shown; retake/discard) or
import image files -> consistency of the references -> save (one core transaction)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QIcon, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from desktop_app.core.consistency import consistency
from desktop_app.core.preprocess import load_image, prepare_image
from desktop_app.core.store import StoreError, validate_profile_name
from desktop_app.core.verifier import resolve_policy
from .imaging import to_pixmap
from .widgets import DigitView, FrameView

DEFAULT_K = 5
NOTICE_S = 4.0  # a refusal stays this long before a camera frame's text may replace it


@dataclass
class Capture:
    image: np.ndarray  # [28,28] uint8 model image
    crop: np.ndarray | None  # gray crop of the original
    source: str  # "camera" | file path


class ProfilePage(QWizardPage):
    def __init__(self, ctx, preselect: str = ""):
        super().__init__()
        self.ctx = ctx
        self.setTitle("Profile")
        self.setSubTitle("Create a new profile, or add references to an existing one.")
        lay = QGridLayout(self)
        self.new_radio = QRadioButton("New profile named:")
        self.existing_radio = QRadioButton("Add to the existing profile:")
        g = QButtonGroup(self)
        g.addButton(self.new_radio)
        g.addButton(self.existing_radio)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("profileName")
        self.name_edit.setPlaceholderText("e.g. alice")
        self.combo = QComboBox()
        self.combo.setObjectName("existingProfile")
        names = ctx.profile_names()
        self.combo.addItems(names)
        self.error = QLabel("")
        self.error.setObjectName("profileError")
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        lay.addWidget(self.new_radio, 0, 0)
        lay.addWidget(self.name_edit, 0, 1)
        lay.addWidget(self.existing_radio, 1, 0)
        lay.addWidget(self.combo, 1, 1)
        lay.addWidget(self.error, 2, 0, 1, 2)
        lay.setRowStretch(3, 1)
        self.existing_radio.setEnabled(bool(names))
        self.combo.setEnabled(bool(names))
        self.new_radio.setChecked(True)
        if preselect and preselect in names:
            self.combo.setCurrentText(preselect)
        self.name_edit.textChanged.connect(lambda _: self.new_radio.setChecked(True))
        self.combo.activated.connect(lambda _: self.existing_radio.setChecked(True))
        self.new_radio.toggled.connect(lambda _: self.completeChanged.emit())
        self.name_edit.textChanged.connect(lambda _: self.completeChanged.emit())

    def initializePage(self) -> None:
        # type the name at once (the wizard opens on this page)
        self.name_edit.setFocus()
        # again once the window is up (the wizard moves focus to its buttons when shown);
        # the page is the timer's context, so a closed wizard cancels it
        QTimer.singleShot(0, self, lambda: self.name_edit.setFocus())

    def is_new(self) -> bool:
        return self.new_radio.isChecked()

    def profile(self) -> str:
        return self.name_edit.text().strip() if self.is_new() else self.combo.currentText()

    def isComplete(self) -> bool:
        return bool(self.profile())

    def validatePage(self) -> bool:
        if not self.is_new():
            return bool(self.profile())
        try:
            name = validate_profile_name(self.name_edit.text())
        except StoreError as exc:
            self.error.setText(str(exc))
            return False
        if self.ctx.store.has_profile(name):
            self.error.setText(
                f"A profile named “{name}” already exists. Choose another name, or add to the existing profile."
            )
            return False
        self.name_edit.setText(name)
        self.error.setText("")
        return True


class CapturePage(QWizardPage):
    def __init__(self, ctx, capture):
        super().__init__()
        self.ctx = ctx
        self.capture = capture
        self.items: list[Capture] = []
        self._latest = None  # (Frame, PreprocessResult)
        self._notice_until = 0.0  # a refusal shown until then is not overwritten by frames
        self.setTitle("Capture your symbol")
        self.setSubTitle(
            "Hold the paper with your symbol in the dashed box and press Capture (Space). "
            "Only frames that pass the quality check are taken. Or import image files."
        )
        outer = QHBoxLayout(self)
        left = QVBoxLayout()
        self.view = FrameView()
        self.view.setMinimumSize(400, 300)
        self.view.set_message("No camera. Import image files instead (button on the right).")
        left.addWidget(self.view, 1)
        self.gate = QLabel("")
        self.gate.setObjectName("gateLabel")
        self.gate.setWordWrap(True)
        left.addWidget(self.gate)
        outer.addLayout(left, 1)
        right = QVBoxLayout()
        row = QHBoxLayout()
        self.digit = DigitView(size=112)
        row.addWidget(self.digit)
        btns = QVBoxLayout()
        self.capture_button = QPushButton("Capture  (Space)")
        self.capture_button.setObjectName("captureButton")
        self.capture_button.clicked.connect(self.capture_current)
        btns.addWidget(self.capture_button)
        self.discard_button = QPushButton("Discard selected  (Del)")
        self.discard_button.setObjectName("discardButton")
        self.discard_button.clicked.connect(self.discard_selected)
        btns.addWidget(self.discard_button)
        self.import_button = QPushButton("Import image files…")
        self.import_button.setObjectName("importButton")
        self.import_button.clicked.connect(self.import_files)
        btns.addWidget(self.import_button)
        krow = QHBoxLayout()
        krow.addWidget(QLabel("References to take:"))
        self.k_spin = QSpinBox()
        self.k_spin.setObjectName("kSpin")
        self.k_spin.setRange(1, 30)
        self.k_spin.setValue(DEFAULT_K)
        self.k_spin.valueChanged.connect(lambda _: self._update())
        krow.addWidget(self.k_spin)
        btns.addLayout(krow)
        btns.addStretch(1)
        row.addLayout(btns)
        right.addLayout(row)
        self.count_label = QLabel("")
        self.count_label.setObjectName("countLabel")
        right.addWidget(self.count_label)
        self.list = QListWidget()
        self.list.setObjectName("captureList")
        self.list.setViewMode(QListWidget.ViewMode.IconMode)
        self.list.setIconSize(QSize(84, 84))
        self.list.setMovement(QListWidget.Movement.Static)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.list.setMinimumWidth(330)
        right.addWidget(self.list, 1)
        self.import_errors = QLabel("")
        self.import_errors.setWordWrap(True)
        self.import_errors.setStyleSheet("color: #8a4b00")
        right.addWidget(self.import_errors)
        outer.addLayout(right)
        for b in (self.capture_button, self.discard_button, self.import_button):
            b.setAutoDefault(False)  # Enter is Next, never a click on the last button used
            b.setDefault(False)
            # a click leaves the focus where it was: Space is Capture, never "press the last
            # button clicked" (after Import…, Space reopened the file dialog); Tab still reaches them
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        QShortcut(QKeySequence("Space"), self, self.capture_current)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), self, self.discard_selected)
        for key in ("Return", "Enter"):
            QShortcut(QKeySequence(key), self, self._enter)
        self.capture.frame.connect(self.on_frame)
        self._update()

    def notice(self, text: str) -> None:
        """A refusal or instruction that the next frames must not overwrite at once."""
        self.gate.setText(text)
        self._notice_until = time.monotonic() + NOTICE_S

    def on_frame(self, fr, result) -> None:
        self._latest = (fr, result)
        self.view.set_frame(fr.image, roi=result.roi, bbox=result.bbox, found=result.ok, paper=result.paper)
        if result.ok:
            self.digit.set_image(result.image)
        else:
            self.digit.set_image(None, result.reason)
        if time.monotonic() < self._notice_until:
            return
        if self.isComplete():  # all taken: a frame never invites another capture
            self.gate.setText(
                f"All {self.k_spin.value()} references are taken: press Next (Enter), or discard one (Del) to retake it."
            )
        elif result.ok:
            self.gate.setText("Symbol found: press Capture (Space).")
        else:
            self.gate.setText(f"Not usable: {result.reason}")

    def _enter(self) -> None:
        """Enter: Next when the references are all taken; otherwise say what is missing."""
        if self.isComplete() and self.wizard() is not None:
            self.wizard().next()
        else:
            self.notice(
                f"Take {self.k_spin.value() - len(self.items)} more reference(s) first "
                "(Capture: Space), then Enter goes on."
            )

    def capture_current(self) -> bool:
        if len(self.items) >= self.k_spin.value():
            self.notice(
                f"All {self.k_spin.value()} references are taken: press Next (Enter), or "
                "discard one (Del) to retake it."
            )
            return False
        if self._latest is None:
            self.notice(
                "No camera picture yet. Import image files instead, or choose a camera "
                "in the main window (File ▸ Choose camera or video…)."
            )
            return False
        _fr, result = self._latest
        if not result.ok:
            self.notice(f"Not taken: {result.reason}")
            return False
        self.add(Capture(result.image.copy(), None if result.crop is None else result.crop.copy(), "camera"))
        self._latest = None  # the next capture needs a new frame
        self._notice_until = 0.0
        return True

    def add(self, item: Capture) -> None:
        self.items.append(item)
        it = QListWidgetItem(QIcon(to_pixmap(np.kron(item.image, np.ones((3, 3), np.uint8)))), f"#{len(self.items)}")
        it.setToolTip(item.source)
        self.list.addItem(it)
        self._update()

    def discard_selected(self) -> None:
        rows = sorted({self.list.row(i) for i in self.list.selectedItems()}, reverse=True)
        if not rows and self.items:
            rows = [len(self.items) - 1]  # nothing selected: discard the last one (retake)
        for r in rows:
            self.list.takeItem(r)
            del self.items[r]
        for i in range(self.list.count()):
            self.list.item(i).setText(f"#{i + 1}")
        self._update()

    def import_files(self, paths: list[str] | None = None) -> None:
        if not paths:
            paths, _ = QFileDialog.getOpenFileNames(
                self, "Images of your symbol", "", "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)"
            )
        errors = []
        for p in paths or []:
            try:
                res = prepare_image(load_image(p))
            except (ValueError, OSError) as exc:
                errors.append(f"{p}: {exc}")
                continue
            if not res.ok:
                errors.append(f"{p}: {res.reason}")
                continue
            self.add(Capture(res.image.copy(), None if res.crop is None else res.crop.copy(), str(p)))
        self.import_errors.setText("Skipped:\n" + "\n".join(errors) if errors else "")
        self.setFocus()  # Space captures next, whatever had the focus

    def _update(self) -> None:
        k = self.k_spin.value()
        n = len(self.items)
        self.count_label.setText(f"{n} of {k} references taken" + ("  ✓" if n >= k else ""))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return len(self.items) >= self.k_spin.value()

    def cleanupPage(self) -> None:
        pass


class SummaryPage(QWizardPage):
    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.embeddings = None
        self.report = None
        self.setTitle("Consistency")
        self.setSubTitle("How far your references are from each other. Save stores them.")
        lay = QVBoxLayout(self)
        self.message = QLabel("")
        self.message.setObjectName("consistencyMessage")
        self.message.setWordWrap(True)
        lay.addWidget(self.message)
        self.table = QTableWidget()
        self.table.setObjectName("distanceTable")
        lay.addWidget(self.table, 1)
        from .identify_dialog import StrengthPanel  # issue 13: symbol strength (core verdict)

        self.strength = StrengthPanel(ctx)
        lay.addWidget(self.strength)

    def threshold_for(self, profile: str) -> float:
        emb = self.ctx.embedder
        if self.ctx.store.has_profile(profile):
            try:
                return float(resolve_policy(self.ctx.store, profile, emb).threshold)
            except (StoreError, ValueError):
                pass
        return float(emb.contract.default_threshold)

    def initializePage(self) -> None:
        wiz = self.wizard()
        items = wiz.capture_page.items
        emb = self.ctx.embedder
        images = np.stack([c.image for c in items])
        self.embeddings = emb.embed_images(images)
        thr = self.threshold_for(wiz.profile_page.profile())
        self.report = consistency(self.embeddings, thr)
        self.message.setText(self.report.message())
        self.message.setStyleSheet("color: #8a4b00; font-weight: bold" if self.report.outliers else "")
        m = len(items)
        self.table.setRowCount(m)
        self.table.setColumnCount(m)
        labels = [f"#{i + 1}" for i in range(m)]
        self.table.setHorizontalHeaderLabels(labels)
        self.table.setVerticalHeaderLabels(labels)
        d = self.report.distances
        for i in range(m):
            for j in range(m):
                cell = QTableWidgetItem("" if i == j else f"{d[i, j]:.3f}")
                cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
                if i != j and d[i, j] > thr:
                    cell.setBackground(Qt.GlobalColor.yellow)
                self.table.setItem(i, j, cell)
            self.table.verticalHeaderItem(i).setIcon(QIcon(to_pixmap(items[i].image)))
        self.table.resizeColumnsToContents()
        self.strength.assess(wiz.profile_page.profile(), self.embeddings)

    def validatePage(self) -> bool:
        return self.wizard().save()


class EnrollWizard(QWizard):
    def __init__(self, ctx, capture, parent=None, preselect: str = ""):
        super().__init__(parent)
        self._frames_disconnected = False  # done() may run twice (accept, then close)
        self.ctx = ctx
        self.saved_profile = None
        self.setWindowTitle("Enroll a symbol")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.profile_page = ProfilePage(ctx, preselect)
        self.capture_page = CapturePage(ctx, capture)
        self.summary_page = SummaryPage(ctx)
        self.addPage(self.profile_page)
        self.addPage(self.capture_page)
        self.addPage(self.summary_page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Save")
        self.resize(980, 640)

    def save(self) -> bool:
        items = self.capture_page.items
        name = self.profile_page.profile()
        srcs = {("camera" if c.source == "camera" else "files") for c in items}
        if not self.summary_page.strength.allow_save(self):  # below the policy level, no override
            return False
        try:
            self.ctx.store.add_references(
                name,
                np.stack([c.image for c in items]),
                [c.crop for c in items],
                self.summary_page.embeddings,
                self.ctx.embedder.fingerprint,
                create=self.profile_page.is_new(),
                source="+".join(sorted(srcs)),
            )
        except (StoreError, ValueError) as exc:
            QMessageBox.critical(self, "Could not save", f"Nothing was saved: {exc}")
            return False
        self.summary_page.strength.record(name)  # audits an override
        self.saved_profile = name
        return True

    def done(self, result) -> None:
        if not self._frames_disconnected:
            self._frames_disconnected = True
            try:
                self.capture_page.capture.frame.disconnect(self.capture_page.on_frame)
            except (RuntimeError, TypeError):
                pass
        super().done(result)
