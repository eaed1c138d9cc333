"""The SQLite store: profiles, references, settings, audit, lockout, export/import, damage."""

import hashlib
import os
import sqlite3
import stat

import numpy as np
import pytest

from desktop_app.core import settings as app_settings
from desktop_app.core.contract import ContractError
from desktop_app.core.embedder import Embedder
from desktop_app.core.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    InvalidProfileName,
    LockoutState,
    ProfileExists,
    ProfileNotFound,
    References,
    Store,
    StoreError,
    validate_profile_name,
)
from pixel_model import make_pixel_model


def _imgs(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)


def _digest(p):
    return hashlib.sha256(open(p, "rb").read()).hexdigest()


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "db.sqlite3")
    yield s
    s.close()


@pytest.fixture(scope="module")
def pixel(tmp_path_factory):
    return Embedder(make_pixel_model(tmp_path_factory.mktemp("m") / "pixel.onnx"), "cpu")


def test_new_database_is_private_wal_and_versioned(tmp_path):
    p = tmp_path / "sub" / "db.sqlite3"
    s = Store(p)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert s.schema_version == SCHEMA_VERSION
    assert s.query("PRAGMA journal_mode")[0][0] == "wal"
    assert s.integrity_check() == "ok"
    assert set(MIGRATIONS) == set(range(SCHEMA_VERSION))  # a migration for every step
    s.set_setting("x", 1)
    wal = p.with_name(p.name + "-wal")
    assert wal.exists() and stat.S_IMODE(os.stat(wal).st_mode) == 0o600
    s.close()
    with pytest.raises(StoreError, match="no twinlock database"):
        Store(tmp_path / "none.sqlite3", create=False)


@pytest.mark.parametrize(
    "bad", ["", "   ", "../etc", "a/b", "a\\b", ".hidden", "x" * 65, "a..b", "nul\x00", "tab\tname", "-rf"]
)
def test_profile_name_validation(bad):
    with pytest.raises(InvalidProfileName):
        validate_profile_name(bad)


def test_good_profile_names():
    assert validate_profile_name("  alice  ") == "alice"
    for ok in ("Bob", "work_1", "my symbol 3", "v1.2-beta", "_x"):
        assert validate_profile_name(ok) == ok


def test_profiles_and_references(store):
    e = np.eye(3, 8, dtype=np.float32)
    crops = [np.full((40, 30), 7, np.uint8), None, np.zeros((5, 5), np.uint8)]
    assert store.add_references("alice", _imgs(3), crops, e, "fpA", create=True, source="test") == 3
    with pytest.raises(ProfileExists):
        store.create_profile("alice")
    p = store.get_profile("alice")
    assert p.n_references == 3 and p.fingerprints == ["fpA"] and p.threshold is None
    refs = store.references("alice")
    assert [r.crop is None for r in refs] == [False, True, False]
    assert np.array_equal(refs[0].image, _imgs(3)[0]) and np.array_equal(refs[0].crop, crops[0])
    assert np.array_equal(store.reference_embeddings("alice", "fpA"), e)
    # embeddings of two models are never mixed or compared
    with pytest.raises(StoreError, match="another model"):
        store.add_references("alice", _imgs(1), None, np.ones((1, 8)), "fpB")
    with pytest.raises(StoreError, match="another model"):
        store.reference_embeddings("alice", "fpB")
    with pytest.raises(ProfileNotFound):
        store.add_references("nobody", _imgs(1), None, np.ones((1, 8)), "fpA")
    store.remove_reference("alice", refs[1].id)
    assert store.get_profile("alice").n_references == 2
    store.set_threshold("alice", 0.42)
    store.set_policy("alice", {"k": 1})
    p = store.get_profile("alice")
    assert p.threshold == pytest.approx(0.42) and p.policy == {"k": 1}
    with pytest.raises(ValueError):
        store.set_threshold("alice", -1)
    store.remove_profile("alice")
    assert not store.has_profile("alice") and store.list_profiles() == []
    assert store.query("SELECT COUNT(*) FROM refs")[0][0] == 0  # references went with it
    with pytest.raises(ProfileNotFound):
        store.remove_profile("alice")


def test_bad_reference_input_is_refused_before_writing(store):
    with pytest.raises(ValueError):
        store.add_references("a", np.zeros((2, 27, 28), np.uint8), None, np.ones((2, 4)), "fp", create=True)
    with pytest.raises(ValueError):
        store.add_references("a", _imgs(2), None, np.full((2, 4), np.nan), "fp", create=True)
    with pytest.raises(ValueError):
        store.add_references("a", _imgs(2), None, np.ones((3, 4)), "fp", create=True)
    assert not store.has_profile("a")


def test_enrollment_is_all_or_nothing(store, monkeypatch):
    calls = {"n": 0}
    real = References.insert_in

    def failing(self, *a):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError("disk full")
        return real(self, *a)

    monkeypatch.setattr(References, "insert_in", failing)
    with pytest.raises(OSError):
        store.add_references("bob", _imgs(5), None, np.ones((5, 4)), "fp", create=True)
    assert not store.has_profile("bob")
    assert store.query("SELECT COUNT(*) FROM refs")[0][0] == 0
    assert store.audit(decision="enrolled") == []


def test_settings_are_json(store):
    assert store.get_setting("camera", 0) == 0
    store.set_setting("resolution", [1280, 720])
    store.set_setting("policy", {"k": 3, "n": 5})
    store.set_setting("policy", {"k": 1, "n": 2})
    assert store.get_setting("resolution") == [1280, 720]
    assert store.settings() == {"resolution": [1280, 720], "policy": {"k": 1, "n": 2}}
    assert store.get_setting("provider", app_settings.DEFAULTS["provider"]) == "auto"
    store.delete_setting("resolution")
    assert store.get_setting("resolution", "x") == "x"


def test_audit_filters_and_snapshots(store):
    store.create_profile("a")
    store.create_profile("b")
    store.log_attempt("a", "granted", 0.1, 0.5, 2, "fp", "CPU", {"reason": "ok"})
    store.log_attempt("a", "denied", 0.9, 0.5, 3, "fp", "CPU", snapshot=np.full((28, 28), 200, np.uint8))
    store.log_attempt("b", "denied", 0.8, 0.5, 3, "fp", "CPU")
    rows = store.audit()
    assert [r.decision for r in rows] == ["denied", "denied", "granted"]  # newest first
    assert [r.profile for r in store.audit(decision="denied")] == ["b", "a"]
    assert len(store.audit(profile="a", decision=["granted", "denied"])) == 2
    assert len(store.audit(limit=1)) == 1
    den = store.audit(profile="a", decision="denied")[0]
    assert den.has_snapshot and store.audit_snapshot(den.id).max() == 200
    g = store.audit(decision="granted")[0]
    assert g.detail == {"reason": "ok"} and g.frames_used == 2 and g.provider == "CPU"
    assert store.audit_snapshot(g.id) is None


def test_lockout_survives_a_restart(tmp_path):
    p = tmp_path / "db.sqlite3"
    s = Store(p)
    s.create_profile("a")
    assert s.lockout("a") == LockoutState()
    s.set_lockout("a", LockoutState(6, 2e9))
    s.close()
    s2 = Store(p)
    st = s2.lockout("a")
    assert st.failures == 6 and st.locked_until == 2e9 and st.remaining(now=2e9 - 5) == 5
    s2.remove_profile("a")
    assert s2.lockout("a") == LockoutState()


def test_two_handles_share_the_file(tmp_path):
    a, b = Store(tmp_path / "db"), Store(tmp_path / "db")
    a.add_references("x", _imgs(2), None, np.ones((2, 4)), "fp", create=True)
    assert b.get_profile("x").n_references == 2
    b.log_attempt("x", "granted")
    assert a.audit(decision="granted")


def test_export_import_round_trip(store, tmp_path, pixel):
    e = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32)
    store.add_references("alice", _imgs(3), [np.full((9, 9), 3, np.uint8)] * 3, e, "fpA", create=True)
    store.set_threshold("alice", 0.3)
    store.set_policy("alice", {"n": 4})
    f = tmp_path / "out" / "alice.twinlock.json"
    store.export_profile("alice", f)
    assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    assert not [x for x in f.parent.iterdir() if x.name.endswith(".tmp")]
    other = Store(tmp_path / "other.db")
    p = other.import_profile(f, pixel, confirmed=True)  # n 4 > 3 loosens the policy
    assert p.name == "alice" and p.n_references == 3 and p.threshold == pytest.approx(0.3) and p.policy == {"n": 4}
    # the embeddings are the model's, computed from the images (never the file's)
    assert other.stale_references(pixel.fingerprint) == 0  # none kept the file's "fpA"
    assert np.allclose(other.reference_embeddings("alice", pixel.fingerprint), pixel.embed_images(_imgs(3)))
    assert np.array_equal(other.references("alice")[2].image, _imgs(3)[2])
    with pytest.raises(ProfileExists):
        other.import_profile(f, pixel, confirmed=True)
    assert other.import_profile(f, pixel, name="alice2", confirmed=True).n_references == 3
    assert other.import_profile(f, pixel, overwrite=True, confirmed=True).n_references == 3
    with pytest.raises(InvalidProfileName):
        other.import_profile(f, pixel, name="../evil")
    assert other.audit(decision="profile_imported")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b'{"format": "something-else"}',
        b'{"format": "twinlock-profile", "version": 1, "name": "x", '
        b'"references": [{"image_png": "!!", "embedding": [1], "fingerprint": "f"}]}',
        b'{"format": "twinlock-profile", "version": 99, "name": "x", "references": []}',
    ],
)
def test_damaged_import_files_are_refused(store, tmp_path, content, pixel):
    f = tmp_path / "bad.json"
    f.write_bytes(content)
    with pytest.raises(StoreError):
        store.import_profile(f, pixel)
    assert store.list_profiles() == []
    with pytest.raises(StoreError, match="does not exist"):
        store.import_profile(tmp_path / "missing.json", pixel)


def _make_db(p):
    s = Store(p)
    s.add_references("a", _imgs(2), None, np.ones((2, 4)), "fp", create=True)
    s.close()


def test_garbage_file_is_reported_and_untouched(tmp_path):
    p = tmp_path / "db"
    p.write_bytes(os.urandom(5000))
    before = _digest(p)
    with pytest.raises(StoreError, match="not an SQLite database.*did not change it"):
        Store(p)
    assert _digest(p) == before and sorted(os.listdir(tmp_path)) == ["db"]


def test_truncated_database_is_reported_and_untouched(tmp_path):
    p = tmp_path / "db"
    _make_db(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2 + 100])
    before = _digest(p)
    with pytest.raises(StoreError, match="damaged|cannot be opened"):
        Store(p)
    assert _digest(p) == before


def test_corrupted_pages_are_reported_and_untouched(tmp_path):
    p = tmp_path / "db"
    _make_db(p)
    data = bytearray(p.read_bytes())
    page = 4096
    for off in range(page, len(data), 997):  # scribble over every page but the header
        data[off : off + 40] = os.urandom(40)
    p.write_bytes(bytes(data))
    before = _digest(p)
    with pytest.raises(StoreError):
        Store(p)
    assert _digest(p) == before


def test_foreign_and_newer_databases_are_refused(tmp_path):
    foreign = tmp_path / "foreign.db"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE stuff (x)")
    con.commit()
    con.close()
    before = _digest(foreign)
    with pytest.raises(StoreError, match="another program"):
        Store(foreign)
    assert _digest(foreign) == before

    newer = tmp_path / "newer.db"
    _make_db(newer)
    con = sqlite3.connect(newer)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.commit()
    con.close()
    before = _digest(newer)
    with pytest.raises(StoreError, match="newer twinlock"):
        Store(newer)
    assert _digest(newer) == before


def test_reembed_all_is_all_or_nothing(store, pixel):
    imgs = _imgs(5)
    store.add_references("a", imgs[:3], None, np.ones((3, 4)), "old", create=True)
    store.add_references("b", imgs[3:], None, np.ones((2, 4)), "old", create=True)
    assert store.stale_references(pixel.fingerprint) == 5

    class Broken:
        fingerprint = "broken"
        calls = 0

        def embed_images(self, x):
            Broken.calls += 1
            if Broken.calls == 2:
                raise RuntimeError("ORT failed")
            return pixel.embed_images(x)

    with pytest.raises(RuntimeError):
        store.reembed_all(Broken(), batch=2)
    assert store.stale_references(pixel.fingerprint) == 5
    assert store.get_profile("a").fingerprints == ["old"]

    seen = []
    assert store.reembed_all(pixel, progress=lambda d, t: seen.append((d, t)), batch=2) == 5
    assert seen[-1] == (5, 5)
    assert store.stale_references(pixel.fingerprint) == 0
    got = store.reference_embeddings("a", pixel.fingerprint)
    assert np.allclose(got, pixel.embed_images(imgs[:3]), atol=1e-6)


def test_switch_model_keeps_the_old_one_when_the_new_one_is_bad(tmp_path, store, pixel):
    imgs = _imgs(3)
    store.add_references("a", imgs, None, pixel.embed_images(imgs), pixel.fingerprint, create=True)
    store.set_setting("model_path", str(pixel.path))
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ContractError):
        app_settings.switch_model(store, bad, preference="cpu")
    assert store.get_setting("model_path") == str(pixel.path)
    assert store.get_profile("a").fingerprints == [pixel.fingerprint]

    other = make_pixel_model(tmp_path / "pool4.onnx", pool=4)
    emb = app_settings.switch_model(store, other, preference="cpu")
    assert emb.dim == 49 and emb.fingerprint != pixel.fingerprint
    assert store.get_setting("model_path") == str(other.resolve())
    assert store.reference_embeddings("a", emb.fingerprint).shape == (3, 49)
    assert store.audit(decision="model_switched")[0].detail["references"] == 3
    assert app_settings.active_model_path(store) == other.resolve()


def test_load_embedder_reembeds_stale_references(store, pixel, monkeypatch):
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    imgs = _imgs(2)
    store.add_references("a", imgs, None, np.ones((2, 7)), "an-old-model", create=True)
    from desktop_app.core.model_trust import accept_contract

    accept_contract(store, pixel.contract, via="test")  # an admin accepted it (core.model_trust)
    emb = app_settings.load_embedder(store, override=pixel.path, preference="cpu")
    assert store.stale_references(emb.fingerprint) == 0
    assert store.audit(decision="reembedded")[0].detail["references"] == 2
    monkeypatch.setenv("TWINLOCK_MODEL", "/env/model.onnx")
    assert str(app_settings.active_model_path(store)) == "/env/model.onnx"
    assert app_settings.active_model_path(store, "/x.onnx").name == "x.onnx"


def test_migrations_bring_an_older_database_up_and_keep_its_data(tmp_path, monkeypatch):
    """A (pretend) schema 5 adds a column: a schema-4 file is migrated in place, data kept."""
    import desktop_app.core.store.schema as store_mod

    p = tmp_path / "db"
    _make_db(p)

    def to_5(con):
        con.execute("ALTER TABLE profiles ADD COLUMN note TEXT DEFAULT 'migrated'")

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 5)
    monkeypatch.setitem(store_mod.MIGRATIONS, 4, to_5)
    s = Store(p)
    assert s.schema_version == 5
    assert s.query("SELECT note FROM profiles WHERE name = 'a'")[0][0] == "migrated"
    assert s.get_profile("a").n_references == 2
    s.close()

    def broken(con):
        con.execute("ALTER TABLE profiles ADD COLUMN other TEXT")
        raise RuntimeError("migration bug")

    q = tmp_path / "db2"
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 4)
    _make_db(q)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 5)
    monkeypatch.setitem(store_mod.MIGRATIONS, 4, broken)
    with pytest.raises(StoreError, match="Upgrading the database.*migration bug.*left as it was"):
        Store(q)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 4)
    s = Store(q)  # the failed migration rolled back whole
    assert s.schema_version == 4 and "other" not in [r[1] for r in s.query("PRAGMA table_info(profiles)")]
    s.close()


def test_a_schema_1_database_gets_the_lockout_clock_columns(tmp_path, monkeypatch):
    import desktop_app.core.store.schema as store_mod

    p = tmp_path / "v1.sqlite3"
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 1)
    s = Store(p)
    s.set_setting("x", 1)
    s.query("INSERT INTO lockout(profile, failures, locked_until) VALUES ('a', 4, 5.0)")
    s.close()
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 3)
    s = Store(p)
    assert s.schema_version == 3 and s.get_setting("x") == 1
    assert s.lockout("a") == LockoutState(4, 5.0, 0.0, "", 0.0)
    s.close()
