"""The app's two answers to a core admin action (core.admin_actions): the passphrase prompt
and the confirmation box. Once a passphrase is set, enrolling, removing, exporting or
importing a profile, calibrating, changing the model or the settings asks for it; the check
is core ``passphrase.check_admin_passphrase`` (counted, delayed after wrong ones, a wrong one
audited as "passphrase_failed", as for the CLI)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QMessageBox, QVBoxLayout

from desktop_app.core.passphrase import PassphraseError

MAX_TRIES = 3


class PassphraseDialog(QDialog):
    def __init__(self, ctx, action: str, parent=None, profile: str | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.action = action
        self.profile = profile
        self.tries = 0
        self.gave_up = False  # three wrong tries: the caller says so after the prompt closed
        self.setWindowTitle("Admin passphrase")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"The admin passphrase is required to {action}."))
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setObjectName("passphrase")
        self.edit.setAccessibleName("Admin passphrase")
        lay.addWidget(self.edit)
        self.error = QLabel("")
        self.error.setObjectName("passphraseError")
        self.error.setStyleSheet("color: #b00020")
        lay.addWidget(self.error)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        bb.accepted.connect(self._check)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.edit.setFocus()

    def _check(self) -> None:
        try:
            ok = self.ctx.check_passphrase(self.edit.text(), self.action, self.profile, attempt=self.tries + 1)
        except PassphraseError as exc:
            QMessageBox.critical(self, "Admin passphrase", str(exc))
            self.reject()
            return
        if ok:
            self.accept()
            return
        self.tries += 1  # the core counted and audited it
        self.edit.clear()
        if self.tries >= MAX_TRIES:
            self.error.setText(f"Wrong passphrase. Giving up after {MAX_TRIES} tries.")
            self.gave_up = True
            self.reject()
        else:
            left = MAX_TRIES - self.tries
            self.error.setText(f"Wrong passphrase ({left} {'try' if left == 1 else 'tries'} left).")


def require_admin(parent, ctx, action: str, profile: str | None = None) -> bool:
    """True when no passphrase is set, or the user typed the right one."""
    if not ctx.admin_required():
        return True
    dlg = PassphraseDialog(ctx, action, parent, profile)
    ok = dlg.exec() == QDialog.DialogCode.Accepted
    if dlg.gave_up:  # the prompt closed on the third wrong try: never without a word
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Admin passphrase",
            f"Wrong passphrase {MAX_TRIES} times: could not {action}. Nothing was changed; "
            "each wrong try is recorded in the audit log.",
            QMessageBox.StandardButton.Ok,
            parent,
        )
        box.setObjectName("passphraseGaveUp")
        box.exec()
    return ok


def confirmation(parent, title: str, object_name: str = "confirmAdminAction"):
    """The ``confirm`` callable of a core admin action (core.admin_actions): its words in a
    warning box, Yes or No (No by default)."""

    def ask(message: str) -> bool:
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            title,
            message + "\n\n(This is recorded in the audit log.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            parent,
        )
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.setObjectName(object_name)
        return box.exec() == QMessageBox.StandardButton.Yes

    return ask


def once(ask):
    """``ask`` asked at most once: its first answer is kept (an action retried with another
    name does not ask the same question again)."""
    answers: list = []

    def first(*args):
        if not answers:
            answers.append(ask(*args))
        return answers[0]

    return first


def passphrase(parent, ctx, action: str, profile: str | None = None):
    """The ``admin`` callable of a core admin action: :func:`require_admin`, asked once
    however often the action calls it."""
    return once(lambda: require_admin(parent, ctx, action, profile))
