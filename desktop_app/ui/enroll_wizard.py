"""Enrollment wizard: choose or create a profile (and how many symbols its card holds: 1, or
a passcode of 2-4 read left to right) -> capture K good frames (the core preprocessing
quality gate decides what is good; each capture is shown; retake/discard) or import image
files -> consistency of the references and the strength verdict (per symbol and for the
whole passcode) -> save (one core transaction).

A passcode's captures are cards: each gives one reference per symbol. A card with the wrong
number of symbols is refused in enrollment's words (core ``passcode.enrollment_reason``: how
many were found, how to lay the card out)."""

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
from desktop_app.core.passcode import check_supported, enrollment_reason, position_thresholds
from desktop_app.core.preprocess import load_image, prepare_card_image, prepare_image
from desktop_app.core.store import StoreError, validate_profile_name
from desktop_app.core.verifier import resolve_policy
from .imaging import to_pixmap
from .widgets import DigitView, FrameView

DEFAULT_K = 5
NOTICE_S = 4.0  # a refusal stays this long before a camera frame's text may replace it


@dataclass
class Capture:
    image: np.ndarray  # [28,28] uint8 model image (a card: its first symbol's)
    crop: np.ndarray | None  # gray crop of the original
    source: str  # "camera" | file path
    images: np.ndarray | None = None  # a card: [n,28,28] one model image per symbol, left to right
    crops: list | None = None  # a card: each symbol's crop

    @property
    def symbols(self) -> int:
        return 1 if self.images is None else len(self.images)

    def model_images(self) -> np.ndarray:
        """[n,28,28]: one model image per symbol (one symbol: [1,28,28])."""
        return self.image[None] if self.images is None else self.images

    def symbol_crops(self) -> list:
        return [self.crop] if self.images is None else list(self.crops or [None] * len(self.images))


def capture_of(result, source: str) -> Capture:
    """A usable core PreprocessResult (one symbol or a card) -> a Capture (copies)."""
    crop = None if result.crop is None else result.crop.copy()
    if result.images is None:
        return Capture(result.image.copy(), crop, source)
    crops = [None if c is None else c.copy() for c in (result.crops or [None] * len(result.images))]
    return Capture(result.images[0].copy(), crop, source, result.images.copy(), crops)


def read_as(result, symbols: int) -> bool:
    """Whether ``result`` was read as this wizard reads: a card of ``symbols``, or one symbol
    (a frame read before the count changed may still arrive)."""
    return (result.images is None) if symbols == 1 else (result.images is not None and len(result.images) == symbols)


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
        self.symbols_spin = QSpinBox()
        self.symbols_spin.setObjectName("symbolsSpin")
        self.symbols_spin.setRange(1, 4)
        self.symbols_spin.setValue(1)
        self.symbols_spin.setAccessibleName("Symbols on the card")
        self.symbols_help = QLabel(
            "1: one symbol, as always. 2 to 4: a passcode: the symbols side by side on one card, read left "
            "to right; every one must match, in order. Each extra symbol makes a guess far less likely to "
            "get in."
        )
        self.symbols_help.setObjectName("symbolsHelp")
        self.symbols_help.setWordWrap(True)
        self.error = QLabel("")
        self.error.setObjectName("profileError")
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        lay.addWidget(self.new_radio, 0, 0)
        lay.addWidget(self.name_edit, 0, 1)
        lay.addWidget(self.existing_radio, 1, 0)
        lay.addWidget(self.combo, 1, 1)
        lay.addWidget(QLabel("Symbols on the card:"), 2, 0)
        lay.addWidget(self.symbols_spin, 2, 1, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.symbols_help, 3, 0, 1, 2)
        lay.addWidget(self.error, 4, 0, 1, 2)
        lay.setRowStretch(5, 1)
        self.existing_radio.setEnabled(bool(names))
        self.combo.setEnabled(bool(names))
        self.new_radio.setChecked(True)
        if preselect and preselect in names:
            self.combo.setCurrentText(preselect)
        self.name_edit.textChanged.connect(lambda _: self.new_radio.setChecked(True))
        self.combo.activated.connect(lambda _: self.existing_radio.setChecked(True))
        self.new_radio.toggled.connect(lambda _: self.completeChanged.emit())
        self.name_edit.textChanged.connect(lambda _: self.completeChanged.emit())
        # an existing profile keeps its count: shown, not chosen
        self.new_radio.toggled.connect(lambda _: self._sync_symbols())
        self.combo.currentTextChanged.connect(lambda _: self._sync_symbols())
        self._chosen = 1  # the count chosen for a new profile, kept while an existing one is shown
        self.symbols_spin.valueChanged.connect(self._spin_changed)
        self._sync_symbols()

    def _spin_changed(self, v: int) -> None:
        if self.is_new():
            self._chosen = v
        self.error.setText("")

    def _sync_symbols(self) -> None:
        if self.is_new():
            self.symbols_spin.setEnabled(True)
            self.symbols_spin.setValue(self._chosen)
            return
        name = self.combo.currentText()
        n = self.ctx.store.get_profile(name).symbols if name and self.ctx.store.has_profile(name) else 1
        self.symbols_spin.setEnabled(False)
        self.symbols_spin.blockSignals(True)
        self.symbols_spin.setValue(int(n))
        self.symbols_spin.blockSignals(False)

    def symbols(self) -> int:
        """How many symbols the card holds (an existing profile: its own count)."""
        return int(self.symbols_spin.value())

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
        self._sync_symbols()
        try:  # a passcode needs the model's point for its length: refused before any capture
            if self.is_new() or self.symbols() == 1:
                check_supported(self.ctx.embedder.contract, self.symbols())
            else:  # an existing passcode: its own threshold, or the model's point
                position_thresholds(self.ctx.store.get_profile(self.profile()), self.ctx.embedder.contract)
        except StoreError as exc:
            self.error.setText(str(exc))
            return False
        if not self.is_new():
            self.error.setText("")
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
        self.symbols = 1  # the card's count (the profile page's), set when the page opens
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

    def initializePage(self) -> None:
        wiz = self.wizard()
        n = wiz.profile_page.symbols() if wiz is not None else 1
        if n != self.symbols:
            self.items.clear()  # captures of another count cannot be mixed in
            self.list.clear()
        self.symbols = n
        self.capture.set_symbols(n)
        self._latest = None
        card = n > 1
        self.digit.setFixedSize(112 if not card else min(4, n) * 72, 112 if not card else 72)
        self.digit.set_image(None, "no card" if card else "no symbol")
        self.setTitle(f"Capture your card of {n} symbols" if card else "Capture your symbol")
        self.setSubTitle(
            (
                f"Hold the card with your {n} symbols side by side, in one row, inside the dashed box, and press "
                "Capture (Space). Each capture takes every symbol (left to right: one reference each). Or import "
                "images of the card."
            )
            if card
            else "Hold the paper with your symbol in the dashed box and press Capture (Space). "
            "Only frames that pass the quality check are taken. Or import image files."
        )
        self._update()

    def why_not(self, result) -> str:
        """Why a frame cannot be taken, in enrollment's words (a card: how many symbols were
        found, how to lay it out; core passcode.enrollment_reason)."""
        return enrollment_reason(result, self.symbols)

    def on_frame(self, fr, result) -> None:
        if not read_as(result, self.symbols) and result.ok:
            return  # read for another count (the capture switched): not this card
        self._latest = (fr, result)
        card = result.images is not None
        self.view.set_frame(
            fr.image,
            roi=result.roi,
            bbox=result.bbox,
            found=result.ok,
            paper=result.paper,
            boxes=result.boxes if card and result.ok else None,
        )
        if result.ok:
            if card:
                self.digit.set_images(result.images)
            else:
                self.digit.set_image(result.image)
        else:
            self.digit.set_image(None, "no card" if self.symbols > 1 else result.reason)
        if time.monotonic() < self._notice_until:
            return
        if self.isComplete():  # all taken: a frame never invites another capture
            what = "references are" if self.symbols == 1 else "cards are"
            self.gate.setText(
                f"All {self.k_spin.value()} {what} taken: press Next (Enter), or discard one (Del) to retake it."
            )
        elif result.ok:
            self.gate.setText(
                f"Card found, {self.symbols} symbols: press Capture (Space)."
                if self.symbols > 1
                else "Symbol found: press Capture (Space)."
            )
        else:
            self.gate.setText(f"Not usable: {self.why_not(result)}")

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
            self.notice(f"Not taken: {self.why_not(result)}")
            return False
        if not read_as(result, self.symbols):
            return False
        self.add(capture_of(result, "camera"))
        self._latest = None  # the next capture needs a new frame
        self._notice_until = 0.0
        return True

    def add(self, item: Capture) -> None:
        self.items.append(item)
        strip = np.hstack(list(item.model_images()))  # a card: its symbols left to right
        zoom = 3 if item.symbols == 1 else 2
        it = QListWidgetItem(QIcon(to_pixmap(np.kron(strip, np.ones((zoom, zoom), np.uint8)))), f"#{len(self.items)}")
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
        n = self.symbols
        if not paths:
            paths, _ = QFileDialog.getOpenFileNames(
                self,
                f"Images of your card ({n} symbols)" if n > 1 else "Images of your symbol",
                "",
                "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff)",
            )
        errors = []
        for p in paths or []:
            try:
                img = load_image(p)
                res = prepare_card_image(img, n) if n > 1 else prepare_image(img)
            except (ValueError, OSError) as exc:
                errors.append(f"{p}: {exc}")
                continue
            if not res.ok:
                errors.append(f"{p}: {self.why_not(res)}")
                continue
            self.add(capture_of(res, str(p)))
        self.import_errors.setText("Skipped:\n" + "\n".join(errors) if errors else "")
        self.setFocus()  # Space captures next, whatever had the focus

    def _update(self) -> None:
        k = self.k_spin.value()
        n = len(self.items)
        what = "references" if self.symbols == 1 else f"cards ({self.symbols} references each)"
        self.count_label.setText(f"{n} of {k} {what} taken" + ("  ✓" if n >= k else ""))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return len(self.items) >= self.k_spin.value()

    def cleanupPage(self) -> None:
        pass


class SummaryPage(QWizardPage):
    """How consistent the references are and how strong the symbol is. A passcode: per
    symbol (the references of one position, at that position's threshold; the table shows
    the symbol chosen above it) and the strength of each symbol and of the whole card."""

    def __init__(self, ctx):
        super().__init__()
        self.ctx = ctx
        self.embeddings = None  # [N, D] in the order saved (a passcode: card by card, left to right)
        self.report = None  # the consistency report shown (a passcode: the chosen symbol's)
        self.reports: list = []  # a passcode: one consistency report per symbol
        self.thresholds: list = []  # the threshold each symbol is judged at
        self.setTitle("Consistency")
        self.setSubTitle("How far your references are from each other. Save stores them.")
        lay = QVBoxLayout(self)
        self.message = QLabel("")
        self.message.setObjectName("consistencyMessage")
        self.message.setWordWrap(True)
        lay.addWidget(self.message)
        prow = QHBoxLayout()
        self.position_label = QLabel("Distances of symbol:")
        self.position_combo = QComboBox()
        self.position_combo.setObjectName("symbolCombo")
        self.position_combo.currentIndexChanged.connect(self._show_position)
        prow.addWidget(self.position_label)
        prow.addWidget(self.position_combo)
        prow.addStretch(1)
        lay.addLayout(prow)
        self.table = QTableWidget()
        self.table.setObjectName("distanceTable")
        lay.addWidget(self.table, 1)
        from .identify_dialog import StrengthPanel  # symbol strength (core verdict)

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

    def position_thresholds_for(self, profile: str, symbols: int) -> list[float]:
        """Each symbol's threshold (core passcode: the profile's own, else the model's point)."""
        if self.ctx.store.has_profile(profile):
            return list(position_thresholds(self.ctx.store.get_profile(profile), self.ctx.embedder.contract).values)
        return [float(t) for t in check_supported(self.ctx.embedder.contract, symbols)["thresholds"]]

    def initializePage(self) -> None:
        wiz = self.wizard()
        items = wiz.capture_page.items
        n = wiz.capture_page.symbols
        emb = self.ctx.embedder
        images = np.concatenate([c.model_images() for c in items])  # card by card, left to right
        self.embeddings = emb.embed_images(images)
        self.position_combo.blockSignals(True)
        self.position_combo.clear()
        self.position_combo.addItems([f"{i + 1} (from the left)" for i in range(n)])
        self.position_combo.blockSignals(False)
        self.position_label.setVisible(n > 1)
        self.position_combo.setVisible(n > 1)
        if n == 1:
            self.reports = []
            thr = self.threshold_for(wiz.profile_page.profile())
            self.report = consistency(self.embeddings, thr)
            self.thresholds = [thr]
            self.message.setText(self.report.message())
            self.message.setStyleSheet("color: #8a4b00; font-weight: bold" if self.report.outliers else "")
            self._fill_table(items, self.report, thr, 0)
            self.strength.assess(wiz.profile_page.profile(), self.embeddings)
            return
        self.thresholds = self.position_thresholds_for(wiz.profile_page.profile(), n)
        per = self.position_embeddings(n)
        self.reports = [consistency(per[i], self.thresholds[i]) for i in range(n)]
        self.message.setText("\n".join(f"Symbol {i + 1}: {r.message()}" for i, r in enumerate(self.reports)))
        warn = any(r.outliers or r.spread_out for r in self.reports)
        self.message.setStyleSheet("color: #8a4b00; font-weight: bold" if warn else "")
        self._show_position(0)
        self.strength.assess_passcode(wiz.profile_page.profile(), per, n)

    def position_embeddings(self, n: int) -> list[np.ndarray]:
        """One [cards, D] array per symbol, left to right."""
        e = np.asarray(self.embeddings)
        return [e[i::n] for i in range(n)]

    def _show_position(self, i: int) -> None:
        if not self.reports or not 0 <= i < len(self.reports):
            return
        self.report = self.reports[i]
        items = self.wizard().capture_page.items
        self._fill_table(items, self.report, self.thresholds[i], i)

    def _fill_table(self, items, report, thr: float, position: int) -> None:
        self.report = report
        m = len(items)
        self.table.setRowCount(m)
        self.table.setColumnCount(m)
        labels = [f"#{i + 1}" for i in range(m)]
        self.table.setHorizontalHeaderLabels(labels)
        self.table.setVerticalHeaderLabels(labels)
        d = report.distances
        for i in range(m):
            for j in range(m):
                cell = QTableWidgetItem("" if i == j else f"{d[i, j]:.3f}")
                cell.setFlags(Qt.ItemFlag.ItemIsEnabled)
                if i != j and d[i, j] > thr:
                    cell.setBackground(Qt.GlobalColor.yellow)
                self.table.setItem(i, j, cell)
            self.table.verticalHeaderItem(i).setIcon(QIcon(to_pixmap(items[i].model_images()[position])))
        self.table.resizeColumnsToContents()

    def validatePage(self) -> bool:
        return self.wizard().save()


class EnrollWizard(QWizard):
    def __init__(self, ctx, capture, parent=None, preselect: str = ""):
        super().__init__(parent)
        self._frames_disconnected = False  # done() may run twice (accept, then close)
        self._symbols_before = getattr(capture, "symbols", 1)  # how the capture read frames before
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
        n = self.capture_page.symbols
        srcs = {("camera" if c.source == "camera" else "files") for c in items}
        if not self.summary_page.strength.allow_save(self):  # below the policy level, no override
            return False
        try:  # a passcode: card by card, each symbol at its position (left to right)
            self.ctx.store.add_references(
                name,
                np.concatenate([c.model_images() for c in items]),
                [crop for c in items for crop in c.symbol_crops()],
                self.summary_page.embeddings,
                self.ctx.embedder.fingerprint,
                create=self.profile_page.is_new(),
                source="+".join(sorted(srcs)),
                positions=None if n == 1 else [i for _ in items for i in range(n)],
                symbols=None if n == 1 and not self.profile_page.is_new() else n,
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
            if hasattr(self.capture_page.capture, "set_symbols"):
                self.capture_page.capture.set_symbols(self._symbols_before)  # as the window read them
        super().done(result)
