"""twinlock runs outside a checkout: the wheel carries the shipped model, its card and the
gallery as package data, and an installed copy run from another folder finds them.

The wheel is built from this checkout with the setuptools already installed (no build
isolation: nothing is downloaded) and installed into a fresh virtual environment; the
runtime dependencies come from this test environment's site-packages, added after the new
environment's own, so `desktop_app` is imported from the wheel, never from the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # builds and installs a wheel: `-m "not slow"` leaves it out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src") / "twinlock"  # a clean copy: no stale build/ folder
    shutil.copytree(
        REPO,
        src,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__", ".pytest_cache"
        ),
    )
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (whl,) = out.glob("twinlock-*.whl")
    return whl


def test_the_wheel_carries_the_assets(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in (
        "twinlock_assets/models/twinlock-default.onnx",
        "twinlock_assets/models/twinlock-default.md",
        "twinlock_assets/gallery/gallery.npz",
    ):
        assert asset in names, f"{asset} is not in {wheel.name}"
    assert not any(n.startswith("tests/") for n in names)


def test_an_installed_copy_runs_doctor_from_another_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    r = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "zz_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TWINLOCK_MODEL", "TWINLOCK_DB")}
    env["TWINLOCK_HOME"] = str(tmp_path / "home")
    r = subprocess.run(
        [str(venv / "bin" / "twinlock"), "doctor", "--db", str(tmp_path / "t.sqlite3"), "--max-cameras", "1"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    model_line = next(line for line in r.stdout.splitlines() if line.startswith("model:"))
    assert str(site) in model_line and "twinlock-default.onnx" in model_line, r.stdout
    assert "doctor: all good" in r.stdout

    r = subprocess.run(
        [str(py), "-c", "import desktop_app; print(desktop_app.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.stdout.strip().startswith(str(site)), r.stdout + r.stderr
