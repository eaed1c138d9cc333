"""The default model that ships in assets/models: it loads, its card matches it, it works."""

import re

import cv2
import numpy as np
import pytest

from desktop_app.core.contract import read_contract
from desktop_app.core.embedder import Embedder
from desktop_app.core.metrics import pairwise_distances
from desktop_app.core.paths import DEFAULT_MODEL, DEFAULT_MODEL_CARD

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)


def render(
    digit: int, font=cv2.FONT_HERSHEY_SIMPLEX, thick: int = 2, angle: float = 0.0, dx: int = 0, dy: int = 0
) -> np.ndarray:
    """One digit drawn with cv2.putText straight into 28x28, white on black, optionally
    rotated about the centre and shifted."""
    img = np.zeros((28, 28), np.uint8)
    (w, h), _ = cv2.getTextSize(str(digit), font, 0.8, thick)
    cv2.putText(img, str(digit), ((28 - w) // 2 + dx, (28 + h) // 2 + dy), font, 0.8, 255, thick, cv2.LINE_AA)
    if angle:
        img = cv2.warpAffine(img, cv2.getRotationMatrix2D((14, 14), angle, 1.0), (28, 28))
    return img


def gallery_and_queries():
    """Gallery: one plain rendering per digit. Queries: other fonts, strokes, angles, shifts."""
    gallery = np.stack([render(d) for d in range(10)])
    q, ql = [], []
    variants = [
        (f, t, a, dx, dy) for f in FONTS[1:] for t, a, dx, dy in ((1, -10, 1, 0), (3, 8, 0, -1), (2, 12, -1, 1))
    ]
    for d in range(10):
        for f, t, a, dx, dy in variants:
            q.append(render(d, f, t, a, dx, dy))
            ql.append(d)
    return gallery, np.arange(10), np.stack(q), np.array(ql)


@pytest.fixture(scope="module")
def embedder():
    assert DEFAULT_MODEL.is_file(), f"the shipped model {DEFAULT_MODEL} is missing"
    return Embedder(DEFAULT_MODEL)


def test_shipped_model_is_small_and_valid(embedder):
    size = DEFAULT_MODEL.stat().st_size
    assert 10_000 < size < 1_000_000, f"{size} bytes: the shipped model should be hundreds of KB"
    c = read_contract(DEFAULT_MODEL)
    assert embedder.provider in ("CPU", "CUDA")
    assert c.normalized and c.metric == "euclidean" and c.embedding_dim >= 8
    assert set(c.thresholds) >= {"eer", "far_1e-3", "far_1e-4"}
    assert 0 < c.default_threshold < 2
    cal = c.provenance["calibration"]
    assert cal["source"] == "mnist-train-val" and "not the test set" in cal["description"]
    op = c.thresholds[c.default_threshold_key]
    assert op["supported"] and op["impostor"] >= 3 / 1e-3


DIGITS_MODEL = DEFAULT_MODEL.with_name("twinlock-digits.onnx")


def test_default_model_is_calibrated_for_unseen_symbols():
    """The default is the any-symbol model: trained on MNIST + Omniglot background,
    thresholds for symbols it never saw (held-out alphabets), the MNIST ones kept as named
    operating points, the default by the export rule, and a card that matches it."""
    from export.calibrate import choose_default  # numpy only: no torch needed

    assert 10_000 < DEFAULT_MODEL.stat().st_size < 1_000_000
    emb = Embedder(DEFAULT_MODEL)
    c = emb.contract
    held = c.provenance["omniglot_holdout_alphabets"]
    assert len(held) >= 5
    assert "Omniglot background set" in c.provenance["training_data"]
    for key in ("symbol_eer", "symbol_far_1e-3", "symbol_far_1e-4", "symbol_camera_far_1e-3"):
        op = c.thresholds[key]
        assert all(a in op["source"] for a in held), key
        assert 0 < op["threshold"] < 2 and op["genuine"] > 2_000
    assert c.thresholds["symbol_far_1e-3"]["supported"] and c.thresholds["symbol_far_1e-3"]["impostor"] > 1_000_000
    assert {"eer", "far_1e-3", "far_1e-4", "camera_far_1e-3"} <= set(c.thresholds)
    assert c.default_threshold_key == choose_default(c.thresholds)
    card = DEFAULT_MODEL_CARD.read_text()
    assert c.fingerprint in card and "20-way one-shot" in card
    for key, op in c.thresholds.items():
        assert f"{float(op['threshold']):.5f}" in card, key
    # it still tells rendered digits apart, as the default does
    gallery, gl, queries, ql = gallery_and_queries()
    d = pairwise_distances(emb.embed_images(queries), emb.embed_images(gallery))
    assert np.mean(gl[d.argmin(1)] == ql) >= 0.9


@pytest.mark.parametrize("model", [DEFAULT_MODEL, DIGITS_MODEL], ids=["default", "digits"])
def test_card_matches_the_model(model):
    """Both shipped models: the default (any symbol) and the digits-only one beside it."""
    card = model.with_suffix(".md")
    assert card.is_file(), f"the model card {card} is missing"
    text = card.read_text()
    c = read_contract(model)
    m = re.search(r"fingerprint[^|]*\|\s*`([0-9a-f]{64})`", text)
    assert m, "the card does not state the model's fingerprint"
    assert m.group(1) == c.fingerprint
    # the card's thresholds are the ones in the file
    for key, op in c.thresholds.items():
        assert f"{float(op['threshold']):.5f}" in text, key
    assert "twinlock train" in text and "twinlock export" in text and "twinlock evaluate" in text


def test_separates_rendered_digits(embedder):
    gallery, gl, queries, ql = gallery_and_queries()
    g = embedder.embed_images(gallery)
    q = embedder.embed_images(queries)
    assert q.shape == (len(queries), embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    d = pairwise_distances(q, g)  # [queries, 10 digits]
    # each query's nearest enrolled digit is nearly always its own digit
    assert np.mean(gl[d.argmin(1)] == ql) >= 0.9
    # for every digit, its renderings are on average closer to it than to any other digit
    for k in range(10):
        mean_to = d[ql == k].mean(0)
        assert mean_to.argmin() == k, (k, mean_to)
    # genuine comparisons are on the whole far closer than impostor ones
    own = d[np.arange(len(ql)), ql]
    other = d[gl[None, :] != ql[:, None]]
    assert np.median(own) < 0.6 * np.median(other)
    # and the model's own calibrated default threshold accepts the digit and rejects the others
    t = embedder.contract.default_threshold
    assert np.mean(own <= t) >= 0.9
    assert np.mean(other <= t) <= 0.01
