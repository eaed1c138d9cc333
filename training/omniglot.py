"""Omniglot *background* set: download (MD5-verified, atomic), read and validate the zip,
convert to the model form with the app's own image-file code, split by alphabet.

The zip holds ``images_background/<alphabet>/characterNN/<id>_<drawer>.png``: 964
characters of 30 alphabets, each drawn once by 20 people, 105x105 black ink on white
(Lake, Salakhutdinov & Tenenbaum 2015, MIT licence). The *evaluation* set is never read
here: a zip in its layout is refused (it is kept for judging the shipped model).

Conversion: every PNG goes through :func:`desktop_app.core.preprocess.prepare_image` (what
the app runs on an image file), after the ink is thickened by a few pixels at 105x105 so
that the 28x28 strokes have the width the app produces for MNIST-like input (see
:func:`match_stroke_width`), and a white margin is added so that the whole character lies
inside the app's region of interest. Drawings the app does not acquire are dropped and
counted.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

import cv2
import numpy as np

from desktop_app.core.paths import atomic_write_bytes, data_home

ZIP_NAME = "images_background.zip"
CANONICAL_URLS = (
    "https://github.com/brendenlake/omniglot/raw/master/python/",
    "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/",
)
CANONICAL_MD5 = "68d2efa1b9178cc56df9314c21c6e718"  # the canonical archive (also torchvision's)
KNOWN_MD5 = {CANONICAL_MD5, "0180b822c96f5bc93d44706275bc4de5"}  # + the project's re-zipped copy
EXPECTED = {"alphabets": 30, "characters": 964, "drawers": 20}
IMAGE_SIZE = 105
PAD = 40  # white margin so the 105x105 drawing fits the app's centred ROI
HELD_OUT = 6  # alphabets held out of training (validation + calibration)
MIN_WAYS = 20  # held-out alphabets need this many characters (20-way one-shot)
_ENTRY = re.compile(r"^images_background/([^/]+)/character(\d+)/(\d+)_(\d+)\.png$")


class OmniglotError(ValueError):
    """The Omniglot file is missing, damaged or not the background set; the message names it."""


def default_zip(path: str | os.PathLike | None = None) -> Path:
    """``path``, else ``$TWINLOCK_OMNIGLOT``, else ``<data home>/omniglot/images_background.zip``."""
    if path:
        p = Path(path)
        return p / ZIP_NAME if p.is_dir() else p
    env = os.environ.get("TWINLOCK_OMNIGLOT")
    if env:
        return default_zip(env)
    return data_home() / "omniglot" / ZIP_NAME


def download(
    folder: str | os.PathLike,
    urls=CANONICAL_URLS,
    md5: str = CANONICAL_MD5,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``images_background.zip`` into ``folder`` from the canonical Omniglot location,
    checksum-verified, written only when complete (temp file + rename)."""
    from training.mnist import DownloadError, download_file

    try:
        return download_file(ZIP_NAME, Path(folder), mirrors=urls, md5=md5, progress=progress, timeout=timeout)
    except DownloadError as exc:
        raise OmniglotError(str(exc).replace("MNIST files", "Omniglot background zip")) from None


def ensure_zip(path: str | os.PathLike | None = None, download_missing: bool = False, **kw) -> Path:
    p = default_zip(path)
    if p.is_file():
        return p
    if not download_missing:
        raise OmniglotError(
            f"{p}: Omniglot background zip not found (pass --omniglot PATH, set "
            f"TWINLOCK_OMNIGLOT, or download it with `python -m training.omniglot "
            f"--download {p.parent}`)"
        )
    return download(p.parent, **kw)


@dataclass
class Background:
    """The drawings of the background set, as read (105x105, ink dark on white)."""

    images: np.ndarray  # uint8 [N, 105, 105]
    alphabet: np.ndarray  # int64 [N] index into ``alphabets``
    character: np.ndarray  # int64 [N] global character index (0..C-1, sorted by alphabet, character)
    drawer: np.ndarray  # int64 [N] 1..20
    alphabets: list  # alphabet names
    characters: list  # "alphabet/characterNN" per global character index


def read_zip(
    path: str | os.PathLike, expected: dict | None = EXPECTED, progress: Callable[[int, int], None] | None = None
) -> Background:
    """Read and validate the background zip. ``expected`` counts (alphabets, characters,
    drawers) are checked; ``None`` checks only that every character has the same drawers."""
    p = Path(path)
    if not p.is_file():
        raise OmniglotError(f"{p}: file not found")
    try:
        zf = zipfile.ZipFile(p)
    except (zipfile.BadZipFile, OSError) as exc:
        raise OmniglotError(f"{p}: not a readable zip archive ({exc}); re-download it") from None
    with zf:
        names = [n for n in zf.namelist() if not n.endswith("/")]
        if any(n.startswith("images_evaluation/") for n in names):
            raise OmniglotError(
                f"{p}: this is the Omniglot *evaluation* set; twinlock trains only on the background set ({ZIP_NAME})"
            )
        entries = []
        for n in names:
            if n.startswith("__MACOSX/") or n.rsplit("/", 1)[-1].startswith("."):
                continue
            m = _ENTRY.match(n)
            if not m:
                raise OmniglotError(
                    f"{p}: unexpected entry {n!r} (want images_background/<alphabet>/characterNN/<id>_<drawer>.png)"
                )
            entries.append((m.group(1), int(m.group(2)), int(m.group(4)), n))
        if not entries:
            raise OmniglotError(f"{p}: no drawings in images_background/")
        entries.sort()
        alphabets = sorted({e[0] for e in entries})
        chars = sorted({(e[0], e[1]) for e in entries})
        char_index = {c: i for i, c in enumerate(chars)}
        drawers_of: dict = {}
        for a, c, d, _ in entries:
            drawers_of.setdefault((a, c), []).append(d)
        ref = sorted(drawers_of[chars[0]])
        for c, ds in drawers_of.items():
            if sorted(ds) != ref or len(set(ds)) != len(ds):
                raise OmniglotError(
                    f"{p}: {c[0]}/character{c[1]:02d} has drawers {sorted(ds)}, "
                    f"expected {ref} like the others (damaged or incomplete archive)"
                )
        if expected is not None:
            got = {"alphabets": len(alphabets), "characters": len(chars), "drawers": len(ref)}
            if got != dict(expected):
                raise OmniglotError(
                    f"{p}: holds {got['alphabets']} alphabets, {got['characters']} "
                    f"characters, {got['drawers']} drawers each; the background set has "
                    f"{expected['alphabets']}, {expected['characters']}, "
                    f"{expected['drawers']} (incomplete or a different archive)"
                )
        n = len(entries)
        images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
        alpha_idx = {a: i for i, a in enumerate(alphabets)}
        for k, (_a, _c, _d, name) in enumerate(entries):
            try:
                raw = zf.read(name)
            except (zipfile.BadZipFile, OSError, ValueError) as exc:  # CRC error, truncated member
                raise OmniglotError(f"{p}: entry {name} is damaged ({exc}); re-download the zip") from None
            img = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE) if raw else None
            if img is None:
                raise OmniglotError(f"{p}: entry {name} is not a readable PNG; re-download the zip")
            if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
                raise OmniglotError(
                    f"{p}: entry {name} is {img.shape[1]}x{img.shape[0]}, expected {IMAGE_SIZE}x{IMAGE_SIZE}"
                )
            images[k] = img
            if progress and k % 500 == 0:
                progress(k, n)
    return Background(
        images,
        np.array([alpha_idx[e[0]] for e in entries], np.int64),
        np.array([char_index[(e[0], e[1])] for e in entries], np.int64),
        np.array([e[2] for e in entries], np.int64),
        alphabets,
        [f"{a}/character{c:02d}" for a, c in chars],
    )


# ------------------------------------------------------------------ conversion


def thicken(img: np.ndarray, px: int) -> np.ndarray:
    """Dark ink on white, ink widened by ``px`` pixels (erosion of the white paper)."""
    if px <= 0:
        return img
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (px + 1, px + 1))
    return cv2.erode(img, k)


def to_model_form(img: np.ndarray, thicken_px: int = 0):
    """One 105x105 drawing -> the app's PreprocessResult (``.ok``, ``.image`` 28x28)."""
    from desktop_app.core.preprocess import prepare_image

    a = cv2.copyMakeBorder(thicken(img, thicken_px), PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=255)
    return prepare_image(a)


def stroke_width(images28: np.ndarray) -> float:
    """Mean stroke width (pixels at 28x28) of white-on-black model images: twice the median
    ridge of the distance transform, measured at 4x (bilinear) for sub-pixel resolution."""
    ws = []
    for a in images28:
        big = cv2.resize(a, (112, 112), interpolation=cv2.INTER_LINEAR)
        dist = cv2.distanceTransform((big > 127).astype(np.uint8), cv2.DIST_L2, 3)
        ridge = dist[(dist >= cv2.dilate(dist, np.ones((3, 3), np.uint8))) & (dist > 0)]
        ws.append(2.0 * float(np.median(ridge)) / 4.0 if ridge.size else 0.0)
    return float(np.mean(ws)) if ws else float("nan")


def app_stroke_width(mnist_images: np.ndarray) -> float:
    """Stroke width of what the app produces for MNIST-like input: MNIST digits drawn large
    (4x, dark on white, with a margin) and passed through ``prepare_image``."""
    from desktop_app.core.preprocess import prepare_image

    out = []
    for a in mnist_images:
        big = 255 - cv2.resize(a, (112, 112), interpolation=cv2.INTER_CUBIC)
        r = prepare_image(cv2.copyMakeBorder(big, PAD, PAD, PAD, PAD, cv2.BORDER_CONSTANT, value=255))
        if r.ok:
            out.append(r.image)
    return stroke_width(np.array(out))


def match_stroke_width(drawings: np.ndarray, target: float, candidates=(0, 1, 2, 3, 4, 5)) -> tuple[int, dict]:
    """The thickening (px at 105x105) whose converted strokes come nearest ``target``."""
    widths = {}
    for px in candidates:
        conv = [r.image for r in (to_model_form(d, px) for d in drawings) if r.ok]
        widths[px] = stroke_width(np.array(conv)) if conv else float("nan")
    best = min(widths, key=lambda k: abs(widths[k] - target) if np.isfinite(widths[k]) else np.inf)
    return best, widths


def convert(bg: Background, thicken_px: int, progress: Callable[[int, int], None] | None = None):
    """(images28 uint8 [M,28,28], keep mask [N] of the drawings the app acquired, fail codes)."""
    out = np.zeros((len(bg.images), 28, 28), np.uint8)
    keep = np.zeros(len(bg.images), bool)
    codes: dict = {}
    for k, img in enumerate(bg.images):
        r = to_model_form(img, thicken_px)
        if r.ok:
            out[k] = r.image
            keep[k] = True
        else:
            codes[r.code] = codes.get(r.code, 0) + 1
        if progress and k % 1000 == 0:
            progress(k, len(bg.images))
    return out[keep], keep, codes


def held_out_alphabets(
    bg_alphabets,
    alphabet_of_char,
    n: int = HELD_OUT,
    seed: int = 0,
    min_chars: int = MIN_WAYS,
    drawings_per_char=None,
    min_drawings: int = 16,
) -> list:
    """Seeded choice of ``n`` alphabets kept out of training (they pick the best epoch and
    calibrate the unseen-symbol thresholds), among those with >= ``min_chars`` characters --
    counting only characters with >= ``min_drawings`` drawings in ``drawings_per_char`` when
    given (an alphabet the app mostly fails to acquire, like Braille's loose dots, cannot
    measure verification)."""
    aoc = np.asarray(alphabet_of_char)
    ok = aoc >= 0
    if drawings_per_char is not None:
        dpc = np.zeros(aoc.size, np.int64)
        dpc[: len(drawings_per_char)] = np.asarray(drawings_per_char)[: aoc.size]
        ok &= dpc >= min_drawings
    counts = np.bincount(aoc[ok], minlength=len(bg_alphabets))
    big = [a for i, a in enumerate(bg_alphabets) if counts[i] >= min_chars]
    if len(big) < n:
        big = list(bg_alphabets)
    if n >= len(bg_alphabets):
        raise ValueError(f"cannot hold out {n} of {len(bg_alphabets)} alphabets")
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(big, size=n, replace=False).tolist())


def split(sym, n: int = HELD_OUT, seed: int = 0, alphabets=()) -> tuple:
    """(training Symbols, held-out Symbols, held-out alphabet names) of ``sym``: the
    ``alphabets`` named, else ``n`` chosen by :func:`held_out_alphabets` with ``seed`` among
    those whose characters the app acquires (most drawings of each)."""
    if alphabets:
        held = sorted(alphabets)
        missing = [a for a in held if a not in sym.alphabets]
        if missing:
            raise ValueError(f"held-out alphabets {missing} are not in the Omniglot data")
    else:
        dpc = np.bincount(sym.character, minlength=len(sym.characters))  # drawings acquired per character
        held = held_out_alphabets(
            sym.alphabets,
            sym.alphabet_of_char(),
            n,
            seed,
            drawings_per_char=dpc,
            min_drawings=max(2, int(0.8 * dpc.max())),
        )
    return sym.subset([a for a in sym.alphabets if a not in held]), sym.subset(held), held


# ------------------------------------------------------------------ cache


def build(
    zip_path,
    out: str | os.PathLike,
    mnist_images: np.ndarray | None = None,
    thicken_px: int | None = None,
    expected: dict | None = EXPECTED,
    log: Callable[[str], None] = print,
) -> Path:
    """Read + convert the zip once and save an npz (model-form images and their labels)."""
    bg = read_zip(zip_path, expected)
    log(f"{zip_path}: {len(bg.alphabets)} alphabets, {len(bg.characters)} characters, {len(bg.images)} drawings")
    target = float("nan")
    widths: dict = {}
    if thicken_px is None:
        if mnist_images is None:
            raise ValueError("give mnist_images to match the stroke width, or thicken_px")
        target = app_stroke_width(mnist_images)
        sample = bg.images[np.random.default_rng(0).permutation(len(bg.images))[:400]]
        thicken_px, widths = match_stroke_width(sample, target)
        log(
            f"stroke width: app on MNIST-like input {target:.2f} px; Omniglot by thickening "
            + ", ".join(f"{k}px {v:.2f}" for k, v in widths.items())
            + f" -> {thicken_px} px"
        )
    imgs, keep, codes = convert(bg, thicken_px)
    log(f"converted {keep.sum()} of {keep.size} drawings (not acquired: {codes or 'none'})")
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        images=imgs,
        alphabet=bg.alphabet[keep],
        character=bg.character[keep],
        drawer=bg.drawer[keep],
        alphabets=np.array(bg.alphabets),
        characters=np.array(bg.characters),
        thicken_px=np.int64(thicken_px),
        target_width=np.float64(target),
        source_md5=np.array(_md5(zip_path)),
        not_acquired=np.array(repr(codes)),
        widths=np.array(repr({int(k): round(v, 3) for k, v in widths.items()})),
    )
    return atomic_write_bytes(out, buf.getvalue())


@dataclass
class Symbols:
    """Model-form Omniglot drawings with labels (what training and evaluation use)."""

    images: np.ndarray  # uint8 [M, 28, 28] white on black
    alphabet: np.ndarray  # int64 [M]
    character: np.ndarray  # int64 [M] global character index
    drawer: np.ndarray  # int64 [M]
    alphabets: list
    characters: list
    info: dict
    index: np.ndarray | None = None  # row of each drawing in the converted file (None: 0..M-1)

    def rows(self) -> np.ndarray:
        return np.arange(len(self.images)) if self.index is None else self.index

    def subset(self, alphabets) -> Symbols:
        ids = [self.alphabets.index(a) for a in alphabets]
        m = np.isin(self.alphabet, ids)
        return Symbols(
            self.images[m],
            self.alphabet[m],
            self.character[m],
            self.drawer[m],
            self.alphabets,
            self.characters,
            self.info,
            self.rows()[m],
        )

    def alphabet_of_char(self) -> np.ndarray:
        a = np.full(len(self.characters), -1, np.int64)
        a[self.character] = self.alphabet
        return a


def load(npz_path: str | os.PathLike) -> Symbols:
    p = Path(npz_path)
    if not p.is_file():
        raise OmniglotError(
            f"{p}: converted Omniglot file not found (build it with `python -m training.omniglot --out {p}`)"
        )
    try:
        with np.load(p, allow_pickle=False) as d:
            s = Symbols(
                d["images"],
                d["alphabet"].astype(np.int64),
                d["character"].astype(np.int64),
                d["drawer"].astype(np.int64),
                d["alphabets"].tolist(),
                d["characters"].tolist(),
                {
                    "thicken_px": int(d["thicken_px"]),
                    "target_width": float(d["target_width"]),
                    "source_md5": str(d["source_md5"]),
                    "not_acquired": str(d["not_acquired"]),
                    "widths": str(d["widths"]),
                },
            )
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise OmniglotError(
            f"{p}: not a converted Omniglot file or damaged ({type(exc).__name__}: "
            f"{str(exc)[:100]}); rebuild it with `python -m training.omniglot`"
        ) from None
    if s.images.ndim != 3 or s.images.shape[1:] != (28, 28) or len(s.images) != len(s.character):
        raise OmniglotError(f"{p}: images/labels have the wrong shape; rebuild it")
    return s


def _md5(path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main(argv=None) -> int:
    import argparse

    ap = argparse.ArgumentParser(
        prog="python -m training.omniglot", description="Convert the Omniglot background zip to twinlock's model form."
    )
    ap.add_argument("--zip", default=None, help="images_background.zip (default: $TWINLOCK_OMNIGLOT or the data home)")
    ap.add_argument(
        "--download",
        metavar="FOLDER",
        default=None,
        help="download images_background.zip from the canonical location into FOLDER first",
    )
    ap.add_argument("--mnist", default=None, help="MNIST folder (to match the stroke width)")
    ap.add_argument("--thicken", type=int, default=None, help="thickening in px at 105x105 (default: matched)")
    ap.add_argument("--out", default="runs/omniglot.npz")
    a = ap.parse_args(argv)
    try:
        if a.download:
            zp = download(a.download)
        else:
            zp = ensure_zip(a.zip)
        mn = None
        if a.thicken is None:
            from training.mnist import load_mnist

            x, _ = load_mnist(a.mnist, "train", download=False)
            mn = x[np.random.default_rng(0).permutation(len(x))[:400]]
        build(zp, a.out, mnist_images=mn, thicken_px=a.thicken)
    except (OmniglotError, ValueError, OSError) as exc:
        print(f"error: {exc}")
        return 4
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
