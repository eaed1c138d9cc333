"""Settings: camera and resolution, provider preference, the unlock policy (k / n / time
limit, lockout), data folder, command on grant, and the admin passphrase. Values are
validated by core ``Policy.validate`` / ``passphrase.check_new`` and stored with
``Store.set_setting``."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from desktop_app.core.passphrase import PassphraseError, check_new
from desktop_app.core.policy import POLICY_BOUNDS
from desktop_app.core.settings import DEFAULTS, audit_settings_change, save_settings, set_admin_passphrase, setting
from desktop_app.core import config
from desktop_app.core.verifier import Policy, app_policy

from .camera_dialog import CameraPicker

RESOLUTIONS = [(640, 480), (1280, 720), (1920, 1080), (320, 240)]
PROVIDERS = [("auto", "Automatic (CUDA when usable, else CPU)"), ("cuda", "CUDA (GPU)"), ("cpu", "CPU only")]


def qsettings() -> QSettings:
    return QSettings("twinlock", "twinlock")


def configured_data_folder() -> str | None:
    """The data folder chosen in the settings. It is kept outside the database (which lives
    in it), in core.config's file, so the CLI (``twinlock verify`` behind pam_exec) reads
    the same database as the app. ConfigError (a StoreError) for a damaged config file."""
    f = config.data_folder()
    return str(f) if f else None


class NewPassphraseDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Set the admin passphrase")
        lay = QFormLayout(self)
        self.p1 = QLineEdit()
        self.p1.setObjectName("newPassphrase")
        self.p1.setEchoMode(QLineEdit.EchoMode.Password)
        self.p2 = QLineEdit()
        self.p2.setObjectName("confirmPassphrase")
        self.p2.setEchoMode(QLineEdit.EchoMode.Password)
        lay.addRow("New passphrase:", self.p1)
        lay.addRow("Repeat it:", self.p2)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b00020")
        lay.addRow(self.error)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self._ok)
        bb.rejected.connect(self.reject)
        lay.addRow(bb)

    def _ok(self) -> None:
        if self.p1.text() != self.p2.text():
            self.error.setText("The two entries differ.")
            return
        try:
            check_new(self.p1.text())
        except PassphraseError as exc:
            self.error.setText(str(exc))
            return
        self.accept()


class SettingsDialog(QDialog):
    def __init__(self, ctx, parent=None):
        super().__init__(parent)

        self.ctx = ctx
        self.provider_changed = False
        self.camera_changed = False
        self.passphrase_action = None  # None | ("set", text) | ("remove",)
        st = ctx.store
        self.setWindowTitle("Settings")
        lay = QVBoxLayout(self)
        cols = QHBoxLayout()
        left, right = QVBoxLayout(), QVBoxLayout()
        cols.addLayout(left, 1)
        cols.addLayout(right, 1)
        lay.addLayout(cols)

        cam = QGroupBox("Camera")
        cl = QVBoxLayout(cam)
        stored_camera = setting(st, "camera")
        session = getattr(ctx, "camera_spec", None)  # --video / --camera / File ▸ Choose camera
        # the picker shows the source in use now (a video is never shown as "camera 0")
        self.camera_before = session if session is not None else stored_camera
        self.picker = CameraPicker(self.camera_before)
        cl.addWidget(self.picker)
        if session is not None and session != stored_camera:
            self.session_note = QLabel(
                f"In use now: {session} (chosen for this session). "
                f"At the next start without --video/--camera: {stored_camera}."
            )
        else:
            self.session_note = QLabel("")
        self.session_note.setObjectName("cameraInUse")
        self.session_note.setWordWrap(True)
        cl.addWidget(self.session_note)
        rrow = QHBoxLayout()
        rrow.addWidget(QLabel("Resolution:"))
        self.resolution = QComboBox()
        self.resolution.setObjectName("resolution")
        for w, h in RESOLUTIONS:
            self.resolution.addItem(f"{w} × {h}", [w, h])
        res = setting(st, "resolution") or DEFAULTS["resolution"]
        i = self.resolution.findData(list(res))
        if i < 0:
            self.resolution.addItem(f"{res[0]} × {res[1]}", list(res))
            i = self.resolution.count() - 1
        self.resolution.setCurrentIndex(i)
        self.resolution_before = list(res)
        rrow.addWidget(self.resolution, 1)
        cl.addLayout(rrow)
        left.addWidget(cam)

        mod = QGroupBox("Model")
        ml = QFormLayout(mod)
        self.provider = QComboBox()
        self.provider.setObjectName("provider")
        for key, text in PROVIDERS:
            self.provider.addItem(text, key)
        self.provider_before = setting(st, "provider") or DEFAULTS["provider"]
        self.provider.setCurrentIndex(max(0, self.provider.findData(self.provider_before)))
        ml.addRow("Provider:", self.provider)
        ml.addRow("In use:", QLabel(f"{ctx.model_label()} on {ctx.provider_label()}"))
        left.addWidget(mod)

        data = QGroupBox("Data folder")
        dl = QVBoxLayout(data)
        drow = QHBoxLayout()
        try:
            self.data_before = configured_data_folder() or ""
        except ValueError as exc:  # a damaged config file: say so, offer to fix it
            self.data_before = ""
            self._config_problem = str(exc)
        self.data_edit = QLineEdit(self.data_before)
        self.data_edit.setObjectName("dataFolder")
        self.data_edit.setPlaceholderText(os.environ.get("TWINLOCK_HOME") or "default user data folder")
        drow.addWidget(self.data_edit, 1)
        b = QPushButton("Browse…")
        b.clicked.connect(self._browse_data)
        drow.addWidget(b)
        dl.addLayout(drow)
        note = QLabel(
            f"In use now: {ctx.store.path}\nA new folder takes effect at the next start of the "
            "app and at once for the twinlock command line (the database there is created empty, "
            "or reused). $TWINLOCK_DB, $TWINLOCK_HOME and --db override it."
            + (f"\n{self._config_problem}" if getattr(self, "_config_problem", "") else "")
        )
        note.setWordWrap(True)
        dl.addWidget(note)
        left.addWidget(data)
        left.addStretch(1)

        pol = QGroupBox("Unlock policy (every profile)")
        pl = QFormLayout(pol)
        p = app_policy(st)
        self.k = self._spin("k", p.k, "k")
        self.n = self._spin("n", p.n, "n")
        self.time_limit = self._dspin("time_limit_s", p.time_limit_s, " s", "timeLimit")
        self.max_frames = self._spin("max_frames", p.max_frames, "maxFrames")
        self.k_nearest = self._spin("k_nearest", p.k_nearest, "kNearest")
        self.lockout_after = self._spin("lockout_after", p.lockout_after, "lockoutAfter")
        self.lockout_base = self._dspin("lockout_base_s", p.lockout_base_s, " s", "lockoutBase")
        self.lockout_factor = self._dspin("lockout_factor", p.lockout_factor, "×", "lockoutFactor")
        self.lockout_max = self._dspin("lockout_max_s", p.lockout_max_s, " s", "lockoutMax")
        pl.addRow("Grant when k =", self.k)
        pl.addRow("of the first n frames with a symbol =", self.n)
        pl.addRow("Time limit per attempt:", self.time_limit)
        pl.addRow("Frames per attempt (max):", self.max_frames)
        pl.addRow("Nearest references averaged:", self.k_nearest)
        pl.addRow("Lock out after denials:", self.lockout_after)
        pl.addRow("First lockout:", self.lockout_base)
        pl.addRow("Each further denial multiplies by:", self.lockout_factor)
        pl.addRow("Longest lockout:", self.lockout_max)
        self.snapshots = QCheckBox("Keep a snapshot of denied attempts in the audit log")
        self.snapshots.setChecked(p.save_denied_snapshots)
        pl.addRow(self.snapshots)
        self._policy_rest = {k: v for k, v in p.to_dict().items()}
        right.addWidget(pol)

        grant = QGroupBox("On grant")
        gl = QFormLayout(grant)
        self.command = QLineEdit(setting(st, "command_on_grant") or "")
        self.command.setObjectName("commandOnGrant")
        self.command.setPlaceholderText("optional, e.g. loginctl unlock-session")
        gl.addRow("Run command:", self.command)
        right.addWidget(grant)

        adm = QGroupBox("Admin passphrase")
        al = QHBoxLayout(adm)
        self.pass_status = QLabel()
        self.pass_status.setObjectName("passphraseStatus")
        al.addWidget(self.pass_status, 1)
        self.set_pass = QPushButton("Set…")
        self.set_pass.setObjectName("setPassphrase")
        self.set_pass.clicked.connect(self._set_passphrase)
        self.remove_pass = QPushButton("Remove")
        self.remove_pass.setObjectName("removePassphrase")
        self.remove_pass.clicked.connect(self._remove_passphrase)
        al.addWidget(self.set_pass)
        al.addWidget(self.remove_pass)
        right.addWidget(adm)
        self._update_pass_status()

        self.error = QLabel("")
        self.error.setObjectName("settingsError")
        self.error.setStyleSheet("color: #b00020")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self.save)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self._shown = self.values()  # what the dialog showed: only what the user changed is saved

    def values(self) -> dict:
        """The settings as the dialog shows them now (camera and data folder apart)."""
        return {
            "policy": self.policy_dict(),  # save_denied_snapshots included: one home
            "resolution": self.resolution.currentData(),
            "provider": self.provider.currentData(),
            "command_on_grant": self.command.text().strip(),
        }

    def _spin(self, field, v, name) -> QSpinBox:
        """A spin box for the policy ``field``, its range the core's (policy.POLICY_BOUNDS)."""
        s = QSpinBox()
        s.setRange(*POLICY_BOUNDS[field])
        s.setValue(int(v))
        s.setObjectName(name)
        return s

    def _dspin(self, field, v, suffix, name) -> QDoubleSpinBox:
        s = QDoubleSpinBox()
        s.setRange(*POLICY_BOUNDS[field])
        s.setDecimals(1)
        s.setValue(float(v))
        s.setSuffix(suffix)
        s.setObjectName(name)
        return s

    def _browse_data(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Data folder", self.data_edit.text())
        if d:
            self.data_edit.setText(d)

    def _update_pass_status(self) -> None:
        act = self.passphrase_action
        if act and act[0] == "set":
            txt = "A new passphrase will be set."
        elif act and act[0] == "remove":
            txt = "The passphrase will be removed: anyone can change settings."
        elif self.ctx.admin_required():
            txt = "Set: required to enroll, remove, calibrate, change the model or settings."
        else:
            txt = "Not set: anyone at this computer can change everything."
        self.pass_status.setText(txt)
        self.remove_pass.setEnabled(self.ctx.admin_required() and not (act and act[0] == "remove"))
        self.set_pass.setText("Change…" if self.ctx.admin_required() else "Set…")

    def _set_passphrase(self) -> None:
        d = NewPassphraseDialog(self)
        if d.exec():
            self.passphrase_action = ("set", d.p1.text())
            self._update_pass_status()

    def _remove_passphrase(self) -> None:
        self.passphrase_action = ("remove",)
        self._update_pass_status()

    def policy_dict(self) -> dict:
        d = dict(self._policy_rest)
        d.update(
            k=self.k.value(),
            n=self.n.value(),
            time_limit_s=self.time_limit.value(),
            max_frames=self.max_frames.value(),
            k_nearest=self.k_nearest.value(),
            lockout_after=self.lockout_after.value(),
            lockout_base_s=self.lockout_base.value(),
            lockout_factor=self.lockout_factor.value(),
            lockout_max_s=self.lockout_max.value(),
            save_denied_snapshots=self.snapshots.isChecked(),
        )
        d.pop("threshold", None)  # thresholds are per profile (calibration dialog)
        return d

    def save(self) -> None:
        pol = self.policy_dict()
        try:
            Policy.from_dict(pol).validate()
        except ValueError as exc:
            self.error.setText(f"Not saved: {exc}")
            return
        err = self.picker.error()
        if err:
            self.error.setText(f"Not saved: {err}")
            return
        folder = self.data_edit.text().strip()
        if folder and not Path(folder).is_dir():
            try:
                Path(folder).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.error.setText(f"Not saved: cannot create the data folder {folder}: {exc}")
                return
        st = self.ctx.store
        cam = self.picker.spec()
        res = self.resolution.currentData()
        prov = self.provider.currentData()
        if folder != self.data_before:
            try:
                config.set_data_folder(folder or None)  # first: nothing else is saved if it fails
            except config.ConfigError as exc:
                self.error.setText(f"Not saved: {exc}")
                return

        # only what differs from what the dialog showed: opening Settings to set the passphrase
        # (or pressing OK) writes and audits no settings (the defaults shown were not stored)
        values = {k: v for k, v in self.values().items() if v != self._shown.get(k)}
        if cam != self.camera_before:  # only a camera the user picked here is stored
            values["camera"] = cam
        changed = save_settings(st, values)
        if folder != self.data_before:
            changed["data_folder"] = {"old": self.data_before or None, "new": folder or None}
        audit_settings_change(st, changed, via="app")
        act = self.passphrase_action
        if act and act[0] == "set":
            set_admin_passphrase(st, act[1], via="app")
        elif act and act[0] == "remove":
            set_admin_passphrase(st, None, via="app")
        self.provider_changed = prov != self.provider_before
        self.camera_changed = cam != self.camera_before or list(res) != list(self.resolution_before)
        self.accept()


# --- the profile the app opens on: the one last used with this database (UI state, kept in
# QSettings per database file, never in the database)
def _profile_key(db) -> str:
    import hashlib

    return "last_profile/" + hashlib.sha256(str(Path(db).resolve()).encode("utf-8")).hexdigest()[:16]


def last_profile(db) -> str:
    v = qsettings().value(_profile_key(db), "")
    return v if isinstance(v, str) else ""


def remember_profile(db, name: str) -> None:
    if name:
        qsettings().setValue(_profile_key(db), name)
