"""A database by another name or owner is refused, as ssh refuses its keys.

A hard link splits SQLite's write-ahead log (one per name), so failures written under one
name are lost to the other; a database or folder that someone else can write lets them swap
in their own. Each case is refused with a message that says how to fix it, reads nothing and
leaves no -wal/-shm behind; the folders twinlock makes are 0700 whatever the umask."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.store import Store, StoreError, UnsafeDatabase, check_database_safe

ROOT = Path(__file__).resolve().parents[1]


def _db(folder: Path) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    p = folder / "twinlock.sqlite3"
    with Store(p) as s:
        s.set_setting("x", 1)
    return p


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _refused(p: Path, *words: str) -> str:
    before, names = _digest(p), sorted(os.listdir(p.parent))
    with pytest.raises(UnsafeDatabase) as info:
        Store(p)
    msg = str(info.value)
    for w in words:
        assert w in msg, msg
    assert "did not open or change it" in msg
    assert _digest(p) == before and sorted(os.listdir(p.parent)) == names  # no -wal/-shm made
    return msg


def _cli(db: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TWINLOCK_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "desktop_app.cli.main", "audit", "--db", str(db)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_hard_link_to_the_database_is_refused_under_both_names(tmp_path):
    p = _db(tmp_path / "data")
    link = tmp_path / "data" / "other-name.sqlite3"
    os.link(p, link)
    msg = _refused(p, "2 names", "hard link", "-samefile")
    assert "cp " in msg  # says how to get one name back
    _refused(link, "2 names")
    r = _cli(link)  # the real CLI: one clear line, exit 4, no traceback
    assert r.returncode == 4 and "Traceback" not in r.stderr, r.stderr
    assert "2 names" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    os.unlink(link)  # the fix the message gives works
    with Store(p) as s:
        assert s.get_setting("x") == 1


def test_a_folder_others_can_write_is_refused(tmp_path):
    p = _db(tmp_path / "data")
    for mode in (0o777, 0o1777, 0o770):  # world-writable, sticky, group-writable
        os.chmod(p.parent, mode)
        _refused(p, "can be written by others", "chmod go-w")
    os.chmod(p.parent, 0o700)
    with Store(p):
        pass


def test_a_folder_above_it_that_others_can_write_is_refused_unless_sticky(tmp_path):
    outer = tmp_path / "outer"
    p = _db(outer / "data")
    os.chmod(outer, 0o777)
    _refused(p, f"the folder {outer} above it")
    os.chmod(outer, 0o1777)  # like /tmp: no one may rename what is not theirs
    with Store(p):
        pass


def test_a_database_others_can_write_is_refused(tmp_path):
    p = _db(tmp_path / "data")
    os.chmod(p, 0o666)
    _refused(p, "others can write it", "chmod 600")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="giving a file away needs root")
def test_a_database_or_folder_of_another_user_is_refused(tmp_path):
    p = _db(tmp_path / "data")
    os.chown(p, 65534, 65534)
    _refused(p, "not to you", "chown")
    os.chown(p, 0, 0)
    os.chown(p.parent, 65534, 65534)
    _refused(p, "belongs to", "folder of your own")
    # a new database is not made in such a folder either
    new = p.parent / "new.sqlite3"
    with pytest.raises(UnsafeDatabase):
        Store(new)
    assert not new.exists()


def test_folders_are_made_0700_and_the_file_0600_under_umask_000(tmp_path):
    old = os.umask(0)
    try:
        p = tmp_path / "a" / "b" / "twinlock.sqlite3"
        with Store(p) as s:
            s.set_setting("x", 1)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "a" / "b").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600


def test_check_database_safe_is_one_function_for_every_caller(tmp_path):
    """The PAM module reuses it: metadata only, StoreError subclasses, a missing file judged
    by its folder."""
    p = _db(tmp_path / "data")
    check_database_safe(p)  # fine
    check_database_safe(tmp_path / "data" / "missing.sqlite3")  # a new one may be made there
    os.chmod(p.parent, 0o777)
    with pytest.raises(StoreError):
        check_database_safe(tmp_path / "data" / "missing.sqlite3")
    os.chmod(p.parent, 0o700)
    link = tmp_path / "sym.sqlite3"
    link.symlink_to(p)
    check_database_safe(link)  # a symbolic link is followed to the real file
    os.link(p, tmp_path / "data" / "hard")
    with pytest.raises(UnsafeDatabase, match="2 names"):
        check_database_safe(link)
