"""Export-a-new-model dialog: checkpoint (or train one) -> export -> parity -> calibration,
run as ``twinlock`` CLI subprocesses (QProcess) so torch never loads in the app and Cancel
can kill them; their progress arrives as JSON lines (``--progress-jsonl -``), their other
output goes to the log; then the new model's card beside the current one, and "Use this model",
which is core ``settings.switch_model`` (re-embeds every profile, all-or-nothing) in a
background job. Without torch the dialog says how to install the training extra; an
already exported .onnx file can still be chosen."""

from __future__ import annotations

import datetime as _dt
import importlib.util
import json
import re
import sys
from pathlib import Path

from PySide6.QtCore import QProcess, QProcessEnvironment, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
)

from desktop_app.core.paths import REPO_ROOT, mnist_dir
from desktop_app.core.admin_actions import Declined, confirm_model_risk
from desktop_app.core.calibration import CalibrationError
from desktop_app.core.contract import ContractError, read_contract
from desktop_app.core.settings import switch_model
from desktop_app.core.store import Store, StoreError

from .workers import Job


def train_extra_hint() -> str:
    """The install command with this interpreter's own pip (the venv the app runs in), quoted
    for a shell: "/path/.venv/bin/python -m pip install -e '/repo[train]'"."""
    import shlex
    import sys

    if (REPO_ROOT / "pyproject.toml").is_file():  # running from a checkout
        return f"{shlex.quote(sys.executable)} -m pip install -e {shlex.quote(f'{REPO_ROOT}[train]')}"
    return f"{shlex.quote(sys.executable)} -m pip install {shlex.quote('twinlock[train]')}"


TRAIN_EXTRA_HINT = train_extra_hint()
# the steps report progress as JSON lines on stdout (`twinlock train/export --progress-jsonl -`)
PROGRESS_ARGS = ["--progress-jsonl", "-"]


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def model_card_html(contract, title: str) -> str:
    """A short card of a model contract (core ModelContract) as HTML."""
    if contract is None:
        return f"<h3>{title}</h3><p>none</p>"
    c = contract
    rows = []
    for key, op in c.thresholds.items():
        try:
            mark = " (default)" if key == c.default_threshold_key else ""
            rows.append(
                f"<tr><td>{key}{mark}</td><td>{float(op['threshold']):.4f}</td>"
                f"<td>{float(op['far']):.1e}</td><td>{float(op['frr']) * 100:.2f}%</td></tr>"
            )
        except (KeyError, TypeError, ValueError):
            continue
    prov = c.provenance or {}
    ev = prov.get("evaluation") or {}
    extra = "".join(
        f"<li>{k}: {v:.4g}</li>" if isinstance(v, float) else f"<li>{k}: {v}</li>"
        for k, v in list(ev.items())[:6]
        if not isinstance(v, (dict, list))
    )
    return (
        f"<h3>{title}</h3>"
        f"<p><b>{Path(c.path).name}</b><br>fingerprint <code>{c.short_fingerprint}</code><br>"
        f"embedding {c.embedding_dim}-d, {c.metric}{', L2-normalised' if c.normalized else ''}<br>"
        f"trained on: {prov.get('training_data', '—')}<br>"
        f"exported: {prov.get('date', '—')}</p>"
        f"<table border='1' cellspacing='0' cellpadding='3'><tr><th>threshold</th><th>value</th>"
        f"<th>FAR</th><th>FRR</th></tr>{''.join(rows)}</table>" + (f"<ul>{extra}</ul>" if extra else "")
    )


def progress_event(line: str) -> dict | None:
    """The progress report on ``line`` ({"stage", "done", "total", "message"}, as
    ``--progress-jsonl`` writes it), or None for a line of text."""
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        ev = json.loads(text)
    except ValueError:
        return None
    if not isinstance(ev, dict) or not isinstance(ev.get("stage"), str):
        return None
    try:
        done, total = int(ev.get("done", 0)), int(ev.get("total", 0))
    except (TypeError, ValueError):
        return None
    return {"stage": ev["stage"], "done": max(0, done), "total": max(0, total), "message": str(ev.get("message", ""))}


class ExportDialog(QDialog):
    step_finished = Signal(str, bool)  # step name, ok

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.proc: QProcess | None = None
        self.steps: list[tuple[str, list[str]]] = []
        self.new_contract = None
        self.new_path: Path | None = None
        self.switched = False
        self.job: Job | None = None
        self.has_torch = torch_available()
        self.setWindowTitle("Export a new model")
        self._build()
        self._show_current()
        self._mode_changed()

    def _build(self) -> None:
        lay = QVBoxLayout(self)
        src = QGroupBox("Source")
        g = QGridLayout(src)
        self.ckpt_radio = QRadioButton("Export a training checkpoint:")
        self.train_radio = QRadioButton("Train a new model, then export it:")
        self.onnx_radio = QRadioButton("Use an already exported .onnx file:")
        grp = QButtonGroup(self)
        for r in (self.ckpt_radio, self.train_radio, self.onnx_radio):
            grp.addButton(r)
            r.toggled.connect(self._mode_changed)
        self.ckpt_edit = QLineEdit()
        self.ckpt_edit.setObjectName("checkpointPath")
        self.ckpt_edit.setPlaceholderText("runs/…/best.pt")
        b1 = QPushButton("Browse…")
        b1.setObjectName("browseCheckpoint")
        b1.clicked.connect(lambda: self._browse(self.ckpt_edit, "Checkpoint (*.pt)"))
        g.addWidget(self.ckpt_radio, 0, 0)
        g.addWidget(self.ckpt_edit, 0, 1)
        g.addWidget(b1, 0, 2)
        g.addWidget(self.train_radio, 1, 0)
        trow = QHBoxLayout()
        trow.addWidget(QLabel("MNIST folder:"))
        self.data_edit = QLineEdit(str(mnist_dir()))
        self.data_edit.setObjectName("dataDir")
        trow.addWidget(self.data_edit, 1)
        b2 = QPushButton("Browse…")
        b2.setObjectName("browseData")
        b2.clicked.connect(lambda: self._browse_dir(self.data_edit))
        trow.addWidget(b2)
        trow.addWidget(QLabel("epochs:"))
        self.epochs = QSpinBox()
        self.epochs.setObjectName("epochs")
        self.epochs.setRange(1, 100)
        self.epochs.setValue(12)
        trow.addWidget(self.epochs)
        g.addLayout(trow, 1, 1, 1, 2)
        g.addWidget(self.onnx_radio, 2, 0)
        self.onnx_edit = QLineEdit()
        self.onnx_edit.setObjectName("onnxPath")
        b3 = QPushButton("Browse…")
        b3.setObjectName("browseOnnx")
        b3.clicked.connect(lambda: self._browse(self.onnx_edit, "ONNX model (*.onnx)"))
        self._browse_buttons = (b1, b2, b3)
        g.addWidget(self.onnx_edit, 2, 1)
        g.addWidget(b3, 2, 2)
        g.addWidget(QLabel("Write the new model to:"), 3, 0)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        # beside the database: the data folder in use
        self.out_edit = QLineEdit(str(Path(self.ctx.store.path).parent / "models" / f"twinlock-{stamp}.onnx"))
        self.out_edit.setObjectName("outputPath")
        g.addWidget(self.out_edit, 3, 1, 1, 2)
        self.torch_label = QLabel("")
        self.torch_label.setObjectName("torchHint")
        self.torch_label.setWordWrap(True)
        self.torch_label.setStyleSheet("color: #8a4b00; font-weight: bold")
        g.addWidget(self.torch_label, 4, 0, 1, 3)
        lay.addWidget(src)
        if self.has_torch:
            self.ckpt_radio.setChecked(True)
        else:
            self.torch_label.setText(
                "Training and exporting need PyTorch, which is not installed. Install "
                f"the training extra with:  {TRAIN_EXTRA_HINT}   — or choose an "
                "already exported .onnx file."
            )
            self.ckpt_radio.setEnabled(False)
            self.train_radio.setEnabled(False)
            self.onnx_radio.setChecked(True)

        run = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("startExport")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelExport")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.stage_label = QLabel("")
        self.stage_label.setObjectName("stageLabel")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        run.addWidget(self.start_button)
        run.addWidget(self.cancel_button)
        run.addWidget(self.stage_label)
        run.addWidget(self.progress, 1)
        lay.addLayout(run)
        self.log = QPlainTextEdit()
        self.log.setObjectName("exportLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setFixedHeight(130)
        lay.addWidget(self.log)

        cards = QHBoxLayout()
        self.current_card = QTextBrowser()
        self.current_card.setObjectName("currentCard")
        self.new_card = QTextBrowser()
        self.new_card.setObjectName("newCard")
        self.new_card.setHtml("<h3>New model</h3><p>Not made yet.</p>")
        cards.addWidget(self.current_card)
        cards.addWidget(self.new_card)
        lay.addLayout(cards, 1)
        brow = QHBoxLayout()
        self.result_label = QLabel("")
        self.result_label.setObjectName("resultLabel")
        self.result_label.setWordWrap(True)
        brow.addWidget(self.result_label, 1)
        self.use_button = QPushButton("Use this model")
        self.use_button.setObjectName("useModel")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self.use_model)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        brow.addWidget(self.use_button)
        brow.addWidget(close)
        lay.addLayout(brow)
        self.resize(1000, 700)

    def _browse(self, edit, filt) -> None:
        p, _ = QFileDialog.getOpenFileName(self, "Choose a file", edit.text(), filt)
        if p:
            edit.setText(p)

    def _browse_dir(self, edit) -> None:
        d = QFileDialog.getExistingDirectory(self, "Folder", edit.text())
        if d:
            edit.setText(d)

    def _mode_changed(self) -> None:
        self.ckpt_edit.setEnabled(self.ckpt_radio.isChecked())
        for w in (self.data_edit, self.epochs):
            w.setEnabled(self.train_radio.isChecked())
        self.onnx_edit.setEnabled(self.onnx_radio.isChecked())
        b_ckpt, b_data, b_onnx = getattr(self, "_browse_buttons", (None, None, None))
        for b, radio in ((b_ckpt, self.ckpt_radio), (b_data, self.train_radio), (b_onnx, self.onnx_radio)):
            if b is not None:  # a disabled option's Browse… is disabled with it
                b.setEnabled(radio.isChecked())
        self.out_edit.setEnabled(not self.onnx_radio.isChecked())

    def _show_current(self) -> None:
        emb = self.ctx.embedder
        self.current_card.setHtml(model_card_html(None if emb is None else emb.contract, "Current model"))

    # --- the pipeline -------------------------------------------------------------------
    def plan(self) -> list[tuple[str, list[str]]] | str:
        """The CLI steps to run, or a message saying what is missing."""
        out = self.out_edit.text().strip()
        if self.onnx_radio.isChecked():
            return []
        if not self.has_torch:
            return f"PyTorch is not installed. Install the training extra with: {TRAIN_EXTRA_HINT}"
        if not out:
            return "Choose where to write the new model."
        if self.ckpt_radio.isChecked():
            ckpt = self.ckpt_edit.text().strip()
            if not ckpt or not Path(ckpt).is_file():
                return (
                    f"The checkpoint {ckpt or '(none)'} does not exist. Choose a .pt file written by 'twinlock train'."
                )
            return [("export, parity check and calibration", ["export", ckpt, "-o", out, *PROGRESS_ARGS])]
        data = self.data_edit.text().strip()
        run_dir = str(Path(out).with_suffix("")) + "-run"
        return [
            (
                "training",
                ["train", "--data-dir", data, "--epochs", str(self.epochs.value()), "--out", run_dir, *PROGRESS_ARGS],
            ),
            (
                "export, parity check and calibration",
                ["export", str(Path(run_dir) / "best.pt"), "-o", out, "--data-dir", data, *PROGRESS_ARGS],
            ),
        ]

    def start(self) -> None:
        plan = self.plan()
        if isinstance(plan, str):
            self.result_label.setText(plan)
            return
        self.new_contract = None
        self.use_button.setEnabled(False)
        self.new_card.setHtml("<h3>New model</h3><p>Working…</p>")
        if not plan:  # an existing .onnx: just read its contract
            text = self.onnx_edit.text().strip()
            if not text:  # Path("") is ".", "a folder": say what is missing instead
                self.new_card.setHtml("<h3>New model</h3><p>Not chosen.</p>")
                self.result_label.setText("Choose the .onnx model file to use (Browse…), then Start.")
                return
            self._load_new(Path(text))
            return
        Path(self.out_edit.text().strip()).parent.mkdir(parents=True, exist_ok=True)
        self.steps = list(plan)
        self.log.clear()
        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._next_step()

    def _next_step(self) -> None:
        if not self.steps:
            self.cancel_button.setEnabled(False)
            self.start_button.setEnabled(True)
            self.progress.setRange(0, 100)
            self.progress.setValue(100)
            self._load_new(Path(self.out_edit.text().strip()))
            return
        name, args = self.steps.pop(0)
        self.stage_label.setText(name + "…")
        self.progress.setRange(0, 0)  # busy until the step reports its progress
        self.log.appendPlainText(f"$ twinlock {' '.join(args)}")
        p = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        p.setProcessEnvironment(env)
        p.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        p.readyReadStandardOutput.connect(self._read_output)
        p.finished.connect(lambda code, status, name=name: self._step_done(name, code, status))
        p.errorOccurred.connect(lambda err, name=name: self._step_error(name, err))
        self.proc = p
        self._buffer = ""
        p.start(sys.executable, ["-m", "desktop_app.cli.main", *args])

    def _read_output(self) -> None:
        if self.proc is None:
            return
        text = bytes(self.proc.readAllStandardOutput()).decode("utf-8", "replace")
        self._buffer += text
        parts = re.split(r"[\r\n]", self._buffer)
        self._buffer = parts.pop()
        for line in parts:
            self.handle_line(line)

    def handle_line(self, line: str) -> None:
        """One line of a step's output: a progress report (a JSON line) moves the progress bar
        and names the stage; other lines go to the log."""
        if not line.strip():
            return
        ev = progress_event(line)
        if ev is None:
            self.log.appendPlainText(line)
            return
        label = ev["stage"] + (f": {ev['message']}" if ev["message"] else "")
        if ev["total"] > 0 and not ev["message"]:
            label += f" {ev['done']:,}/{ev['total']:,}"
        self.stage_label.setText(label if len(label) <= 80 else label[:79] + "…")
        if ev["total"] > 0:
            self.progress.setRange(0, ev["total"])
            self.progress.setValue(min(ev["done"], ev["total"]))
        else:  # a step without a count: busy
            self.progress.setRange(0, 0)

    def _step_done(self, name: str, code: int, status) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            self._read_output_from(proc)
            proc.deleteLater()
        if status != QProcess.ExitStatus.NormalExit or code != 0:
            self.steps = []
            self.progress.setRange(0, 100)
            self.progress.setValue(0)
            self.start_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            if getattr(self, "_cancelled", False):
                self._cancelled = False
                self.stage_label.setText("cancelled")
                self.result_label.setText(
                    "Cancelled. Nothing was written at the destination; the current model stays in use."
                )
            else:
                self.stage_label.setText(f"{name} failed")
                self.result_label.setText(
                    f"The {name} step failed (exit status {code}); see the log above. The current model stays in use."
                )
            self.new_card.setHtml("<h3>New model</h3><p>Not made.</p>")
            self.step_finished.emit(name, False)
            return
        self.log.appendPlainText(f"✓ {name}")
        self.step_finished.emit(name, True)
        self._next_step()

    def _read_output_from(self, proc) -> None:
        rest = bytes(proc.readAllStandardOutput()).decode("utf-8", "replace")
        for line in re.split(r"[\r\n]", self._buffer + rest):
            self.handle_line(line)
        self._buffer = ""

    def _step_error(self, name: str, err) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self.result_label.setText(f"Could not start the {name} step ({sys.executable}).")
            self.start_button.setEnabled(True)
            self.cancel_button.setEnabled(False)
            self.proc = None

    def cancel(self) -> None:
        if self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning:
            self._cancelled = True
            self.steps = []
            self.proc.kill()
        if self.job is not None and self.job.running:
            self.job.cancel()

    def _load_new(self, path: Path) -> None:
        try:
            c = read_contract(path)
        except ContractError as exc:
            self.new_card.setHtml("<h3>New model</h3><p>Not usable.</p>")
            self.result_label.setText(str(exc))
            return
        self.new_contract, self.new_path = c, path
        self.new_card.setHtml(model_card_html(c, "New model"))
        same = self.ctx.embedder is not None and c.fingerprint == self.ctx.embedder.fingerprint
        self.stage_label.setText("ready")
        self.result_label.setText(
            "This is the model already in use."
            if same
            else "The new model is ready. “Use this model” re-embeds every profile and switches."
        )
        self.use_button.setEnabled(not same)

    # --- switching ------------------------------------------------------------------------
    def confirm_risk(self) -> bool | None:
        """Ask before using a model whose default operating point is looser than FAR 1e-3 or
        not supported by its counts (core admin_actions.confirm_model_risk, which `twinlock
        model use` asks too). None: no confirmation needed; True/False: the answer."""
        from .admin import confirmation

        try:
            asked = confirm_model_risk(
                self.new_contract, confirmation(self, "Use a model that lets more in?", "confirmModelRisk")
            )
        except Declined:
            return False
        return True if asked else None

    def use_model(self) -> None:
        if self.new_path is None or self.new_contract is None:
            return
        confirmed = self.confirm_risk()
        if confirmed is False:
            self.result_label.setText("Not switched: the current model stays in use.")
            return
        db, path = self.ctx.store.path, self.new_path

        def fn(progress):
            with Store(db) as st:
                return switch_model(st, path, progress=progress, risk_confirmed=bool(confirmed))

        self.job = Job(fn, user_errors=(ContractError, StoreError, CalibrationError, ValueError, OSError), parent=self)
        self.job.progress.connect(lambda d, t: (self.progress.setRange(0, max(1, t)), self.progress.setValue(d)))
        self.job.done.connect(self._switched)
        self.job.failed.connect(
            lambda m: self.result_label.setText(f"Not switched; the current model stays in use. {m}")
        )
        self.job.cancelled.connect(lambda: self.result_label.setText("Not switched (cancelled)."))
        self.job.finished.connect(
            lambda: (self.use_button.setEnabled(not self.switched), self.cancel_button.setEnabled(False))
        )
        self.use_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.stage_label.setText("re-embedding profiles…")
        self.job.start()

    def _switched(self, embedder) -> None:
        self.ctx.set_embedder(embedder)
        self.ctx.model_override = None  # the switch is persisted; --model no longer applies
        self.switched = True
        self.stage_label.setText("switched")
        self.result_label.setText(f"Now using {Path(embedder.path).name}; every profile was re-embedded.")
        self._show_current()

    def done(self, r) -> None:
        if self.proc is not None and self.proc.state() != QProcess.ProcessState.NotRunning:
            self._cancelled = True
            self.proc.kill()
            self.proc.waitForFinished(3000)
        if self.job is not None and self.job.running:
            self.job.wait(30000)  # re-embedding is all-or-nothing: let it end cleanly
        super().done(r)
