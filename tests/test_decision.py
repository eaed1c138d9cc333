"""The Decision names: every state the verifier emits is one, and the audit log only takes
known names. (The audit viewer's filter is checked in test_ui_settings.py.)"""

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core import decision as dec
from desktop_app.core.decision import AUDIT_NAMES, AUDITED, FINAL, AuditEvent, Decision, audit_name
from desktop_app.core.embedder import Embedder
from desktop_app.core.preprocess import preprocess
from desktop_app.core.store import Store
from desktop_app.core.verifier import Policy, Verifier
from training.camera_sim import junk_frames, render_frame
from pixel_model import make_pixel_model

ROOT = Path(__file__).resolve().parents[1]


class RecordingVerifier(Verifier):
    """The real Verifier; every AttemptState it makes is kept."""

    emitted: list

    def _state(self, *a, **kw):
        st = super()._state(*a, **kw)
        type(self).emitted.append(st)
        return st


@pytest.fixture(scope="module")
def pixel(tmp_path_factory):
    return Embedder(make_pixel_model(tmp_path_factory.mktemp("m") / "pixel.onnx"), "cpu")


def test_decision_values_are_the_strings_stored_and_compared():
    assert Decision.GRANTED == "granted" and str(Decision.NO_SYMBOL) == "no_symbol"
    assert f"{Decision.DENIED}" == "denied" and json.dumps({"d": Decision.LOCKED}) == '{"d": "locked"}'
    assert {d.value for d in Decision}.isdisjoint({e.value for e in AuditEvent})
    assert frozenset({Decision.WAITING, Decision.CHECKING}) == frozenset(Decision) - AUDITED
    assert dec.FAILURES <= FINAL and dec.VERDICTS <= FINAL and Decision.PENDING not in FINAL
    assert len(AUDIT_NAMES) == len(set(AUDIT_NAMES)) == len(AUDITED) + len(AuditEvent)


def test_every_state_the_verifier_emits_is_a_decision(tmp_path, pixel):
    RecordingVerifier.emitted = []
    store = Store(tmp_path / "db.sqlite3")
    three = [render_frame(3, seed=50 + i) for i in range(3)]
    imgs = np.stack([preprocess(f).image for f in three])
    store.add_references("alice", imgs, None, pixel.embed_images(imgs), pixel.fingerprint, create=True)
    seven, junk = render_frame(7, seed=77), next(iter(junk_frames(seed=5).values()))
    pol = Policy(k=2, n=3, lockout_after=1, lockout_base_s=60.0)
    clock = [1000.0]
    v = RecordingVerifier(store, pixel, "alice", policy=pol, clock=lambda: clock[0], boot_clock=lambda: clock[0])
    v.start_attempt(t=0.0)  # waiting
    v.feed(junk, t=0.1)  # no_symbol (live)
    assert store.audit(decision=Decision.PENDING)  # the open attempt is in the log
    v.feed(three[0], t=0.2)  # checking
    assert v.feed(three[1], t=0.3).state == Decision.GRANTED
    v.start_attempt(t=1.0)
    assert v.finish(reason="cancelled").state == Decision.CANCELLED
    v.start_attempt(t=2.0)
    assert v.finish().state == Decision.NO_SYMBOL  # ended with nothing acquired
    v.start_attempt(t=3.0)
    v.feed(three[0], t=3.1)
    assert v.abandon().state == Decision.ABANDONED  # a failure: locked out for 60 s
    assert v.start_attempt(t=4.0).state == Decision.LOCKED
    clock[0] += 3600.0  # the lockout is over
    v.start_attempt(t=5.0)
    assert v.feed(seven, t=5.1).state == Decision.CHECKING
    for i, f in enumerate([seven, seven]):
        st = v.feed(f, t=5.2 + i / 10)
    assert st.state == Decision.DENIED

    emitted = RecordingVerifier.emitted
    assert all(type(s.state) is Decision for s in emitted), {type(s.state) for s in emitted}
    assert {s.state for s in emitted} == set(Decision) - {Decision.PENDING}
    assert {s.state for s in emitted if s.final} == FINAL
    logged = {e.decision for e in store.audit(limit=0)}
    assert logged == (FINAL | {AuditEvent.ENROLLED}) and logged <= set(AUDIT_NAMES)
    store.close()


def test_the_audit_log_refuses_an_unknown_name_and_writes_nothing(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    store.log_attempt("alice", Decision.GRANTED)
    with pytest.raises(ValueError, match="'grantd' is not an audit decision"):
        store.log_attempt("alice", "grantd")
    with pytest.raises(ValueError):
        audit_name(Decision.WAITING)  # shown, never audited
    assert [e.decision for e in store.audit()] == ["granted"]
    assert audit_name(AuditEvent.THRESHOLD_SET) == "threshold_set"
    store.close()


def _string_decisions(tree) -> list[str]:
    """Audit writes (log_attempt / log / log_in / finish_row / finish_in / _finish) whose decision is a bare string."""
    out = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        pos = {"log_attempt": 1, "log": 1, "finish_row": 1, "log_in": 2, "finish_in": 2, "_finish": 0}.get(name)
        if pos is None or len(node.args) <= pos:
            continue
        arg = node.args[pos]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            out.append(f"line {node.lineno}: {name}({arg.value!r})")
    return out


@pytest.mark.parametrize("area", ["desktop_app/core", "desktop_app/ui"])
def test_core_and_ui_write_decisions_by_name_not_as_bare_strings(area):
    bad = {}
    for path in sorted((ROOT / area).rglob("*.py")):
        found = _string_decisions(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            bad[str(path.relative_to(ROOT))] = found
    assert bad == {}
