"""The any-symbol recipe's additions, on tiny synthetic data: the auxiliary CosFace head
(training only, never exported), training on every alphabet, K-shot identification, and
export's out-of-fold unseen-symbol thresholds from fold checkpoints."""

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from test_training_omniglot import synth_symbols, write_idx
from test_training_run import synth_digits
from training.checkpoint import load_checkpoint
from training.losses import cosface_loss
from training.train import TrainConfig, train


def test_cosface_loss_prefers_the_own_centre_and_skips_junk():
    w = torch.eye(4, 8)
    e = torch.nn.functional.normalize(torch.eye(4, 8) + 0.05, dim=1)
    y = torch.arange(4)
    right = cosface_loss(e, y, w, scale=16, margin=0.2)
    wrong = cosface_loss(e, (y + 1) % 4, w, scale=16, margin=0.2)
    assert float(right) < 0.1 < float(wrong)
    # the margin makes the own class harder: a larger margin, a larger loss
    assert float(cosface_loss(e, y, w, 16, 0.4)) > float(right)
    # junk (label < 0) is left out; all junk gives a zero loss that still has a gradient
    ej = e.clone().requires_grad_(True)
    z = cosface_loss(ej, torch.full((4,), -1), w, 16, 0.2)
    z.backward()
    assert float(z.detach()) == 0.0 and ej.grad is not None
    mixed = cosface_loss(e, torch.tensor([0, 1, -1, -1]), w, 16, 0.2)
    assert float(mixed) == pytest.approx(float(cosface_loss(e[:2], y[:2], w, 16, 0.2)))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("folds")
    x, y = synth_digits(30, 0)
    mn = tmp / "mnist"
    mn.mkdir()
    write_idx(mn, x, y)
    return tmp, x, y, mn, synth_symbols()


def _cfg(tmp, mn, name, **kw) -> TrainConfig:
    base = dict(
        epochs=2,
        batch_size=64,
        width=4,
        embedding_dim=16,
        val_size=60,
        val_eer_size=60,
        lr=5e-3,
        out_dir=str(tmp / name),
        threads=1,
        omniglot_per_batch=32,
        omniglot_k=4,
        data_dir=str(mn),
    )
    return TrainConfig(**(base | kw))


@pytest.fixture(scope="module")
def runs(data):
    """A fold run (holds out 'Big') and a run on every alphabet, both with the CosFace head."""
    tmp, x, y, mn, sym = data
    quiet = dict(images=x, labels=y, progress=False, log=lambda m: None, omniglot_data=sym)
    fold = train(_cfg(tmp, mn, "fold", omniglot_holdout=1, aux_weight=0.2, aux_scale=16), **quiet)
    full = train(_cfg(tmp, mn, "full", omniglot_holdout=0, aux_weight=0.2, aux_scale=16), **quiet)
    return fold, full, tmp / "fold" / "last.pt", tmp / "full" / "last.pt"


def test_aux_head_trains_beside_the_tower_and_is_not_part_of_it(runs, data):
    _fold, full, _, full_ck = runs
    sym = data[4]
    ck = load_checkpoint(full_ck)
    head = ck["recipe_state"]["aux_head"]
    n_classes = 10 + 4 * len(sym.characters)  # digits, then every character x 4 rotations
    assert tuple(head.shape) == (n_classes, 16)
    assert "CosFace head" in ck["config"]["recipe"] and "dropped at export" in ck["config"]["recipe"]
    assert not any("aux" in k for k in ck["state_dict"])  # the tower export takes has no head
    assert ck["class_split"]["omniglot_holdout_alphabets"] == []
    assert sorted(ck["class_split"]["omniglot_train_alphabets"]) == sorted(sym.alphabets)
    assert all("omniglot_val_eer" not in r for r in full["history"])  # no unseen alphabet to score
    assert np.isfinite(full["history"][-1]["train_loss"])
    # the head moved: it is trained, not a constant
    g = torch.Generator().manual_seed(ck["config"]["seed"] + 77)
    assert not torch.allclose(head, torch.randn(n_classes, 16, generator=g))


def test_few_shot_uses_every_reference_and_beats_one_shot_on_noisy_drawings():
    from desktop_app.core.metrics import few_shot_trials, one_shot_trials

    rng = np.random.default_rng(0)
    classes, drawers, groups = [], [], []
    centres = rng.normal(size=(25, 8))
    for c in range(25):
        for d in range(8):
            classes.append(c), drawers.append(d), groups.append(0)
    c, d, g = np.array(classes), np.array(drawers), np.array(groups)
    e = centres[c] + rng.normal(scale=0.9, size=(len(c), 8))
    one = one_shot_trials(e, c, g, d, ways=20, trials=200, seed=1)
    five = few_shot_trials(e, c, g, d, shots=5, ways=20, trials=200, seed=1)
    assert five["shots"] == 5 and five["trials"] == 200 and five["queries"] == 4000
    assert five["accuracy"] > one["accuracy"] + 0.05
    exact = few_shot_trials(centres[c], c, g, d, shots=5, ways=20, trials=20, seed=1)
    assert exact["accuracy"] == 1.0
    with pytest.raises(ValueError, match="drawers"):
        few_shot_trials(e[d < 3], c[d < 3], g[d < 3], d[d < 3], shots=5, ways=20, trials=5)


def test_export_takes_unseen_symbol_thresholds_from_out_of_fold_distances(runs, data, tmp_path):
    from desktop_app.core.contract import read_contract
    from export.errors import ExportError
    from export.pipeline import ExportOptions, export_checkpoint

    tmp, _x, _y, mn, sym = data
    _, _, fold_ck, full_ck = runs
    quiet = dict(data_dir=mn, calib_count=None, progress=False, log=lambda m: None, camera_probes=20, omniglot=sym)
    # trained on every alphabet, alone: nothing unseen to calibrate on
    alone = export_checkpoint(full_ck, tmp_path / "alone.onnx", ExportOptions(**quiet))
    assert not any(k.startswith("symbol_") for k in alone.thresholds)
    r = export_checkpoint(
        full_ck, tmp_path / "m.onnx", ExportOptions(symbol_folds=[fold_ck], symbol_probes=30, **quiet)
    )
    th = r.thresholds
    for k in ("symbol_eer", "symbol_far_1e-3", "symbol_far_1e-4", "symbol_camera_far_1e-3"):
        assert k in th, k
    s = th["symbol_far_1e-3"]
    assert s["genuine"] == 20 * 28  # the fold's held-out 'Big': 20 characters x 8 drawers
    assert "out-of-fold" in s["source"] and "Big" in s["source"]
    assert s["alphabets"] == ["Big"] and s["out_of_fold"] is True
    assert read_contract(r.path).thresholds["symbol_far_1e-3"]["threshold"] == pytest.approx(s["threshold"])
    # a fold of another architecture, or one that held nothing out, is refused
    other = train(
        _cfg(tmp, mn, "other", omniglot_holdout=1, width=6),
        images=_x,
        labels=_y,
        progress=False,
        log=lambda m: None,
        omniglot_data=sym,
    )
    assert other["history"]
    with pytest.raises(ExportError, match="another architecture"):
        export_checkpoint(
            full_ck, tmp_path / "x.onnx", ExportOptions(symbol_folds=[tmp / "other" / "last.pt"], **quiet)
        )
    with pytest.raises(ExportError, match="held no Omniglot alphabet out"):
        export_checkpoint(full_ck, tmp_path / "y.onnx", ExportOptions(symbol_folds=[full_ck], **quiet))
    assert not (tmp_path / "x.onnx").exists() and not (tmp_path / "y.onnx").exists()


def test_renders_of_every_alphabet_serve_a_fold_run(data, tmp_path):
    """A render file made holding out nothing serves a run that holds alphabets out (its
    held-out renders are never looked up); one that held out a trained alphabet is refused."""
    from training.camera_data import save
    from training.data import load_omniglot, load_omniglot_camera

    sym = data[4]
    d = {
        "images": sym.images[:6].copy(),
        "labels": sym.character[:6].copy(),
        "sources": np.arange(6),
        "junk": np.zeros((0, 28, 28), np.uint8),
        "held_out": np.array([], dtype=str),
    }
    save(tmp_path / "all.npz", d)
    cfg = TrainConfig(omniglot_holdout=1, omniglot_camera_data=str(tmp_path / "all.npz"))
    _, _, held = load_omniglot(cfg, sym)
    rows, renders = load_omniglot_camera(cfg, len(sym.images), held)
    assert int((rows >= 0).sum()) == 6 and len(renders) == 6
    save(tmp_path / "small.npz", dict(d, held_out=np.array(["Small1"])))
    with pytest.raises(ValueError, match="holding out"):
        load_omniglot_camera(
            dataclasses.replace(cfg, omniglot_camera_data=str(tmp_path / "small.npz")), len(sym.images), held
        )


def test_export_of_a_fold_model_carries_passcode_points_from_its_held_out_alphabet(runs, data, tmp_path):
    """The passcode points are calibrated at export from the held-out characters,
    one threshold per position, only for lengths whose impostor cards reach 3 / FAR."""
    from desktop_app.core.contract import read_contract
    from export.calibrate import passcode_counts, passcode_distances
    from export.pipeline import ExportOptions, export_checkpoint

    _tmp, _x, _y, mn, sym = data
    _, _, fold_ck, _ = runs
    quiet = dict(data_dir=mn, calib_count=None, progress=False, log=lambda m: None, camera=False, omniglot=sym)
    r = export_checkpoint(fold_ck, tmp_path / "fold.onnx", ExportOptions(**quiet))
    c = read_contract(r.path)
    assert c.passcodes == r.contract["passcodes"] and c.passcodes
    held = sym.subset(["Big"])
    for key, op in c.passcodes.items():
        n = op["symbols"]
        assert key == f"passcode{n}_far_1e-5" and len(op["thresholds"]) == n
        assert op["impostor"] >= 3 / 1e-5 and op["far"] <= 1e-5 and "Big" in op["source"]
    # 20 characters by 8 drawers: too few two-symbol impostor cards for 1e-5 (no point), enough for three
    assert "passcode2_far_1e-5" not in c.passcodes and "passcode3_far_1e-5" in c.passcodes
    from desktop_app.core.embedder import Embedder

    e = Embedder(r.path, "cpu").embed_images(held.images)
    dist, usable, cs = passcode_distances(e, held.character, held.drawer)
    op = c.passcodes["passcode3_far_1e-5"]
    fa, n_imp, _ga, _n = passcode_counts(dist, usable, held.character, held.drawer, cs, op["thresholds"][0], 3)
    assert n_imp == op["impostor"] and fa / n_imp <= 1e-5
