"""The camera overlay draws the paper that preprocessing found (a real widget, headless)."""

import numpy as np

from desktop_app.core.preprocess import preprocess
from training.camera_sim import render_card


def test_frame_view_draws_the_paper_outline(qtbot):
    from desktop_app.ui.widgets import FrameView

    frame = render_card(4, seed=4, card=0.5, angle=15)
    res = preprocess(frame)
    assert res.ok and res.paper is not None
    view = FrameView()
    qtbot.addWidget(view)
    view.resize(640, 480)
    dark = np.zeros_like(frame)  # a black picture: only the overlay shows
    view.set_frame(dark, roi=None, bbox=None, found=True)
    plain = view.grab().toImage()
    view.set_frame(dark, roi=None, bbox=None, found=True, paper=res.paper)
    drawn = view.grab().toImage()
    # along the outline's edges (the widget shows the 640x480 frame 1:1) light pixels appear
    lit = 0
    pts = res.paper
    for k in range(len(pts)):
        a, b = pts[k], pts[(k + 1) % len(pts)]
        for t in np.linspace(0.2, 0.8, 7):
            x, y = (a + t * (b - a)).round().astype(int)
            near = [drawn.pixelColor(int(x + dx), int(y + dy)).lightness() for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
            lit += max(near) > 120
            assert plain.pixelColor(int(x), int(y)).lightness() < 30
    assert lit >= 0.8 * 7 * len(pts)


def test_the_main_window_shows_the_paper_it_found(qtbot, ctx):
    """The window's frame slot passes the paper outline on to its camera view."""
    from types import SimpleNamespace

    from desktop_app.ui.main_window import MainWindow

    frame = render_card(4, seed=4, card=0.5, angle=15)
    res = preprocess(frame)
    assert res.paper is not None
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.on_frame(SimpleNamespace(image=frame, t=0.0, index=0), res)
    assert win.frame_view._paper is not None
    assert np.allclose(win.frame_view._paper, np.asarray(res.paper, np.float64).reshape(-1, 2))
