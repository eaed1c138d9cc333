"""Frame sources behind one small interface: a webcam, a video file, a folder or list of images.

Every source has ``open()``, ``read() -> Frame | None`` (None: a finite source has ended),
``close()``, ``reopen()``, ``description`` and ``is_live``. Problems raise
:class:`CameraError` with a message for the user. Nothing blocks its caller for long: a
webcam's open and read run on a helper thread and give up after a timeout (a camera that
was unplugged can otherwise hang ``VideoCapture.read`` forever).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .preprocess.loading import ImageError, load_image
from .store.open_files import refuse_if_open_database

try:  # OpenCV's own warnings ("can't open camera by index") are ours to report, not its
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
except Exception:  # pragma: no cover - older builds
    pass

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


MAX_CAMERA_INDEX = 63


class CameraError(RuntimeError):
    """A frame source cannot be opened or stopped delivering; the message is for the user."""


@dataclass
class Frame:
    image: np.ndarray  # BGR uint8
    index: int  # 0, 1, 2, ... since open()/reopen()
    t: float  # seconds since the source opened (media time for files)
    source: str


class FrameSource:
    """The interface. Use as a context manager (opens/closes) or iterate over frames."""

    description: str = "frame source"
    is_live: bool = False
    fps: float = 30.0

    def open(self) -> None:
        raise NotImplementedError

    def read(self) -> Frame | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def reopen(self) -> None:
        self.close()
        self.open()

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __iter__(self):
        while True:
            f = self.read()
            if f is None:
                return
            yield f


class _TimedOut(CameraError):
    pass


def _run_with_timeout(fn, timeout_s: float, what: str):
    """Run ``fn`` on a daemon thread; :class:`_TimedOut` (a CameraError) if it does not return
    within ``timeout_s``, else its value or its exception. The one time limit of this module
    (a webcam's open, every read, its release): a daemon thread left stuck in a driver call
    never keeps the process from exiting."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # reported to the caller below
            box["error"] = exc

    th = threading.Thread(target=target, daemon=True, name=f"twinlock-{what}")
    th.start()
    th.join(timeout_s)
    if th.is_alive():
        raise _TimedOut(f"{what} did not answer within {timeout_s:g} s")
    if "error" in box:
        raise box["error"]
    return box.get("value")


class WebcamSource(FrameSource):
    """A webcam by index via OpenCV, at a chosen resolution, MJPEG when the camera offers it."""

    is_live = True

    def __init__(
        self,
        index: int,
        resolution: tuple[int, int] | None = (640, 480),
        mjpeg: bool = True,
        read_timeout_s: float = 2.0,
        open_timeout_s: float = 5.0,
        backend: int | None = None,
        capture_factory=None,
    ):
        # capture_factory(index) -> an object with cv2.VideoCapture's isOpened/set/get/read/
        # release (another capture backend; tests use it to stand in for a webcam)
        self.capture_factory = capture_factory
        self.index = int(index)
        if not 0 <= self.index <= MAX_CAMERA_INDEX:
            # OpenCV's V4L2 backend crashes the process (SIGSEGV) on a negative index
            raise CameraError(f"camera {self.index} does not exist: a camera is a number from 0 to {MAX_CAMERA_INDEX}.")
        self.resolution = tuple(resolution) if resolution else None
        self.mjpeg = mjpeg
        self.read_timeout_s = read_timeout_s
        self.open_timeout_s = open_timeout_s
        self.backend = backend
        self.actual_resolution: tuple[int, int] | None = None
        self.fourcc = ""
        self.fps = 30.0
        self._cap = None
        self._t0 = 0.0
        self._n = 0
        self.description = f"camera {self.index}"

    def open(self) -> None:
        if self._cap is not None:
            return

        def _open():
            if self.capture_factory is not None:
                cap = self.capture_factory(self.index)
            elif self.backend is not None:
                cap = cv2.VideoCapture(self.index, self.backend)
            else:
                cap = cv2.VideoCapture(self.index)
            if not cap.isOpened():
                cap.release()
                return None
            if self.mjpeg:
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            if self.resolution:
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.resolution[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.resolution[1])
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a stale queue
            return cap

        try:
            cap = _run_with_timeout(_open, self.open_timeout_s, f"camera {self.index}")
        except _TimedOut:
            raise CameraError(
                f"Camera {self.index} did not respond when opened. Check that it is "
                "plugged in and not used by another program, then try again."
            ) from None
        if cap is None:
            raise CameraError(
                f"Camera {self.index} could not be opened: it does not exist or is used "
                "by another program. Run 'twinlock doctor' to list the cameras found."
            )
        self._cap = cap
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.actual_resolution = (w, h) if w and h else None
        code = int(cap.get(cv2.CAP_PROP_FOURCC))
        self.fourcc = "".join(chr((code >> (8 * i)) & 0xFF) for i in range(4)).strip("\0 ") if code else ""
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0)
        self.fps = fps if 1 <= fps <= 240 else 30.0
        res = f"{w}x{h}" if w and h else "unknown size"
        self.description = f"camera {self.index} ({res}{' ' + self.fourcc if self.fourcc else ''})"
        self._t0 = time.monotonic()
        self._n = 0

    def read(self) -> Frame | None:
        if self._cap is None:
            raise CameraError(f"Camera {self.index} is not open.")
        try:
            ok, img = _run_with_timeout(self._cap.read, self.read_timeout_s, f"camera {self.index} read")
        except _TimedOut:
            self._abandon()
            raise CameraError(
                f"Camera {self.index} stopped delivering frames (no frame for "
                f"{self.read_timeout_s:g} s). Was it unplugged? Reconnect it and retry."
            ) from None
        except Exception as exc:
            self._abandon()
            raise CameraError(f"Camera {self.index} failed while reading: {exc}") from None
        if not ok or img is None:
            raise CameraError(
                f"Camera {self.index} stopped delivering frames. Was it unplugged? Reconnect it and retry."
            )
        f = Frame(img, self._n, time.monotonic() - self._t0, self.description)
        self._n += 1
        return f

    def _abandon(self) -> None:
        """Forget a capture whose thread may be stuck; release it in the background."""
        cap, self._cap = self._cap, None
        if cap is not None:
            threading.Thread(target=cap.release, daemon=True).start()

    def close(self) -> None:
        cap, self._cap = self._cap, None
        if cap is not None:
            try:
                _run_with_timeout(cap.release, 2.0, f"camera {self.index} release")
            except CameraError:
                pass


class VideoFileSource(FrameSource):
    """Frames of a video file; ``realtime`` paces reads to the file's frame rate."""

    is_live = False

    def __init__(self, path, loop: bool = False, realtime: bool = False):
        self.path = Path(path)
        self.loop = loop
        self.realtime = realtime
        self.description = f"video {self.path.name}"
        self.fps = 30.0
        self.frame_count = 0
        self._cap = None
        self._n = 0
        self._t_offset = 0.0
        self._start = 0.0
        self._last_t = 0.0

    def open(self) -> None:
        if self._cap is not None:
            return
        if not self.path.exists():
            raise CameraError(f"The video file {self.path} does not exist.")
        if self.path.is_dir():
            raise CameraError(f"{self.path} is a folder with no images in it, not a video file.")
        if not self.path.is_file():
            raise CameraError(
                f"{self.path} is not a regular file (a device, FIFO or socket), so it is not "
                "a video file; give a video file or a folder of images."
            )
        if self.path.stat().st_size == 0:
            raise CameraError(f"The video file {self.path} is empty (0 bytes).")
        refuse_if_open_database(self.path, "a video file", CameraError)  # before OpenCV opens it
        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            cap.release()
            raise CameraError(
                f"The video file {self.path} cannot be read (not a video OpenCV can "
                "decode, or damaged). Try an .avi (MJPG) or .mp4 file."
            )
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0)
        self.fps = fps if 1 <= fps <= 240 else 30.0
        self.frame_count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self._cap = cap
        self._n = 0
        self._t_offset = 0.0
        self._last_t = 0.0
        self._start = time.monotonic()

    def read(self) -> Frame | None:
        if self._cap is None:
            raise CameraError(f"The video {self.path.name} is not open.")
        ok, img = self._cap.read()
        if not ok or img is None:
            if self.loop and self._n > 0:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                self._t_offset = self._last_t + 1.0 / self.fps
                ok, img = self._cap.read()
            if not ok or img is None:
                if self._n == 0:
                    raise CameraError(f"The video file {self.path} holds no readable frames.")
                return None
        t = self._t_offset + self._local_index() / self.fps
        self._last_t = t
        if self.realtime:
            delay = self._start + t - time.monotonic()
            if delay > 0:
                time.sleep(min(delay, 1.0))
        f = Frame(img, self._n, t, self.description)
        self._n += 1
        return f

    def _local_index(self) -> int:
        pos = self._cap.get(cv2.CAP_PROP_POS_FRAMES)
        return max(0, int(pos) - 1) if pos and pos > 0 else self._n

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageSource(FrameSource):
    """A list of image files (or arrays), one frame each; ``t`` advances by 1/fps per image."""

    is_live = False

    def __init__(self, items, loop: bool = False, fps: float = 10.0, description: str | None = None):
        self.items = list(items)
        self.loop = loop
        self.fps = float(fps)
        n = len(self.items)
        self.description = description or f"{n} image{'s' if n != 1 else ''}"
        self._i = 0
        self._n = 0
        self._open = False

    def open(self) -> None:
        if not self.items:
            raise CameraError("No images to read: the folder or list is empty.")
        self._i = 0
        self._n = 0
        self._open = True

    def read(self) -> Frame | None:
        if not self._open:
            raise CameraError("The image source is not open.")
        if self._i >= len(self.items):
            if not self.loop:
                return None
            self._i = 0
        item = self.items[self._i]
        self._i += 1
        if isinstance(item, np.ndarray):
            img = item
        else:
            try:
                img = load_image(item)  # the one image-file reader (EXIF, alpha, 16-bit, size limits)
            except ImageError as exc:
                raise CameraError(str(exc)) from None
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        f = Frame(img, self._n, self._n / self.fps, self.description)
        self._n += 1
        return f

    def close(self) -> None:
        self._open = False


def image_files(folder) -> list[Path]:
    """The image files directly in ``folder``, sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def make_source(spec, resolution=(640, 480), loop: bool = False, realtime: bool = False) -> FrameSource:
    """The (unopened) source for ``spec``: webcam index, folder, image file(s) or video file."""
    if isinstance(spec, FrameSource):
        return spec
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        return WebcamSource(int(spec), resolution)
    if isinstance(spec, str) and spec.strip().isdigit() and not os.path.exists(spec):
        return WebcamSource(int(spec), resolution)
    if isinstance(spec, (list, tuple)):
        return ImageSource(spec, loop=loop)
    p = Path(spec)
    if p.is_dir():
        files = image_files(p)
        if not files:
            raise CameraError(f"The folder {p} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        return ImageSource(files, loop=loop, description=f"{len(files)} images in {p.name}")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource([p], loop=loop, description=f"image {p.name}")
    return VideoFileSource(p, loop=loop, realtime=realtime)


def open_source(spec, resolution=(640, 480), loop: bool = False, realtime: bool = False) -> FrameSource:
    """Like :func:`make_source`, but opened. Raises :class:`CameraError`."""
    src = make_source(spec, resolution, loop, realtime)
    src.open()
    return src


@dataclass
class CameraInfo:
    index: int
    description: str
    resolution: tuple[int, int]


def list_cameras(max_index: int = 6, timeout_s: float = 3.0) -> list[CameraInfo]:
    """The webcams that open and deliver a frame, probing indices 0..max_index-1.

    Bounded in time: each probe runs on a helper thread and the whole listing returns
    after about ``timeout_s`` at most; a camera that does not answer in time is left out."""
    results: dict[int, CameraInfo] = {}
    lock = threading.Lock()
    max_index = max(0, min(int(max_index), MAX_CAMERA_INDEX + 1))

    def probe(i: int):
        cap = cv2.VideoCapture(i)
        try:
            if not cap.isOpened():
                return
            ok, img = cap.read()
            if ok and img is not None:
                h, w = img.shape[:2]
                with lock:
                    results[i] = CameraInfo(i, f"camera {i}: {w}x{h}", (w, h))
        finally:
            cap.release()

    threads = [threading.Thread(target=probe, args=(i,), daemon=True) for i in range(max_index)]
    for th in threads:
        th.start()
    deadline = time.monotonic() + timeout_s
    for th in threads:
        th.join(max(0.0, deadline - time.monotonic()))
    with lock:
        return [results[i] for i in sorted(results)]
