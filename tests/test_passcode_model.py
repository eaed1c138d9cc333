"""Passcode points in the model contract: how they are counted, written into a copy of a model
(`twinlock model calibrate-passcode`), carried by the shipped model, and trusted."""

from __future__ import annotations

import itertools
import json

import numpy as np
import onnx
import pytest

from desktop_app.cli.main import main
from desktop_app.core.contract import CONTRACT_KEY, ContractError, read_contract
from desktop_app.core.embedder import Embedder
from desktop_app.core.model_trust import PREVIOUS_SHIPPED_CONTRACTS, accepted_digest
from desktop_app.core.passcode import point_key
from desktop_app.core.paths import DEFAULT_MODEL, DEFAULT_MODEL_CARD
from desktop_app.core.preprocess import mnist_form
from desktop_app.core.settings import load_embedder
from desktop_app.core.store import Store
from export.calibrate import passcode_counts, passcode_distances, passcode_points, write_passcode_points
from training.synthetic_digits import digit_strokes


def test_passcode_cards_are_counted_as_every_ordered_tuple_of_one_hand():
    """The closed-form count against a brute-force enumeration of every card."""
    rng = np.random.default_rng(0)
    chars, drawers = 5, 7
    character = np.repeat(np.arange(chars), drawers)
    drawer = np.tile(np.arange(drawers), chars)
    e = rng.normal(size=(len(character), 6)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    dist, usable, cs = passcode_distances(e, character, drawer, refs=2, seed=1)
    t = float(np.median(dist))
    for length in (2, 3):
        fa = n_imp = ga = n_gen = 0
        for q in range(drawers):
            mine = np.flatnonzero(drawer == q)
            for pos in itertools.permutations(range(chars), length):  # distinct profile characters in order
                imp = [[x for x in mine if character[x] != cs[c] and usable[c, x]] for c in pos]
                for card in itertools.product(*imp):
                    n_imp += 1
                    fa += all(dist[c, x] <= t for c, x in zip(pos, card))
                own = [[x for x in mine if character[x] == cs[c] and usable[c, x]] for c in pos]
                for card in itertools.product(*own):
                    n_gen += 1
                    ga += all(dist[c, x] <= t for c, x in zip(pos, card))
        got = passcode_counts(dist, usable, character, drawer, cs, t, length)
        assert got == pytest.approx((fa, n_imp, ga, n_gen))
        assert 0 < fa < n_imp


def test_a_point_is_the_largest_threshold_whose_card_far_meets_the_target():
    rng = np.random.default_rng(2)
    chars, drawers = 12, 14
    character = np.repeat(np.arange(chars), drawers)
    drawer = np.tile(np.arange(drawers), chars)
    centres = rng.normal(size=(chars, 8))
    e = centres[character] + 0.35 * rng.normal(size=(len(character), 8))
    e = (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32)
    pts = passcode_points(e, character, drawer, "test", lengths=(2, 3), target=1e-3)
    assert set(pts) == {point_key(2, 1e-3), point_key(3, 1e-3)}
    dist, usable, cs = passcode_distances(e, character, drawer)
    for op in pts.values():
        n, t = op["symbols"], op["thresholds"][0]
        assert op["thresholds"] == [t] * n
        fa, n_imp, ga, n_gen = passcode_counts(dist, usable, character, drawer, cs, t, n)
        assert fa / n_imp <= 1e-3 and op["impostor"] == round(n_imp) >= 3 / 1e-3
        assert op["frr"] == pytest.approx(1 - ga / n_gen)
        nxt = passcode_counts(dist, usable, character, drawer, cs, t + 0.0025, n)
        assert nxt[0] / nxt[1] > 1e-3  # one grid step looser misses the target
    # a longer passcode can afford a looser threshold per position for the same card FAR
    assert pts[point_key(3, 1e-3)]["thresholds"][0] > pts[point_key(2, 1e-3)]["thresholds"][0]
    # too few impostor cards for the claim (rule of three): no point at all
    assert passcode_points(e, character, drawer, "test", lengths=(2,), target=1e-9) == {}


def test_written_points_keep_the_fingerprint_and_a_bad_point_replaces_nothing(tmp_path):
    out = tmp_path / "pc.onnx"
    pts = {point_key(2): {"symbols": 2, "thresholds": [0.5, 0.5], "far": 1e-5, "impostor": 4e5}}
    c = write_passcode_points(DEFAULT_MODEL, out, pts)
    base = read_contract(DEFAULT_MODEL)
    assert c.fingerprint == base.fingerprint and c.digest != base.digest
    assert c.passcodes[point_key(2)]["thresholds"] == [0.5, 0.5]
    assert c.thresholds == base.thresholds  # the one-symbol points are untouched
    before = out.read_bytes()
    with pytest.raises(ContractError, match="bad passcode point"):
        write_passcode_points(out, out, {point_key(3): {"symbols": 3, "thresholds": [0.5, 0.5]}})
    assert out.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["pc.onnx"]


def test_the_shipped_model_carries_passcode_points_and_its_card_lists_them():
    c = read_contract(DEFAULT_MODEL)
    card = DEFAULT_MODEL_CARD.read_text()
    for n in (2, 3, 4):
        op = c.passcodes[point_key(n)]
        assert op["symbols"] == n and len(op["thresholds"]) == n
        assert op["impostor"] >= 3 / 1e-5 and op["supported"] and op["far"] <= 1e-5
        assert "held out of training" in op["source"]
        assert f"{op['thresholds'][0]:.4f}" in card
    # the target measured on clean drawings: two symbols at FAR 1e-5 needs a per-position
    # threshold no stricter than the one-symbol default
    assert c.passcodes[point_key(2)]["thresholds"][0] >= c.thresholds["symbol_far_1e-4"]["threshold"]


def _accept_old_shipped_contract(store, fingerprint):
    old = next(iter(PREVIOUS_SHIPPED_CONTRACTS))
    store.set_setting(f"model_contract:{fingerprint}", {"digest": old, "path": str(DEFAULT_MODEL), "via": "test"})
    return old


def test_a_database_that_accepted_the_earlier_shipped_contract_takes_the_new_one(tmp_path, monkeypatch):
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    c = read_contract(DEFAULT_MODEL)
    assert c.digest not in PREVIOUS_SHIPPED_CONTRACTS
    s = Store(tmp_path / "db.sqlite3")
    try:
        _accept_old_shipped_contract(s, c.fingerprint)
        imgs = np.stack([mnist_form(digit_strokes(3, 200, seed=i)) for i in range(2)])
        s.add_references("alice", imgs, None, np.ones((2, c.embedding_dim), np.float32), c.fingerprint, create=True)
        emb = load_embedder(s, preference="cpu")
        assert emb.contract.digest == c.digest == accepted_digest(s, c.fingerprint)
        assert s.audit(decision="model_accepted")[0].detail["via"] == "shipped model updated"
    finally:
        s.close()


def test_an_edited_copy_is_refused_even_where_the_earlier_contract_was_accepted(tmp_path, monkeypatch):
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    m = onnx.load(str(DEFAULT_MODEL))
    for kv in m.metadata_props:
        if kv.key == CONTRACT_KEY:
            doc = json.loads(kv.value)
            doc["passcodes"][point_key(2)]["thresholds"] = [1.5, 1.5]  # loosened
            kv.value = json.dumps(doc, sort_keys=True)
    edited = tmp_path / "edited.onnx"
    onnx.save(m, str(edited))
    s = Store(tmp_path / "db.sqlite3")
    try:
        old = _accept_old_shipped_contract(s, read_contract(DEFAULT_MODEL).fingerprint)
        imgs = np.stack([mnist_form(digit_strokes(3, 200, seed=i)) for i in range(2)])
        s.add_references(
            "alice", imgs, None, np.ones((2, 64), np.float32), read_contract(edited).fingerprint, create=True
        )
        with pytest.raises(ContractError, match="differs"):
            load_embedder(s, override=edited, preference="cpu")
        assert accepted_digest(s, read_contract(edited).fingerprint) == old
    finally:
        s.close()


def _fake_omniglot(path, alphabets: list, chars: int = 20, drawers: int = 14):
    """A converted-background-set file whose alphabets (named as the held-out ones) hold digits
    drawn by several 'hands' (seeds): what `calibrate-passcode` reads, without ../shared data."""
    imgs, ch, dr = [], [], []
    for c in range(chars):
        for d in range(drawers):
            img = mnist_form(digit_strokes(c % 10, 120, jitter=0.05, seed=100 * c + d))
            imgs.append(np.ascontiguousarray(np.rot90(img)) if c >= 10 else img)  # 20 "characters"
            ch.append(c)
            dr.append(d)
    np.savez(
        path,
        images=np.stack(imgs),
        alphabet=np.asarray(ch, np.int64) % len(alphabets),
        character=np.asarray(ch, np.int64),
        drawer=np.asarray(dr, np.int64),
        alphabets=np.array(alphabets),
        characters=np.array([f"{alphabets[c % len(alphabets)]}/character{c:02d}" for c in range(chars)]),
        thicken_px=np.int64(1),
        target_width=np.float64(2.4),
        source_md5=np.array("test"),
        not_acquired=np.array("{}"),
        widths=np.array("{}"),
    )
    return path


def test_cli_calibrate_passcode_writes_a_new_file_from_the_held_out_characters(tmp_path, capsys):
    held = read_contract(DEFAULT_MODEL).provenance["omniglot_holdout_alphabets"]
    npz = _fake_omniglot(tmp_path / "omni.npz", held)
    out = tmp_path / "new.onnx"
    assert (
        main(
            [
                "model",
                "calibrate-passcode",
                str(DEFAULT_MODEL),
                "--omniglot",
                str(npz),
                "-o",
                str(out),
                "--symbols",
                "2",
                "--frames",
                "clean",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "passcode2_far_1e-5" in text and "twinlock model use" in text
    c = read_contract(out)
    assert c.fingerprint == read_contract(DEFAULT_MODEL).fingerprint
    op = c.passcodes[point_key(2)]
    assert op["impostor"] >= 3 / 1e-5 and held[0] in op["source"]
    # refused: writing over the model itself, and a model that names no held-out alphabet
    assert main(["model", "calibrate-passcode", str(out), "--omniglot", str(npz), "-o", str(out)]) == 4
    assert "new file" in capsys.readouterr().err
    from pixel_model import make_pixel_model

    px = make_pixel_model(tmp_path / "px.onnx")
    assert main(["model", "calibrate-passcode", str(px), "--omniglot", str(npz), "-o", str(tmp_path / "x.onnx")]) == 4
    assert "names no held-out Omniglot alphabets" in capsys.readouterr().err
    assert not (tmp_path / "x.onnx").exists()
    # -o a folder, or in a folder that does not exist: refused up front, no temporary file left
    folder = tmp_path / "folder"
    folder.mkdir()
    for bad in (folder, tmp_path / "missing" / "x.onnx"):
        before = sorted(p.name for p in tmp_path.iterdir())
        assert main(["model", "calibrate-passcode", str(out), "--omniglot", str(npz), "-o", str(bad)]) == 4
        assert "must name a file in an existing folder" in capsys.readouterr().err
        assert sorted(p.name for p in tmp_path.iterdir()) == before and not any(folder.iterdir())


def test_a_rename_that_fails_leaves_no_temporary_file(tmp_path):
    """The destination is a folder: the checked copy cannot be renamed onto it, and goes."""
    dst = tmp_path / "dst.onnx"
    dst.mkdir()
    pts = {point_key(2): {"symbols": 2, "thresholds": [0.5, 0.5], "far": 1e-5, "impostor": 4e5}}
    with pytest.raises(OSError):
        write_passcode_points(DEFAULT_MODEL, dst, pts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dst.onnx"]


def test_camera_points_are_chosen_on_one_half_of_the_alphabets_and_measured_on_the_other(tmp_path):
    """`camera_passcode_points`: camera-like frames of the synthetic held-out set; the points
    come from the calibration half alone (spoiling the measurement half's drawings changes
    only the held-apart figures) and their method is written into the contract."""
    from export.calibrate import camera_passcode_points, split_alphabets
    from training import omniglot as O

    names = read_contract(DEFAULT_MODEL).provenance["omniglot_holdout_alphabets"]
    sym = O.load(_fake_omniglot(tmp_path / "omni.npz", names, chars=12, drawers=10))
    emb = Embedder(DEFAULT_MODEL, preference="cpu", warmup=False)
    cal_names, meas_names = split_alphabets(names)
    assert not set(cal_names) & set(meas_names) and sorted(cal_names + meas_names) == sorted(names)
    pts = camera_passcode_points(emb, sym, lengths=(2,), target=1e-3)
    op = pts[point_key(2, 1e-3)]
    assert op["calibration_alphabets"] == cal_names and op["held_apart"]["alphabets"] == meas_names
    assert op["frames"] == "camera-like" and op["method"].startswith("camera-like")
    assert op["impostor"] >= 3 / 1e-3 and op["far"] <= 1e-3 and op["held_apart"]["impostor"] > 0
    # the measurement half spoiled: every drawing there the same -> its impostors all match;
    # the point (chosen on the calibration half) does not move, its held-apart FAR does
    meas_ids = [sym.alphabets.index(a) for a in meas_names]
    spoiled = sym.images.copy()
    spoiled[np.isin(sym.alphabet, meas_ids)] = sym.images[0]
    bad = O.Symbols(spoiled, sym.alphabet, sym.character, sym.drawer, sym.alphabets, sym.characters, sym.info)
    op2 = camera_passcode_points(emb, bad, lengths=(2,), target=1e-3)[point_key(2, 1e-3)]
    for k in ("thresholds", "far", "frr", "impostor", "false_accepts", "genuine"):
        assert op2[k] == op[k], k
    assert op2["held_apart"]["far"] > max(10 * 1e-3, op["held_apart"]["far"])
    # written into the contract: the method and where it was measured travel with the point
    c = write_passcode_points(DEFAULT_MODEL, tmp_path / "cam.onnx", pts)
    got = c.passcodes[point_key(2, 1e-3)]
    assert got["method"] == op["method"] and got["frames"] == "camera-like"
    assert "camera-like" in got["source"] and got["held_apart"]["alphabets"] == meas_names
    from export.card import passcode_section

    card = "\n".join(passcode_section(c))
    assert "held-apart alphabets (" + ", ".join(meas_names) + ")" in card
