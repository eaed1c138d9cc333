"""Store is composed of table objects: each is built on the Database (its public ``query`` and
``write``) and reaches the others only through their public methods; ``Tx`` is those methods
on one open transaction; the store API the rest of the project calls is the tables'."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.decision import AuditEvent, Decision
from desktop_app.core.store import (
    AppSettings,
    AuditLog,
    Database,
    Lockouts,
    LockoutState,
    ProfileFiles,
    Profiles,
    References,
    Store,
)

ROOT = Path(__file__).resolve().parents[1]
STORE_DIR = ROOT / "desktop_app" / "core" / "store"
TABLES = {
    "profiles": Profiles,
    "refs": References,
    "app_settings": AppSettings,
    "audit_log": AuditLog,
    "lockouts": Lockouts,
    "profile_files": ProfileFiles,
}


def _private_reaches(source: str, only_stores: bool = False) -> list[str]:
    """Every ``x._name`` (not a dunder) where ``x`` is not ``self``: a reach into another
    object's (or module's) private names. ``only_stores``: only where ``x`` names a store."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
            continue
        owner = node.value
        if isinstance(owner, ast.Name) and owner.id == "self":
            continue
        if only_stores:
            name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
            if "store" not in name.lower():
                continue
        out.append(f"line {node.lineno}: {ast.unparse(node)}")
    return out


def test_the_source_check_finds_a_reach_into_another_tables_private_method():
    src = "class A:\n    def f(self, con):\n        self.store._log(con)\n        return self._own(con)\n"
    assert _private_reaches(src) == ["line 3: self.store._log"]
    assert _private_reaches("store._q('SELECT 1')\nother._x\n", only_stores=True) == ["line 1: store._q"]


def test_no_store_module_reaches_into_another_objects_private_names():
    bad = {}
    for path in sorted(STORE_DIR.glob("*.py")):
        found = _private_reaches(path.read_text(encoding="utf-8"))
        if found:
            bad[path.name] = found
    assert bad == {}


def test_no_module_of_the_app_reaches_into_a_stores_private_names():
    bad = {}
    for path in sorted((ROOT / "desktop_app").rglob("*.py")):
        found = _private_reaches(path.read_text(encoding="utf-8"), only_stores=True)
        if found:
            bad[str(path.relative_to(ROOT))] = found
    assert bad == {}


def test_store_is_one_database_handle_that_composes_its_tables(tmp_path):
    assert Store.__mro__ == (Store, Database, object)  # no mixins
    for cls in TABLES.values():
        assert cls.__mro__ == (cls, object)
    s = Store(tmp_path / "db.sqlite3")
    try:
        for attr, cls in TABLES.items():
            table = getattr(s, attr)
            assert type(table) is cls and table.db is s
        # the API the app and the CLI call is the tables' own methods, not copies
        assert s.get_profile.__self__ is s.profiles
        assert s.add_references.__self__ is s.refs
        assert s.get_setting.__self__ is s.app_settings
        assert s.audit.__self__ is s.audit_log
        assert s.lockout.__self__ is s.lockouts
        assert s.import_profile.__self__ is s.profile_files
    finally:
        s.close()


def test_a_transaction_writes_the_lockout_and_the_audit_row_together_or_not_at_all(tmp_path):
    s = Store(tmp_path / "db.sqlite3")
    try:
        s.create_profile("alice")
        with pytest.raises(RuntimeError), s.transaction() as tx:
            tx.set_lockout("alice", LockoutState(failures=3))
            rid = tx.log("alice", Decision.PENDING)
            assert tx.row_decision(rid) == "pending" and tx.lockout("alice").failures == 3
            raise RuntimeError("killed half-way")
        assert s.lockout("alice").failures == 0 and s.audit(decision="pending") == []
        with s.transaction() as tx:
            tx.set_lockout("alice", LockoutState(failures=1))
            rid = tx.log("alice", Decision.PENDING, detail={"pid": 7})
            assert [(r, d) for r, _, d in tx.pending("alice")] == [(rid, {"pid": 7})]
        with s.transaction() as tx:
            assert tx.finish_row(rid, Decision.DENIED, frames_used=2) == rid
        assert s.lockout("alice").failures == 1
        assert [(e.id, e.decision, e.frames_used) for e in s.audit(profile="alice", decision="denied")] == [
            (rid, "denied", 2)
        ]
    finally:
        s.close()


def test_removing_a_profile_takes_its_references_and_lockout_and_is_audited(tmp_path):
    s = Store(tmp_path / "db.sqlite3")
    try:
        s.add_references("bob", np.zeros((2, 28, 28), np.uint8), None, np.ones((2, 4)), "fp", create=True)
        s.set_lockout("bob", LockoutState(failures=4))
        s.remove_profile("bob")
        assert not s.has_profile("bob") and s.lockout("bob").failures == 0
        assert s.query("SELECT COUNT(*) FROM refs")[0][0] == 0
        assert [e.decision for e in s.audit(profile="bob")] == [AuditEvent.PROFILE_REMOVED, AuditEvent.ENROLLED]
    finally:
        s.close()
