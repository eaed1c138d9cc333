"""The audit log: retention applied when a row is written, a row whose time disagrees with the
boot clock flagged on the next honest row, and `twinlock audit` into a closed pipe ends
quietly. Real SQLite, the real CLI."""

import subprocess
import sys

import pytest

from cli_support import ROOT, enrolled_db, fresh_db, pixel_assets, probe_world, set_settings
from desktop_app.core.store import Store


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return pixel_assets(tmp_path_factory.mktemp("audit"))


@pytest.fixture
def db(assets, tmp_path, monkeypatch):
    return enrolled_db(assets, tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return probe_world(tmp_path_factory.mktemp("audit-world"))


def test_audit_retention_is_applied_on_write(assets, db):
    set_settings(db, audit_retention_rows=5)
    s = Store(db)
    for _ in range(12):
        s.log_attempt("alice", "no_symbol")
    assert len(s.audit(limit=0)) == 5
    s.set_setting("audit_retention_rows", 0)
    s.set_setting("audit_retention_days", 1)
    s.query("UPDATE audit SET time = time - 3 * 86400")
    s.log_attempt("alice", "granted")
    assert [e.decision for e in s.audit(limit=0)] == ["granted"]
    s.close()


def test_an_audit_time_off_the_boot_clock_is_flagged(assets, db):
    """A process with its clock a day ahead writes a forged time; the next honest row says
    its wall time disagrees with the boot clock's reckoning (and by how much)."""
    s = Store(db)
    s.log_attempt("alice", "no_symbol")
    s.query("UPDATE audit SET time = time + 86400 WHERE id = (SELECT MAX(id) FROM audit)")  # the forged row
    s.log_attempt("alice", "no_symbol")
    flagged = s.audit(limit=1)[0]
    assert flagged.detail["clock_skew_s"] == pytest.approx(-86400, abs=60)
    s.log_attempt("alice", "no_symbol")
    assert "clock_skew_s" not in s.audit(limit=1)[0].detail  # honest after honest: no flag
    s.close()


def test_audit_into_a_closed_pipe(world, tmp_path):
    db = fresh_db(world, tmp_path)
    e = dict(world["env"], TWINLOCK_DB=str(db))
    p = subprocess.Popen(
        [sys.executable, "-m", "desktop_app.cli.main", "audit"],
        cwd=ROOT,
        env=e,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    p.stdout.close()  # `| head -0`
    err = p.stderr.read().decode()
    p.wait(timeout=60)
    p.stderr.close()
    # a reader that goes away is normal: quiet, exit 0
    assert p.returncode == 0 and err == "", err
