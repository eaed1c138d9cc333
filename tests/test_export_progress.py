"""Progress of the export loops as report(stage, done, total, message) calls (export/progress.py),
on the real calibration functions with a real ONNX model; and the tqdm / silent modes."""

from __future__ import annotations

import numpy as np

from desktop_app.core.embedder import Embedder
from export import calibrate as cal
from export.camera_calibration import camera_distances
from export.progress import Bar, iterate, step
from training.synthetic_digits import synthetic_digits
from pixel_model import make_pixel_model


def _by_stage(events):
    out = {}
    for stage, done, total, _msg in events:
        out.setdefault(stage, []).append((done, total))
    return out


def _assert_counts_up_to_the_total(seen):
    dones = [d for d, _ in seen]
    totals = {t for _, t in seen}
    assert len(totals) == 1 and dones[0] == 0 and dones[-1] == totals.pop()
    assert dones == sorted(dones) and len(set(dones)) == len(dones)  # moves forward, never repeats


def test_calibration_reports_each_stage_from_zero_to_its_total(tmp_path):
    emb = Embedder(make_pixel_model(tmp_path / "pixel.onnx"))
    images, labels = synthetic_digits(600, seed=3)
    events = []
    e = cal.embed_all(emb, images, batch=50, progress=lambda *a: events.append(a))
    g, i = cal.all_pair_distances(e, labels, progress=lambda *a: events.append(a))
    assert g.size + i.size == 600 * 599 // 2
    stages = _by_stage(events)
    assert list(stages) == ["embedding", "pairs"]
    _assert_counts_up_to_the_total(stages["embedding"])
    assert stages["embedding"][-1] == (600, 600)
    _assert_counts_up_to_the_total(stages["pairs"])
    # silent and tqdm modes compute the same thing
    assert np.array_equal(cal.embed_all(emb, images, batch=50, progress=False), e)
    assert np.array_equal(cal.embed_all(emb, images, batch=50, progress=True), e)


def test_camera_calibration_reports_profiles_then_probes(tmp_path):
    emb = Embedder(make_pixel_model(tmp_path / "pixel.onnx"))
    images, labels = synthetic_digits(40, seed=4)
    events = []
    kw = dict(profiles_per_label=1, probes=12, enroll_frames=2, probe_frames=1, seed=5)
    d = camera_distances(emb, images, labels, progress=lambda *a: events.append(a), **kw)
    stages = _by_stage(events)
    assert list(stages) == ["camera profiles", "camera probes"]
    assert stages["camera probes"][-1] == (12, 12) and d["probe_images"] == 12
    for seen in stages.values():
        _assert_counts_up_to_the_total(seen)
    again = camera_distances(emb, images, labels, progress=False, **kw)
    assert np.array_equal(again["genuine"], d["genuine"])  # reporting changes nothing


def test_a_stage_cut_short_does_not_claim_to_be_finished():
    events = []

    def report(*a):
        events.append(a)

    try:
        with Bar(report, "work", 10) as bar:
            bar.update(3)
            raise RuntimeError("stop")
    except RuntimeError:
        pass
    assert events[0] == ("work", 0, 10, "") and events[-1][1] < 10
    events.clear()
    assert list(iterate(report, range(5), "loop")) == [0, 1, 2, 3, 4]
    assert events[0][:3] == ("loop", 0, 5) and events[-1][:3] == ("loop", 5, 5)
    events.clear()
    step(report, "parity", "checking")
    step(False, "parity", "checking")  # nothing to report to
    assert events == [("parity", 0, 0, "checking")]
