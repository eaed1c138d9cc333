"""Audit log viewer: every attempt and admin action from core ``Store.audit``, filterable by
profile and decision, newest first; a denied attempt's snapshot is shown when one was kept."""

from __future__ import annotations

import datetime as _dt
import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from desktop_app.core.decision import AUDIT_NAMES, Decision
from desktop_app.core.disclosure import redact_audit_entry
from desktop_app.core.store import printable

from .widgets import DigitView

DECISIONS = list(AUDIT_NAMES)  # every name the audit log holds: attempts first, then events
DECISION_COLOURS = {
    Decision.GRANTED: Qt.GlobalColor.darkGreen,
    Decision.DENIED: Qt.GlobalColor.red,
    Decision.ABANDONED: Qt.GlobalColor.red,
    Decision.LOCKED: Qt.GlobalColor.darkRed,
}
COLUMNS = ["time", "profile", "decision", "best distance", "threshold", "frames", "model", "provider", "detail"]
ALL = "(all)"


def format_detail(detail: dict | None) -> str:
    """The reason first, in words, then the other fields as key=value."""
    if not detail:
        return ""
    d = dict(detail)
    head = str(d.pop("reason", "") or "")
    rest = "  ".join(f"{k}={v if not isinstance(v, (dict, list)) else json.dumps(v)}" for k, v in sorted(d.items()))
    return f"{head}  ({rest})" if head and rest else head or rest


class AuditViewer(QDialog):
    def __init__(self, ctx, parent=None, profile: str | None = None, reveal: bool = True):
        """``reveal`` False (no admin): no best distance, frames used or attempt reasons
        (core.disclosure.redact_audit_entry) -- the log tells no one how close a try came."""
        super().__init__(parent)
        self.ctx = ctx
        self.reveal = reveal
        self.entries = []
        self.setWindowTitle("Audit log")
        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Profile:"))
        self.profile = QComboBox()
        self.profile.setObjectName("auditProfile")
        self.profile.addItem(ALL)
        self.profile.addItems(ctx.profile_names())
        if profile:
            i = self.profile.findText(profile)
            if i >= 0:
                self.profile.setCurrentIndex(i)
        row.addWidget(self.profile)
        row.addWidget(QLabel("Decision:"))
        self.decision = QComboBox()
        self.decision.setObjectName("auditDecision")
        self.decision.addItem(ALL)
        self.decision.addItems(DECISIONS)
        row.addWidget(self.decision)
        row.addWidget(QLabel("Show:"))
        self.limit = QSpinBox()
        self.limit.setRange(10, 100000)
        self.limit.setValue(500)
        row.addWidget(self.limit)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        row.addWidget(refresh)
        row.addStretch(1)
        self.count = QLabel("")
        self.count.setObjectName("auditCount")
        row.addWidget(self.count)
        lay.addLayout(row)
        body = QHBoxLayout()
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("auditTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selected)
        body.addWidget(self.table, 1)
        self.snapshot = DigitView(size=140)
        self.snapshot.set_image(None, "no snapshot")
        body.addWidget(self.snapshot, 0, Qt.AlignmentFlag.AlignTop)
        lay.addLayout(body, 1)
        self.profile.currentIndexChanged.connect(self.reload)
        self.decision.currentIndexChanged.connect(self.reload)
        self.resize(1100, 560)
        self.reload()

    def reload(self) -> None:
        prof = self.profile.currentText()
        dec = self.decision.currentText()
        self.entries = self.ctx.store.audit(
            profile=None if prof == ALL else prof, decision=None if dec == ALL else dec, limit=self.limit.value()
        )
        if not self.reveal:
            from types import SimpleNamespace

            self.entries = [SimpleNamespace(**redact_audit_entry(e)) for e in self.entries]
        self.table.setRowCount(len(self.entries))
        for r, e in enumerate(self.entries):
            vals = [
                _dt.datetime.fromtimestamp(e.time).strftime("%Y-%m-%d %H:%M:%S"),
                e.profile or "",
                e.decision,
                "" if e.best_distance is None else f"{e.best_distance:.3f}",
                "" if e.threshold is None else f"{e.threshold:.3f}",
                str(e.frames_used or ""),
                (e.fingerprint or "")[:12],
                e.provider or "",
                format_detail(e.detail),
            ]
            for c, v in enumerate(vals):
                it = QTableWidgetItem(printable(v))  # one line, no control characters (core.store)
                if c == 2:
                    colour = DECISION_COLOURS.get(e.decision)
                    if colour is not None:
                        it.setForeground(colour)
                self.table.setItem(r, c, it)
        self.count.setText(f"{len(self.entries)} entries")

    def _selected(self) -> None:
        rows = {i.row() for i in self.table.selectedItems()}
        if len(rows) != 1:
            return
        e = self.entries[rows.pop()]
        img = self.ctx.store.audit_snapshot(e.id) if e.has_snapshot else None
        self.snapshot.set_image(img, "no snapshot")
