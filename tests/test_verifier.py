"""The verifier: k-of-n decisions, failures to acquire, time limit, lockout, audit.

Mechanics run on a fixed pixel-pooling ONNX model (real ONNX Runtime); the last tests use
the shipped, trained model (which must be there)."""

import numpy as np
import pytest

from desktop_app.core.embedder import Embedder
from desktop_app.core.paths import DEFAULT_MODEL
from desktop_app.core.preprocess import preprocess
from desktop_app.core.settings import EffectiveThreshold, effective_threshold
from desktop_app.core.store import ProfileNotFound, Store, StoreError
from desktop_app.core.verifier import Policy, Verifier, app_policy, frame_distances, resolve_policy
from training.camera_sim import junk_frames, render_frame
from pixel_model import make_pixel_model

VARIANTS = [
    dict(),
    dict(polarity="light_on_dark"),
    dict(light=0.8),
    dict(blur=1.5, noise=6.0, jpeg=50),
    dict(tilt=0.15, scale=0.45),
    dict(scale=0.22),
]


class Clock:
    def __init__(self, t=1_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


@pytest.fixture(scope="module")
def pixel(tmp_path_factory):
    return Embedder(make_pixel_model(tmp_path_factory.mktemp("m") / "pixel.onnx"), "cpu")


@pytest.fixture(scope="module")
def frames():
    """Rendered once: genuine '3's, impostor digits, junk."""
    three = [render_frame(3, seed=50 + i, **VARIANTS[i % len(VARIANTS)]) for i in range(6)]
    others = {d: render_frame(d, seed=70 + d) for d in range(10) if d != 3}
    return {"three": three, "others": others, "junk": list(junk_frames(seed=5).values())}


def _enroll(store, emb, name, digit, n=3, seed=0):
    imgs = np.stack([preprocess(render_frame(digit, seed=seed + i)).image for i in range(n)])
    store.add_references(name, imgs, None, emb.embed_images(imgs), emb.fingerprint, create=True)


@pytest.fixture
def store(tmp_path, pixel):
    s = Store(tmp_path / "db.sqlite3")
    _enroll(s, pixel, "alice", 3)
    yield s
    s.close()


def test_genuine_frames_are_granted_and_audited(store, pixel, frames):
    v = Verifier(store, pixel, "alice")
    assert v.policy.threshold == pytest.approx(0.48)  # the model's calibrated default
    st = v.start_attempt(t=0.0)
    assert st.state == "waiting" and not st.final
    st = v.feed(frames["three"][0], t=0.1)
    assert st.state == "checking" and st.matches == 1 and st.distance <= st.threshold
    assert st.preprocess is not None and st.preprocess.ok
    st = v.feed(frames["three"][1], t=0.2)
    assert st.state == "granted" and st.final and st.matches == 2 and st.frames_used == 2
    entry = store.audit(decision="granted")[0]
    assert entry.id == st.audit_id and entry.profile == "alice"
    assert entry.fingerprint == pixel.fingerprint and entry.provider == "CPU"
    assert entry.frames_used == 2 and entry.best_distance == pytest.approx(st.best_distance)
    assert entry.threshold == pytest.approx(0.48)
    assert v.feed(frames["three"][2]).state == "granted"  # final: nothing more happens
    assert len(store.audit(decision="granted")) == 1


def test_every_genuine_variant_is_within_threshold(store, pixel, frames):
    v = Verifier(store, pixel, "alice", Policy(k=1, n=1))
    for f in frames["three"]:
        v.start_attempt()
        assert v.feed(f).state == "granted"


def test_other_digits_are_denied_never_granted(store, pixel, frames):
    v = Verifier(store, pixel, "alice", Policy(lockout_after=100))
    for d, f in frames["others"].items():
        v.start_attempt(t=0)
        st = v.feed(f, t=0.1)
        assert st.state == "checking" and st.distance > st.threshold, d
        st = v.feed(f, t=0.2)  # 0 of 2: 2 of 3 can no longer be reached, but that is not told yet
        assert st.state == "checking" and not st.final
        st = v.feed(f, t=0.3)  # the denial comes with the n-th frame, as it would after 1 match
        assert st.state == "denied" and st.final and st.frames_used == 3
        assert st.reason == "0 of 2 frames matched; 2 of 3 are needed"
    assert len(store.audit(decision="denied")) == 9 and not store.audit(decision="granted")


def test_junk_is_no_symbol_never_a_grant_and_never_a_failure(store, pixel, frames):
    v = Verifier(store, pixel, "alice", Policy(time_limit_s=2.0, lockout_after=1))
    v.start_attempt(t=0)
    for i, f in enumerate(frames["junk"]):
        st = v.feed(f, t=0.1 * i)
        assert st.state == "no_symbol" and not st.final and st.reason and st.frames_used == 0
    st = v.tick(t=2.5)  # time limit with nothing acquired
    assert st.state == "no_symbol" and st.final
    assert store.lockout("alice").failures == 0 and v.lockout_remaining() == 0
    assert store.audit(decision="no_symbol")[0].frames_used == 0


def test_failures_to_acquire_count_as_neither(store, pixel, frames):
    v = Verifier(store, pixel, "alice", Policy(k=2, n=2))
    v.start_attempt(t=0)
    v.feed(frames["three"][0], t=0.1)
    for j, f in enumerate(frames["junk"][:4]):
        assert v.feed(f, t=0.2 + j / 100).state == "no_symbol"
    st = v.feed(frames["three"][1], t=0.5)
    assert st.state == "granted" and st.frames_used == 2 and st.frames_seen == 6


def test_an_attempt_is_decided_on_its_first_n_acquired_frames(store, pixel, frames):
    """The window never slides, so one attempt cannot try symbol after symbol."""
    imp, gen = frames["others"][7], frames["three"]
    v = Verifier(store, pixel, "alice", Policy(k=2, n=3, lockout_after=100, change_factor=100))
    v.start_attempt(t=0)
    seq = [gen[0], imp, imp, gen[1], gen[2]]  # a sliding 2-of-3 window would grant at the end
    states = [v.feed(f, t=0.1 * i).state for i, f in enumerate(seq)]
    assert states == ["checking", "checking", "denied", "denied", "denied"]
    assert v.state.reason == "1 of the 3 frames matched; 2 are needed"
    assert v.state.matches == 1 and v.state.frames_used == 3
    assert store.lockout("alice").failures == 1


def test_twenty_images_cycling_the_digits_are_one_denied_attempt(store, pixel, frames):
    """The issue's probe: every digit twice in one attempt was granted by the sliding window."""
    seq = [f for d in range(10) for f in 2 * [frames["three"][0] if d == 3 else frames["others"][d]]]
    v = Verifier(store, pixel, "alice", Policy(k=2, n=3, lockout_after=100, max_frames=60))
    v.start_attempt(t=0)
    for i, f in enumerate(seq):
        st = v.feed(f, t=0.01 * i)
        if st.final:
            break
    assert st.state == "denied" and st.frames_used == 3
    assert not store.audit(decision="granted")


def test_a_change_of_symbol_inside_an_attempt_is_a_failure(store, pixel, frames):
    """Wrong digit first, then the right one twice: 2 of 3 would match, but the symbol changed."""
    imp, gen = frames["others"][8], frames["three"]
    v = Verifier(store, pixel, "alice", Policy(k=2, n=3, lockout_after=100))
    v.start_attempt(t=0)
    assert v.feed(imp, t=0.1).state == "checking"
    assert v.feed(gen[0], t=0.2).state == "checking"  # the change is not told before the n-th frame
    st = v.feed(gen[1], t=0.3)  # and a match after it grants nothing
    assert st.state == "denied" and "symbol changed" in st.reason
    assert store.audit(decision="denied")[0].detail["symbol_changed"] is True
    assert store.lockout("alice").failures == 1
    v.start_attempt(t=1)  # the same genuine drawing, frame after frame
    assert [v.feed(f, t=1.1 + i / 10).state for i, f in enumerate(gen[:2])] == ["checking", "granted"]


def test_a_denial_takes_as_many_frames_whatever_matched(store, pixel, frames):
    """No timing oracle: with 2 of 3 needed, a guess whose first frame matched and one that
    matched nothing are both told on the 3rd acquired frame, and look the same before it."""
    imp, gen = frames["others"][5], frames["three"]
    seen = {}
    for name, seq in {"none": [imp, imp, imp], "first": [gen[0], imp, imp], "changed": [imp, gen[0], gen[1]]}.items():
        v = Verifier(store, pixel, "alice", Policy(k=2, n=3, lockout_after=100))
        v.start_attempt(t=0)
        states = [v.feed(f, t=0.1 * (i + 1)) for i, f in enumerate(seq)]
        seen[name] = [(s.state, s.final) for s in states]
        assert states[-1].state == "denied" and states[-1].frames_used == 3, name
    assert seen["none"] == seen["first"] == seen["changed"]
    assert seen["none"] == [("checking", False), ("checking", False), ("denied", True)]
    # an attempt that ends early (end of input, time limit) is still the held denial
    v = Verifier(store, pixel, "alice", Policy(k=2, n=3, lockout_after=100, time_limit_s=1.0))
    v.start_attempt(t=0)
    v.feed(imp, t=0.1), v.feed(gen[0], t=0.2)
    st = v.tick(t=2.0)
    assert st.state == "denied" and "symbol changed" in st.reason


def test_messages_say_what_happened_and_never_round_to_a_lie():
    from desktop_app.core.verifier import compare_text

    # 4 decimals would print "1.5080 > 1.5080": as many as it takes for them to differ
    assert compare_text(1.50804, 1.50796) == "distance 1.50804 > threshold 1.50796"
    t = compare_text(1.50804, 1.50796)
    a, b = t.split(" > ")
    assert a.split()[-1] != b.split()[-1]
    assert compare_text(0.5, 0.823) == "distance 0.500 \u2264 threshold 0.823"
    assert compare_text(0.823, 0.823) == "distance 0.823 \u2264 threshold 0.823"


def test_attempts_left_before_a_lockout(store, pixel, frames):
    v = Verifier(store, pixel, "alice", Policy(k=1, n=1, lockout_after=3))
    assert v.start_attempt(t=0).attempts_left == 3
    lefts = []
    for i in range(3):
        v.start_attempt(t=i)
        st = v.feed(frames["others"][4], t=i + 0.1)
        assert st.state == "denied"
        lefts.append(st.attempts_left)
    assert lefts == [2, 1, 0]
    assert v.start_attempt().state == "locked" and v.state.attempts_left == 0
    assert Policy(lockout_base_s=0).attempts_left(2) is None
    assert Policy(lockout_after=3).attempts_left(7) == 1


def test_time_limit_and_max_frames_deny(store, pixel, frames):
    imp = frames["others"][8]
    v = Verifier(store, pixel, "alice", Policy(time_limit_s=1.0, lockout_after=100))
    v.start_attempt(t=10.0)
    assert v.feed(imp, t=10.5).state == "checking"
    st = v.feed(imp, t=11.2)  # past the limit: decided, frame ignored
    assert st.state == "denied" and st.frames_used == 1 and "time limit" in st.reason
    v = Verifier(store, pixel, "alice", Policy(k=1, n=3, max_frames=4, lockout_after=100))
    v.start_attempt(t=0)
    junk = frames["junk"][0]
    states = [v.feed(f, t=0.01 * i).state for i, f in enumerate([imp, junk, junk, junk])]
    assert states == ["checking", "no_symbol", "no_symbol", "denied"]
    assert v.state.reason == "4 frames seen: 0 of 1 frame matched; 1 of 3 is needed"


def test_lockout_grows_and_survives_a_restart(tmp_path, pixel, frames):
    db = tmp_path / "db.sqlite3"
    s = Store(db)
    _enroll(s, pixel, "alice", 3)
    clock = Clock()
    pol = Policy(k=1, n=1, lockout_after=3, lockout_base_s=30, lockout_factor=2, lockout_max_s=100)
    imp, gen = frames["others"][1], frames["three"][0]

    def attempt(v, frame):
        v.start_attempt()
        st = v.state if v.state.final else v.feed(frame)
        return st if st.final else v.finish()

    v = Verifier(s, pixel, "alice", pol, clock=clock, boot_clock=clock)
    assert [attempt(v, imp).state for _ in range(3)] == ["denied"] * 3
    assert v.state.lockout_remaining_s == pytest.approx(30) and "locked out for 30 s" in v.state.reason
    assert s.audit(decision="denied")[0].detail["failures"] == 3
    s.close()

    s = Store(db)  # a restart
    v = Verifier(s, pixel, "alice", pol, clock=clock, boot_clock=clock)
    clock.t += 10
    st = attempt(v, gen)  # even the right symbol: locked
    assert st.state == "locked" and st.final and st.lockout_remaining_s == pytest.approx(20)
    assert st.frames_seen == 0 and "locked out" in st.reason
    assert s.audit(decision="locked")[0].profile == "alice"
    assert v.feed(gen).state == "locked"  # feeding compares nothing
    clock.t += 21
    assert attempt(v, imp).state == "denied"  # 4th denial: 60 s
    assert s.lockout("alice").remaining(clock.t, clock.t) == pytest.approx(60)
    clock.t += 61
    attempt(v, imp)
    assert s.lockout("alice").remaining(clock.t, clock.t) == pytest.approx(100)  # capped
    clock.t += 101
    assert attempt(v, gen).state == "granted"  # a grant resets it
    assert s.lockout("alice").failures == 0 and v.lockout_remaining() == 0


def test_cancel_and_no_symbol_do_not_count_before_a_frame_is_acquired(store, pixel, frames):
    v = Verifier(store, pixel, "alice", Policy(lockout_after=2))
    v.start_attempt(t=0)
    v.feed(frames["junk"][0], t=0.1)
    assert v.finish(t=0.2, reason="cancelled").state == "cancelled"
    v.start_attempt(t=0)
    assert v.finish(t=0.3).state == "no_symbol"
    assert store.lockout("alice").failures == 0
    assert [e.decision for e in store.audit()][:2] == ["no_symbol", "cancelled"]
    v.start_attempt(t=1)  # cancelling after a wrong frame hides nothing
    v.feed(frames["others"][5], t=1.1)
    st = v.finish(t=1.2, reason="cancelled")
    assert st.state == "denied" and st.reason.startswith("cancelled: 0 of 1 frame matched")
    assert store.lockout("alice").failures == 1


def test_denied_snapshots_only_when_enabled(store, pixel, frames):
    for enabled in (False, True):
        v = Verifier(store, pixel, "alice", Policy(k=1, n=1, save_denied_snapshots=enabled, lockout_after=100))
        v.start_attempt()
        st = v.feed(frames["others"][2])
        assert st.state == "denied"
        entry = store.audit(decision="denied")[0]
        assert entry.has_snapshot == enabled
        if enabled:
            assert store.audit_snapshot(entry.id).shape == (28, 28)


def test_policy_layers_and_validation(store, pixel):
    assert resolve_policy(store, "alice", pixel).threshold == pytest.approx(0.48)
    store.set_setting("policy", {"k": 1, "n": 4, "time_limit_s": 5, "bogus": 1})
    store.set_policy("alice", {"n": 2})
    store.set_threshold("alice", 0.3)
    p = resolve_policy(store, "alice", pixel)
    assert (p.k, p.n, p.time_limit_s, p.threshold) == (1, 2, 5.0, 0.3)
    for bad in (
        dict(k=4, n=3),
        dict(n=0),
        dict(threshold=-1.0),
        dict(time_limit_s=0),
        dict(lockout_factor=0.5),
        dict(max_frames=1),
    ):
        with pytest.raises(ValueError):
            Policy(**bad).validate()
    assert Policy(lockout_after=5).lockout_delay(4) == 0
    assert Policy(lockout_after=5).lockout_delay(7) == 120
    assert Policy.from_dict(Policy(k=1, n=5).to_dict()) == Policy(k=1, n=5)


def test_effective_threshold_says_which_threshold_applies_and_why(store, pixel):
    c = pixel.contract
    eff = effective_threshold(store, "alice", c)
    assert (eff.value, eff.source, eff.model_default) == (pytest.approx(0.48), "model default", pytest.approx(0.48))
    assert effective_threshold(store, "nobody", None) == EffectiveThreshold(None, "no model", None)
    store.set_setting("policy", {"threshold": 0.44})
    assert effective_threshold(store, "new-profile", c).source == "app settings"
    store.set_policy("alice", {"threshold": 0.42})
    assert (effective_threshold(store, "alice", c).value, effective_threshold(store, "alice", c).source) == (
        pytest.approx(0.42),
        "profile policy",
    )
    store.set_threshold("alice", 0.3)
    eff = effective_threshold(store, store.get_profile("alice"), c)
    assert (eff.value, eff.source) == (pytest.approx(0.3), "profile")
    assert resolve_policy(store, "alice", pixel).threshold == eff.value  # the verifier asks the same rule
    store.set_threshold("alice", None)
    assert resolve_policy(store, "alice", pixel).threshold == pytest.approx(0.42)


def test_save_denied_snapshots_has_one_home_the_app_policy(store, pixel):
    assert app_policy(store).save_denied_snapshots is False
    store.set_setting("save_denied_snapshots", True)  # a setting of its own is not read
    assert resolve_policy(store, "alice", pixel).save_denied_snapshots is False
    store.set_setting("policy", {"save_denied_snapshots": True})  # the app's policy says
    assert app_policy(store).save_denied_snapshots is True
    assert resolve_policy(store, "alice", pixel).save_denied_snapshots is True
    store.set_setting("policy", {"save_denied_snapshots": False})
    store.set_policy("alice", {"save_denied_snapshots": True})  # a profile's own policy wins over both
    assert resolve_policy(store, "alice", pixel).save_denied_snapshots is True


def test_k_nearest_mean_distance():
    refs = np.array([[0, 0], [1, 0], [0, 3]], np.float32)
    q = np.array([[0, 0]], np.float32)
    assert frame_distances(q, refs, 1)[0] == pytest.approx(0)
    assert frame_distances(q, refs, 2)[0] == pytest.approx(0.5)
    assert frame_distances(q, refs, 10)[0] == pytest.approx(4 / 3)


def test_verifier_refuses_missing_or_foreign_profiles(store, pixel):
    with pytest.raises(ProfileNotFound):
        Verifier(store, pixel, "nobody")
    store.add_references("old", np.zeros((1, 28, 28), np.uint8), None, np.ones((1, 5)), "other-model", create=True)
    with pytest.raises(StoreError, match="another model"):
        Verifier(store, pixel, "old")


# ---------------------------------------------------------------- the shipped, trained model
@pytest.fixture(scope="module")
def shipped():
    assert DEFAULT_MODEL.is_file(), f"the shipped model {DEFAULT_MODEL} is missing"
    return Embedder(DEFAULT_MODEL, "cpu")


def test_shipped_model_matches_the_right_enrolled_digit_only(tmp_path, shipped):
    s = Store(tmp_path / "db.sqlite3")
    for d in range(10):
        _enroll(s, shipped, f"digit{d}", d, n=3, seed=1000 + 10 * d)
    thr = shipped.contract.default_threshold
    probes = {}
    for d in range(10):
        results = [preprocess(render_frame(d, seed=2000 + 10 * d + i, **VARIANTS[i])) for i in range(len(VARIANTS))]
        assert all(r.ok for r in results), [r.reason for r in results]
        probes[d] = results
    for c in range(10):
        v = Verifier(s, shipped, f"digit{c}", Policy(k=2, n=3, lockout_after=100))
        for d, results in probes.items():
            v.start_attempt(t=0)
            st = None
            for i, r in enumerate(results):
                st = v.feed_preprocessed(r, t=0.1 * i)
                if st.final:
                    break
            if not st.final:
                st = v.finish(t=1.0)
            expected = "granted" if c == d else "denied"
            assert st.state == expected, (d, c, st.best_distance, thr)
    s.close()
