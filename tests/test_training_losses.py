"""Contrastive loss against hand-computed numbers; pair sampling balance and determinism."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.losses import batch_contrastive_loss, contrastive_loss, row_distances
from training.pairs import seed_protocol_pairs, validation_split


def test_contrastive_loss_hand_computed():
    d = torch.tensor([0.0, 0.4, 0.3, 1.5, 0.6])
    same = torch.tensor([True, True, False, False, False])
    # same: 0.5*d^2 -> 0, 0.08 ; different: 0.5*max(0, 1-d)^2 -> 0.245, 0, 0.08
    per = contrastive_loss(d, same, margin=1.0, reduction="none")
    np.testing.assert_allclose(per.numpy(), [0.0, 0.08, 0.245, 0.0, 0.08], atol=1e-6)
    assert contrastive_loss(d, same, 1.0).item() == pytest.approx(0.405 / 5, abs=1e-6)
    # margin 2: different pairs 0.5*(1.7)^2=1.445, 0.5*(0.5)^2=0.125, 0.5*(1.4)^2=0.98
    per2 = contrastive_loss(d, same, margin=2.0, reduction="none")
    np.testing.assert_allclose(per2.numpy(), [0.0, 0.08, 1.445, 0.125, 0.98], atol=1e-6)


def test_row_distances_and_gradient_at_zero():
    a = torch.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    b = torch.tensor([[0.0, 0.0], [0.0, 0.0]])
    d = row_distances(a, b)
    np.testing.assert_allclose(d.detach().numpy(), [0.0, 5.0], atol=1e-4)
    d.sum().backward()
    assert torch.isfinite(a.grad).all()


def test_batch_loss_hand_computed():
    # three 1-D embeddings: labels 0, 0, 1 at positions 0, 0.6, 0.8
    emb = torch.tensor([[0.0], [0.6], [0.8]])
    labels = torch.tensor([0, 0, 1])
    loss, stats = batch_contrastive_loss(emb, labels, margin=1.0)
    # genuine (0,1): 0.5*0.36=0.18 ; impostors (0,2): d=.8 -> 0.5*.04=.02, (1,2): d=.2 -> 0.5*.64=.32
    assert loss.item() == pytest.approx(0.18 + (0.02 + 0.32) / 2, abs=1e-4)
    assert stats["active_neg"] == 1.0
    # an impostor pair beyond the margin is not active and leaves the mean
    emb2 = torch.tensor([[0.0], [0.6], [1.9]])
    loss2, stats2 = batch_contrastive_loss(emb2, labels, margin=1.0)
    # impostors: d=1.9 (inactive), d=1.3 (inactive) -> only genuine term
    assert loss2.item() == pytest.approx(0.18, abs=1e-4)
    assert stats2["active_neg"] == 0.0


def test_seed_protocol_pairs_balanced_valid_and_deterministic():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 500)
    i, j, same = seed_protocol_pairs(y, seed=7)
    assert i.size == 1000 and same.sum() == 500  # each item once per kind
    np.testing.assert_array_equal(np.sort(i[same]), np.arange(500))
    np.testing.assert_array_equal(np.sort(i[~same]), np.arange(500))
    assert np.all(y[i[same]] == y[j[same]]) and np.all(i[same] != j[same])
    assert np.all(y[i[~same]] != y[j[~same]])
    i2, j2, s2 = seed_protocol_pairs(y, seed=7)
    assert np.array_equal(i, i2) and np.array_equal(j, j2) and np.array_equal(same, s2)
    _, j3, _ = seed_protocol_pairs(y, seed=8)
    assert not np.array_equal(j, j3)


def test_validation_split():
    tr, va = validation_split(100, 20, seed=3)
    assert va.size == 20 and tr.size == 80 and not set(tr) & set(va)
    assert np.array_equal(va, validation_split(100, 20, seed=3)[1])
    with pytest.raises(ValueError):
        validation_split(10, 10, seed=0)


def test_batch_loss_variants_positive_margin_and_all_negatives():
    emb = torch.tensor([[0.0], [0.6], [0.8]])
    labels = torch.tensor([0, 0, 1])
    # positive margin 0.5: genuine d=0.6 -> 0.5*0.1^2 = 0.005
    loss, _ = batch_contrastive_loss(emb, labels, margin=1.0, pos_margin=0.5)
    assert loss.item() == pytest.approx(0.005 + (0.02 + 0.32) / 2, abs=1e-4)
    # all negatives: the inactive impostor pair (d=1.9) counts as a zero in the mean
    emb2 = torch.tensor([[0.0], [0.6], [1.9], [0.9]])
    labels2 = torch.tensor([0, 0, 1, 1])
    # impostors: (0,2)=1.9 ->0, (0,3)=.9 ->.005, (1,2)=1.3 ->0, (1,3)=.3 ->.245 ; genuine: .6->.18, 1.0->.5
    loss_all, _ = batch_contrastive_loss(emb2, labels2, margin=1.0, active_only=False)
    loss_act, _ = batch_contrastive_loss(emb2, labels2, margin=1.0)
    assert loss_all.item() == pytest.approx((0.18 + 0.5) / 2 + 0.25 / 4, abs=1e-4)
    assert loss_act.item() == pytest.approx((0.18 + 0.5) / 2 + 0.25 / 2, abs=1e-4)


def test_negative_only_samples_are_pushed_from_digits_but_not_from_each_other():
    # two digits of class 0 at 0 and 0.2; two non-digits (labels < 0) at 0.5 and 0.55
    emb = torch.tensor([[0.0], [0.2], [0.5], [0.55]])
    labels = torch.tensor([0, 0, -1, -2])
    loss, _stats = batch_contrastive_loss(emb, labels, margin=1.0)
    # genuine: (0,1) d=.2 -> .02 ; impostors: digit-junk pairs only (junk-junk d=.05 is left out)
    neg = [0.5 * (1 - d) ** 2 for d in (0.5, 0.55, 0.3, 0.35)]
    assert loss.item() == pytest.approx(0.02 + sum(neg) / 4, abs=1e-4)
    # a batch with non-digits only forms no pair at all
    loss_j, _ = batch_contrastive_loss(emb[2:], labels[2:], margin=1.0)
    assert loss_j.item() == 0.0
    # two negatives sharing label -1 are still not a genuine pair
    loss_s, stats_s = batch_contrastive_loss(torch.tensor([[0.0], [0.9]]), torch.tensor([-1, -1]))
    assert loss_s.item() == 0.0 and stats_s["active_neg"] == 0.0
