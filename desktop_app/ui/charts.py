"""QtCharts views of a calibration: distance histograms, FAR/FRR against threshold with the
EER, and the DET curve. They draw what core ``metrics`` computed; a threshold line moves."""

from __future__ import annotations

import numpy as np
from PySide6.QtCharts import QChart, QChartView, QLineSeries, QLogValueAxis, QScatterSeries, QValueAxis
from PySide6.QtCore import QMargins, QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from desktop_app.core import metrics

GEN = QColor(30, 140, 60)
IMP = QColor(200, 40, 40)
THR = QColor(20, 20, 20)


def _line(name: str, colour: QColor, width: float = 2.0, style=Qt.PenStyle.SolidLine) -> QLineSeries:
    s = QLineSeries()
    s.setName(name)
    pen = QPen(colour)
    pen.setWidthF(width)
    pen.setStyle(style)
    s.setPen(pen)
    return s


def _set_points(series: QLineSeries, xs, ys) -> None:
    series.replace([QPointF(float(x), float(y)) for x, y in zip(xs, ys)])


class _Base(QChartView):
    def __init__(self, title: str, parent=None):
        self.chart_ = QChart()
        self.chart_.setTitle(title)
        self.chart_.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.chart_.setMargins(QMargins(4, 4, 4, 4))
        super().__init__(self.chart_, parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumSize(360, 260)
        self.threshold_series = _line("threshold", THR, 1.5, Qt.PenStyle.DashLine)


class HistogramChart(_Base):
    """Genuine and impostor distance histograms (fraction of each per bin, step outlines)."""

    def __init__(self, parent=None):
        super().__init__("Distance distributions", parent)
        self.gen = _line("genuine", GEN)
        self.imp = _line("impostor", IMP)
        self.ax = QValueAxis()
        self.ax.setTitleText("distance")
        self.ay = QValueAxis()
        self.ay.setTitleText("fraction per bin")
        for s in (self.gen, self.imp, self.threshold_series):
            self.chart_.addSeries(s)
        self.chart_.addAxis(self.ax, Qt.AlignmentFlag.AlignBottom)
        self.chart_.addAxis(self.ay, Qt.AlignmentFlag.AlignLeft)
        for s in (self.gen, self.imp, self.threshold_series):
            s.attachAxis(self.ax)
            s.attachAxis(self.ay)
        self.ymax = 1.0

    @staticmethod
    def _steps(values, edges):
        h, _ = np.histogram(values, bins=edges)
        frac = h / max(1, len(values))
        xs, ys = [edges[0]], [0.0]
        for i, f in enumerate(frac):
            xs += [edges[i], edges[i + 1]]
            ys += [f, f]
        xs.append(edges[-1])
        ys.append(0.0)
        return xs, ys, float(frac.max()) if frac.size else 0.0

    def set_data(self, genuine, impostor, bins: int = 40) -> None:
        lo = float(min(np.min(genuine), np.min(impostor)))
        hi = float(max(np.max(genuine), np.max(impostor)))
        if hi <= lo:
            hi = lo + 1e-3
        edges = np.linspace(lo, hi, bins + 1)
        gx, gy, gm = self._steps(genuine, edges)
        ix, iy, im = self._steps(impostor, edges)
        _set_points(self.gen, gx, gy)
        _set_points(self.imp, ix, iy)
        self.ymax = max(gm, im) * 1.1 or 1.0
        self.ax.setRange(lo, hi)
        self.ax.applyNiceNumbers()
        self.ay.setRange(0.0, self.ymax)
        self.ay.applyNiceNumbers()
        self.ymax = self.ay.max()

    def set_threshold(self, t: float) -> None:
        _set_points(self.threshold_series, [t, t], [0.0, self.ymax])


class RateChart(_Base):
    """FAR and FRR against the threshold, with the EER point."""

    TITLE = "FAR and FRR against threshold"

    def __init__(self, parent=None):
        super().__init__(self.TITLE, parent)
        self.eer_text = ""
        self.far = _line("FAR", IMP)
        self.frr = _line("FRR", GEN)
        self.eer = QScatterSeries()
        self.eer.setName("EER")
        self.eer.setMarkerSize(11)
        self.eer.setColor(QColor(40, 90, 170))
        self.ax = QValueAxis()
        self.ax.setTitleText("threshold (distance)")
        self.ay = QValueAxis()
        self.ay.setTitleText("rate")
        self.ay.setRange(0.0, 1.0)
        for s in (self.far, self.frr, self.eer, self.threshold_series):
            self.chart_.addSeries(s)
        self.chart_.addAxis(self.ax, Qt.AlignmentFlag.AlignBottom)
        self.chart_.addAxis(self.ay, Qt.AlignmentFlag.AlignLeft)
        for s in (self.far, self.frr, self.eer, self.threshold_series):
            s.attachAxis(self.ax)
            s.attachAxis(self.ay)

    def set_data(self, genuine, impostor) -> None:
        det = metrics.det_curve(genuine, impostor, points=300)
        t = det["threshold"]
        _set_points(self.far, t, det["far"])
        _set_points(self.frr, t, det["frr"])
        e, et = metrics.eer(genuine, impostor)
        self.eer.replace([QPointF(et, e)])
        # the figures go under the title: in the legend they were cut ("EER 0.00…") beside
        # FAR, FRR and threshold in a chart a third of the dialog wide
        self.eer_text = f"EER {e * 100:.2f}% at {et:.3f}"
        self.chart_.setTitle(f"{self.TITLE}<br><span style='font-weight:normal'>{self.eer_text}</span>")
        self.ax.setRange(float(t[0]), float(t[-1]) if t[-1] > t[0] else float(t[0]) + 1e-3)
        self.ax.applyNiceNumbers()

    def set_threshold(self, t: float) -> None:
        _set_points(self.threshold_series, [t, t], [0.0, 1.0])


class DetChart(_Base):
    """DET curve: FRR against FAR, both on log scales; the current operating point marked."""

    def __init__(self, parent=None):
        super().__init__("DET curve", parent)
        self.curve = _line("DET", QColor(40, 90, 170))
        self.point = QScatterSeries()
        self.point.setName("chosen threshold")
        self.point.setMarkerSize(11)
        self.point.setColor(THR)
        self.ax = QLogValueAxis()
        self.ax.setTitleText("FAR (false accept rate)")
        self.ax.setLabelFormat("%.0e")
        self.ay = QLogValueAxis()
        self.ay.setTitleText("FRR (false reject rate)")
        self.ay.setLabelFormat("%.0e")
        for s in (self.curve, self.point):
            self.chart_.addSeries(s)
        self.chart_.addAxis(self.ax, Qt.AlignmentFlag.AlignBottom)
        self.chart_.addAxis(self.ay, Qt.AlignmentFlag.AlignLeft)
        for s in (self.curve, self.point):
            s.attachAxis(self.ax)
            s.attachAxis(self.ay)
        self.floor_far = self.floor_frr = 1e-4

    def set_data(self, genuine, impostor) -> None:
        g, i = np.sort(np.asarray(genuine, float)), np.sort(np.asarray(impostor, float))
        # a log axis cannot show 0: rates below one comparison are drawn at half of it
        self.floor_far = 0.5 / i.size
        self.floor_frr = 0.5 / g.size
        cand = np.unique(np.concatenate([g, i]))
        if cand.size > 2000:
            cand = cand[np.linspace(0, cand.size - 1, 2000).astype(int)]
        far, frr = metrics.far_frr(g, i, cand)
        far = np.maximum(far, self.floor_far)
        frr = np.maximum(frr, self.floor_frr)
        _set_points(self.curve, far, frr)
        self.ax.setRange(self.floor_far, 1.0)
        self.ay.setRange(self.floor_frr, 1.0)

    def set_point(self, far: float, frr: float) -> None:
        self.point.replace([QPointF(max(far, self.floor_far), max(frr, self.floor_frr))])

    def set_threshold(self, t: float) -> None:  # the DET shows the point instead
        pass
