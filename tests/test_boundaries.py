"""Module boundaries of docs/design.md, checked the way they matter at run time: in a fresh
interpreter, importing one side must not load what it may not know. (``lint-imports`` in
.ci/run checks the same rules statically, lazy imports included.)"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys

import desktop_app.core
import desktop_app.ui


def _modules(pkg) -> list[str]:
    return sorted(f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__))


def _loaded_after_import(modules: list[str], watched: tuple[str, ...]) -> list[str]:
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        f"print(sorted(w for w in {watched!r} if w in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return eval(r.stdout.strip().splitlines()[-1])


def test_core_modules_never_load_qt_ui_cli_or_torch():
    mods = _modules(desktop_app.core)
    assert "desktop_app.core.verifier" in mods and "desktop_app.core.preprocess" in mods
    bad = _loaded_after_import(mods, ("PySide6", "desktop_app.ui", "desktop_app.cli", "torch", "training", "export"))
    assert bad == []


def test_the_app_and_the_cli_never_load_torch_training_or_export():
    """The export dialog reaches torch only through a subprocess; the CLI's training verbs
    import it when they run, not when the CLI starts."""
    mods = _modules(desktop_app.ui) + ["desktop_app.cli.main"]
    import desktop_app.cli.main as cli_main

    mods += list(cli_main.COMMAND_MODULES)
    bad = _loaded_after_import(mods, ("torch", "training", "export", "onnxscript"))
    assert bad == []


def test_a_runtime_command_runs_without_loading_torch(tmp_path):
    """A real `twinlock profiles list` (what a script behind pam_exec pays for) loads no
    training code."""
    db = tmp_path / "t.sqlite3"
    code = (
        "import sys; from desktop_app.cli.main import main; "
        f"rc = main(['profiles', 'list', '--db', {str(db)!r}]); "
        "print(sorted(m for m in ('torch', 'training', 'export') if m in sys.modules)); "
        "sys.exit(rc)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TWINLOCK_HOME": str(tmp_path)},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"
