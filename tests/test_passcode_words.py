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


def test_a_passcode_point_is_described_with_the_counts_behind_it():
    from desktop_app.core.passcode import describe_passcode_point

    op = {
        "symbols": 2,
        "thresholds": [0.5, 0.55],
        "far": 9.5e-6,
        "frr": 0.062,
        "false_accepts": 4,
        "impostor": 421_000,
        "genuine": 1_200,
        "target_far": 1e-5,
        "source": "held-out characters",
    }
    text = " ".join(describe_passcode_point("passcode2_far_1e-5", op))
    assert "0.5000, 0.5500" in text and "FAR 9.5e-06" in text and "4 of 421,000 impostor cards" in text
    assert "FRR 6.2%" in text and "1,200 genuine cards" in text and "support FAR 1e-05" in text
    assert "held-out characters" in text
    few = " ".join(describe_passcode_point("passcode2_far_1e-5", {**op, "impostor": 100_000}))
    assert "Too few impostor cards" in few and "300,000 needed" in few
