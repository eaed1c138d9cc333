"""The admin passphrase gate and the settings dialog that sets it."""

from __future__ import annotations

from ui_support import on_modal

from desktop_app.core.passphrase import verify_passphrase
from desktop_app.ui.admin import PassphraseDialog, require_admin
from desktop_app.ui.settings_dialog import NewPassphraseDialog, SettingsDialog


def test_no_passphrase_means_no_gate(qtbot, ctx):
    assert not ctx.admin_required()
    assert require_admin(None, ctx, "change the settings")


def test_settings_dialog_sets_a_hashed_passphrase(qtbot, ctx):
    dlg = SettingsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.show()
    assert "Not set" in dlg.pass_status.text()
    errors = []

    def fill(w: NewPassphraseDialog):
        w.p1.setText("open sesame")
        w.p2.setText("open sesam")
        w._ok()
        errors.append(w.error.text())
        w.p2.setText("open sesame")
        w._ok()

    on_modal(fill)
    dlg.set_pass.click()
    assert errors == ["The two entries differ."]
    assert "will be set" in dlg.pass_status.text()
    assert not ctx.admin_required()  # nothing stored before OK
    dlg.save()
    h = ctx.store.get_setting("admin_passphrase")
    assert h.startswith("scrypt$") and "open sesame" not in h
    assert verify_passphrase("open sesame", h)


def test_gate_refuses_wrong_and_accepts_right_passphrase(qtbot, ctx):
    ctx.set_passphrase("open sesame")
    assert ctx.admin_required()
    msgs = []

    def wrong_then_cancel(w: PassphraseDialog):
        w.edit.setText("let me in")
        w._check()
        msgs.append(w.error.text())
        w.reject()

    on_modal(wrong_then_cancel)
    assert not require_admin(None, ctx, "enroll a profile")
    assert msgs and msgs[0].startswith("Wrong passphrase (2 tries left)")

    def three_wrong(w: PassphraseDialog):
        for _ in range(3):
            w.edit.setText("nope")
            w._check()
        msgs.append(w.result())
        on_modal(lambda box: box.accept())  # the prompt closed: a message says why

    on_modal(three_wrong)
    assert not require_admin(None, ctx, "calibrate the threshold")

    def right(w: PassphraseDialog):
        w.edit.setText("open sesame")
        w._check()

    on_modal(right)
    assert require_admin(None, ctx, "change the model")


def test_main_window_asks_before_settings(qtbot, ctx):
    from desktop_app.ui.main_window import MainWindow

    ctx.set_passphrase("open sesame")
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    opened = []

    def wrong(w):
        w.edit.setText("guess")
        w._check()
        w.reject()

    seen = on_modal(wrong)
    win.open_settings()
    assert seen == ["PassphraseDialog"]

    def right(w):
        w.edit.setText("open sesame")
        w._check()
        on_modal(lambda s: (opened.append(type(s).__name__), s.reject()))

    on_modal(right)
    win.open_settings()
    assert opened == ["SettingsDialog"]
    win.close()
