"""Export-a-new-model dialog: a tiny checkpoint exported by the real `twinlock export` in a
subprocess (progress, log), the new model's card, "Use this model" re-embedding the
profiles; without torch the dialog says how to install the training extra."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from PySide6.QtCore import QProcess

from ui_support import enroll_from_video

from desktop_app.ui import export_dialog
from desktop_app.ui.export_dialog import ExportDialog


def write_idx(folder, images, labels):
    n = len(images)
    head_i = (0x803).to_bytes(4, "big") + n.to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    head_l = (0x801).to_bytes(4, "big") + n.to_bytes(4, "big")
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(head_i + images.astype(np.uint8).tobytes()))
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(head_l + labels.astype(np.uint8).tobytes()))


@pytest.fixture
def tiny_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    from training.synthetic_digits import synthetic_digits
    from training.checkpoint import save_checkpoint
    from training.model import build_model

    data = tmp_path / "mnist"
    data.mkdir()
    x, y = synthetic_digits(200, seed=5)
    write_idx(data, x, y)
    torch.manual_seed(0)
    kw = {"embedding_dim": 8, "width": 4}
    model = build_model("twin", **kw)
    cfg = dict(
        mean=0.1307,
        std=0.3081,
        margin=1.0,
        epochs=0,
        seed=0,
        batch_size=64,
        embedding_dim=8,
        normalized=True,
        holdout_classes=[],
        data_dir=str(data),
        recipe="ui test",
    )
    return save_checkpoint(
        tmp_path / "tiny.pt",
        arch="twin",
        model_kwargs=kw,
        state_dict=model.state_dict(),
        config=cfg,
        metrics={"best": {"val_eer": 0.5}, "history": []},
        class_split={"train_classes": list(range(10)), "holdout_classes": []},
        val_indices=list(range(100, 200)),
        epoch=0,
    )


def test_export_tiny_checkpoint_then_use_it(qtbot, ctx, videos, tiny_checkpoint, tmp_path):
    enroll_from_video(ctx, videos["three"], "alice", count=3)
    old_fp = ctx.embedder.fingerprint
    dlg = ExportDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.ckpt_radio.isChecked() and dlg.has_torch
    assert "Current model" in dlg.current_card.toPlainText()

    dlg.ckpt_edit.setText(str(tmp_path / "missing.pt"))
    dlg.start_button.click()
    assert "does not exist" in dlg.result_label.text()

    out = tmp_path / "models" / "new.onnx"
    dlg.ckpt_edit.setText(str(tiny_checkpoint))
    dlg.out_edit.setText(str(out))
    # Cancel kills the export process: nothing written, the current model stays
    with qtbot.waitSignal(dlg.step_finished, timeout=10000) as sig:
        dlg.start_button.click()
        qtbot.waitUntil(lambda: dlg.proc is not None and dlg.proc.state() == QProcess.ProcessState.Running)
        dlg.cancel_button.click()
    assert sig.args[1] is False
    assert "Cancelled" in dlg.result_label.text() and not out.exists()
    assert ctx.embedder.fingerprint == old_fp and dlg.start_button.isEnabled()

    # the progress bar and the stage label follow the JSON lines the real subprocess writes
    seen = []
    dlg.progress.valueChanged.connect(lambda v: seen.append((dlg.stage_label.text(), v, dlg.progress.maximum())))
    with qtbot.waitSignal(dlg.step_finished, timeout=90000) as sig:
        dlg.start_button.click()
        assert dlg.cancel_button.isEnabled() and not dlg.start_button.isEnabled()
    assert sig.args == ["export, parity check and calibration", True], dlg.log.toPlainText()
    assert out.exists()
    log = dlg.log.toPlainText()
    assert "twinlock export" in log and "--progress-jsonl -" in log
    assert "parity ok" in log and '{"stage"' not in log  # text goes to the log, progress does not
    embedding = [(v, m) for label, v, m in seen if label.startswith("embedding")]
    assert embedding and embedding[-1] == (100, 100)  # the 100 validation images, counted to the end
    labels = list(dict.fromkeys(label.split(":")[0].split(" ")[0] for label, _, _ in seen))
    assert labels[:2] == ["embedding", "pairs"] and "camera" in labels, labels
    assert dlg.new_contract is not None and dlg.new_contract.embedding_dim == 8
    card = dlg.new_card.toPlainText()
    assert "New model" in card and dlg.new_contract.short_fingerprint in card
    assert dlg.use_button.isEnabled()

    from desktop_app.core.calibration import model_risk
    from ui_support import on_modal

    if model_risk(dlg.new_contract).needs_confirmation:  # a tiny model's point: confirmed in words
        on_modal(lambda w: w.button(w.StandardButton.Yes).click())
    dlg.use_button.click()
    qtbot.waitUntil(lambda: dlg.switched, timeout=15000)
    assert ctx.embedder.fingerprint == dlg.new_contract.fingerprint != old_fp
    assert all(r.fingerprint == ctx.embedder.fingerprint for r in ctx.store.references("alice"))
    assert ctx.store.get_setting("model_path") == str(out.resolve())
    assert ctx.store.audit(decision="model_switched")
    assert dlg.new_contract.short_fingerprint in dlg.current_card.toPlainText()


def test_without_torch_the_dialog_says_how_to_install_it(qtbot, ctx, monkeypatch, tmp_path):
    monkeypatch.setattr(export_dialog, "torch_available", lambda: False)
    dlg = ExportDialog(ctx)
    qtbot.addWidget(dlg)
    import shlex
    import sys

    hint = dlg.torch_label.text()
    assert f"{shlex.quote(sys.executable)} -m pip install -e" in hint and "[train]" in hint  # the venv's pip
    assert not dlg.ckpt_radio.isEnabled() and not dlg.train_radio.isEnabled()
    assert dlg.onnx_radio.isChecked()
    # the Browse… buttons of the disabled options are disabled too; the chosen one's is not
    from PySide6.QtWidgets import QPushButton

    browse = {
        b.objectName(): b.isEnabled() for b in dlg.findChildren(QPushButton) if b.objectName().startswith("browse")
    }
    assert browse == {"browseCheckpoint": False, "browseData": False, "browseOnnx": True}
    # an already exported model that breaks the contract: a clear message, nothing switched
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    dlg.onnx_edit.setText(str(bad))
    dlg.start_button.click()
    assert "not a readable ONNX model" in dlg.result_label.text()
    assert not dlg.use_button.isEnabled() and not dlg.switched


def test_progress_lines_are_understood():
    from desktop_app.ui.export_dialog import progress_event

    line = '{"stage": "pairs", "done": 42, "total": 100, "message": ""}'
    assert progress_event(line) == {"stage": "pairs", "done": 42, "total": 100, "message": ""}
    assert progress_event('{"stage": "parity", "done": 0, "total": 0, "message": "checking"}')["total"] == 0
    # text (the log) is not progress, nor is JSON that is not a progress report
    assert progress_event("parity ok: max |torch - onnxruntime| = 1.2e-07") is None
    assert progress_event("calibration pairs:  42%|████▏     | 42/100 [00:01<00:01]") is None
    assert progress_event('{"path": "m.onnx"}') is None
    assert progress_event('{"stage": "pairs", "done": "many"}') is None
    assert progress_event("{not json") is None


def test_progress_reports_move_the_bar_and_name_the_stage(qtbot, ctx, monkeypatch):
    monkeypatch.setattr(export_dialog, "torch_available", lambda: True)
    dlg = ExportDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.handle_line('{"stage": "embedding", "done": 30, "total": 120, "message": ""}')
    assert (dlg.progress.value(), dlg.progress.maximum()) == (30, 120)
    assert dlg.stage_label.text() == "embedding 30/120"
    dlg.handle_line('{"stage": "parity", "done": 0, "total": 0, "message": "checking ONNX Runtime"}')
    assert dlg.progress.maximum() == 0 and dlg.stage_label.text() == "parity: checking ONNX Runtime"  # busy
    dlg.handle_line("parity ok: max |torch - onnxruntime| = 1.2e-07")
    assert dlg.log.toPlainText() == "parity ok: max |torch - onnxruntime| = 1.2e-07"


def test_train_then_export_steps_report_progress_as_json_lines(qtbot, ctx, monkeypatch, tmp_path):
    monkeypatch.setattr(export_dialog, "torch_available", lambda: True)
    dlg = ExportDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.train_radio.setChecked(True)
    dlg.data_edit.setText(str(tmp_path / "mnist"))
    dlg.out_edit.setText(str(tmp_path / "m.onnx"))
    (train_name, train_args), (_, export_args) = dlg.plan()
    assert (train_name, train_args[0], export_args[0]) == ("training", "train", "export")
    for args in (train_args, export_args):  # both subprocesses write JSON lines on stdout
        i = args.index("--progress-jsonl")
        assert args[i + 1] == "-"
    from desktop_app.cli.main import build_parser  # the options are the real CLI's

    for args in (train_args, export_args):
        assert build_parser().parse_args(args).progress_jsonl == "-"


def test_browse_buttons_follow_the_chosen_option(qtbot, ctx, monkeypatch):
    from PySide6.QtWidgets import QPushButton

    monkeypatch.setattr(export_dialog, "torch_available", lambda: True)
    dlg = ExportDialog(ctx)
    qtbot.addWidget(dlg)

    def states():
        return {
            b.objectName(): b.isEnabled() for b in dlg.findChildren(QPushButton) if b.objectName().startswith("browse")
        }

    assert dlg.ckpt_radio.isChecked()
    assert states() == {"browseCheckpoint": True, "browseData": False, "browseOnnx": False}
    dlg.train_radio.setChecked(True)
    assert states() == {"browseCheckpoint": False, "browseData": True, "browseOnnx": False}
    dlg.onnx_radio.setChecked(True)
    assert states() == {"browseCheckpoint": False, "browseData": False, "browseOnnx": True}
