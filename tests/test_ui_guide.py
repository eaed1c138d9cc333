"""Help ▸ Guide shows docs/guide.md with its screenshots, without the security notes."""

from __future__ import annotations

from pathlib import Path

from ui_support import on_modal

from desktop_app.ui.main_window import MainWindow


def test_help_guide_shows_the_guide_with_screenshots(qtbot, ctx):
    from desktop_app.ui.guide import GUIDE

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    help_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Help")
    names = [a.text() for a in help_menu.actions() if a.text()]
    assert names[0] == "&Guide…" and "&About twinlock" in names
    got = []

    def look(dlg):
        got.append((dlg.browser.toPlainText(), dlg.image_names()))
        dlg.accept()

    seen = on_modal(look)
    win.findChild(type(win.act_start), "actionGuide").trigger()
    assert seen == ["GuideDialog"]
    text, images = got[0]
    assert "Unlock" in text and "Calibrate the threshold" in text and "Security" not in text
    assert "screenshots/main_granted.png" in images and len(images) >= 5
    for name in images:
        assert (Path(GUIDE).parent / name).is_file(), name
    win.close()
