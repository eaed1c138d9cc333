"""Settings dialog (validated by the core Policy) and the audit log viewer's filters."""

from __future__ import annotations

import numpy as np


from desktop_app.core.decision import AUDIT_NAMES, AUDITED, AuditEvent, Decision
from desktop_app.core.verifier import Policy
from desktop_app.ui.audit_viewer import AuditViewer
from desktop_app.ui.settings_dialog import SettingsDialog, configured_data_folder


def test_settings_saved_and_validated(qtbot, ctx, tmp_path, isolated_qsettings):
    dlg = SettingsDialog(ctx)
    qtbot.addWidget(dlg)
    dlg.k.setValue(5)
    dlg.n.setValue(3)  # k > n: the core Policy refuses it
    dlg.save()
    assert "k (matching frames needed) must be between 1 and n=3" in dlg.error.text()
    assert ctx.store.get_setting("policy") is None  # nothing was saved
    assert dlg.result() == 0

    dlg.k.setValue(2)
    dlg.n.setValue(4)
    dlg.time_limit.setValue(7.5)
    dlg.lockout_after.setValue(3)
    dlg.provider.setCurrentIndex(dlg.provider.findData("cpu"))
    dlg.command.setText("  true --granted  ")
    dlg.picker.file_radio.setChecked(True)
    dlg.picker.path_edit.setText(str(tmp_path / "missing.avi"))
    dlg.save()
    assert "does not exist" in dlg.error.text()  # the camera choice is checked too
    video = tmp_path / "v.avi"
    video.write_bytes(b"x")
    dlg.picker.path_edit.setText(str(video))
    dlg.data_edit.setText(str(tmp_path / "data"))
    dlg.save()
    assert dlg.result() == 1, dlg.error.text()
    pol = Policy.from_dict(ctx.store.get_setting("policy"))
    assert (pol.k, pol.n, pol.time_limit_s, pol.lockout_after) == (2, 4, 7.5, 3)
    assert "threshold" not in ctx.store.get_setting("policy")
    # denied snapshots are a policy field, stored once (no separate setting any more)
    assert ctx.store.get_setting("policy")["save_denied_snapshots"] is dlg.snapshots.isChecked()
    assert ctx.store.get_setting("save_denied_snapshots") is None
    assert ctx.store.get_setting("provider") == "cpu" and dlg.provider_changed
    assert ctx.store.get_setting("command_on_grant") == "true --granted"
    assert ctx.store.get_setting("camera") == str(video) and dlg.camera_changed
    assert configured_data_folder() == str(tmp_path / "data") and (tmp_path / "data").is_dir()


def test_audit_viewer_filters_by_profile_and_decision(qtbot, ctx):
    st = ctx.store
    for name in ("alice", "bob"):
        st.create_profile(name)
    st.log_attempt("alice", "granted", best_distance=0.1, threshold=0.5, frames_used=2)
    st.log_attempt("alice", "denied", best_distance=0.9, threshold=0.5, frames_used=5)
    snap = np.zeros((28, 28), np.uint8)
    snap[8:20, 12:16] = 255
    st.log_attempt(
        "bob",
        "denied",
        best_distance=0.8,
        threshold=0.5,
        frames_used=4,
        detail={"reason": "time limit reached", "k": 2},
        snapshot=snap,
    )
    v = AuditViewer(ctx)
    qtbot.addWidget(v)
    n_all = v.table.rowCount()
    assert n_all >= 3
    v.profile.setCurrentText("alice")
    assert {e.profile for e in v.entries} == {"alice"}
    v.decision.setCurrentText("denied")
    assert v.table.rowCount() == 1
    assert v.table.item(0, 2).text() == "denied" and v.table.item(0, 3).text() == "0.900"
    v.profile.setCurrentIndex(0)  # (all)
    assert v.table.rowCount() == 2 and v.count.text() == "2 entries"
    # bob's denial kept a snapshot of the closest frame: selecting it shows it
    row = next(i for i, e in enumerate(v.entries) if e.profile == "bob")
    assert v.table.item(row, 8).text() == "time limit reached  (k=2)"
    assert v.snapshot._image is None
    v.table.selectRow(row)
    assert v.snapshot._image is not None and v.snapshot._image.width() == 28


def test_audit_viewer_filter_lists_every_name_the_audit_log_holds(qtbot, ctx):
    """Every Decision written to the audit (abandoned and pending too) and every admin event
    can be chosen; choosing one shows exactly its rows."""
    st = ctx.store
    st.create_profile("alice")
    for name in AUDIT_NAMES:
        st.log_attempt("alice", name)
    v = AuditViewer(ctx)
    qtbot.addWidget(v)
    listed = [v.decision.itemText(i) for i in range(1, v.decision.count())]
    assert listed == list(AUDIT_NAMES)
    assert {Decision.ABANDONED, Decision.PENDING, AuditEvent.PASSPHRASE_FAILED} <= set(listed)
    assert set(listed) == set(AUDITED) | set(AuditEvent)
    for name in (Decision.ABANDONED, AuditEvent.EXPORT_REFUSED, AuditEvent.LOCKOUT_TAMPERED):
        v.decision.setCurrentText(name)
        assert [e.decision for e in v.entries] == [name]
        assert v.table.item(0, 2).text() == name
