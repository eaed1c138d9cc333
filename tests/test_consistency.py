"""core/consistency: which enrollment reference stands out (Qt-free)."""

import numpy as np


def test_consistency_flags_the_reference_that_stands_out():
    from desktop_app.core.consistency import consistency

    e = np.array([[1, 0], [0.98, 0.2], [0.96, -0.28], [0, 1]], np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    rep = consistency(e, threshold=0.5)
    assert rep.outliers == [3]
    assert rep.distances.shape == (4, 4) and np.allclose(np.diag(rep.distances), 0)
    assert "Warning: #4" in rep.message()
    same = consistency(np.repeat(e[:1], 3, axis=0), threshold=0.5)
    assert same.outliers == [] and "consistent" in same.message()
    spread = consistency(np.eye(4, dtype=np.float32), threshold=0.5)  # all sqrt(2) apart
    assert spread.outliers == [] and spread.spread_out and "farther apart" in spread.message()
