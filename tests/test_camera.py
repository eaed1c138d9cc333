"""Frame sources: video files, image folders/lists, webcams that are not there."""

import itertools
import threading
import time

import cv2
import numpy as np
import pytest

from desktop_app.core.camera import (
    CameraError,
    ImageSource,
    VideoFileSource,
    WebcamSource,
    list_cameras,
    make_source,
    open_source,
)


def _write_video(path, n=12, fps=10.0, size=(160, 120)):
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert w.isOpened()
    for i in range(n):
        img = np.full((size[1], size[0], 3), 20 * i % 255, np.uint8)
        cv2.putText(img, str(i), (20, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
        w.write(img)
    w.release()
    return path


def test_video_file_frames_times_and_end(tmp_path):
    p = _write_video(tmp_path / "v.avi", n=12, fps=10.0)
    src = open_source(str(p))
    assert isinstance(src, VideoFileSource) and not src.is_live
    assert src.fps == pytest.approx(10.0) and "v.avi" in src.description
    frames = list(src)
    assert len(frames) == 12
    assert [f.index for f in frames] == list(range(12))
    assert np.allclose([f.t for f in frames], np.arange(12) / 10.0, atol=1e-6)
    assert frames[0].image.shape == (120, 160, 3) and frames[0].image.dtype == np.uint8
    assert src.read() is None  # stays at the end
    src.reopen()  # and starts again
    assert src.read().index == 0
    src.close()
    src.close()  # idempotent


def test_video_loop_keeps_time_increasing(tmp_path):
    p = _write_video(tmp_path / "v.avi", n=5, fps=10.0)
    with VideoFileSource(p, loop=True) as src:
        ts = [src.read().t for _ in range(12)]
    assert all(b > a for a, b in itertools.pairwise(ts))


def test_realtime_video_is_paced(tmp_path):
    p = _write_video(tmp_path / "v.avi", n=4, fps=20.0)
    t0 = time.monotonic()
    with open_source(str(p), realtime=True) as src:
        n = len(list(src))
    assert n == 4 and time.monotonic() - t0 >= 0.14


def test_bad_video_files_raise_camera_error(tmp_path):
    with pytest.raises(CameraError, match="does not exist"):
        open_source(str(tmp_path / "missing.avi"))
    junk = tmp_path / "junk.avi"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(CameraError, match="cannot be read|no readable frames"):
        src = open_source(str(junk))
        src.read()


def test_image_folder_sorted_and_unreadable_file_reported(tmp_path):
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"img{i}.png"), np.full((30, 40), 50 * i, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    src = open_source(str(tmp_path))
    assert isinstance(src, ImageSource) and "3 images" in src.description
    vals = [int(f.image[0, 0, 0]) for f in src]
    assert vals == [0, 50, 100]  # sorted by name, gray -> BGR
    src.close()

    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG broken")
    src = open_source([tmp_path / "img0.png", bad, tmp_path / "img1.png"])
    assert src.read().index == 0
    with pytest.raises(CameraError, match="broken.png"):
        src.read()
    assert src.read() is not None  # the source carries on after a bad file
    assert src.read() is None


def test_image_source_accepts_arrays_and_loops():
    a = np.zeros((10, 10, 3), np.uint8)
    b = np.full((10, 10), 9, np.uint8)
    with ImageSource([a, b], loop=True, fps=5.0) as src:
        fs = [src.read() for _ in range(5)]
    assert [f.t for f in fs] == pytest.approx([0, 0.2, 0.4, 0.6, 0.8])
    assert fs[1].image.shape == (10, 10, 3)


def test_empty_sources_and_closed_reads(tmp_path):
    with pytest.raises(CameraError, match="no images"):
        open_source(str(tmp_path))
    with pytest.raises(CameraError):
        ImageSource([]).open()
    with pytest.raises(CameraError, match="not open"):
        ImageSource([np.zeros((4, 4), np.uint8)]).read()


def test_make_source_dispatch(tmp_path):
    assert isinstance(make_source(0), WebcamSource)
    assert isinstance(make_source("1"), WebcamSource)
    assert isinstance(make_source(tmp_path / "x.mp4"), VideoFileSource)
    assert isinstance(make_source(tmp_path / "x.jpg"), ImageSource)


def test_missing_webcam_fails_fast_with_a_clear_message():
    t0 = time.monotonic()
    with pytest.raises(CameraError, match="Camera 7 could not be opened|did not respond"):
        WebcamSource(7, open_timeout_s=3.0).open()
    assert time.monotonic() - t0 < 5.0
    cam = WebcamSource(7)
    with pytest.raises(CameraError, match="not open"):
        cam.read()
    cam.close()


def test_list_cameras_is_bounded_and_lists_only_working_ones():
    t0 = time.monotonic()
    cams = list_cameras(max_index=4, timeout_s=2.0)
    assert time.monotonic() - t0 < 3.0
    for c in cams:  # no webcam here: usually empty
        assert c.resolution[0] > 0 and f"camera {c.index}" in c.description


class _Unplugged:
    """Wraps a real capture; after ``after`` frames read() hangs (a camera pulled out) until
    ``unstick`` is set (at most 30 s); ``hanging`` says a read is stuck right now."""

    def __init__(self, cap, after, mode="hang", unstick=None):
        self.cap, self.after, self.mode, self.n = cap, after, mode, 0
        self.unstick, self.hanging = unstick or threading.Event(), False

    def __getattr__(self, name):
        return getattr(self.cap, name)

    def read(self):
        self.n += 1
        if self.n > self.after:
            if self.mode == "hang":
                self.hanging = True
                self.unstick.wait(30)
                self.hanging = False
            return False, None
        return self.cap.read()


def test_webcam_read_that_hangs_or_fails_is_reported_and_reopens(tmp_path):
    video = _write_video(tmp_path / "cam.avi", n=30, fps=30.0)
    plan = iter([("hang", 3), ("fail", 2), ("ok", 100)])
    release, made = threading.Event(), []

    def factory(index):
        mode, after = next(plan)
        made.append(_Unplugged(cv2.VideoCapture(str(video)), after, mode, release))
        return made[-1]

    cam = WebcamSource(0, read_timeout_s=0.5, capture_factory=factory)
    cam.open()
    assert cam.is_live and "camera 0 (160x120" in cam.description
    assert [cam.read().index for _ in range(3)] == [0, 1, 2]
    with pytest.raises(CameraError, match="stopped delivering frames.*unplugged"):
        cam.read()
    assert made[0].hanging  # the caller has its answer while the camera's read still hangs
    release.set()
    with pytest.raises(CameraError, match="not open"):
        cam.read()
    cam.reopen()
    assert cam.read().index == 0 and cam.read().index == 1
    with pytest.raises(CameraError, match="stopped delivering frames"):
        cam.read()
    cam.reopen()
    frames = [cam.read() for _ in range(5)]
    assert [f.index for f in frames] == list(range(5)) and frames[-1].t >= frames[0].t
    cam.close()


def test_webcam_open_that_hangs_is_reported():
    release, hanging = threading.Event(), threading.Event()

    def factory(index):
        hanging.set()
        release.wait(30)
        hanging.clear()

    with pytest.raises(CameraError, match="did not respond"):
        WebcamSource(3, open_timeout_s=0.5, capture_factory=factory).open()
    assert hanging.is_set()  # reported while the camera's open still hangs: the caller is not stuck behind it
    release.set()


def test_image_files_are_read_by_the_one_image_reader(tmp_path):
    """ImageSource reads files with preprocess.load_image: transparency on white paper,
    16-bit scaled to 8-bit, and the same message for a file that is not an image."""
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 5:15] = (0, 0, 0, 255)  # black ink; the rest transparent
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    cv2.imwrite(str(tmp_path / "b.png"), np.full((8, 8), 65535, np.uint16))
    (tmp_path / "c.png").write_bytes(b"not an image at all")
    src = open_source([tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"])
    a = src.read().image
    assert a.dtype == np.uint8 and a.shape == (20, 20, 3)
    assert a[0, 0].tolist() == [255, 255, 255] and a[10, 10].tolist() == [0, 0, 0]
    b = src.read().image
    assert b.dtype == np.uint8 and b.shape == (8, 8, 3) and int(b.min()) == 255
    with pytest.raises(CameraError, match=r"cannot read image .*c\.png: not a PNG/JPEG"):
        src.read()


def test_a_webcam_read_stuck_in_the_driver_never_keeps_the_process_from_exiting(tmp_path):
    """The time limit runs reads on daemon threads: after a read that never returns, the
    program still ends at once (a worker-pool thread would be joined at exit)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import threading, time
        from desktop_app.core.camera import CameraError, WebcamSource

        class Stuck:
            def isOpened(self): return True
            def set(self, *a): return True
            def get(self, *a): return 0
            def read(self): threading.Event().wait(60); return False, None
            def release(self): pass

        cam = WebcamSource(0, read_timeout_s=0.3, capture_factory=lambda i: Stuck())
        cam.open()
        try:
            cam.read()
        except CameraError as exc:
            print("reported:", exc)
        """
    )
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=50)
    assert out.returncode == 0, out.stderr
    assert "reported: Camera 0 stopped delivering frames" in out.stdout
    assert time.monotonic() - t0 < 20.0
