"""core/instance: one app per database, an OS file lock that a dead holder never leaves behind."""

import subprocess
import sys

import pytest

from desktop_app.core.instance import AlreadyRunning, InstanceLock


def test_instance_lock_is_freed_when_the_holder_dies(tmp_path):
    db = tmp_path / "x.sqlite3"
    code = (
        "import sys, time; from desktop_app.core.instance import InstanceLock; "
        f"InstanceLock({str(db)!r}).acquire(); print('held', flush=True); time.sleep(60)"
    )
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning, match=f"process {p.pid}"):
            InstanceLock(db).acquire()
    finally:
        p.kill()
        p.wait(10)
    with InstanceLock(db) as lock:  # a crashed holder leaves no stale lock
        assert lock.held
