"""Passcodes in the app: the enroll wizard asks how many symbols and reads cards
(each symbol's model view, per-symbol and whole-passcode strength, the words for a card with
another count), the unlock window draws the card's numbered boxes and tells nothing about
which position matched, the calibration dialog shows the passcode point with its counts.

Real Qt widgets (offscreen), real SQLite, real ONNX Runtime with the shipped model's weights
in a copy whose contract carries the test's passcode points (as 'twinlock model calibrate-
passcode' writes them), and fake cameras: video files of camera-like card frames."""

from __future__ import annotations


import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from passcode_support import T, card_frames, model_with_points
from ui_support import make_window, write_video

from desktop_app.core.decision import Decision
from desktop_app.ui.main_window import describe_state
from desktop_app.core.preprocess import preprocess_card
from training.synthetic_digits import digit_strokes


@pytest.fixture(scope="module")
def pc_model(tmp_path_factory):
    return model_with_points(tmp_path_factory.mktemp("pcmodel") / "pc.onnx", (2, 3))


@pytest.fixture(scope="module")
def cards(tmp_path_factory):
    """Fake cameras: the owner's card (3 then 7), the same symbols swapped, a card of three."""
    d = tmp_path_factory.mktemp("cards")
    return {
        "37": write_video(d / "c37.avi", card_frames([3, 7], 16, seed=10)),
        "73": write_video(d / "c73.avi", card_frames([7, 3], 16, seed=20)),
        "147": write_video(d / "c147.avi", card_frames([1, 4, 7], 12, seed=30)),
    }


@pytest.fixture
def pctx(tmp_path, pc_model, isolated_qsettings):
    from desktop_app.core.contract import read_contract
    from desktop_app.core.model_trust import accept_contract
    from desktop_app.core.store import Store
    from desktop_app.ui.context import AppContext

    db = tmp_path / "twinlock.sqlite3"
    with Store(db) as st:  # an admin accepted the model with the points ('twinlock model use')
        accept_contract(st, read_contract(pc_model), via="test")
    c = AppContext.open(db=db, model=str(pc_model))
    assert c.embedder is not None, c.model_error
    yield c
    c.close()


def start_capture(qtbot, video):
    from desktop_app.core.camera import open_source
    from desktop_app.ui.capture import Capture

    cap = Capture()
    frames = []
    cap.frame.connect(lambda fr, res: frames.append(res))
    cap.start(lambda: open_source(str(video), loop=True, realtime=True))
    qtbot.waitUntil(lambda: len(frames) > 0, timeout=5000)
    return cap


def wait_card(qtbot, page, ok=True, tries=60):
    """The next frame the capture page kept that was (or was not) a usable card."""
    for _ in range(tries):
        page._latest = None
        qtbot.waitUntil(lambda: page._latest is not None, timeout=3000)
        if page._latest[1].ok == ok:
            return page._latest[1]
    raise AssertionError(f"no {'usable' if ok else 'unusable'} card in {tries} frames")


def enroll_card_core(ctx, name, digits, captures=4, seed=0):
    imgs, pos = [], []
    for f in card_frames(digits, captures * 3, seed):
        r = preprocess_card(f, len(digits))
        if r.ok:
            imgs.extend(r.images)
            pos.extend(range(len(digits)))
        if len(imgs) >= captures * len(digits):
            break
    imgs = np.stack(imgs)
    emb = ctx.embedder
    ctx.store.add_references(
        name, imgs, None, emb.embed_images(imgs), emb.fingerprint, create=True, positions=pos, symbols=len(digits)
    )


# --- the enroll wizard --------------------------------------------------------------------
def test_wizard_enrolls_a_two_symbol_card_from_the_camera(qtbot, pctx, cards):
    from desktop_app.ui.enroll_wizard import EnrollWizard

    cap = start_capture(qtbot, cards["37"])
    wiz = EnrollWizard(pctx, cap)
    qtbot.addWidget(wiz)
    wiz.show()
    pp = wiz.profile_page
    assert pp.symbols_spin.value() == 1  # one symbol unless asked
    pp.name_edit.setText("ann")
    pp.symbols_spin.setValue(2)
    wiz.next()
    page = wiz.capture_page
    assert wiz.currentPage() is page and page.symbols == 2 and cap.symbols == 2
    assert "2 symbols" in page.title()
    page.k_spin.setValue(3)
    for _ in range(3):
        res = wait_card(qtbot, page)
        assert res.images.shape == (2, 28, 28)
        # the model view: each symbol, left to right; the camera view: a numbered box per symbol
        assert page.digit.shown() == 2
        boxes = page.view.symbol_boxes()
        assert len(boxes) == 2 and boxes[0][0] < boxes[1][0]
        assert "Card found" in page.gate.text()
        qtbot.keyClick(page, Qt.Key.Key_Space)
    assert len(page.items) == 3 and all(c.symbols == 2 for c in page.items)
    assert "3 of 3 cards" in page.count_label.text()
    wiz.next()
    summ = wiz.summary_page
    assert wiz.currentPage() is summ
    # consistency per symbol, the table of the symbol chosen
    assert "Symbol 1:" in summ.message.text() and "Symbol 2:" in summ.message.text()
    assert summ.position_combo.isVisible() and summ.position_combo.count() == 2
    assert summ.table.rowCount() == 3 and summ.thresholds == [T, T]
    first = summ.report
    summ.position_combo.setCurrentIndex(1)
    assert summ.report is summ.reports[1] and summ.report is not first
    # strength: the whole passcode and each symbol, in words
    rep = summ.strength.report
    assert rep is not None and len(rep.positions) == 2
    words = summ.strength.verdict.text()
    assert "whole passcode" in words and "Symbol 1:" in words and "Symbol 2:" in words
    assert "combinations" in words
    if not rep.allowed:
        summ.strength.override.setChecked(True)  # digits are common symbols: an admin overrides
    wiz.button(QWizard.WizardButton.FinishButton).click()
    assert wiz.saved_profile == "ann"
    prof = pctx.store.get_profile("ann")
    assert prof.symbols == 2 and prof.references_per_position == (3, 3)
    per = pctx.store.position_embeddings("ann", pctx.embedder.fingerprint)
    np.testing.assert_allclose(per[0], summ.embeddings[0::2], atol=1e-6)
    np.testing.assert_allclose(per[1], summ.embeddings[1::2], atol=1e-6)
    refs = pctx.store.references("ann")
    assert sorted({r.position for r in refs}) == [0, 1] and all(r.crop is not None for r in refs)
    assert cap.symbols == 1  # the wizard gave the capture back as it found it
    cap.shutdown()


def test_wizard_says_how_to_fix_a_card_with_another_count(qtbot, pctx, cards):
    from desktop_app.ui.enroll_wizard import EnrollWizard

    cap = start_capture(qtbot, cards["147"])  # three symbols shown for a passcode of two
    wiz = EnrollWizard(pctx, cap)
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.profile_page.name_edit.setText("bob")
    wiz.profile_page.symbols_spin.setValue(2)
    wiz.next()
    page = wiz.capture_page
    seen = None
    for _ in range(40):
        res = wait_card(qtbot, page, ok=False)
        if res.code == "card" and res.quality.get("card_found") == 3:
            seen = res
            break
    assert seen is not None, "the card of three was never read as three symbols"
    text = page.gate.text()
    assert "found 3 symbols" in text and "has 2" in text
    assert "space the symbols apart" in text and "one row" in text and "left to right" in text
    assert not page.capture_current() and page.items == []
    assert "found 3 symbols" in page.gate.text()  # the refusal says it too
    cap.shutdown()


def test_wizard_refuses_a_length_the_model_has_no_point_for(qtbot, pctx):
    from desktop_app.ui.enroll_wizard import EnrollWizard

    wiz = EnrollWizard(pctx, start_capture_none())
    qtbot.addWidget(wiz)
    wiz.show()
    pp = wiz.profile_page
    pp.name_edit.setText("cy")
    pp.symbols_spin.setValue(4)  # the test model has points for 2 and 3 only
    wiz.next()
    assert wiz.currentPage() is pp
    assert "no calibrated passcode point for 4 symbols" in pp.error.text()
    assert not pctx.store.has_profile("cy")
    pp.symbols_spin.setValue(3)
    wiz.next()
    assert wiz.currentPage() is wiz.capture_page and wiz.capture_page.symbols == 3


def card_png(path, digits, seed):
    """A scan of a card: ``digits`` drawn dark on light paper, side by side."""
    canvas = np.full((220, 140 + 260 * (len(digits) - 1) + 80, 3), 235, np.uint8)
    for i, d in enumerate(digits):
        a = digit_strokes(d, 140, seed=seed + i)
        x = 40 + i * 260
        region = canvas[40:180, x : x + 140].astype(np.float32)
        canvas[40:180, x : x + 140] = (region * (1 - a[..., None]) + 20 * a[..., None]).astype(np.uint8)
    cv2.imwrite(str(path), canvas)
    return str(path)


def test_wizard_adds_cards_to_an_existing_passcode_at_its_own_count(qtbot, pctx, tmp_path):
    from desktop_app.ui.enroll_wizard import EnrollWizard

    enroll_card_core(pctx, "hal", [2, 5], captures=3, seed=40)
    before = pctx.store.get_profile("hal").references_per_position
    wiz = EnrollWizard(pctx, start_capture_none(), preselect="hal")
    qtbot.addWidget(wiz)
    wiz.show()
    pp = wiz.profile_page
    pp.existing_radio.setChecked(True)
    assert pp.symbols_spin.value() == 2 and not pp.symbols_spin.isEnabled()  # the profile's own count
    wiz.next()
    page = wiz.capture_page
    assert page.symbols == 2
    page.k_spin.setValue(2)
    page.import_files([card_png(tmp_path / f"more{i}.png", [2, 5], seed=60 + 5 * i) for i in range(2)])
    assert len(page.items) == 2, page.import_errors.text()
    wiz.next()
    if not wiz.summary_page.strength.report.allowed:
        wiz.summary_page.strength.override.setChecked(True)
    wiz.button(QWizard.WizardButton.FinishButton).click()
    assert wiz.saved_profile == "hal"
    after = pctx.store.get_profile("hal")
    assert after.symbols == 2 and after.references_per_position == tuple(b + 2 for b in before)


def start_capture_none():
    from desktop_app.ui.capture import Capture

    return Capture()


def test_wizard_imports_card_images_and_names_a_wrong_one(qtbot, pctx, tmp_path):
    from desktop_app.ui.enroll_wizard import EnrollWizard

    good = [card_png(tmp_path / f"card{i}.png", [2, 5], seed=10 * i) for i in range(3)]
    three = card_png(tmp_path / "three.png", [2, 5, 8], seed=99)
    wiz = EnrollWizard(pctx, start_capture_none())
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.profile_page.name_edit.setText("dee")
    wiz.profile_page.symbols_spin.setValue(2)
    wiz.next()
    page = wiz.capture_page
    page.k_spin.setValue(3)
    page.import_files([*good, three])
    assert len(page.items) == 3 and all(c.images.shape == (2, 28, 28) for c in page.items)
    assert "three.png" in page.import_errors.text() and "found 3 symbols" in page.import_errors.text()
    assert page.isComplete()


# --- unlock -------------------------------------------------------------------------------
def test_unlock_draws_the_card_and_grants_only_the_owner_card(qtbot, pctx, cards):
    enroll_card_core(pctx, "eve", [3, 7], seed=10)
    win = make_window(qtbot, pctx, cards["37"])
    assert win.current_profile() == "eve" and win.capture.symbols == 2
    qtbot.waitUntil(lambda: len(win.frame_view.symbol_boxes()) == 2, timeout=5000)
    boxes = win.frame_view.symbol_boxes()
    assert boxes[0][0] < boxes[1][0]  # numbered left to right
    assert win.digit_view.shown() == 2
    assert "show your card" in win.banner.text()
    finals = []
    win.attempt_finished.connect(finals.append)
    texts = []
    win.state_shown.connect(lambda _s: texts.append((win.banner.text(), win.quality_label.text())))
    win.start_attempt()
    qtbot.waitUntil(lambda: bool(finals), timeout=15000)
    assert finals[-1].state == Decision.GRANTED, finals[-1].reason
    assert describe_state(finals[-1], "eve")[2] == "the card matched"  # core.disclosure's words
    # the swapped card: denied, and nothing shown names a position or a count
    pctx.camera_spec = str(cards["73"])
    win.start_camera()
    qtbot.waitUntil(
        lambda: win.capture.description.endswith("c73.avi") or "c73" in win.capture.description, timeout=5000
    )
    win.show_ready()
    texts.clear()
    win.start_attempt()
    qtbot.waitUntil(lambda: len(finals) == 2, timeout=15000)
    assert finals[-1].state == Decision.DENIED, finals[-1].reason
    assert describe_state(finals[-1], "eve")[2].startswith("the card was not accepted")
    for banner, quality in texts:
        words = (banner + " " + quality).lower()
        for bad in ("position", "symbol 1", "symbol 2", "first", "second", "distance"):
            assert bad not in words, words
    row = pctx.store.audit(decision="denied")[0]
    assert row.detail["symbols"] == 2 and not any("position" in k for k in row.detail)


def test_unlock_with_a_card_of_another_count_says_only_no_card(qtbot, pctx, cards):
    enroll_card_core(pctx, "fay", [3, 7], seed=10)
    win = make_window(qtbot, pctx, cards["147"])
    shown = []  # after the window handled each frame: what it read, and what it said

    def seen(fr, res):
        shown.append((res, win.banner.text(), win.quality_label.text(), win.frame_view.symbol_boxes()))

    win.capture.frame.connect(seen)
    win.start_attempt()
    qtbot.waitUntil(lambda: sum(r.code == "card" for r, *_ in shown) >= 3, timeout=10000)
    win.cancel_attempt()
    wrong = [x for x in shown if x[0].code == "card"]
    assert wrong[0][0].quality["card_found"] == 3  # the core counted three ...
    for _res, banner, quality, boxes in wrong:  # ... and the window says only "no card"
        text = (banner + " " + quality).lower()
        assert "no card" in text
        assert "found 3" not in text and "3 symbols" not in text and "has 2" not in text
        assert boxes == []  # no boxes drawn for a card that was not read


# --- calibration --------------------------------------------------------------------------
def test_calibration_dialog_shows_the_passcode_point_with_its_counts(qtbot, pctx, tmp_path):
    from desktop_app.ui.calibration_dialog import CalibrationDialog

    enroll_card_core(pctx, "gus", [3, 7], seed=10)
    dlg = CalibrationDialog(pctx, "gus", None)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.passcode_box.isVisible()
    text = dlg.passcode_label.text()
    assert "passcode2_far_1e-5" in text and "0.6000, 0.6000" in text
    assert "4 of 500,000 impostor cards accepted" in text and "FRR 4.0%" in text and "2,000 genuine cards" in text
    assert "uses the model's point" in text
    assert "passcode point" in dlg.current_label.text()
    # an admin's own threshold applies to every symbol, and the dialog says so
    pctx.store.set_threshold("gus", 0.55)
    dlg.refresh_current()
    assert "own threshold on every symbol (0.5500, 0.5500)" in dlg.passcode_label.text()
    assert "0.5500" in dlg.current_label.text()
    # samples of one symbol cannot calibrate a passcode: Compute says so (core calibration)
    png = tmp_path / "one.png"
    cv2.imwrite(str(png), cv2.cvtColor(card_frames([3], 1, seed=5)[0], cv2.COLOR_BGR2GRAY))
    dlg.mode.setCurrentIndex(1)
    dlg.genuine_files = [str(png)]
    dlg.use_gallery.setChecked(True)
    dlg.compute()
    qtbot.waitUntil(lambda: "Could not compute" in dlg.source_label.text(), timeout=20000)
    assert "passcode of 2 symbols" in dlg.source_label.text() and dlg.data is None
    assert pctx.store.get_profile("gus").threshold == 0.55  # nothing changed
    # a one-symbol profile: no passcode box, as before
    one = CalibrationDialog(pctx, "nobody", None)
    qtbot.addWidget(one)
    one.show()
    assert not one.passcode_box.isVisible()
