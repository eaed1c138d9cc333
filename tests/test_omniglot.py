"""training.omniglot on a tiny synthetic zip in the background set's layout (no real Omniglot):
reading and validation, damaged files, the evaluation set refused, the downloader against a
local HTTP server, conversion through the app's own prepare_image, the alphabet split."""

import hashlib
import http.server
import threading
import zipfile
from functools import partial

import cv2
import numpy as np
import pytest

from training import omniglot as O

ALPHABETS = {"Alpha": 3, "Beta": 2, "Gamma_(test)": 4}
DRAWERS = 20


def char_strokes(seed: int):
    rng = np.random.default_rng(seed)
    return [tuple(int(v) for v in rng.integers(25, 80, 4)) for _ in range(rng.integers(2, 4))]


def drawing(seed: int, drawer: int) -> np.ndarray:
    """105x105 black ink on white: a character's strokes, jittered per drawer."""
    img = np.full((105, 105), 255, np.uint8)
    rng = np.random.default_rng(seed * 100 + drawer)
    for x0, y0, x1, y1 in char_strokes(seed):
        j = rng.integers(-3, 4, 4)
        cv2.line(img, (x0 + int(j[0]), y0 + int(j[1])), (x1 + int(j[2]), y1 + int(j[3])), 0, 2)
    return img


def png(img) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    assert ok
    return buf.tobytes()


def make_zip(path, alphabets=ALPHABETS, drawers=DRAWERS, top="images_background", damage=None, drop=None, extra=None):
    gid = 0
    with zipfile.ZipFile(path, "w") as z:
        for a, n in alphabets.items():
            for c in range(1, n + 1):
                gid += 1
                for d in range(1, drawers + 1):
                    name = f"{top}/{a}/character{c:02d}/{gid:04d}_{d:02d}.png"
                    if name == drop:
                        continue
                    data = b"not a png" if name == damage else png(drawing(gid, d))
                    z.writestr(name, data)
        if extra:
            z.writestr(extra, b"x")
    return path


EXPECT = {"alphabets": 3, "characters": 9, "drawers": 20}


@pytest.fixture(scope="module")
def good_zip(tmp_path_factory):
    return make_zip(tmp_path_factory.mktemp("omni") / "images_background.zip")


def test_reads_layout_counts_and_labels(good_zip):
    bg = O.read_zip(good_zip, EXPECT)
    assert bg.images.shape == (9 * 20, 105, 105) and bg.images.dtype == np.uint8
    assert bg.alphabets == sorted(ALPHABETS)
    assert len(bg.characters) == 9 and bg.characters[0] == "Alpha/character01"
    assert np.bincount(bg.character).tolist() == [20] * 9
    assert sorted(set(bg.drawer.tolist())) == list(range(1, 21))
    # labels agree with the names: every Beta drawing belongs to a Beta character
    beta = bg.alphabets.index("Beta")
    assert {bg.characters[c].split("/")[0] for c in bg.character[bg.alphabet == beta]} == {"Beta"}
    # pixel content is the PNG that was written (first Alpha character, drawer 1)
    k = np.flatnonzero((bg.character == 0) & (bg.drawer == 1))[0]
    np.testing.assert_array_equal(bg.images[k], drawing(1, 1))


def test_wrong_counts_are_refused_with_the_numbers(good_zip):
    with pytest.raises(O.OmniglotError, match=r"3 alphabets, 9 characters, 20 drawers.*30, 964, 20"):
        O.read_zip(good_zip)  # the real background set's counts


def test_damaged_png_is_named(tmp_path):
    bad = "images_background/Beta/character01/0004_07.png"
    p = make_zip(tmp_path / "z.zip", damage=bad)
    with pytest.raises(O.OmniglotError, match=bad):
        O.read_zip(p, EXPECT)


def test_missing_drawing_is_named(tmp_path):
    p = make_zip(tmp_path / "z.zip", drop="images_background/Gamma_(test)/character02/0007_03.png")
    with pytest.raises(O.OmniglotError, match=r"Gamma_\(test\)/character02 has drawers"):
        O.read_zip(p, None)


def test_not_a_zip_and_foreign_entries_and_evaluation_set(tmp_path):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"hello")
    with pytest.raises(O.OmniglotError, match="not a readable zip"):
        O.read_zip(junk)
    with pytest.raises(O.OmniglotError, match="file not found"):
        O.read_zip(tmp_path / "nope.zip")
    p = make_zip(tmp_path / "x.zip", extra="images_background/readme.txt")
    with pytest.raises(O.OmniglotError, match="unexpected entry 'images_background/readme.txt'"):
        O.read_zip(p, EXPECT)
    ev = make_zip(tmp_path / "images_evaluation.zip", top="images_evaluation")
    with pytest.raises(O.OmniglotError, match="evaluation"):
        O.read_zip(ev, None)


def test_truncated_archive_is_refused(good_zip, tmp_path):
    data = good_zip.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(O.OmniglotError, match="cut.zip"):
        O.read_zip(cut, EXPECT)


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "www" / "python"
    root.mkdir(parents=True)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "www"))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a, **k: None
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/python/"
    httpd.shutdown()


def test_download_verifies_checksum_and_leaves_nothing_behind(server, good_zip, tmp_path):
    root, url = server
    (root / O.ZIP_NAME).write_bytes(good_zip.read_bytes())
    md5 = hashlib.md5(good_zip.read_bytes()).hexdigest()
    dest = tmp_path / "data"
    got = O.download(dest, urls=(url,), md5=md5, progress=False)
    assert got == dest / O.ZIP_NAME and got.read_bytes() == good_zip.read_bytes()
    assert O.read_zip(got, EXPECT).images.shape[0] == 180

    other = tmp_path / "other"
    with pytest.raises(O.OmniglotError, match="checksum mismatch"):
        O.download(other, urls=(url,), md5="0" * 32, progress=False)
    assert list(other.iterdir()) == []  # no partial or unverified file
    with pytest.raises(O.OmniglotError, match="could not download"):
        O.download(other, urls=(url.replace("/python/", "/missing/"),), md5=md5, progress=False)
    assert list(other.iterdir()) == []


def test_canonical_location_and_checksum():
    assert any("brendenlake/omniglot" in u and u.endswith("/python/") for u in O.CANONICAL_URLS)
    assert O.CANONICAL_MD5 in O.KNOWN_MD5 and len(O.CANONICAL_MD5) == 32


def test_missing_zip_message_says_what_to_do(tmp_path):
    with pytest.raises(O.OmniglotError, match="--omniglot"):
        O.ensure_zip(tmp_path / "none.zip")


def test_conversion_goes_through_the_apps_prepare_image(good_zip):
    from desktop_app.core.preprocess import prepare_image

    bg = O.read_zip(good_zip, EXPECT)
    r = O.to_model_form(bg.images[0], 1)
    assert r.ok and r.image.shape == (28, 28) and r.image.dtype == np.uint8
    # the same as the app on the same padded, thickened file
    padded = cv2.copyMakeBorder(O.thicken(bg.images[0], 1), O.PAD, O.PAD, O.PAD, O.PAD, cv2.BORDER_CONSTANT, value=255)
    np.testing.assert_array_equal(r.image, prepare_image(padded).image)
    # white ink on black, like MNIST
    assert r.image[0].max() == 0 and r.image.max() == 255
    # thickening widens the strokes at 28x28
    thin = O.stroke_width(np.array([O.to_model_form(im, 0).image for im in bg.images[:20]]))
    thick = O.stroke_width(np.array([O.to_model_form(im, 4).image for im in bg.images[:20]]))
    assert thick > thin


def test_stroke_width_matching_picks_the_nearest(good_zip):
    bg = O.read_zip(good_zip, EXPECT)
    px, widths = O.match_stroke_width(bg.images[:10], target=100.0, candidates=(0, 3))
    assert px == 3 and widths[3] > widths[0]
    px, _ = O.match_stroke_width(bg.images[:10], target=0.0, candidates=(0, 3))
    assert px == 0


def test_build_and_load_round_trip(good_zip, tmp_path):
    out = O.build(good_zip, tmp_path / "o.npz", thicken_px=1, expected=EXPECT, log=lambda m: None)
    s = O.load(out)
    assert s.images.shape[1:] == (28, 28) and len(s.images) == len(s.character) >= 170
    assert s.info["thicken_px"] == 1 and len(s.info["source_md5"]) == 32
    assert s.alphabets == sorted(ALPHABETS)
    sub = s.subset(["Beta"])
    assert set(sub.alphabet.tolist()) == {s.alphabets.index("Beta")}
    (tmp_path / "bad.npz").write_bytes(b"nope")
    with pytest.raises(O.OmniglotError, match="bad.npz"):
        O.load(tmp_path / "bad.npz")


def test_held_out_alphabets_seeded_and_big_enough():
    names = [f"a{i}" for i in range(10)]
    aoc = np.repeat(np.arange(10), [25, 5, 30, 22, 8, 40, 21, 3, 26, 20])  # characters per alphabet
    h = O.held_out_alphabets(names, aoc, n=3, seed=0)
    assert h == O.held_out_alphabets(names, aoc, n=3, seed=0) and len(h) == 3
    assert not set(h) & {"a1", "a4", "a7"}  # fewer than 20 characters: not held out
    assert len({tuple(O.held_out_alphabets(names, aoc, n=3, seed=k)) for k in range(5)}) > 1
    with pytest.raises(ValueError):
        O.held_out_alphabets(names, aoc, n=10)
