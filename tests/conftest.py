import os

# pytest-qt aborts the whole run without a display; tests never need a real one.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest

from training.camera_sim import render_frame
from ui_support import digit_frames, model_path, write_video


@pytest.fixture(autouse=True)
def _private_twinlock_config(tmp_path_factory, monkeypatch):
    """Every test (and every CLI subprocess it starts) reads and writes a config file of its
    own (core.config: the data folder chosen in the app), never the user's."""
    monkeypatch.setenv("TWINLOCK_CONFIG", str(tmp_path_factory.mktemp("config") / "config.json"))


# --- the UI tests' fixtures: the model, fake cameras, an app context on a temporary database
@pytest.fixture(scope="session")
def ui_model(tmp_path_factory) -> Path:
    return model_path(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict:
    """Fake cameras: 'three' and 'seven' (a handwritten-looking digit, 24 frames each, looping
    in the app), 'blank' (paper without a symbol)."""
    d = tmp_path_factory.mktemp("videos")
    return {
        "three": write_video(d / "three.avi", digit_frames(3, 24, seed=300)),
        "seven": write_video(d / "seven.avi", digit_frames(7, 24, seed=700)),
        "blank": write_video(d / "blank.avi", [render_frame(None, seed=i, size=(320, 240)) for i in range(6)]),
    }


@pytest.fixture(autouse=False)
def isolated_qsettings(tmp_path):
    """QSettings (the data-folder choice) in a temporary folder, never the user's."""
    from PySide6.QtCore import QSettings

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    yield tmp_path / "qsettings"


@pytest.fixture
def ctx(tmp_path, ui_model, isolated_qsettings):
    from desktop_app.ui.context import AppContext

    c = AppContext.open(db=tmp_path / "twinlock.sqlite3", model=str(ui_model))
    assert c.embedder is not None, c.model_error
    yield c
    c.close()
