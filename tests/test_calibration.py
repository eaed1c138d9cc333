"""core/calibration: the rule of three in numbers and words (Qt-free)."""

import numpy as np
import pytest

from desktop_app.core import calibration, metrics
from desktop_app.core.calibration import describe_point


def test_describe_point_warns_without_enough_impostors():
    op = metrics.operating_point([0.1, 0.2], [0.5, 0.6, 0.7], 0.3)
    line, warn = describe_point(op, None)
    assert "0 of 3 impostor" in line and "rule of 3" in warn
    big = metrics.operating_point(np.linspace(0, 0.3, 50), np.linspace(0.2, 1, 5000), 0.25)
    _, warn = describe_point(big, 1e-2)
    assert warn == ""
    _, warn = describe_point(big, 1e-4)
    assert "30,000 needed" in warn


def test_rule_of_three_words():
    assert calibration.one_in_words(3 / 26) == "about 1 in 9"
    assert calibration.far_upper_bound(0, 26) == pytest.approx(3 / 26)
    assert calibration.far_upper_bound(1, 26) > 1 / 26
    assert calibration.one_in_words(1 / 1234) == "about 1 in 1,200"
    ok, why = calibration.preset_support(26, 1e-2)
    assert not ok and "300" in why and "26" in why
    assert calibration.preset_support(3000, 1e-3) == (True, "")
    r = calibration.threshold_risk(0.5, [0.1, 0.2], [0.6, 0.7], default_threshold=0.8, target_far=None)
    assert not r.needs_confirmation
    r = calibration.threshold_risk(0.5, [0.1, 0.2], [0.6, 0.7], default_threshold=0.8, target_far=1e-3)
    assert r.unsupported and r.needs_confirmation


def test_impostors_needed_is_the_count_supports_far_asks_for():
    for far in (1e-2, 1e-3, 1e-4, 3e-3):
        n = calibration.impostors_needed(far)
        assert metrics.supports_far(n, far) and not metrics.supports_far(n - 1, far)
    assert calibration.impostors_needed(1e-4) == 30_000
    assert [calibration.percent_text(x) for x in (0, 1.2e-4, 0.015)] == ["0%", "0.012%", "1.50%"]
