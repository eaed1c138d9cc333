"""Passcodes: a card of several symbols read left to right, and the verifier's rule that every
position must match its own references, in order. Real ONNX Runtime with the shipped model
(a copy whose contract carries passcode points, as 'twinlock model calibrate-passcode' writes
them), real SQLite, camera-like card frames (training.camera_sim)."""

import numpy as np
import pytest

from passcode_support import T, card_frames, digit28, model_with_points

from desktop_app.core.decision import Decision
from desktop_app.core.disclosure import public_reason
from desktop_app.core.embedder import Embedder
from desktop_app.core.passcode import NoPasscodePoint, frame_score, point_key, position_thresholds
from desktop_app.core.paths import DEFAULT_MODEL
from desktop_app.core.preprocess import mnist_form, prepare_card_image, preprocess_card
from desktop_app.core.store import Store
from desktop_app.core.verifier import Verifier
from training.synthetic_digits import digit_strokes


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return Embedder(model_with_points(tmp_path_factory.mktemp("pc") / "pc.onnx", (2, 3)), "cpu")


@pytest.fixture
def store(tmp_path, model):
    s = Store(tmp_path / "db.sqlite3")
    yield s
    s.close()


def enroll_card(store, emb, name, digits, captures=4, seed=0):
    imgs, pos = [], []
    for f in card_frames(digits, captures * 3, seed):
        r = preprocess_card(f, len(digits))
        if r.ok:
            imgs.extend(r.images)
            pos.extend(range(len(digits)))
        if len(imgs) >= captures * len(digits):
            break
    assert len(imgs) >= 2 * len(digits), "the card was not read often enough to enroll"
    imgs = np.stack(imgs)
    store.add_references(
        name, imgs, None, emb.embed_images(imgs), emb.fingerprint, create=True, positions=pos, symbols=len(digits)
    )


def run_attempt(v, frames, t0=0.0):
    v.start_attempt(t=t0)
    seen = []
    st = v.state
    for i, f in enumerate(frames):
        st = v.feed(f, t=t0 + 0.1 * (i + 1))
        seen.append(st)
        if st.final:
            break
    if not st.final:
        st = v.finish(t=t0 + 5)
        seen.append(st)
    return st, seen


def test_a_card_is_read_left_to_right_in_model_form():
    frames = card_frames([1, 4, 7], 6, seed=3)
    results = [preprocess_card(f, 3) for f in frames]
    ok = [r for r in results if r.ok]
    assert len(ok) >= 4, [r.code for r in results]
    for r in ok:
        assert r.images.shape == (3, 28, 28) and r.images.dtype == np.uint8 and r.symbols == 3
        xs = [b[0] for b in r.boxes]
        assert xs == sorted(xs)  # left to right
    # the same card asked for another count: a failure to acquire ("card"), not a misread
    # (a symbol too faint to be ink at the card's ink level may go unseen: that card is then
    # read as one of two symbols, never with the symbols mixed up)
    wrong = [preprocess_card(f, 2) for f in frames]
    assert sum(r.ok for r in wrong) <= 2
    assert sum(r.code == "card" and r.quality["card_found"] == 3 for r in wrong) >= 3
    with pytest.raises(ValueError, match="1 to 4 symbols"):
        preprocess_card(frames[0], 5)


def test_a_card_image_file_is_read_whole():
    import cv2

    canvas = np.full((200, 520, 3), 235, np.uint8)
    for i, d in enumerate((2, 5)):
        a = digit_strokes(d, 140, seed=i)
        x = 40 + i * 260
        region = canvas[30:170, x : x + 140].astype(np.float32)
        canvas[30:170, x : x + 140] = (region * (1 - a[..., None]) + 20 * a[..., None]).astype(np.uint8)
    r = prepare_card_image(canvas, 2)
    assert r.ok, r.reason
    assert r.images.shape == (2, 28, 28)
    single = [mnist_form(digit_strokes(d, 140, seed=i)) for i, d in enumerate((2, 5))]
    # each position is its own symbol: closer to its own drawing than to the other one
    for i in range(2):
        own = np.abs(r.images[i].astype(int) - single[i]).mean()
        other = np.abs(r.images[i].astype(int) - single[1 - i]).mean()
        assert own < other
    assert not prepare_card_image(cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY), 3).ok


def test_the_owner_card_is_granted_and_the_swapped_card_denied(store, model):
    enroll_card(store, model, "pc", [3, 7], seed=10)
    assert store.get_profile("pc").symbols == 2
    v = Verifier(store, model, "pc")
    assert v.policy.threshold == 1.0 and v.position_thresholds == (T, T)
    st, _ = run_attempt(v, card_frames([3, 7], 12, seed=500))
    assert st.state == Decision.GRANTED, st.reason
    # the same symbols in the other order: a wrong card
    st, seen = run_attempt(v, card_frames([7, 3], 12, seed=600), t0=100.0)
    assert st.state == Decision.DENIED, st.reason
    # nothing anyone sees names a position, before or after the denial
    for s in seen:
        words = public_reason(s).lower()
        assert "position" not in words and "first" not in words and "second" not in words
        assert s.symbols == 2
    row = store.audit(decision="denied")[0]
    assert row.detail["symbols"] == 2
    assert not any("position" in k for k in row.detail)


def test_one_wrong_position_is_a_wrong_card(store, model):
    enroll_card(store, model, "pc", [3, 7], seed=10)
    v = Verifier(store, model, "pc")
    st, _ = run_attempt(v, card_frames([3, 1], 12, seed=700))
    assert st.state == Decision.DENIED, st.reason


def test_a_card_with_another_count_is_no_symbol_and_costs_no_try(store, model):
    enroll_card(store, model, "pc", [3, 7], seed=10)
    v = Verifier(store, model, "pc")
    three = [f for f in card_frames([3, 7, 2], 8, seed=800) if preprocess_card(f, 3).ok][:4]
    assert len(three) >= 3
    st, seen = run_attempt(v, three)
    assert st.state == Decision.NO_SYMBOL
    assert all(s.state in (Decision.NO_SYMBOL, Decision.WAITING) for s in seen)
    assert all("2" not in public_reason(s) and "3" not in public_reason(s) for s in seen)
    assert store.lockout("pc").failures == 0


def test_frame_score_is_the_worst_position_over_its_threshold():
    assert frame_score([0.3, 0.5], [0.6, 0.6]) == pytest.approx(0.5 / 0.6)
    assert frame_score([0.3, 0.7], [0.6, 0.8]) == pytest.approx(0.875)
    assert frame_score([0.61, 0.1], [0.6, 0.6]) > 1.0


def test_a_model_without_a_passcode_point_refuses_passcodes(tmp_path):
    emb = Embedder(DEFAULT_MODEL, "cpu")
    s = Store(tmp_path / "db.sqlite3")
    try:
        imgs = np.stack([digit28(3, 1), digit28(7, 2)])
        s.add_references("pc", imgs, None, emb.embed_images(imgs), emb.fingerprint, create=True, positions=[0, 1])
        prof = s.get_profile("pc")
        if point_key(2) not in emb.contract.passcodes:
            with pytest.raises(NoPasscodePoint, match="no calibrated passcode point for 2 symbols"):
                Verifier(s, emb, "pc")
        # a profile's own (calibrated) threshold applies to every position, whatever the model
        s.set_threshold("pc", 0.5)
        assert position_thresholds(s.get_profile("pc"), emb.contract).values == (0.5, 0.5)
        assert prof.symbols == 2
    finally:
        s.close()


def test_one_symbol_profiles_are_verified_as_before(store, model):
    from desktop_app.core.preprocess import preprocess
    from training.camera_sim import render_frame

    imgs = np.stack([preprocess(render_frame(3, seed=i)).image for i in range(3)])
    store.add_references("one", imgs, None, model.embed_images(imgs), model.fingerprint, create=True)
    v = Verifier(store, model, "one")
    assert v.symbols == 1 and v.position_thresholds is None
    assert v.policy.threshold == pytest.approx(model.contract.default_threshold)
    st, _ = run_attempt(v, [render_frame(3, seed=40 + i) for i in range(6)])
    assert st.state == Decision.GRANTED


def test_an_admin_threshold_override_applies_to_every_position(store, model):
    enroll_card(store, model, "pc", [3, 7], seed=10)
    v = Verifier(store, model, "pc", overrides={"threshold": 0.01})
    assert v.position_thresholds == (0.01, 0.01) and v.policy.threshold == 1.0
    st, _ = run_attempt(v, card_frames([3, 7], 12, seed=500))
    assert st.state == Decision.DENIED  # nothing lies that close
    assert store.audit(decision="denied")[0].detail["override"] == {"threshold": 0.01}
