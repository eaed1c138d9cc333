"""Tools ▸ Identify…: which common symbol is this? And the enrollment wizard's strength panel.

Both only show what the core decides (desktop_app.core.identify / strength / gallery): the
28x28 model view beside the input, the best gallery matches with their distance and label,
and the verdict in words. Identify works on image files and live on the camera frames the
main window already captures (a few per second are identified).
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.gallery import GalleryError, embedded_gallery, folder_gallery
from desktop_app.core.identify import identify
from desktop_app.core.preprocess import load_image, prepare_image
from desktop_app.core.settings import effective_threshold
from desktop_app.core.store import StoreError
from desktop_app.core.strength import audit_override, passcode_strength_report, strength_report

from .imaging import to_pixmap
from .widgets import DigitView, FrameView

LIVE_RATE_HZ = 5.0
LIVE_OFF = "Live is off: tick “Live from the camera” to identify what the camera shows, or open an image."
LEVEL_STYLE = {
    "weak": "color: #b00020; font-weight: bold",
    "fair": "color: #8a4b00; font-weight: bold",
    "strong": "color: #1b5e20; font-weight: bold",
}


def _big(img28: np.ndarray, k: int = 3) -> np.ndarray:
    return np.kron(np.asarray(img28, np.uint8), np.ones((k, k), np.uint8))


class IdentifyDialog(QDialog):
    GALLERIES = ("MNIST digits (shipped)", "All common symbols (shipped)", "Folder…")

    def __init__(self, ctx, capture=None, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.capture = capture
        self._gallery = None  # (embeddings, labels, kinds, images, description)
        self._folder = None
        self._last_live = 0.0
        self._connected = False
        self.last_result = None  # the latest desktop_app.core.identify.Identification
        self.setWindowTitle("Identify a symbol")
        outer = QVBoxLayout(self)
        top = QHBoxLayout()
        self.gallery_combo = QComboBox()
        self.gallery_combo.setObjectName("identifyGallery")
        self.gallery_combo.addItems(self.GALLERIES)
        self.gallery_combo.activated.connect(self._on_gallery_chosen)
        self.open_button = QPushButton("Open image…")
        self.open_button.setObjectName("identifyOpen")
        self.open_button.clicked.connect(lambda: self.identify_file())
        self.live = QCheckBox("Live from the camera")
        self.live.setObjectName("identifyLive")
        self.live.setEnabled(capture is not None)
        self.live.toggled.connect(self._on_live)
        top.addWidget(QLabel("Compare with:"))
        top.addWidget(self.gallery_combo)
        top.addWidget(self.open_button)
        top.addWidget(self.live)
        top.addStretch(1)
        outer.addLayout(top)
        mid = QHBoxLayout()
        self.view = FrameView()
        self.view.setObjectName("identifyInput")
        self.view.setMinimumSize(320, 240)
        self.view.set_message(LIVE_OFF if capture is not None else "No camera: open an image.")
        self.digit = DigitView()
        self.digit.setObjectName("identifyModelView")
        mid.addWidget(self.view, 2)
        col = QVBoxLayout()
        col.addWidget(QLabel("What the model sees:"))
        col.addWidget(self.digit)
        col.addStretch(1)
        mid.addLayout(col)
        right = QVBoxLayout()
        self.answer = QLabel("Open an image or turn on the camera.")
        self.answer.setObjectName("identifyAnswer")
        self.answer.setWordWrap(True)
        self.answer.setStyleSheet("font-size: 15px; font-weight: bold")
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("identifyMatches")
        self.table.setHorizontalHeaderLabels(["label", "kind", "distance"])
        self.table.setIconSize(_icon_size())
        # the distance column always in view (at 1280x800 it sat behind a scrollbar): the
        # label column takes what is left and elides
        hdr = self.table.horizontalHeader()
        hdr.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hdr.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.gallery_label = QLabel("")
        self.gallery_label.setObjectName("identifyGalleryInfo")
        self.gallery_label.setWordWrap(True)
        right.addWidget(self.answer)
        right.addWidget(self.table, 1)
        right.addWidget(self.gallery_label)
        mid.addLayout(right, 2)
        outer.addLayout(mid, 1)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(self.reject)
        outer.addWidget(bb)
        self.resize(1000, 520)

    # --- gallery ---------------------------------------------------------------------
    def _on_gallery_chosen(self, index: int) -> None:
        if index == 2:
            folder = QFileDialog.getExistingDirectory(self, "A folder with one sub-folder per label")
            if not folder:
                self.gallery_combo.setCurrentIndex(0)
                return
            self.set_gallery_folder(folder)
            return
        self._folder = None
        self._gallery = None

    def set_gallery_folder(self, folder) -> bool:
        try:
            g, skipped = folder_gallery(folder)
        except GalleryError as exc:
            QMessageBox.warning(self, "Identify", str(exc))
            self.gallery_combo.setCurrentIndex(0)
            return False
        eg = embedded_gallery(self.ctx.embedder, g, use_cache=False)
        self._folder = str(folder)
        self._gallery = (
            eg.embeddings,
            g.labels,
            g.kinds,
            g.images,
            f"{len(g):,} images of {folder}"
            + (f" ({len(skipped)} without a usable symbol skipped)" if skipped else ""),
        )
        self.gallery_combo.setCurrentIndex(2)
        return True

    def gallery(self):
        """(embeddings, labels, kinds, images, description) for the current choice."""
        if self._gallery is not None:
            return self._gallery

        eg = embedded_gallery(self.ctx.embedder, db=self.ctx.store.path)
        g = eg.gallery
        m = (g.kinds == "digit") if self.gallery_combo.currentIndex() == 0 else np.ones(len(g), bool)
        what = "MNIST digits" if self.gallery_combo.currentIndex() == 0 else "common symbols"
        self._gallery = (eg.embeddings[m], g.labels[m], g.kinds[m], g.images[m], f"{int(m.sum()):,} shipped {what}")
        return self._gallery

    # --- input -----------------------------------------------------------------------
    def identify_file(self, path=None) -> bool:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Image of a symbol", "", "Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp)"
            )
            if not path:
                return False
        try:
            img = load_image(path)
        except ValueError as exc:
            self._show_none(str(exc))
            return False
        res = prepare_image(img)
        self.view.set_frame(img, roi=res.roi if img.shape[0] != 28 else None, bbox=res.bbox, found=res.ok)
        return self.show_result(res)

    def _on_live(self, on: bool) -> None:
        if self.capture is None or on == self._connected:
            return
        if on:
            self.capture.frame.connect(self.on_frame)
            self.view.set_message("Waiting for the camera…")
        else:
            self.capture.frame.disconnect(self.on_frame)
            self.view.set_message(LIVE_OFF)
        self._connected = on

    def on_frame(self, fr, result) -> None:
        self.view.set_frame(fr.image, roi=result.roi, bbox=result.bbox, found=result.ok, paper=result.paper)
        now = time.monotonic()
        if now - self._last_live < 1.0 / LIVE_RATE_HZ:
            return
        self._last_live = now
        self.show_result(result)

    def show_result(self, res) -> bool:
        if not res.ok:
            self._show_none(res.reason)
            return False
        if self.ctx.embedder is None:
            self._show_none(f"no usable model: {self.ctx.model_error}")
            return False
        emb, labels, kinds, images, desc = self.gallery()
        thr = self.threshold()
        r = identify(self.ctx.embedder.embed_images(res.image), emb, labels, kinds, top=8, threshold=thr)[0]
        self.last_result = r
        self.digit.set_image(res.image)
        text = r.sentence()
        self.answer.setText(text[:1].upper() + text[1:])  # labels as the gallery spells them ("Grantha #01")
        self.gallery_label.setText(f"Gallery: {desc}; model {self.ctx.embedder.contract.short_fingerprint}")
        self.table.setRowCount(len(r.matches))
        for row, m in enumerate(r.matches):
            it = QTableWidgetItem(QIcon(to_pixmap(_big(images[m.index]))), m.label)
            self.table.setItem(row, 0, it)
            self.table.setItem(row, 1, QTableWidgetItem(m.kind))
            self.table.setItem(row, 2, QTableWidgetItem(f"{m.distance:.3f}"))
        return True

    def threshold(self) -> float | None:
        """The distance within which a symbol counts as recognised: the threshold a new
        profile would get (core settings.effective_threshold)."""
        if self.ctx.embedder is None:
            return None
        return effective_threshold(self.ctx.store, None, self.ctx.embedder.contract).value

    def _show_none(self, reason: str) -> None:
        self.last_result = None
        self.digit.set_image(None, reason)
        self.answer.setText(f"No symbol: {reason}")
        self.table.setRowCount(0)

    def done(self, result) -> None:
        self._on_live(False)
        super().done(result)


def _icon_size():
    from PySide6.QtCore import QSize

    return QSize(42, 42)


class StrengthPanel(QWidget):
    """The enrollment wizard's strength verdict: text, the nearest common symbols (images,
    labels, distances), and the admin override when the symbol is below the policy level."""

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.report = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        self.verdict = QLabel("")
        self.verdict.setObjectName("strengthVerdict")
        self.verdict.setWordWrap(True)
        lay.addWidget(self.verdict)
        self.row = QHBoxLayout()
        self.neighbours: list[QLabel] = []
        lay.addLayout(self.row)
        self.override = QCheckBox("Enroll it anyway (admin override; recorded in the audit log)")
        self.override.setObjectName("strengthOverride")
        self.override.setVisible(False)
        lay.addWidget(self.override)

    def assess(self, profile: str, embeddings) -> None:
        for w in self.neighbours:
            w.deleteLater()
        self.neighbours = []
        try:
            self.report = strength_report(self.ctx.store, self.ctx.embedder, profile, embeddings)
        except (GalleryError, ValueError) as exc:
            self.report = None
            self.verdict.setText(f"Symbol strength not checked: {exc}")
            self.verdict.setStyleSheet("")
            self.override.setVisible(False)
            return
        rep = self.report
        # the verdict says how many common symbols come within: once, with the threshold
        text = "Strength \u2014 " + rep.text[0].upper() + rep.text[1:]
        if "common symbols" in rep.text:
            text += f" (threshold {rep.threshold:.3f})."
        else:  # the verdict named a look-alike: the count too
            text += f". {rep.accepted:,} of {rep.gallery_size:,} common symbols lie within the threshold {rep.threshold:.3f}."
        if not rep.allowed:
            text += "\n" + rep.refusal()
        self.verdict.setText(text)
        self.verdict.setStyleSheet(LEVEL_STYLE[rep.level])
        for n in rep.nearest[:6]:
            self._add_neighbour(n, _big(n.image), f"{n.label} ({n.kind}) at distance {n.distance:.3f}")
        self.override.setChecked(False)
        self.override.setVisible(not rep.allowed)

    def assess_passcode(self, profile: str, per_position, symbols: int) -> None:
        """A passcode's verdict (core strength.passcode_strength_report): the whole card's, in
        words, then each symbol's at its own threshold, with the nearest common symbols of
        each; the override as for one symbol when the card is below the policy level."""
        for w in self.neighbours:
            w.deleteLater()
        self.neighbours = []
        try:
            self.report = passcode_strength_report(
                self.ctx.store, self.ctx.embedder, profile, new_embeddings=per_position, symbols=symbols
            )
        except (GalleryError, StoreError, ValueError) as exc:
            self.report = None
            self.verdict.setText(f"Passcode strength not checked: {exc}")
            self.verdict.setStyleSheet("")
            self.override.setVisible(False)
            return
        rep = self.report
        lines = [f"Strength of the whole passcode \u2014 {rep.text[0].upper() + rep.text[1:]}."]
        for i, r in enumerate(rep.positions):
            lines.append(
                f"Symbol {i + 1}: {r.text} ({r.accepted:,} of {r.gallery_size:,} common symbols within its "
                f"threshold {r.threshold:.3f})."
            )
        if not rep.allowed:
            lines.append(rep.refusal())
        self.verdict.setText("\n".join(lines))
        self.verdict.setStyleSheet(LEVEL_STYLE[rep.level])
        for i, r in enumerate(rep.positions):
            tag = QLabel(f"symbol {i + 1}:")
            tag.setObjectName("strengthSymbol")
            self.row.addWidget(tag)
            self.neighbours.append(tag)
            for n in r.nearest[: max(1, 6 // len(rep.positions))]:
                tip = f"symbol {i + 1} is near {n.label} ({n.kind}) at distance {n.distance:.3f}"
                self._add_neighbour(n, _big(n.image, 2), tip)
        self.override.setChecked(False)
        self.override.setVisible(not rep.allowed)

    def _add_neighbour(self, n, image, tooltip: str) -> None:
        """One nearest common symbol under the verdict: its image, its label and distance."""
        lab = QLabel()
        lab.setObjectName("strengthNeighbour")
        lab.setPixmap(to_pixmap(image))
        lab.setToolTip(tooltip)
        cap = QLabel(f"{n.label}\n{n.distance:.2f}")
        cap.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(2, 2, 2, 2)
        v.addWidget(lab)
        v.addWidget(cap)
        self.row.addWidget(box)
        self.neighbours.append(box)

    def allow_save(self, parent=None) -> bool:
        """False (with a message) when the symbol is below the policy level and not overridden."""
        rep = self.report
        if rep is None or rep.allowed or self.override.isChecked():
            return True
        QMessageBox.warning(
            parent or self,
            "Symbol too weak",
            f"{rep.refusal()}\n\n{rep.text[0].upper() + rep.text[1:]}.\n\nNothing was saved.",
        )
        return False

    def record(self, profile: str) -> None:
        """After a save: audit the override, if one was used."""
        rep = self.report
        if rep is not None and not rep.allowed and self.override.isChecked():
            audit_override(self.ctx.store, profile, rep, who="app override", source="enrollment wizard")
