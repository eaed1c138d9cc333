"""Tools > Test mode: the camera, what the model sees (28×28) and the live distance of each
frame against the profile's threshold (core.test_mode). The main window opens it only for an
admin (core.admin_actions) and never while an attempt runs; nothing here decides or counts."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout

from desktop_app.core.store import StoreError
from desktop_app.core.test_mode import ProfileProbe

from .widgets import DigitView, DistanceBar, FrameView


class TestModeDialog(QDialog):
    __test__ = False  # not a pytest class

    def __init__(self, ctx, profile: str, capture=None, parent=None):
        super().__init__(parent)

        self.setWindowTitle(f"Test mode — {profile}")
        self.capture = capture
        self.readings = []  # every Reading shown, in order (for tests and the count below)
        self.error = ""
        try:
            self.probe = ProfileProbe(ctx.store, ctx.embedder, profile)
        except (ValueError, StoreError) as exc:
            self.probe, self.error = None, str(exc)
        lay = QVBoxLayout(self)
        note = QLabel(
            "Admin test mode: every frame's distance to the enrolled symbol against the threshold. "
            "Nothing here is an unlock attempt; nothing is counted or decided."
        )
        note.setWordWrap(True)
        lay.addWidget(note)
        mid = QHBoxLayout()
        self.frame_view = FrameView()
        mid.addWidget(self.frame_view, 1)
        side = QVBoxLayout()
        side.addWidget(QLabel("What the model sees (28×28):"))
        self.digit_view = DigitView()
        side.addWidget(self.digit_view)
        self.reading_label = QLabel(self.error or "waiting for the camera…")
        self.reading_label.setObjectName("testModeReading")
        self.reading_label.setWordWrap(True)
        self.reading_label.setMinimumWidth(220)
        side.addWidget(self.reading_label)
        side.addStretch(1)
        mid.addLayout(side)
        lay.addLayout(mid, 1)
        self.distance_bar = DistanceBar()
        if self.probe is not None:
            self.distance_bar.set_values(None, self.probe.threshold)
        lay.addWidget(self.distance_bar)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        if capture is not None:
            capture.frame.connect(self.on_frame)

    def on_frame(self, fr, result) -> None:
        self.frame_view.set_frame(fr.image, roi=result.roi, bbox=result.bbox, found=result.ok, paper=result.paper)
        if self.probe is None:
            return
        r = self.probe.measure(result)
        self.readings.append(r)
        self.digit_view.set_image(r.image, "" if r.found else r.reason)
        self.distance_bar.set_values(r.distance, r.threshold)
        self.reading_label.setText(r.text())

    def done(self, r) -> None:
        if self.capture is not None:
            try:
                self.capture.frame.disconnect(self.on_frame)
            except (RuntimeError, TypeError):
                pass
        super().done(r)
