"""What the passcode tests share: digit cards filmed by the camera simulator, and a copy of
the shipped model whose contract carries test passcode points (written by the exporter's own
``write_passcode_points``, as 'twinlock model calibrate-passcode' writes them)."""

from __future__ import annotations

import numpy as np

from desktop_app.core.passcode import point_key
from desktop_app.core.paths import DEFAULT_MODEL
from desktop_app.core.preprocess import mnist_form
from export.calibrate import write_passcode_points
from training.camera_sim import render_card_frame
from training.synthetic_digits import digit_strokes

T = 0.6  # per-position threshold of the test points (digits lie far apart for the shipped model)


def digit28(d, seed):
    return mnist_form(digit_strokes(d, 200, seed=seed))


def card_frames(digits, count, seed):
    rng = np.random.default_rng(seed)
    return [render_card_frame([digit28(d, seed + 7 * i) for i, d in enumerate(digits)], rng) for _ in range(count)]


def model_with_points(dst, lengths, **point):
    """A copy of the shipped model whose contract carries passcode points for ``lengths`` only
    (the shipped file's own points removed), each at threshold T on every position; ``point``
    overrides fields of the points."""
    pts = {
        point_key(n): {
            "symbols": n,
            "thresholds": [T] * n,
            "far": 8e-6,
            "frr": 0.04,
            "false_accepts": 4,
            "impostor": 500_000,
            "genuine": 2_000,
            "target_far": 1e-5,
            "supported": True,
            "source": "test cards of digits",
            "method": "test",
            **point,
        }
        for n in lengths
    }
    write_passcode_points(DEFAULT_MODEL, dst, pts, replace=True)
    return dst
