"""Small display widgets of the main window: camera view with the ROI, the magnified 28x28
view, the distance-against-threshold bar and the big state banner. They only show."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from desktop_app.core.decision import Decision
from desktop_app.core.verifier import compare_text

from .imaging import to_qimage

GREEN = QColor(30, 150, 60)
RED = QColor(200, 40, 40)
AMBER = QColor(220, 150, 20)
BLUE = QColor(40, 90, 170)
PAPER = QColor(230, 230, 240)  # the outline of the paper the symbol was found on
GREY = QColor(110, 110, 110)


class FrameView(QWidget):
    """The live camera picture, scaled to fit, with the region of interest drawn on it; for a
    passcode card, a box per symbol found, numbered left to right (the card's segmentation).
    The boxes say only what was found, never which symbol matches."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._roi = None  # (x, y, w, h) in frame pixels: where the symbol is looked for
        self._bbox = None  # (x, y, w, h) in frame pixels: the ink found
        self._found = False
        self._paper = None  # [K, 2] frame pixels: the outline of the paper found, if any
        self._boxes: list = []  # a card: each symbol's (x, y, w, h), left to right
        self._message = "No camera"
        self.setMinimumSize(320, 240)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Camera view")

    def sizeHint(self) -> QSize:
        return QSize(640, 480)

    def set_frame(
        self, frame: np.ndarray | None, roi=None, bbox=None, found: bool = False, paper=None, boxes=None
    ) -> None:
        """``paper``: the outline of the card/page found (PreprocessResult.paper), drawn too;
        ``boxes``: a card's symbols (PreprocessResult.boxes), each drawn and numbered from 1,
        left to right (instead of ``bbox``, the card's union)."""
        self._image = None if frame is None else to_qimage(frame)
        self._roi, self._bbox, self._found = roi, bbox, found
        self._boxes = [tuple(b) for b in boxes] if boxes else []
        self._paper = None if paper is None else np.asarray(paper, np.float64).reshape(-1, 2)
        self.update()

    def set_message(self, text: str) -> None:
        """Shown instead of a picture (e.g. 'No camera found')."""
        self._message = text
        self._image = None
        self.update()

    def has_frame(self) -> bool:
        return self._image is not None

    def symbol_boxes(self) -> list:
        """The numbered boxes drawn now, (x, y, w, h) in frame pixels, left to right."""
        return list(self._boxes)

    def _target(self) -> QRectF:
        iw, ih = self._image.width(), self._image.height()
        s = min(self.width() / iw, self.height() / ih)
        w, h = iw * s, ih * s
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(20, 20, 20))
        if self._image is None:
            p.setPen(QColor(230, 230, 230))
            f = p.font()
            f.setPointSize(14)
            p.setFont(f)
            p.drawText(
                self.rect().adjusted(20, 20, -20, -20),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._message,
            )
            return
        target = self._target()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(target, self._image)
        s = target.width() / self._image.width()

        def mapped(r):
            x, y, w, h = r
            return QRectF(target.x() + x * s, target.y() + y * s, w * s, h * s)

        if self._roi is not None:
            pen = QPen(GREEN if self._found else AMBER, 3, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawRect(mapped(self._roi))
        if self._paper is not None and len(self._paper) >= 3:
            p.setPen(QPen(PAPER, 2, Qt.PenStyle.DotLine))
            p.drawPolygon(QPolygonF([QPointF(target.x() + x * s, target.y() + y * s) for x, y in self._paper]))
        if self._boxes:
            f = p.font()
            f.setBold(True)
            f.setPointSize(12)
            p.setFont(f)
            for i, b in enumerate(self._boxes):
                r = mapped(b)
                p.setPen(QPen(BLUE, 2))
                p.drawRect(r)
                tag = QRectF(r.x(), r.y() - 20, 20, 20) if r.y() >= target.y() + 20 else QRectF(r.x(), r.y(), 20, 20)
                p.fillRect(tag, BLUE)
                p.setPen(QColor(255, 255, 255))
                p.drawText(tag, Qt.AlignmentFlag.AlignCenter, str(i + 1))
        elif self._bbox is not None:
            p.setPen(QPen(BLUE, 2))
            p.drawRect(mapped(self._bbox))


class DigitView(QWidget):
    """The 28x28 image the model sees, magnified without smoothing; a card's images side by
    side (``set_images``), each in its own square, left to right."""

    def __init__(self, parent=None, size: int = 168):
        super().__init__(parent)
        self._image: QImage | None = None
        self._images: list[QImage] = []
        self._text = "no symbol"
        self.setFixedSize(size, size)
        self.setAccessibleName("What the model sees (28 x 28)")

    def set_image(self, img: np.ndarray | None, text: str = "") -> None:
        self._images = [] if img is None else [to_qimage(img)]
        self._image = self._images[0] if self._images else None
        self._text = text or "no symbol"
        self.update()

    def set_images(self, imgs, text: str = "") -> None:
        """A card's model images [n, 28, 28], left to right (None: no card, ``text`` instead)."""
        self._images = [] if imgs is None else [to_qimage(a) for a in imgs]
        self._image = self._images[0] if self._images else None
        self._text = text or "no symbol"
        self.update()

    def shown(self) -> int:
        """How many model images are shown (0: the text instead)."""
        return len(self._images)

    def paintEvent(self, event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        images = self._images
        if not images:
            p.setPen(QColor(180, 180, 180))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._text)
        else:
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
            n = len(images)
            side = min(self.width() / n, float(self.height()))
            y = (self.height() - side) / 2
            x0 = (self.width() - side * n) / 2
            for i, im in enumerate(images):
                p.drawImage(QRectF(x0 + i * side, y, side, side), im)
            p.setPen(QPen(GREY, 1))
            for i in range(1, n):
                p.drawLine(int(x0 + i * side), int(y), int(x0 + i * side), int(y + side))
        p.setPen(QPen(GREY, 1))
        p.drawRect(self.rect().adjusted(0, 0, -1, -1))


class DistanceBar(QWidget):
    """Distance of the current frame against the threshold: accepted left of the line."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.distance: float | None = None
        self.threshold: float | None = None
        self.maximum = 2.0
        self.setMinimumHeight(44)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("Distance against threshold")

    def set_values(self, distance: float | None, threshold: float | None, maximum: float | None = None):
        self.distance, self.threshold = distance, threshold
        if maximum:
            self.maximum = float(maximum)
        elif threshold:
            self.maximum = max(self.maximum, 2.0 * float(threshold))
        self.setToolTip(self.text())
        self.update()

    def text(self) -> str:
        if self.distance is not None and self.threshold is not None:
            return compare_text(self.distance, self.threshold)
        t = "—" if self.threshold is None else f"{self.threshold:.3f}"
        d = "—" if self.distance is None else f"{self.distance:.3f}"
        return f"distance {d}  /  threshold {t}"

    def paintEvent(self, event):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(4, 18, -4, -4)
        p.fillRect(r, QColor(235, 235, 235))
        if self.threshold is not None:
            xt = r.left() + r.width() * min(1.0, self.threshold / self.maximum)
            p.fillRect(QRectF(r.left(), r.top(), xt - r.left(), r.height()), QColor(200, 235, 205))
            p.fillRect(QRectF(xt, r.top(), r.right() - xt, r.height()), QColor(245, 210, 210))
        if self.distance is not None:
            xd = r.left() + r.width() * min(1.0, self.distance / self.maximum)
            ok = self.threshold is not None and self.distance <= self.threshold
            p.fillRect(
                QRectF(r.left(), r.top() + r.height() * 0.3, xd - r.left(), r.height() * 0.4), GREEN if ok else RED
            )
        if self.threshold is not None:
            xt = r.left() + r.width() * min(1.0, self.threshold / self.maximum)
            p.setPen(QPen(QColor(0, 0, 0), 2))
            p.drawLine(int(xt), int(r.top()) - 2, int(xt), int(r.bottom()) + 2)
        p.setPen(QColor(40, 40, 40))
        p.drawText(QRectF(self.rect()).adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignLeft, self.text())


# the banner's own states besides the attempt's (core Decision)
NO_CAMERA = "no_camera"
NO_PROFILE = "no_profile"
# state -> (background, foreground)
BANNER_COLOURS = {
    Decision.WAITING: (QColor(60, 60, 60), QColor(255, 255, 255)),
    Decision.NO_SYMBOL: (AMBER, QColor(0, 0, 0)),
    Decision.CHECKING: (BLUE, QColor(255, 255, 255)),
    Decision.GRANTED: (GREEN, QColor(255, 255, 255)),
    Decision.DENIED: (RED, QColor(255, 255, 255)),
    Decision.LOCKED: (QColor(120, 0, 0), QColor(255, 255, 255)),
    NO_CAMERA: (QColor(90, 90, 90), QColor(255, 255, 255)),
    NO_PROFILE: (QColor(90, 90, 90), QColor(255, 255, 255)),
}


class StateBanner(QLabel):
    """One big, unmistakable line: WAITING / NO SYMBOL / CHECKING 2 of 3 / GRANTED / DENIED /
    LOCKED OUT 0:27. Colour and words both carry the state (not colour alone)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.state = ""
        f = QFont(self.font())
        f.setPointSize(26)
        f.setBold(True)
        self.setFont(f)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(84)
        self.setWordWrap(True)
        self.setAccessibleName("Unlock state")
        self.set_state(Decision.WAITING, "WAITING")

    def set_state(self, state: str, text: str, detail: str = "") -> None:
        self.state = state
        bg, fg = BANNER_COLOURS.get(state, BANNER_COLOURS[Decision.WAITING])
        self.setStyleSheet(
            f"QLabel {{ background: {bg.name()}; color: {fg.name()}; border-radius: 6px; padding: 8px; }}"
        )
        html = text if not detail else f"{text}<br><span style='font-size:12pt; font-weight:normal'>{detail}</span>"
        self.setText(html)
        self.setAccessibleDescription(f"{text}. {detail}")
