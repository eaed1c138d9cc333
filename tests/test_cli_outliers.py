"""`twinlock enroll` and the enrollment wizard flag the same outlier references: the same
image files through both (a real wizard, offscreen; the real CLI on a real database, the
shipped model) give the same flagged set, by the one rule in core/consistency.py."""

from __future__ import annotations

import re

import cv2
import pytest

from ui_support import digit_frames

from desktop_app.cli.main import main
from desktop_app.ui.capture import Capture
from desktop_app.ui.enroll_wizard import EnrollWizard

CASES = {
    # five 3s and a 7: the 7 stands out
    "one odd one out": [(3, 5, 300), (7, 1, 700)],
    # two different symbols: too few to tell which is the odd one (the rule needs three)
    "two apart": [(3, 1, 310), (7, 1, 710)],
    # three different symbols: spread out, none stands out from the others
    "all apart": [(1, 1, 120), (4, 1, 420), (8, 1, 820)],
}


def _images(tmp_path, spec) -> list[str]:
    paths = []
    for digit, n, seed in spec:
        for f in digit_frames(digit, n, seed=seed):
            p = tmp_path / f"img{len(paths)}.png"
            cv2.imwrite(str(p), f)
            paths.append(str(p))
    return paths


def _wizard_flags(qtbot, ctx, paths) -> tuple[set[int], str]:
    wiz = EnrollWizard(ctx, Capture())
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.profile_page.name_edit.setText("wiz")
    wiz.next()
    page = wiz.capture_page
    page.k_spin.setValue(len(paths))
    page.import_files(paths)
    assert len(page.items) == len(paths), page.import_errors.text()
    wiz.next()
    flagged = set(wiz.summary_page.report.outliers)
    text = wiz.summary_page.message.text()
    wiz.close()
    return flagged, text


def _cli_flags(capsys, tmp_path, ui_model, paths) -> tuple[set[int], str]:
    db = tmp_path / "cli.sqlite3"
    rc = main(["enroll", "cli", *paths, "--db", str(db), "--model", str(ui_model), "--allow-weak"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert f"enrolled {len(paths)} reference image(s)" in out and "consistency:" in out
    m = re.search(r"warning: reference\(s\) ([\d, ]+) lie far from the others", err)
    flagged = {int(i) - 1 for i in m.group(1).split(", ")} if m else set()
    return flagged, out + err


@pytest.mark.parametrize("case", list(CASES))
def test_the_cli_and_the_wizard_flag_the_same_references(qtbot, ctx, ui_model, tmp_path, capsys, case):
    paths = _images(tmp_path, CASES[case])
    wizard, wtext = _wizard_flags(qtbot, ctx, paths)
    cli, ctext = _cli_flags(capsys, tmp_path, ui_model, paths)
    assert cli == wizard, (case, wtext, ctext)
    if case == "one odd one out":
        assert 5 in wizard and "#6 (median distance" in wtext  # the rule has something to find
    else:
        assert wizard == set()
    # the wizard warns that the references are spread out exactly when the CLI does
    assert ("farther apart than the threshold" in wtext) == ("farther apart than the threshold" in ctext)
