"""The database is never read as an image, a profile export, a model or a video.

Closing any descriptor of a file drops every POSIX lock the process holds on it (SQLite's
"How To Corrupt An SQLite Database File", 2.2). A reader given the database's own path -- or
a hard or symbolic link to it, or its -wal -- would open it, fail to decode it and close it:
the process then holds no lock, and the next process that closes its connection believes it
is the last, checkpoints and deletes the -wal and -shm this one still writes to. Each reader
must refuse such a path before it opens it, with a message, and leave everything as it was;
here another real process opens and closes a connection after every refusal, and the -wal
and -shm must still be there."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from desktop_app.core.camera import CameraError, VideoFileSource
from desktop_app.core.contract import ContractError, read_contract
from desktop_app.core.embedder import Embedder
from desktop_app.core.preprocess import prepare_image
from desktop_app.core.preprocess.loading import ImageError, image_file_size, load_image
from desktop_app.core.store import Store, StoreError, is_open_database_file, refuse_if_open_database
from training.camera_sim import render_frame
from pixel_model import make_pixel_model

ROOT = Path(__file__).resolve().parents[1]
REFUSED = "twinlock's database"


def twinlock_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "twinlock"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "desktop_app.cli.main"]


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return make_pixel_model(tmp_path_factory.mktemp("model") / "pixel.onnx")


@pytest.fixture
def world(tmp_path, model):
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    db = d / "twinlock.sqlite3"
    store = Store(db)
    emb = Embedder(model, preference="cpu", warmup=False)
    img = prepare_image(render_frame(3, seed=300)).image
    store.add_references("alice", img[None], None, emb.embed_images(img[None]), emb.fingerprint, create=True)
    export = tmp_path / "alice.json"
    store.export_profile("alice", export)
    yield {"db": db, "store": store, "emb": emb, "export": export, "tmp": tmp_path}
    store.close()


def _snapshot(world) -> dict:
    db = world["db"]
    side = {s: os.stat(f"{db}{s}").st_ino if os.path.exists(f"{db}{s}") else "deleted" for s in ("-wal", "-shm")}
    store = world["store"]
    return {"side": side, "audit": len(store.audit(limit=None)), "profiles": store.list_profiles()}


def _another_process_opens_and_closes(db: Path) -> None:
    """What any other twinlock (the CLI, pam_exec) does: connect, read, close. With the locks
    of this process intact it is not the last user and leaves the -wal and -shm alone."""
    code = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "c.execute('SELECT count(*) FROM audit').fetchall(); c.close()"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True, timeout=60)


def _unchanged(world, before: dict) -> None:
    _another_process_opens_and_closes(world["db"])
    assert _snapshot(world) == before  # the -wal/-shm still there (same files), no row added or lost
    assert world["store"].integrity_check() == "ok"
    world["store"].set_setting("still_writable", 1)  # and this process's connection still works


def _names(world) -> dict[str, Path]:
    db, tmp = world["db"], world["tmp"]
    hard = tmp / "hard.png"
    os.link(db, hard)  # made after the database was opened (check_database_safe refuses it at opening)
    sym = tmp / "sym.png"
    sym.symlink_to(db)
    sym_wal = tmp / "wal.json"
    sym_wal.symlink_to(f"{db}-wal")
    return {"database": db, "hard link": hard, "symbolic link": sym, "-wal": Path(f"{db}-wal"), "link to -wal": sym_wal}


READERS = {
    "load_image": (lambda w, p: load_image(p), ImageError, "not an image file"),
    "image_file_size": (lambda w, p: image_file_size(p), ImageError, "not an image file"),
    "import_profile": (lambda w, p: w["store"].import_profile(p, w["emb"], name="bob"), StoreError, "not a profile"),
    "Embedder": (lambda w, p: Embedder(p, preference="cpu", warmup=False), ContractError, "not a model file"),
    "read_contract": (lambda w, p: read_contract(p), ContractError, "not a model file"),
    "video file": (lambda w, p: VideoFileSource(p).open(), CameraError, "not a video file"),
}


@pytest.mark.parametrize("reader", list(READERS))
def test_every_reader_refuses_every_name_of_the_open_database(world, reader):
    read, error, kind = READERS[reader]
    for label, path in _names(world).items():
        assert is_open_database_file(path), label
        before = _snapshot(world)
        with pytest.raises(Exception) as info:
            read(world, path)
        _unchanged(world, before)  # first: a reader that opened and closed the file lost the locks
        msg = str(info.value)
        assert isinstance(info.value, error), (label, msg)
        assert REFUSED in msg and kind in msg and "Choose another file" in msg, (label, msg)
        assert str(path) in msg


def test_ordinary_files_pass_and_a_closed_database_is_not_guarded(world):
    png = world["tmp"] / "three.png"
    cv2.imwrite(str(png), render_frame(3, seed=300))
    assert not is_open_database_file(png)
    assert not is_open_database_file(world["tmp"] / "missing.png")
    refuse_if_open_database(png, "an image file")  # nothing raised
    assert load_image(png).ndim == 3
    imported = world["store"].import_profile(world["export"], world["emb"], name="bob")
    assert imported.name == "bob"
    db = world["db"]
    world["store"].close()
    assert not is_open_database_file(db)  # no connection, no lock to lose: its own reader says what it is
    with pytest.raises(ImageError, match="not a PNG"):
        load_image(db)
    world["store"] = Store(db, create=False)


def test_two_stores_of_one_file_guard_it_until_the_last_closes(tmp_path):
    d = tmp_path / "d"
    d.mkdir(mode=0o700)
    a = Store(d / "db.sqlite3")
    b = Store(d / "db.sqlite3")
    a.close()
    assert is_open_database_file(d / "db.sqlite3")
    b.close()
    assert not is_open_database_file(d / "db.sqlite3")


CLI_CASES = {
    "verify --image": lambda db, img: ["verify", "alice", "--image", db, "--db", db],
    "verify --video": lambda db, img: ["verify", "alice", "--video", db, "--db", db],
    "verify --model": lambda db, img: ["verify", "alice", "--image", img, "--model", db, "--db", db],
    "profiles import": lambda db, img: ["profiles", "import", db, "--name", "bob", "--db", db],
}


@pytest.mark.parametrize("case", list(CLI_CASES))
def test_the_cli_refuses_the_database_as_its_input_and_keeps_it_intact(tmp_path, model, case):
    d = tmp_path / "data"
    d.mkdir(mode=0o700)
    db = d / "twinlock.sqlite3"
    three = tmp_path / "three.png"
    cv2.imwrite(str(three), render_frame(3, seed=300))
    env = dict(os.environ, TWINLOCK_MODEL=str(model), TWINLOCK_HOME=str(tmp_path / "home"), PYTHONPATH=str(ROOT))
    for k in ("TWINLOCK_PASSPHRASE", "TWINLOCK_DB"):
        env.pop(k, None)

    def cli(*args):
        return subprocess.run(
            [*twinlock_cmd(), *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )

    r = cli("enroll", "alice", three, "--db", db)
    assert r.returncode == 0, r.stderr
    rows = sqlite3.connect(db).execute("SELECT count(*) FROM audit").fetchone()[0]
    r = cli(*CLI_CASES[case](db, three))
    assert r.returncode == 4, (r.returncode, r.stdout, r.stderr)
    assert REFUSED in r.stderr and "Choose another file" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM audit").fetchone()[0] == rows  # no attempt, no import
    assert con.execute("SELECT name FROM profiles").fetchall() == [("alice",)]
    con.close()


def test_the_wizard_import_refuses_the_app_database_and_keeps_its_locks(qtbot, ctx):
    """The wizard's "Import image files…" given the app's own database and its -wal: each
    skipped with the message, no reference taken, the app's -wal and -shm kept."""
    from desktop_app.ui.capture import Capture
    from desktop_app.ui.enroll_wizard import EnrollWizard

    db = Path(ctx.store.path)
    wiz = EnrollWizard(ctx, Capture())
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.profile_page.name_edit.setText("carol")
    wiz.next()
    page = wiz.capture_page
    side = {s: os.stat(f"{db}{s}").st_ino for s in ("-wal", "-shm")}
    page.import_files([str(db), f"{db}-wal"])
    _another_process_opens_and_closes(db)
    assert all(os.path.exists(f"{db}{s}") for s in side), "the app lost its locks: the -wal/-shm were deleted"
    assert {s: os.stat(f"{db}{s}").st_ino for s in ("-wal", "-shm")} == side
    assert page.items == []
    text = page.import_errors.text()
    assert text.count(REFUSED) == 2 and "Choose another file" in text, text
    assert ctx.store.integrity_check() == "ok"
