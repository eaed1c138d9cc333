"""Training with MNIST + Omniglot-like symbols on tiny synthetic data (no real data): the
P x K sampler, the alphabet split kept out of training, evaluate's unseen-symbol figures, and
export's unseen-symbol thresholds and default operating point."""

import gzip

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_training_run import synth_digits
from training.checkpoint import load_checkpoint
from training.omniglot import Symbols
from training.data import OmniglotSampler
from training.train import TrainConfig, train


def synth_symbols(alphabets=None, drawers=8, seed=0) -> Symbols:
    """Random-stroke 'characters' (28x28 white on black), each drawn by ``drawers`` people."""
    alphabets = alphabets or {"Big": 20, "Small1": 6, "Small2": 6}
    rng = np.random.default_rng(seed)
    imgs, al, ch, dr, chars = [], [], [], [], []
    for ai, (name, n) in enumerate(alphabets.items()):
        for c in range(n):
            strokes = rng.integers(5, 23, size=(int(rng.integers(2, 4)), 4))
            chars.append(f"{name}/character{c + 1:02d}")
            for d in range(1, drawers + 1):
                img = np.zeros((28, 28), np.uint8)
                for x0, y0, x1, y1 in strokes:
                    j = rng.integers(-1, 2, 4)
                    cv2.line(img, (int(x0 + j[0]), int(y0 + j[1])), (int(x1 + j[2]), int(y1 + j[3])), 255, 2)
                imgs.append(img)
                al.append(ai)
                ch.append(len(chars) - 1)
                dr.append(d)
    return Symbols(np.stack(imgs), np.array(al), np.array(ch), np.array(dr), list(alphabets), chars, {"thicken_px": 0})


@pytest.fixture(scope="module")
def symbols():
    return synth_symbols()


@pytest.fixture(scope="module")
def digits():
    return synth_digits(30, 0)


def write_idx(folder, images, labels):
    n = len(images)
    head_i = (0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    head_l = (0x801).to_bytes(4, "big") + n.to_bytes(4, "big")
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(head_i + images.tobytes()))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(head_l + labels.tobytes()))


def test_sampler_classes_rotations_and_k(symbols):
    s = OmniglotSampler(symbols, k=4, rotations=True)
    assert s.n_classes == 4 * len(symbols.characters)
    x, y = s.sample(8, torch.Generator().manual_seed(0))
    assert x.shape == (32, 28, 28) and y.min() >= 10
    assert np.bincount(y.numpy() - 10).max() == 4 and len(np.unique(y.numpy())) == 8
    # a drawing labelled with rotation r is the source image turned r quarter turns
    for img, lab in zip(x, y.numpy()):
        ch, r = divmod(int(lab) - 10, 4)
        srcs = torch.from_numpy(symbols.images[symbols.character == np.unique(symbols.character)[ch]])
        assert any(torch.equal(torch.rot90(s_, r, (0, 1)), img) for s_ in srcs)
    assert OmniglotSampler(symbols, k=2, rotations=False).n_classes == len(symbols.characters)


def test_sampler_draws_a_batch_from_few_alphabets_when_asked(symbols):
    """With alphabets_per_batch = 1 every class of a batch is one (alphabet, rotation) group's,
    as long as that group has P classes; a group too small is topped up from another."""
    alpha_of_char = symbols.alphabet_of_char()
    s = OmniglotSampler(symbols, k=2, rotations=True, alphabets_per_batch=1)
    chars = np.unique(symbols.character)
    seen_groups = set()
    for seed in range(12):
        _, y = s.sample(5, torch.Generator().manual_seed(seed))
        groups = {(int(alpha_of_char[chars[c // 4]]), c % 4) for c in np.unique(y.numpy() - 10)}
        assert len(np.unique(y.numpy())) == 5
        big = symbols.alphabets.index("Big")
        if any(a == big for a, _ in groups):
            assert len(groups) == 1  # "Big" has 20 characters: P = 5 fit in one group
        seen_groups |= groups
    assert len(seen_groups) > 3  # different batches, different groups
    _, y = s.sample(10, torch.Generator().manual_seed(0))  # 10 > the small alphabets' 6
    assert len(np.unique(y.numpy())) == 10


def test_elastic_augmentation_moves_strokes_but_keeps_them():
    from training.augment import random_elastic

    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 6:22, 12:16] = 1.0
    y = random_elastic(x, torch.Generator().manual_seed(0), alpha_px=2.0)
    assert y.shape == x.shape
    assert float((y - x).abs().sum()) > 10  # the stroke moved
    assert abs(float(y.sum()) - float(x.sum())) / float(x.sum()) < 0.15  # ink neither lost nor made
    assert float(random_elastic(x, torch.Generator().manual_seed(0), alpha_px=0.0).sub(x).abs().max()) < 1e-4


@pytest.fixture(scope="module")
def trained(tmp_path_factory, symbols, digits):
    tmp = tmp_path_factory.mktemp("omni_run")
    x, y = digits
    mn = tmp / "mnist"
    mn.mkdir()
    write_idx(mn, x, y)
    cfg = TrainConfig(
        epochs=2,
        batch_size=64,
        width=4,
        embedding_dim=16,
        val_size=60,
        val_eer_size=60,
        lr=5e-3,
        out_dir=str(tmp / "run"),
        threads=1,
        omniglot_holdout=1,
        omniglot_per_batch=32,
        omniglot_k=4,
        data_dir=str(mn),
    )
    res = train(cfg, images=x, labels=y, progress=False, log=lambda m: None, omniglot_data=symbols)
    return res, tmp / "run" / "best.pt", mn


def test_training_keeps_held_out_alphabet_out_and_reports_it(trained, symbols):
    res, best, _ = trained
    h = res["history"]
    assert all("omniglot_val_eer" in r and 0 <= r["omniglot_val_frr_at_far_1e-3"] <= 1 for r in h)
    ck = load_checkpoint(best)
    split = ck["class_split"]
    assert split["omniglot_holdout_alphabets"] == ["Big"]  # the only one with 20 characters
    assert "Big" not in split["omniglot_train_alphabets"] and len(split["omniglot_train_alphabets"]) == 2
    assert "Omniglot" in ck["config"]["recipe"] and "rotations" in ck["config"]["recipe"]
    assert "omniglot_val_eer" in res["best"]


def test_evaluate_reports_one_shot_and_verification_on_held_out(trained, symbols, digits):
    from training.evaluate import evaluate, format_table

    _res, best, _ = trained
    x, y = digits
    xt, yt = synth_digits(10, 3)
    ev = evaluate(
        best, images={"train": (x, y), "test": (xt, yt)}, omniglot=symbols, progress=False, log=lambda m: None
    )
    o = ev["omniglot"]
    assert o["alphabets"] == ["Big"] and o["characters"] == 20 and o["drawings"] == 160
    assert o["one_shot"]["ways"] == 20 and o["one_shot"]["trials"] == 1000
    assert 0.05 < o["one_shot"]["accuracy"] <= 1.0  # above 20-way chance
    ap = o["all_pairs"]
    assert ap["genuine"] == 20 * 28 and ap["impostor"] == 160 * 159 // 2 - 20 * 28
    assert "20-way one-shot" in format_table(ev)


def test_export_calibrates_unseen_symbols_and_makes_them_the_default(trained, symbols, tmp_path):
    from desktop_app.core.contract import read_contract
    from export.pipeline import ExportOptions, export_checkpoint

    _, best, mn = trained
    logs = []
    r = export_checkpoint(
        best,
        tmp_path / "m.onnx",
        ExportOptions(
            data_dir=mn,
            calib_count=None,
            progress=False,
            log=logs.append,
            camera_probes=20,
            omniglot=symbols,
            symbol_probes=30,
        ),
    )
    th = r.thresholds
    for k in (
        "eer",
        "far_1e-3",
        "far_1e-4",
        "symbol_eer",
        "symbol_far_1e-3",
        "symbol_far_1e-4",
        "symbol_camera_far_1e-3",
        "symbol_camera_far_1e-4",
    ):
        assert k in th, k
    s = th["symbol_far_1e-3"]
    assert s["genuine"] == 20 * 28 and "held out of training (Big)" in s["source"]
    c = read_contract(r.path)
    assert "Omniglot background set" in c.provenance["training_data"]
    # 12,160 impostor pairs support FAR 1e-3; the rule takes it when its FRR is usable and it
    # is no looser than the digit point
    from export.calibrate import MAX_SYMBOL_DEFAULT_FRR, _digit_default

    digit = _digit_default(th)
    usable = s["frr"] <= MAX_SYMBOL_DEFAULT_FRR and s["threshold"] <= th[digit]["threshold"]
    assert c.default_threshold_key == ("symbol_far_1e-3" if usable else digit)
    r2 = export_checkpoint(
        best,
        tmp_path / "n.onnx",
        ExportOptions(data_dir=mn, calib_count=None, progress=False, log=logs.append, camera=False, symbols=False),
    )
    assert not any(k.startswith("symbol_") for k in r2.thresholds)


def test_default_rule_prefers_the_unseen_symbol_point():
    from export.calibrate import MAX_SYMBOL_DEFAULT_FRR, choose_default

    ok = {"threshold": 0.7, "frr": 0.05, "supported": True}
    base = {"eer": ok, "far_1e-3": ok, "camera_far_1e-3": ok}
    sym = dict(ok, threshold=0.5)
    assert choose_default(dict(base, **{"symbol_far_1e-3": dict(sym, frr=0.15)})) == "symbol_far_1e-3"
    # its FRR is across drawers (an upper bound for the owner's): 55% does not veto it ...
    assert choose_default(dict(base, **{"symbol_far_1e-3": dict(sym, frr=0.55)})) == "symbol_far_1e-3"
    # ... a rate at which even the owner is rejected often does
    bad = dict(sym, frr=MAX_SYMBOL_DEFAULT_FRR + 0.01)
    assert choose_default(dict(base, **{"symbol_far_1e-3": bad})) == "camera_far_1e-3"
    assert choose_default(dict(base, **{"symbol_far_1e-3": dict(sym, supported=False)})) == "camera_far_1e-3"
    # never looser than the digit point: FAR stays near 1e-3 on digits too
    assert choose_default(dict(base, **{"symbol_far_1e-3": dict(sym, threshold=0.8)})) == "camera_far_1e-3"
    no_cam = {"eer": ok, "far_1e-3": dict(ok, threshold=0.45)}
    assert choose_default(dict(no_cam, **{"symbol_far_1e-3": sym})) == "far_1e-3"


def test_camera_renders_of_training_characters_are_shown_and_held_out_ones_refused(tmp_path, digits):
    """`training.camera_data --omniglot`'s renders (through the app's preprocess) replace the
    training drawings they were rendered from; a file rendered with another split is refused."""
    import dataclasses

    from training.camera_data import build, save
    from training.data import load_omniglot, load_omniglot_camera

    symbols = synth_symbols({"Big": 20, "S": 3, "T": 3}, drawers=4, seed=1)  # few drawings: renders are slow
    base = TrainConfig(omniglot_holdout=1)
    o_tr, _, held = load_omniglot(base, symbols)
    assert held == ["Big"]
    few = o_tr.subset([o_tr.alphabets[int(a)] for a in np.unique(o_tr.alphabet)][:1])  # one alphabet: quick
    d = build(few.images, few.character, np.arange(len(few.images)), 0, workers=1, progress=False)
    assert len(d["images"]) >= 0.8 * len(few.images)  # the app acquires the rendered strokes
    d["sources"] = few.rows()[d["sources"]]
    d["held_out"] = np.array(sorted(held))
    save(tmp_path / "cam.npz", d)
    cfg = dataclasses.replace(base, omniglot_camera_data=str(tmp_path / "cam.npz"))
    cam = load_omniglot_camera(cfg, len(symbols.images), held)
    assert int((cam[0] >= 0).sum()) == len(d["images"])

    s = OmniglotSampler(few, k=2, rotations=False, camera=cam, camera_fraction=1.0)
    x, _ = s.sample(3, torch.Generator().manual_seed(0))
    renders = torch.from_numpy(d["images"])
    originals = torch.from_numpy(few.images)
    as_render = [any(torch.equal(img, r) for r in renders) for img in x]
    as_original = [any(torch.equal(img, o) for o in originals) for img in x]
    assert sum(as_render) >= 0.8 * len(x) and not any(a and b for a, b in zip(as_render, as_original))
    s0 = OmniglotSampler(few, k=2, rotations=False, camera=cam, camera_fraction=0.0)
    x0, _ = s0.sample(3, torch.Generator().manual_seed(0))
    assert all(any(torch.equal(img, o) for o in originals) for img in x0)

    with pytest.raises(ValueError, match="holding out"):
        load_omniglot_camera(cfg, len(symbols.images), ["S"])
    # the two kinds of render file are not interchangeable: each is refused in the other's place
    from training.data import load_camera_data

    with pytest.raises(ValueError, match="--omniglot-camera-data"):
        load_camera_data(dataclasses.replace(cfg, camera_data=cfg.omniglot_camera_data), 10**5, np.arange(3))
    save(tmp_path / "digits.npz", {k: v for k, v in d.items() if k != "held_out"})
    with pytest.raises(ValueError, match="MNIST digits"):
        load_omniglot_camera(
            dataclasses.replace(cfg, omniglot_camera_data=str(tmp_path / "digits.npz")), len(symbols.images), held
        )
    x_d, y_d = digits  # and a run trains with them
    run = dataclasses.replace(
        cfg,
        epochs=1,
        batch_size=32,
        width=4,
        embedding_dim=8,
        val_size=60,
        val_eer_size=60,
        out_dir=str(tmp_path / "r"),
        threads=1,
        omniglot_per_batch=16,
        omniglot_k=4,
        omniglot_val_size=40,
        camera_fraction=0.5,
    )
    res = train(run, images=x_d, labels=y_d, progress=False, log=lambda m: None, omniglot_data=symbols)
    assert np.isfinite(res["history"][0]["train_loss"])
    assert (
        "camera-like renders of training characters" in load_checkpoint(tmp_path / "r" / "best.pt")["config"]["recipe"]
    )
