"""The main window: live camera view, what the model sees, the unlock state banner, and the
menus that open every other screen.

Every decision (match, policy, lockout, time limit) is the core Verifier's; this window
feeds it frames, shows the AttemptState it returns, and asks for the next attempt. During an
attempt it says only whether a symbol was found and, at the end, the outcome (the words of
core.disclosure): no distance, no count of matching frames -- someone at the window cannot
redraw toward the line. The distances are in the admin's test mode (Tools > Test mode).

A passcode profile's frames are read as a card (the capture reads each frame for the
profile's count): the camera view draws a numbered box per symbol found, left to right, and
"what the model sees" shows each symbol's 28×28 image -- what was found, never which
position matches or fails.
"""

from __future__ import annotations

import shlex
import time

from PySide6.QtCore import QProcess, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.decision import VERDICTS, AuditEvent, Decision
from desktop_app.core.settings import DEFAULTS, setting
from desktop_app.core.admin_actions import (
    ActionRefused,
    Declined,
    LockedOutError,
    export_profile,
    import_profile,
    inspect_profile,
    remove_profile,
)
from desktop_app.core.camera import open_source
from desktop_app.core.disclosure import public_reason
from desktop_app.core.store import ProfileExists, StoreError
from desktop_app.core.verifier import Verifier, attempt_time_left, resolve_policy

from .admin import require_admin
from .capture import Capture
from .widgets import NO_CAMERA, NO_PROFILE, DigitView, FrameView, StateBanner

SHOW_FINAL_S = 4.0  # how long GRANTED / DENIED stay before READY comes back


def fmt_countdown(seconds: float) -> str:
    s = max(0, int(seconds + 0.999))
    return f"{s // 60}:{s % 60:02d}"


def attempts_left_text(left) -> str:
    """ "2 attempts left before a lockout" (core Policy.attempts_left), "" when denials never lock."""
    if left is None:
        return ""
    if left <= 0:
        return "locked out"
    return f"{left} attempt{'s' if left != 1 else ''} left before a lockout"


def describe_state(st, profile: str) -> tuple[str, str, str]:
    """(banner state, big text, detail) for a core AttemptState, in the words anyone at the
    window may see (core.disclosure.public_reason): whether a symbol was found, the outcome,
    the time and tries left -- never a distance or how many frames matched."""
    s = st.state
    left = attempts_left_text(getattr(st, "attempts_left", None))
    if s == Decision.LOCKED:
        return (
            Decision.LOCKED,
            f"LOCKED OUT {fmt_countdown(st.lockout_remaining_s)}",
            "Too many failed attempts. Wait for the countdown.",
        )
    if s == Decision.GRANTED:
        return (Decision.GRANTED, f"GRANTED — {profile}", public_reason(st))
    if s == Decision.DENIED:
        parts = [public_reason(st)]
        if left and st.lockout_remaining_s <= 0:
            parts.append(left)
        return (Decision.DENIED, "DENIED", " · ".join(parts))
    if s == Decision.CANCELLED:
        return (Decision.WAITING, "CANCELLED", "Press Space to try again.")
    card = getattr(st, "symbols", 1) > 1  # a passcode: the card, never how many symbols it has
    if s == Decision.NO_SYMBOL:
        big = ("NO CARD SEEN" if st.final else "NO CARD") if card else ("NO SYMBOL SEEN" if st.final else "NO SYMBOL")
        return (
            Decision.NO_SYMBOL,
            big,
            (st.reason or f"Hold the paper with your {'card' if card else 'symbol'} inside the box.")
            + ("" if st.final else f" · {st.time_left_s:.0f} s left"),
        )
    if s == Decision.CHECKING:
        return (Decision.CHECKING, "CHECKING", f"{public_reason(st)} · {st.time_left_s:.0f} s left")
    if s == Decision.ABANDONED:
        return (Decision.DENIED, "NOT FINISHED", public_reason(st))
    return (
        Decision.CHECKING,
        "SHOW YOUR CARD" if card else "SHOW YOUR SYMBOL",
        f"inside the dashed box · {st.time_left_s:.0f} s left" + (f" · {left}" if left else ""),
    )


class MainWindow(QMainWindow):
    attempt_finished = Signal(object)  # the final core AttemptState
    state_shown = Signal(str)  # banner state, for tests and accessibility

    def __init__(self, ctx, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.verifier = None
        self.verifier_profile = None
        self.attempt_active = False
        self.last_state = None
        self._final_shown_at = 0.0
        self._last_result = None
        self._grant_process: QProcess | None = None
        self.camera_error = ""  # why there is no camera picture, "" when fine
        # a video file plays at its own frame rate; False reads it as fast as this window
        # takes the frames (every frame processed: the soak test and benchmarks/bench_soak.py)
        self.video_realtime = True
        self.setWindowTitle("twinlock")
        self.capture = Capture(self)
        self.capture.frame.connect(self.on_frame)
        self.capture.opened.connect(self.on_camera_opened)
        self.capture.failed.connect(self.on_camera_failed)
        self.capture.ended.connect(self.on_camera_ended)
        self.capture.fps.connect(self.on_fps)
        self._build()
        self._build_menus()
        self.timer = QTimer(self)
        self.timer.setInterval(200)
        self.timer.timeout.connect(self.on_tick)
        self.timer.start()
        from .settings_dialog import last_profile

        self.refresh_profiles(select=last_profile(self.ctx.store.path))  # the one last used
        self.refresh_status()
        self.show_ready()
        self.refresh_hint()

    # --- first-run hint ------------------------------------------------------------------
    def hint_steps(self) -> list[tuple[str, bool]]:
        st = self.ctx.store
        enrolled = bool(self.ctx.profile_names())
        tested = bool(st.audit(decision=tuple(VERDICTS), limit=1))
        calibrated = bool(st.audit(decision=(AuditEvent.THRESHOLD_SET, AuditEvent.THRESHOLD_RESET), limit=1))
        return [
            ("enroll your symbol (Profile ▸ Enroll…, Ctrl+E)", enrolled),
            ("test an unlock (Space, then show it)", tested),
            ("calibrate the threshold on your own captures (Tools ▸ Calibrate threshold…, Ctrl+T)", calibrated),
        ]

    def refresh_hint(self) -> None:
        if setting(self.ctx.store, "first_run_hint_dismissed"):
            self._hint_steps = None
            self.hint_box.setVisible(False)
            return
        steps = self.hint_steps()
        self._hint_steps = steps
        if all(done for _, done in steps):
            self.hint_box.setVisible(False)
            return
        parts = [
            f"{'✓' if done else str(i + 1) + '.'} {'<s>' + text + '</s>' if done else text}"
            for i, (text, done) in enumerate(steps)
        ]
        self.hint_label.setText(
            "<b>Getting started:</b> " + "  →  ".join(parts) + "  ·  Help ▸ Guide (F1) explains each window."
        )
        self.hint_box.setVisible(True)

    def dismiss_hint(self) -> None:
        self.ctx.store.set_setting("first_run_hint_dismissed", True)
        self.refresh_hint()

    def show_hint_again(self) -> None:
        self.ctx.store.set_setting("first_run_hint_dismissed", False)
        self.refresh_hint()

    def open_guide(self) -> None:
        from .guide import GuideDialog

        GuideDialog(self).exec()

    # --- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        top = QHBoxLayout()
        top.addWidget(QLabel("Profile:"))
        self.profile_combo = QComboBox()
        self.profile_combo.setObjectName("profileCombo")
        self.profile_combo.setMinimumWidth(180)
        self.profile_combo.setAccessibleName("Profile to unlock")
        self.profile_combo.currentTextChanged.connect(self.on_profile_changed)
        top.addWidget(self.profile_combo)
        self.start_button = QPushButton("Unlock  (Space)")
        self.start_button.setObjectName("startButton")
        self.start_button.clicked.connect(lambda *_: self.start_attempt())
        self.start_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        top.addWidget(self.start_button)
        self.cancel_button = QPushButton("Cancel  (Esc)")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.clicked.connect(lambda *_: self.cancel_attempt())
        self.cancel_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        top.addWidget(self.cancel_button)
        top.addStretch(1)
        outer.addLayout(top)

        self.banner = StateBanner()
        outer.addWidget(self.banner)

        # first run: the three steps, ticked off as they are done, until dismissed
        self.hint_box = QWidget()
        self.hint_box.setObjectName("firstRunHint")
        hl = QHBoxLayout(self.hint_box)
        hl.setContentsMargins(8, 2, 8, 2)
        self.hint_label = QLabel("")
        self.hint_label.setObjectName("firstRunHintText")
        self.hint_label.setWordWrap(True)
        hl.addWidget(self.hint_label, 1)
        self.hint_close = QPushButton("Don't show again")
        self.hint_close.setObjectName("firstRunHintClose")
        self.hint_close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hint_close.clicked.connect(lambda *_: self.dismiss_hint())
        hl.addWidget(self.hint_close)
        self.hint_box.setStyleSheet("#firstRunHint { background: #e8f0fb; border-radius: 4px; }")
        self._hint_steps = None
        outer.addWidget(self.hint_box)

        mid = QHBoxLayout()
        self.frame_view = FrameView()
        mid.addWidget(self.frame_view, 1)
        side = QVBoxLayout()
        self.model_view_label = QLabel("What the model sees (28×28):")
        side.addWidget(self.model_view_label)
        self.digit_view = DigitView()
        side.addWidget(self.digit_view, 0, Qt.AlignmentFlag.AlignHCenter)
        self.quality_label = QLabel("")
        self.quality_label.setWordWrap(True)
        self.quality_label.setObjectName("qualityLabel")
        self.quality_label.setMinimumWidth(220)
        side.addWidget(self.quality_label)
        grid = QGridLayout()
        grid.addWidget(QLabel("Time left:"), 0, 0)
        self.time_bar = QProgressBar()
        self.time_bar.setFormat("%v s")
        self.time_bar.setRange(0, 10)
        self.time_bar.setValue(0)
        grid.addWidget(self.time_bar, 0, 1)
        side.addLayout(grid)
        side.addStretch(1)
        sidew = QWidget()
        sidew.setLayout(side)
        sidew.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        mid.addWidget(sidew)
        outer.addLayout(mid, 1)
        self.setCentralWidget(central)

        sb = self.statusBar()
        self.model_status = QLabel()
        self.provider_status = QLabel()
        self.camera_status = QLabel("camera: none")
        self.fps_status = QLabel("— fps")
        for w in (self.model_status, self.provider_status, self.camera_status, self.fps_status):
            w.setContentsMargins(6, 0, 6, 0)
            sb.addPermanentWidget(w)

    def _action(self, menu, text, slot, shortcut=None, name=None) -> QAction:
        a = QAction(text, self)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut) if isinstance(shortcut, str) else shortcut)
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.triggered.connect(lambda *_: slot())  # not the 'checked' argument
        if name:
            a.setObjectName(name)
        if menu is not None:
            menu.addAction(a)
        else:
            self.addAction(a)
        return a

    def _build_menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "Choose &camera or video…", self.choose_camera, "Ctrl+K", "actionCamera")
        self._action(f, "&Restart camera", self.restart_camera, "F5")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        p = mb.addMenu("&Profile")
        self.act_start = self._action(p, "&Unlock attempt", self.start_attempt, "Space", "actionUnlock")
        self.act_start.setShortcuts([QKeySequence("Space"), QKeySequence("Return"), QKeySequence("Enter")])
        self.act_cancel = self._action(p, "&Cancel attempt", self.cancel_attempt, "Escape", "actionCancel")
        p.addSeparator()
        self._action(p, "&Enroll…", self.open_enrollment, "Ctrl+E", "actionEnroll")
        self._action(p, "&Remove profile…", self.remove_profile, None, "actionRemove")
        self._action(p, "E&xport profile…", self.export_profile, None, "actionExportProfile")
        self._action(p, "&Import profile…", self.import_profile, None, "actionImportProfile")
        t = mb.addMenu("&Tools")
        self._action(t, "&Calibrate threshold…", self.open_calibration, "Ctrl+T", "actionCalibrate")
        self._action(t, "&Test mode…", self.open_test_mode, None, "actionTestMode")
        self._action(t, "&Identify…", self.open_identify, "Ctrl+I", "actionIdentify")
        self._action(t, "Export a new &model…", self.open_export, "Ctrl+M", "actionExport")
        self._action(t, "&Audit log…", self.open_audit, "Ctrl+L", "actionAudit")
        self._action(t, "&Settings…", self.open_settings, "Ctrl+,", "actionSettings")
        h = mb.addMenu("&Help")
        self._action(h, "&Guide…", self.open_guide, QKeySequence.StandardKey.HelpContents, "actionGuide")
        self._action(h, "Show the &getting-started steps", self.show_hint_again, None, "actionHint")
        h.addSeparator()
        self._action(h, "&About twinlock", self.about)

    # --- status -----------------------------------------------------------------------
    def refresh_status(self) -> None:
        self.model_status.setText(f"model: {self.ctx.model_label()}")
        emb = self.ctx.embedder
        tip = self.ctx.model_error or (str(emb.path) if emb else "")
        self.model_status.setToolTip(tip)
        prov = self.ctx.provider_label()
        self.provider_status.setText(f"provider: {prov}")
        self.provider_status.setToolTip(getattr(emb, "fallback_reason", "") or "")

    def refresh_profiles(self, select: str | None = None) -> None:
        current = select or self.profile_combo.currentText()
        self.profile_combo.blockSignals(True)
        self.profile_combo.clear()
        names = self.ctx.profile_names()
        self.profile_combo.addItems(names)
        if current in names:
            self.profile_combo.setCurrentText(current)
        self.profile_combo.blockSignals(False)
        self.on_profile_changed(self.profile_combo.currentText())
        if hasattr(self, "hint_label"):
            self.refresh_hint()

    def current_profile(self) -> str:
        return self.profile_combo.currentText()

    def invalidate_verifier(self) -> None:
        """Settings, model or profile changed: the next attempt builds a fresh Verifier."""
        if self.attempt_active:
            self.cancel_attempt()
        self.verifier = None
        self.verifier_profile = None

    def on_profile_changed(self, name: str) -> None:
        from .settings_dialog import remember_profile

        remember_profile(self.ctx.store.path, name)  # the app opens on it next time
        self.invalidate_verifier()
        self.read_profile_card()
        self.show_ready()

    def profile_symbols(self, name: str | None = None) -> int:
        """How many symbols the profile's card holds (1: one symbol; 1 when there is none)."""
        name = self.current_profile() if name is None else name
        try:
            return int(self.ctx.store.get_profile(name).symbols) if name and self.ctx.store.has_profile(name) else 1
        except StoreError:  # a profile removed meanwhile: read one symbol
            return 1

    def read_profile_card(self) -> None:
        """Read the camera's frames as the current profile's card (one symbol, or a passcode's
        symbols left to right), and size the model view for it."""
        n = self.profile_symbols()
        self.capture.set_symbols(n)
        self.digit_view.setFixedSize(168 if n == 1 else min(4, n) * 96, 168 if n == 1 else 96)
        self.model_view_label.setText(
            "What the model sees (28×28):" if n == 1 else f"What the model sees ({n} symbols, left to right):"
        )
        self.digit_view.set_image(None, "no card" if n > 1 else "no symbol")

    # --- camera -----------------------------------------------------------------------
    def camera_spec(self):
        spec = self.ctx.camera_spec
        if spec is None:
            spec = setting(self.ctx.store, "camera")
        return spec

    def start_camera(self) -> None:
        spec = self.camera_spec()
        res = setting(self.ctx.store, "resolution") or DEFAULTS["resolution"]
        resolution = (int(res[0]), int(res[1]))
        is_file = not (isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()))
        self.camera_status.setText(f"camera: opening {spec}…")
        self.frame_view.set_message(f"Opening {'video ' if is_file else 'camera '}{spec}…")

        realtime = is_file and self.video_realtime

        def opener():
            return open_source(spec, resolution=resolution, loop=is_file, realtime=realtime)

        self.camera_error = ""
        self.capture.start(opener, drop_frames=not is_file or realtime)

    def restart_camera(self) -> None:
        self.start_camera()

    def on_camera_opened(self, desc: str, live: bool) -> None:
        self.camera_error = ""
        self.camera_status.setText(f"camera: {desc}")
        self.camera_status.setToolTip(desc)
        if self.banner.state == NO_CAMERA:
            self.show_ready()

    def on_camera_failed(self, msg: str) -> None:
        self.camera_error = msg
        self.camera_status.setText("camera: none")
        self.camera_status.setToolTip(msg)
        self.fps_status.setText("— fps")
        self.frame_view.set_message(
            f"No camera.\n\n{msg}\n\nChoose a webcam or a video file in File ▸ Choose camera or video… (Ctrl+K)."
        )
        self.digit_view.set_image(None, "no camera")
        self.quality_label.setText("")
        if self.attempt_active:
            self.cancel_attempt()
        self.show_no_camera()

    def show_no_camera(self) -> None:
        self.banner.set_state(NO_CAMERA, "NO CAMERA", "Choose a webcam or a video file: File ▸ Choose camera or video…")
        self.state_shown.emit(NO_CAMERA)

    def on_camera_ended(self) -> None:
        self.camera_status.setText(f"camera: {self.capture.description} (ended)")
        self.fps_status.setText("— fps")
        if self.attempt_active and self.verifier is not None:
            self.show_attempt_state(self.verifier.finish(reason="end of input"))

    def on_fps(self, fps: float) -> None:
        self._fps = fps  # the countdown: frames per attempt run out at this rate
        self.fps_status.setText(f"{fps:.1f} fps")

    def choose_camera(self) -> None:
        from .camera_dialog import CameraDialog

        dlg = CameraDialog(self.camera_spec(), self)
        if dlg.exec():
            self.ctx.camera_spec = dlg.spec
            if dlg.remember:
                self.ctx.store.set_setting("camera", dlg.spec)
            self.start_camera()

    # --- frames and attempts -------------------------------------------------------------
    def on_frame(self, fr, result) -> None:
        self._last_result = (fr, result)
        card = result.images is not None  # read as a passcode card: a numbered box per symbol
        self.frame_view.set_frame(
            fr.image,
            roi=result.roi,
            bbox=result.bbox,
            found=result.ok,
            paper=result.paper,
            boxes=result.boxes if card and result.ok else None,
        )
        q = result.quality or {}
        if result.ok:
            if card:
                self.digit_view.set_images(result.images)
            else:
                self.digit_view.set_image(result.image)
            self.quality_label.setText(
                f"{'card' if card else 'symbol'} found · contrast {q.get('contrast', 0):.0f} · "
                f"sharpness {q.get('sharpness', 0):.0f}"
            )
        else:  # the generic reason only: never how many symbols a card showed, nor which failed
            self.digit_view.set_image(None, result.reason)
            self.quality_label.setText(f"{'no card' if self.capture.symbols > 1 else 'no symbol'}: {result.reason}")
        if self.attempt_active and self.verifier is not None:
            if card and self.verifier.symbols == 1:
                return  # a frame read as a card before the profile changed: not this profile's
            st = self.verifier.feed_preprocessed(result)
            self.show_attempt_state(st)

    def ensure_verifier(self):
        name = self.current_profile()
        if not name:
            return None
        if self.ctx.embedder is None:
            return None
        if self.verifier is not None and self.verifier_profile == name:
            return self.verifier
        try:
            policy = resolve_policy(self.ctx.store, name, self.ctx.embedder)
            self.verifier = Verifier(self.ctx.store, self.ctx.embedder, name, policy=policy)
        except (StoreError, ValueError) as exc:
            self.banner.set_state(NO_PROFILE, "CANNOT CHECK THIS PROFILE", str(exc))
            self.state_shown.emit(NO_PROFILE)
            self.verifier = None
            return None
        self.verifier_profile = name
        return self.verifier

    def start_attempt(self) -> None:
        if self.attempt_active:
            return
        self.statusBar().clearMessage()  # an older note (e.g. "Saved …") does not stay
        if self.ctx.embedder is None:
            QMessageBox.warning(
                self,
                "No model",
                f"There is no usable model.\n\n{self.ctx.model_error}\n\n"
                "Choose one in Tools ▸ Export a new model… or start with --model PATH.",
            )
            return
        if not self.current_profile():
            self.show_ready()
            return
        if not self.capture.running or self.camera_error:
            self.statusBar().showMessage("No camera: choose one in File ▸ Choose camera or video… (Ctrl+K).", 6000)
            return
        v = self.ensure_verifier()
        if v is None:
            return
        st = v.start_attempt()
        self.attempt_active = not st.final and st.state != Decision.LOCKED
        self.time_bar.setRange(0, max(1, int(round(v.policy.time_limit_s))))
        self.time_bar.setFormat("%v s")
        self.show_attempt_state(st)

    def cancel_attempt(self, reason: str = "cancelled") -> None:
        if not self.attempt_active or self.verifier is None:
            return
        st = self.verifier.finish(reason=reason)
        self.show_attempt_state(st)

    def show_attempt_state(self, st) -> None:
        if not st.final and self.verifier is not None:  # the countdown shows the rule that ends it
            from dataclasses import replace

            st = replace(st, time_left_s=attempt_time_left(st, self.verifier.policy, getattr(self, "_fps", None)))
        self.last_state = st
        state, big, detail = describe_state(st, self.current_profile())
        self.banner.set_state(state, big, detail)
        if st.final or st.state == Decision.LOCKED:
            self.idle_time_bar()
        else:
            self.time_bar.setValue(max(0, int(round(st.time_left_s))))
        self.state_shown.emit(state)
        if st.final or st.state == Decision.LOCKED:
            was_active = self.attempt_active
            self.attempt_active = False
            self._final_shown_at = time.monotonic()
            if self._hint_steps is not None and not self._hint_steps[1][1] and st.state in VERDICTS:
                self.refresh_hint()  # step 2 done
            if was_active or st.state == Decision.LOCKED:
                self.attempt_finished.emit(st)
            if st.state == Decision.GRANTED and was_active:
                self.run_grant_command()

    def on_tick(self) -> None:
        v = self.verifier
        if self.attempt_active and v is not None:
            self.show_attempt_state(v.tick())  # the time limit applies even when frames stall
            return
        if self.banner.state == Decision.LOCKED and v is not None:
            remaining = v.lockout_remaining()
            if remaining > 0:
                self.banner.set_state(
                    Decision.LOCKED,
                    f"LOCKED OUT {fmt_countdown(remaining)}",
                    "Too many failed attempts. Wait for the countdown.",
                )
            else:
                self.show_ready("Lockout over. Press Space to try again.")
            return
        if (
            self.banner.state in (Decision.GRANTED, Decision.DENIED, Decision.NO_SYMBOL)
            and time.monotonic() - self._final_shown_at > SHOW_FINAL_S
        ):
            self.show_ready()

    def show_ready(self, detail: str | None = None) -> None:
        if self.ctx.embedder is None:
            self.banner.set_state(NO_PROFILE, "NO MODEL", self.ctx.model_error[:300])
            self.state_shown.emit(NO_PROFILE)
            return
        name = self.current_profile()
        if not name:
            self.banner.set_state(NO_PROFILE, "NO PROFILE YET", "Enroll your symbol first: Profile ▸ Enroll… (Ctrl+E)")
            self.state_shown.emit(NO_PROFILE)
            return
        v = self.ensure_verifier()
        if v is None:
            return
        remaining = v.lockout_remaining()
        if remaining > 0:
            self.banner.set_state(
                Decision.LOCKED,
                f"LOCKED OUT {fmt_countdown(remaining)}",
                "Too many failed attempts. Wait for the countdown.",
            )
            self.idle_time_bar()
            self.state_shown.emit(Decision.LOCKED)
            return
        if self.camera_error:
            self.show_no_camera()
            return
        left = attempts_left_text(v.policy.attempts_left(self.ctx.store.lockout(name).failures))
        what = "card" if v.symbols > 1 else "symbol"
        text = detail or f"Press Space to unlock as “{name}”, then show your {what}."
        self.banner.set_state(Decision.WAITING, "READY", text + (f" · {left}" if left else ""))
        self.idle_time_bar()
        self.state_shown.emit(Decision.WAITING)

    def idle_time_bar(self) -> None:
        """Outside an attempt there is no time running: the bar says so (never a stale value)."""
        self.time_bar.setValue(0)
        self.time_bar.setFormat("not running")

    def run_grant_command(self) -> None:
        cmd = (setting(self.ctx.store, "command_on_grant") or "").strip()
        if not cmd:
            return
        try:
            argv = shlex.split(cmd)
        except ValueError as exc:
            self.statusBar().showMessage(f"Command on grant not run: cannot parse it ({exc}).", 8000)
            return
        proc = QProcess(self)
        proc.setProgram(argv[0])
        proc.setArguments(argv[1:])
        proc.errorOccurred.connect(
            lambda err: self.statusBar().showMessage(f"Command on grant failed to start: {argv[0]}", 8000)
        )
        proc.finished.connect(proc.deleteLater)
        proc.start()
        self._grant_process = proc
        self.statusBar().showMessage(f"Ran: {cmd}", 5000)

    # --- other screens ------------------------------------------------------------------
    def _admin(self, action: str, profile: str | None = None) -> bool:
        return require_admin(self, self.ctx, action, profile)

    def _inspect(self, name: str, action: str, title: str, asking: str) -> bool:
        """core.admin_actions.inspect_profile: refused while locked out (said here), the
        passphrase, audited. True: go on."""
        from .admin import passphrase

        try:
            inspect_profile(self.ctx.store, name, action, via="app", admin=passphrase(self, self.ctx, asking, name))
        except LockedOutError as exc:
            QMessageBox.warning(self, title, str(exc))
            return False
        except Declined:
            return False
        return True

    def open_enrollment(self) -> None:
        if self.ctx.embedder is None:
            QMessageBox.warning(self, "No model", f"Enrolling needs a usable model.\n\n{self.ctx.model_error}")
            return
        if not self._admin("enroll a profile"):
            return
        from .enroll_wizard import EnrollWizard

        self.cancel_attempt()
        wiz = EnrollWizard(self.ctx, self.capture, self, preselect=self.current_profile())
        saved = bool(wiz.exec()) and wiz.saved_profile
        self.read_profile_card()  # the wizard read cards of its own count
        if saved:
            self.refresh_profiles(select=wiz.saved_profile)
        self.invalidate_verifier()
        if saved:
            n = self.ctx.store.get_profile(wiz.saved_profile).n_references
            msg = (
                f"Saved: “{wiz.saved_profile}” has {n} reference{'s' if n != 1 else ''}. Test it now: press "
                "Space and show your symbol; then calibrate (Tools ▸ Calibrate threshold…, Ctrl+T)."
            )
            # short enough for the status bar beside its fields; the banner says the rest
            self.statusBar().showMessage(f"Saved “{wiz.saved_profile}” ({n} reference{'s' if n != 1 else ''}).", 15000)
            self.show_ready(msg)
        else:
            self.show_ready()
        self.refresh_hint()

    def remove_profile(self) -> None:
        names = self.ctx.profile_names()
        if not names:
            QMessageBox.information(self, "Remove profile", "There are no profiles.")
            return
        name, ok = QInputDialog.getItem(
            self,
            "Remove profile",
            "Profile to remove:",
            names,
            max(0, names.index(self.current_profile()) if self.current_profile() in names else 0),
            False,
        )
        if not ok or not name:
            return

        from .admin import confirmation, passphrase

        try:  # core.admin_actions: the passphrase, "are you sure", the removal and its row
            remove_profile(
                self.ctx.store,
                name,
                via="app",
                admin=passphrase(self, self.ctx, f"remove the profile “{name}”"),
                confirm=confirmation(self, "Remove profile"),
            )
        except Declined:
            return
        except StoreError as exc:
            QMessageBox.critical(self, "Remove profile", str(exc))
        self.refresh_profiles()

    def export_profile(self, path: str | None = None) -> None:
        """The export holds the reference images (the symbol itself): core.admin_actions.
        export_profile -- refused while the profile is locked out (before the passphrase is
        asked), the passphrase, then the file and its audit row."""
        from .admin import passphrase

        name = self.current_profile()
        if not name:
            QMessageBox.information(self, "Export profile", "There is no profile to export.")
            return

        def ask_file():
            chosen, _ = QFileDialog.getSaveFileName(
                self, "Export profile", f"{name}.twinlock.json", "twinlock profile (*.json)"
            )
            return chosen

        try:
            out = export_profile(
                self.ctx.store,
                name,
                path or ask_file,
                via="app",
                admin=passphrase(
                    self, self.ctx, f"export the profile “{name}” (the file holds your symbol's images)", name
                ),
            )
        except Declined:
            return
        except (ActionRefused, StoreError) as exc:  # locked out (audited), a folder, not writable
            QMessageBox.warning(self, "Export profile", str(exc))
            return
        self.statusBar().showMessage(f"Exported “{name}” to {out}", 6000)

    def import_profile(self, path: str | None = None) -> None:
        """core.admin_actions.import_profile: the passphrase, the file, a confirmation when it
        loosens the lock, the profile and its audit row; a name in use asks for another."""
        from .admin import confirmation, once, passphrase

        admin = passphrase(self, self.ctx, "import a profile")  # asked once, whatever the retries
        confirm = once(confirmation(self, "Import profile"))  # a rename does not ask again
        if not admin():  # before the file dialog, as before
            return
        if self.ctx.embedder is None:
            QMessageBox.warning(self, "No model", f"Importing needs a usable model.\n\n{self.ctx.model_error}")
            return
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Import profile", "", "twinlock profile (*.json)")
        if not path:
            return
        name = None
        while True:
            try:
                # the embeddings are computed by the model in use, never read from the file
                prof = import_profile(
                    self.ctx.store,
                    path,
                    self.ctx.embedder,
                    name=name,
                    via="app",
                    admin=admin,
                    confirm=confirm,
                )
                break
            except ProfileExists as exc:
                name, ok = QInputDialog.getText(self, "Import profile", f"{exc}\n\nImport it under another name:")
                if not ok or not name.strip():
                    return
            except Declined:
                return
            except (StoreError, OSError) as exc:
                QMessageBox.critical(self, "Import profile", f"Nothing was imported: {exc}")
                return
        self.refresh_profiles(select=prof.name)
        self.statusBar().showMessage(f"Imported “{prof.name}” ({prof.n_references} references).", 6000)

    def open_calibration(self) -> None:
        if not self.current_profile():
            QMessageBox.information(self, "Calibrate", "Enroll a profile first.")
            return
        name = self.current_profile()
        self.cancel_attempt()
        # calibrating compares samples with the profile: not while it is locked out
        if not self._inspect(name, "calibrate", "Calibrate", "calibrate the threshold"):
            return
        from .calibration_dialog import CalibrationDialog

        self.cancel_attempt()
        self.capture.set_symbols(1)  # live samples are one symbol each
        dlg = CalibrationDialog(self.ctx, self.current_profile(), self.capture, self)
        dlg.exec()
        self.read_profile_card()
        self.invalidate_verifier()
        self.show_ready()
        self.refresh_hint()

    def open_test_mode(self, profile: str | None = None) -> None:
        """The admin's test mode (as `howdy test`): the camera, the 28×28 model view and the live
        distance against the threshold. Never during an unlock (a running attempt is cancelled
        first and the dialog is modal); refused while the profile is locked out; the passphrase;
        audited (core.admin_actions)."""
        name = profile or self.current_profile()
        if not name or self.ctx.embedder is None:
            QMessageBox.information(self, "Test mode", "Enroll a profile (with a usable model) first.")
            return
        self.cancel_attempt()
        if not self._inspect(name, "test mode", "Test mode", f"open the test mode for “{name}” (it shows distances)"):
            return
        from .test_mode_dialog import TestModeDialog

        self.capture.set_symbols(1)  # the test mode measures one symbol
        dlg = TestModeDialog(self.ctx, name, self.capture, self)
        self.test_mode_dialog = dlg
        dlg.exec()
        self.test_mode_dialog = None
        self.read_profile_card()
        self.show_ready()

    def open_identify(self) -> None:
        if self.ctx.embedder is None:
            QMessageBox.warning(self, "No model", f"Identifying needs a usable model.\n\n{self.ctx.model_error}")
            return
        from .identify_dialog import IdentifyDialog

        self.capture.set_symbols(1)  # identify names one symbol
        dlg = IdentifyDialog(self.ctx, self.capture, self)
        dlg.exec()
        self.read_profile_card()

    def open_export(self) -> None:
        if not self._admin("change the model"):
            return
        from .export_dialog import ExportDialog

        self.cancel_attempt()
        dlg = ExportDialog(self.ctx, self)
        dlg.exec()
        if dlg.switched:
            self.invalidate_verifier()
            self.refresh_status()
            self.show_ready()

    def open_audit(self) -> None:
        from .audit_viewer import AuditViewer

        # how close each attempt came is for an admin: the passphrase when one is set
        reveal = not self.ctx.admin_required() or self._admin("see the distances in the audit log")
        dlg = AuditViewer(self.ctx, self, profile=self.current_profile() or None, reveal=reveal)
        self.audit_viewer = dlg
        dlg.exec()

    def open_settings(self) -> None:
        if not self._admin("change the settings"):
            return
        from .settings_dialog import SettingsDialog

        self.cancel_attempt()
        dlg = SettingsDialog(self.ctx, self)
        if dlg.exec():
            self.invalidate_verifier()
            if dlg.provider_changed:
                self.ctx.load_model()
            self.refresh_status()
            if dlg.camera_changed:
                if dlg.picker.spec() != dlg.camera_before:  # a new source (stored): use it
                    self.ctx.camera_spec = None
                self.start_camera()
            self.show_ready()

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About twinlock",
            "twinlock: unlock verification with a twin (Siamese) network.\n\n"
            f"Model: {self.ctx.model_label()}\nProvider: {self.ctx.provider_label()}\n"
            f"Database: {self.ctx.store.path}",
        )

    def closeEvent(self, event) -> None:
        if self.attempt_active:
            self.cancel_attempt()
        self.timer.stop()
        self.capture.shutdown()
        super().closeEvent(event)
