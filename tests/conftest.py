import os

# pytest-qt aborts the whole run without a display; tests never need a real one.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest


@pytest.fixture(autouse=True)
def _private_twinlock_config(tmp_path_factory, monkeypatch):
    """Every test (and every CLI subprocess it starts) reads and writes a config file of its
    own (core.config: the data folder chosen in the app), never the user's."""
    monkeypatch.setenv("TWINLOCK_CONFIG", str(tmp_path_factory.mktemp("config") / "config.json"))
