"""The passcode on the command line: `enroll --symbols 2` from captures of a card, `verify`
on cards, `profiles show`/`list` say how many symbols, `strength` covers each symbol and the
whole passcode. Real files, real SQLite, the shipped model (it carries passcode points)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from desktop_app.cli.main import main
from training.synthetic_digits import digit_strokes


def card_png(path, digits, seed=0, size=150):
    """A photo-like image of a card: the digits drawn side by side in dark ink on light paper."""
    rng = np.random.default_rng(seed)
    gap = size // 2
    w = 60 + len(digits) * size + (len(digits) - 1) * gap
    canvas = np.full((size + 80, w, 3), 232, np.float32) + rng.normal(0, 2, (size + 80, w, 1))
    for i, d in enumerate(digits):
        a = digit_strokes(d, size, jitter=0.03, seed=seed * 10 + i)[..., None]
        x = 30 + i * (size + gap) + int(rng.integers(-6, 7))
        y = 40 + int(rng.integers(-6, 7))
        canvas[y : y + size, x : x + size] = canvas[y : y + size, x : x + size] * (1 - a) + 25 * a
    cv2.imwrite(str(path), np.clip(canvas, 0, 255).astype(np.uint8))
    return str(path)


@pytest.fixture
def world(tmp_path, monkeypatch):
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    monkeypatch.delenv("TWINLOCK_PASSPHRASE", raising=False)
    cards = [card_png(tmp_path / f"card{i}.png", [3, 7], seed=i) for i in range(4)]
    return {"tmp": tmp_path, "db": str(tmp_path / "db.sqlite3"), "cards": cards}


def test_enroll_verify_and_show_a_two_symbol_passcode(world, capsys):
    db, tmp = world["db"], world["tmp"]
    # a passcode of common symbols only (3 then 3): judged whole, refused below the minimum
    threes = [card_png(tmp / f"threes{i}.png", [3, 3], seed=20 + i) for i in range(3)]
    assert main(["enroll", "pc", "--symbols", "2", *threes, "--db", db]) == 1
    out = capsys.readouterr()
    assert "symbol 1: weak" in out.out and "symbol 2: weak" in out.out and "combinations" in out.out
    assert "This passcode is weak" in out.err and "Nothing was enrolled" in out.err
    assert main(["profiles", "list", "--db", db]) == 0
    assert "no profiles yet" in capsys.readouterr().out
    # 3 then 7: one symbol is not a common one -- fair, allowed
    assert main(["enroll", "pc", "--symbols", "2", *world["cards"], "--db", db]) == 0
    out = capsys.readouterr().out
    assert "4 capture(s) of a 2-symbol passcode card" in out and "4, 4 per symbol" in out
    assert "symbol 1 consistency" in out and "symbol 2 consistency" in out
    assert main(["profiles", "show", "pc", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "symbols:     2 (a passcode" in out and "passcode point" in out
    assert main(["profiles", "list", "--db", db]) == 0
    assert "passcode of 2 symbols" in capsys.readouterr().out
    # the owner's card again: granted; the same symbols swapped, or another card: denied
    assert main(["verify", "pc", "--image", card_png(tmp / "again.png", [3, 7], seed=50), "--db", db]) == 0
    capsys.readouterr()
    assert main(["verify", "pc", "--image", card_png(tmp / "swap.png", [7, 3], seed=51), "--db", db]) == 1
    err_out = capsys.readouterr()
    words = (err_out.out + err_out.err).lower()
    assert "position" not in words and "symbol 1" not in words and "symbol 2" not in words
    # a card of another count is "no symbol" (exit 2), and says nothing about how many were wanted
    assert main(["verify", "pc", "--image", card_png(tmp / "three.png", [3, 7, 1], seed=52), "--db", db]) == 2
    words = "".join(capsys.readouterr()).lower()
    assert "2 symbols" not in words and "passcode has" not in words


def test_a_passcode_keeps_its_length_and_needs_a_model_point(world, capsys, tmp_path):
    db = world["db"]
    assert main(["enroll", "pc", "--symbols", "2", *world["cards"], "--db", db, "--allow-weak"]) == 0
    capsys.readouterr()
    assert main(["enroll", "pc", "--symbols", "3", *world["cards"], "--db", db, "--allow-weak"]) == 4
    assert "holds 2 symbols, not 3" in capsys.readouterr().err
    # more captures of the same card go to the same positions (the length is the profile's)
    assert main(["enroll", "pc", world["cards"][0], "--db", db, "--allow-weak"]) == 0
    assert "5, 5 per symbol" in capsys.readouterr().out
    # a model without a passcode point refuses before anything is read
    from pixel_model import make_pixel_model

    px = make_pixel_model(tmp_path / "px.onnx")
    other = str(tmp_path / "other.sqlite3")
    assert main(["enroll", "new", "--symbols", "2", *world["cards"], "--db", other, "--model", str(px)]) == 4
    assert "no calibrated passcode point for 2 symbols" in capsys.readouterr().err
    assert main(["profiles", "list", "--db", other]) == 0
    assert "no profiles yet" in capsys.readouterr().out


def test_enroll_names_the_card_that_was_not_read(world, capsys):
    one = card_png(world["tmp"] / "one.png", [3], seed=9)
    assert main(["enroll", "pc", "--symbols", "2", one, *world["cards"][:2], "--db", world["db"], "--allow-weak"]) == 0
    err = capsys.readouterr().err
    assert "skipped" in err and "found 1 symbol on the card, the passcode has 2" in err


def test_strength_covers_each_symbol_and_the_whole_passcode(world, capsys):
    db = world["db"]
    assert main(["enroll", "pc", "--symbols", "2", *world["cards"], "--db", db, "--allow-weak"]) == 0
    capsys.readouterr()
    assert main(["strength", "pc", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "combinations of 2 common symbols" in out and "symbol 1:" in out and "symbol 2:" in out


def test_actions_that_read_one_symbol_say_they_do_not_work_on_a_passcode(world, capsys):
    db = world["db"]
    assert main(["enroll", "pc", "--symbols", "2", *world["cards"], "--db", db]) == 0
    capsys.readouterr()
    assert main(["test", "pc", "--image", world["cards"][0], "--db", db]) == 4
    err = capsys.readouterr().err
    assert "is a passcode of 2 symbols" in err and "does not work on passcodes yet" in err
    assert err.count("\n") == 1  # one clear line, no traceback
