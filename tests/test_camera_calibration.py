"""Camera-frame calibration: thresholds measured on camera-like frames through the real
preprocessing, the real ONNX Runtime embedder and the verifier's nearest-reference rule."""

import numpy as np

from desktop_app.core.embedder import Embedder
from desktop_app.core.metrics import operating_point
from export.camera_calibration import camera_distances, camera_thresholds
from training.synthetic_digits import synthetic_digits
from pixel_model import make_pixel_model
from training.camera_sim import render_digit
from desktop_app.core.preprocess import preprocess


def _data():
    images, labels = synthetic_digits(60, seed=3)
    keep = labels < 4  # four labels keep it quick
    return images[keep], labels[keep]


def test_camera_frames_of_a_digit_reduce_to_a_symbol():
    images, _ = _data()
    rng = np.random.default_rng(0)
    ok = sum(preprocess(render_digit(images[i], rng)).ok for i in range(8))
    assert ok >= 6  # the simulated camera mostly yields an acquirable symbol


def test_camera_thresholds_are_consistent_with_their_distances(tmp_path):
    emb = Embedder(make_pixel_model(tmp_path / "pixel.onnx"))
    images, labels = _data()
    kw = dict(profiles_per_label=1, probes=20, enroll_frames=2, probe_frames=1, seed=5, progress=False)
    d = camera_distances(emb, images, labels, **kw)
    assert d["profiles"] >= 3 and d["genuine"].size > 0 and d["impostor"].size > 0
    # every acquired probe frame is compared with every profile: one genuine, the rest impostor
    acquired = d["fta"][1] - d["fta"][0]
    assert d["genuine"].size + d["impostor"].size == acquired * d["profiles"]
    th = camera_thresholds(emb, images, labels, source="synthetic digits", **kw)
    assert set(th) == {"camera_far_1e-3", "camera_far_1e-4"}
    for key, far in (("camera_far_1e-3", 1e-3), ("camera_far_1e-4", 1e-4)):
        op = th[key]
        # the figures re-computed from the same distances agree, and the FAR is within target
        again = operating_point(d["genuine"], d["impostor"], op["threshold"])
        assert op["false_accepts"] == again.false_accepts and op["frr"] == again.frr
        # fewer than 1/far impostor frames: a FAR within the target means not one false accept
        assert op["impostor"] * far < 1 and op["false_accepts"] == 0 and op["far"] == 0.0
        assert op["supported"] is False  # a few hundred impostor frames cannot support 1e-3
        assert "synthetic digits" in op["source"]
    # same seed, same answer
    assert (
        camera_thresholds(emb, images, labels, **kw)["camera_far_1e-3"]["threshold"]
        == th["camera_far_1e-3"]["threshold"]
    )
