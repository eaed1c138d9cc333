"""pyproject.toml names every package, and the top-level assets/ folder is the package the app
reads its shipped files from (the wheel itself: tests/test_install.py, marked slow)."""

from __future__ import annotations

from pathlib import Path

import pytest
from setuptools import find_packages

from desktop_app.core.paths import ASSETS_DIR, DEFAULT_MODEL, DEFAULT_MODEL_CARD

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

REPO = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_code_package_is_listed():
    found = set(find_packages(where=str(REPO), include=["desktop_app*", "training*", "export*"]))
    listed = set(CONFIG["packages"])
    assert found <= listed, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(found - listed)}"


def test_the_assets_folder_is_the_package_the_app_reads():
    assert CONFIG["package-dir"] == {"twinlock_assets": "assets"}
    assert ASSETS_DIR.resolve() == (REPO / "assets").resolve()
    assert DEFAULT_MODEL.is_file() and DEFAULT_MODEL_CARD.is_file()
    assert not (REPO / "desktop_app" / "assets").exists()
    for sub in ("models", "gallery"):  # each data folder is listed with its files
        assert f"twinlock_assets.{sub}" in CONFIG["packages"]
        patterns = CONFIG["package-data"][f"twinlock_assets.{sub}"]
        shipped = {p.name for pat in patterns for p in (REPO / "assets" / sub).glob(pat)}
        assert shipped == {p.name for p in (REPO / "assets" / sub).iterdir() if p.is_file()}
