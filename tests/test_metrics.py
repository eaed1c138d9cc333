"""desktop_app.core.metrics against figures computed by hand on small arrays."""

import numpy as np
import pytest

from desktop_app.core import metrics as M

G = [0.1, 0.2, 0.3, 0.6]  # genuine distances
IMP = [0.4, 0.5, 0.7, 0.8, 0.9]  # impostor distances


def test_far_frr_by_hand():
    far, frr = M.far_frr(G, IMP, [0.05, 0.2, 0.35, 0.5, 0.6, 1.0])
    np.testing.assert_allclose(far, [0, 0, 0, 0.4, 0.4, 1.0])
    np.testing.assert_allclose(frr, [1.0, 0.5, 0.25, 0.25, 0.0, 0.0])


def test_operating_point_counts():
    op = M.operating_point(G, IMP, 0.5)
    assert (op.false_accepts, op.false_rejects, op.genuine, op.impostor) == (2, 1, 4, 5)
    assert op.far == pytest.approx(0.4) and op.frr == pytest.approx(0.25)


def test_eer_by_hand():
    # thresholds 0.4: FAR 1/5, FRR 1/4 (diff -0.05); 0.5: FAR 2/5, FRR 1/4 (diff +0.15) -> 0.4 wins
    e, t = M.eer(G, IMP)
    assert e == pytest.approx((0.2 + 0.25) / 2)
    assert t == pytest.approx(0.4)
    e, t = M.eer([0.1, 0.2], [0.5, 0.6])  # separable: EER 0
    assert e == 0.0 and 0.2 <= t < 0.5


def test_roc_auc_by_hand():
    # 20 genuine/impostor combinations; only genuine 0.6 > impostors 0.4 and 0.5 are mis-ordered
    assert M.roc_auc(G, IMP) == pytest.approx(18 / 20)
    assert M.roc_auc([0.5], [0.5]) == pytest.approx(0.5)  # a tie counts half
    assert M.roc_auc([0.1, 0.2], [0.3]) == 1.0


def test_threshold_at_far_by_hand():
    op = M.threshold_at_far(G, IMP, 0.2)  # 1 of 5 impostors may be accepted
    assert op.false_accepts == 1 and op.far == pytest.approx(0.2)
    assert 0.4 <= op.threshold < 0.5 and op.frr == pytest.approx(0.25)
    op = M.threshold_at_far(G, IMP, 0.1)  # 0.1*5 < 1: no impostor may pass
    assert op.false_accepts == 0 and op.threshold < 0.4 and op.frr == pytest.approx(0.25)
    with pytest.raises(ValueError):
        M.threshold_at_far(G, IMP, 0.0)
    assert not M.supports_far(5, 0.1) and M.supports_far(30, 0.1)


def test_pair_accuracy_and_best_threshold_by_hand():
    d = np.array(G + IMP)
    same = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    t, acc = M.best_accuracy_threshold(d, same)  # accept .1 .2 .3: 3 + 5 correct of 9
    assert t == pytest.approx(0.35) and acc == pytest.approx(8 / 9)
    assert M.pair_accuracy(d, same, t) == pytest.approx(8 / 9)
    assert M.pair_accuracy(d, same, 0.65) == pytest.approx(7 / 9)


def test_all_pairs_and_query_mask():
    e = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [3.0, 4.0]])
    y = np.array([0, 0, 1, 1])
    gen, imp = M.all_pairs(e, y, chunk=3)  # chunk smaller than n: crosses a chunk edge
    np.testing.assert_allclose(np.sort(gen), [1.0, 4.0])
    np.testing.assert_allclose(np.sort(imp), [2.0, 3.0, np.hypot(2, 4), 5.0])
    gen, imp = M.all_pairs(e, y, query_mask=np.array([False, False, False, True]))
    np.testing.assert_allclose(np.sort(gen), [4.0])
    np.testing.assert_allclose(np.sort(imp), [np.hypot(2, 4), 5.0])
    n = 50
    emb = np.random.default_rng(0).normal(size=(n, 4))
    lab = np.arange(n) % 5
    gen, imp = M.all_pairs(emb, lab, chunk=7)
    assert gen.size + imp.size == n * (n - 1) // 2 and gen.size == 5 * (10 * 9 // 2)


def test_nearest_neighbor_and_distances():
    gal = np.array([[0.0, 0.0], [10.0, 0.0]])
    lab, dist = M.nearest_neighbor(np.array([[1.0, 0.0], [8.0, 0.0]]), gal, np.array([3, 7]))
    assert lab.tolist() == [3, 7]
    np.testing.assert_allclose(dist, [1.0, 2.0], atol=1e-5)


def test_summary_and_wilson():
    s = M.summary(G, IMP, fars=(0.2,))
    assert s["genuine"] == 4 and s["impostor"] == 5
    assert s["eer"] == pytest.approx(0.225) and s["roc_auc"] == pytest.approx(0.9)
    assert s["at_far"]["0.2"]["frr"] == pytest.approx(0.25) and s["at_far"]["0.2"]["supported"] is False
    lo, hi = M.wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(1.96**2 / (10 + 1.96**2), rel=1e-6)
    with pytest.raises(ValueError, match="NaN"):
        M.eer([0.1, np.nan], [0.5])


def _symbols(n_groups=3, per_group=25, drawers=4, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups * per_group, 8))
    emb, cls, grp, drw = [], [], [], []
    for c in range(n_groups * per_group):
        for d in range(1, drawers + 1):
            emb.append(centres[c] + noise * rng.normal(size=8))
            cls.append(c)
            grp.append(c // per_group)
            drw.append(d)
    return np.array(emb, np.float32), np.array(cls), np.array(grp), np.array(drw)


def test_one_shot_perfect_and_chance():
    e, c, g, d = _symbols()
    r = M.one_shot_trials(e, c, g, d, ways=20, trials=50, seed=1)
    assert r["accuracy"] == 1.0 and r["queries"] == 1000 and r["groups"] == 3
    # embeddings that ignore the class: near chance (1/20)
    rng = np.random.default_rng(3)
    r = M.one_shot_trials(rng.normal(size=e.shape).astype(np.float32), c, g, d, ways=20, trials=200, seed=1)
    assert 0.02 < r["accuracy"] < 0.10
    assert r["ci95"][0] < r["accuracy"] < r["ci95"][1]
    noisy = e + rng.normal(scale=0.8, size=e.shape).astype(np.float32)
    a = M.one_shot_trials(noisy, c, g, d, trials=20, seed=5)
    assert a == M.one_shot_trials(noisy, c, g, d, trials=20, seed=5)  # seeded
    assert a != M.one_shot_trials(noisy, c, g, d, trials=20, seed=6)


def test_one_shot_stays_within_one_group():
    # two groups whose classes are identical ACROSS groups (same centres): a trial mixing
    # groups would confuse them; within one group every query finds its own class
    e, c, g, d = _symbols(n_groups=1, per_group=20)
    e2 = np.concatenate([e, e])
    c2 = np.concatenate([c, c + 20])
    g2 = np.concatenate([g, g + 1])
    d2 = np.concatenate([d, d])
    assert M.one_shot_trials(e2, c2, g2, d2, ways=20, trials=30)["accuracy"] == 1.0


def test_one_shot_needs_enough_classes():
    e, c, g, d = _symbols(n_groups=2, per_group=10)
    with pytest.raises(ValueError, match="20-way"):
        M.one_shot_trials(e, c, g, d, ways=20)
    assert M.one_shot_trials(e, c, g, d, ways=5, trials=10)["ways"] == 5
