"""A database that cannot be used -- busy, read-only, not a regular file, empty, a damaged
schema page -- is one clear message and is left as it was; doctor checks every stored image;
an existing file's mode is never changed. The real `twinlock`, real SQLite."""

import os
import shutil
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest

from cli_support import (
    digest,
    enrolled_db,
    fresh_db,
    one_clear_line,
    pixel_assets,
    probe_world,
    run_cli,
    twinlock,
)
from desktop_app.cli.main import main
from desktop_app.core.store import Store, StoreError


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return pixel_assets(tmp_path_factory.mktemp("db-errors"))


@pytest.fixture
def db(assets, tmp_path, monkeypatch):
    return enrolled_db(assets, tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return probe_world(tmp_path_factory.mktemp("db-errors-world"))


def _immutable(path, on: bool) -> bool:
    """Make ``path`` unwritable even for root (chattr +i) -- or by mode for other users."""
    if os.geteuid() != 0:
        os.chmod(path, (0o555 if Path(path).is_dir() else 0o444) if on else 0o755)
        return True
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i" if on else "-i", str(path)], capture_output=True).returncode == 0


@pytest.mark.parametrize("what", ["file", "folder"])
def test_read_only_database_or_folder(world, tmp_path, what):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "db.sqlite3"
    shutil.copy(world["db"], db)
    target = db if what == "file" else folder
    if not _immutable(target, True):
        pytest.skip("cannot make a file read-only for root here (no chattr)")
    try:
        before = digest(db)
        r = twinlock(world, "verify", "alice", "--image", world["three"], "--db", db)
        one_clear_line(r, "read-only" if what == "file" else "")
        assert digest(db) == before
    finally:
        _immutable(target, False)


def _corrupt_schema(db):
    data = bytearray(Path(db).read_bytes())
    i = data.find(b"tablemetameta")
    assert 0 < i < 4096
    data[i + 5] = 0xFF  # the table's name is no longer valid UTF-8
    Path(db).write_bytes(bytes(data))


def test_corrupted_schema_page_in_every_command(world, tmp_path):
    db = fresh_db(world, tmp_path)
    _corrupt_schema(db)
    before = digest(db)
    for args in (["profiles", "list"], ["audit"], ["verify", "alice", "--image", world["three"]], ["doctor"]):
        r = twinlock(world, *args, "--db", db)
        assert r.returncode == 4 and "Traceback" not in r.stderr, (args, r.stderr)
        assert "damaged" in r.stderr + r.stdout, (args, r.stderr, r.stdout)
    assert digest(db) == before


def test_an_existing_file_is_never_chmodded(world, tmp_path):
    db = fresh_db(world, tmp_path)
    os.chmod(db, 0o644)
    assert twinlock(world, "profiles", "list", "--db", db).returncode == 0
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o644  # not ours to change
    fresh = tmp_path / "new" / "db.sqlite3"
    Store(fresh).close()
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o600  # the one we created is private


def test_locked_database_is_one_clear_line(assets, db):
    holder = sqlite3.connect(db, isolation_level=None, timeout=1)
    holder.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.monotonic()
        r = run_cli(assets, db, "verify", "alice", "--image", assets["d3"], timeout=90)
        assert r.returncode == 4 and "busy" in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert time.monotonic() - t0 > 9
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_store_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for p, msg in ((fifo, "not a regular file"), (tmp_path, "a folder"), (Path("/dev/zero"), "not a regular")):
        mode = os.stat(p).st_mode
        with pytest.raises(StoreError, match=msg):
            Store(p)
        assert os.stat(p).st_mode == mode
    empty = tmp_path / "empty.sqlite3"
    empty.write_bytes(b"")
    with pytest.raises(StoreError, match="empty"):
        Store(empty)
    assert empty.stat().st_size == 0


def test_doctor_checks_every_stored_image(assets, db, capsys):
    con = sqlite3.connect(db)
    con.execute("UPDATE refs SET crop = X'89504e470d0a1a0a00' WHERE id = (SELECT MAX(id) FROM refs)")
    con.commit()
    con.close()
    capsys.readouterr()
    assert main(["doctor", "--max-cameras", "1"]) == 4
    out = capsys.readouterr().out
    assert "cannot be decoded" in out and "all good" not in out
