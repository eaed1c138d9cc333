import os

# pytest-qt aborts the whole run without a display; tests never need a real one.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import sys

import pytest

_exit_status = None


def pytest_sessionfinish(session, exitstatus):
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the test process without the interpreter's final garbage collection.

    With PySide6 6.12, a run that uses the capture wizard and the main window in one process
    passes every test and then aborts in Python's finalisation ("Fatal Python error:
    bool_dealloc ... refcount error in a C extension", exit 134): a refcount bug in the Qt
    bindings when their leftover objects are collected at interpreter exit, after all results
    are reported. Nothing is left to do at that point, so we exit with pytest's own status.
    """
    if _exit_status is not None and "PySide6" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)
