"""What enrollment says about a card it cannot use (core.passcode.enrollment_reason), and that
an unlock attempt is never told the same: the count and the position stay out of its reason."""

import numpy as np

from desktop_app.core.passcode import enrollment_reason
from desktop_app.core.preprocess import mnist_form, preprocess_card
from training.camera_sim import render_card_frame
from training.synthetic_digits import digit_strokes


def test_a_card_with_another_count_says_how_many_and_how_to_fix_it():
    rng = np.random.default_rng(5)
    imgs = [mnist_form(digit_strokes(d, 200, seed=40 + d)) for d in (1, 4, 7)]
    results = [preprocess_card(render_card_frame(imgs, rng), 2) for _ in range(6)]
    wrong = [r for r in results if r.code == "card" and r.quality.get("card_found") == 3]
    assert wrong, [r.code for r in results]
    r = wrong[0]
    words = enrollment_reason(r, 2)
    assert "found 3 symbols" in words and "has 2" in words
    assert "space the symbols apart" in words and "one row" in words and "left to right" in words
    # the attempt's reason (what the unlock window shows) names no count
    assert "3" not in r.reason and "2" not in r.reason


def test_a_failing_symbol_is_named_by_its_place_and_one_symbol_is_unchanged():
    from desktop_app.core.preprocess.config import REASONS, fail

    r = fail("blurred", (0, 0, 9, 9), {"card_position": 1.0})
    assert enrollment_reason(r, 3) == f"symbol 2 (from the left): {REASONS['blurred']}"
    one = fail("blank", (0, 0, 9, 9), {})
    assert enrollment_reason(one, 1) == REASONS["blank"]
