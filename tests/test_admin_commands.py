"""Admin commands: each needs the admin passphrase once one is set; a threshold override is
audited and resets no failures; a calibrated threshold looser than the model's default is
applied only with a confirmation. The real `twinlock` on the pixel test model."""

import pytest

from cli_support import enrolled_db, pixel_assets, run_cli, set_settings
from desktop_app.cli.main import main
from desktop_app.core.passphrase import hash_passphrase
from desktop_app.core.store import LockoutState, Store


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return pixel_assets(tmp_path_factory.mktemp("admin"))


@pytest.fixture
def db(assets, tmp_path, monkeypatch):
    return enrolled_db(assets, tmp_path, monkeypatch)


def test_threshold_override_needs_the_passphrase_is_audited_and_resets_nothing(assets, db, tmp_path):
    set_settings(db, admin_passphrase=hash_passphrase("open sesame"))
    s = Store(db)
    s.set_lockout("alice", LockoutState(2, 0.0))
    s.close()
    r = run_cli(assets, db, "verify", "alice", "--image", assets["d7"], "--threshold", "1.9")
    assert r.returncode == 4 and "passphrase" in r.stderr
    r = run_cli(
        assets, db, "verify", "alice", "--image", assets["d7"], "--threshold", "1.9", TWINLOCK_PASSPHRASE="wrong"
    )
    assert r.returncode == 4 and "wrong admin passphrase" in r.stderr
    pf = tmp_path / "pass.txt"
    pf.write_text("open sesame\n")
    r = run_cli(assets, db, "verify", "alice", "--image", assets["d7"], "--threshold", "1.9", "--passphrase-file", pf)
    assert r.returncode == 0, r.stderr  # the loose override grants junk ...
    s = Store(db)
    g = s.audit(decision="granted")[0]
    assert g.detail["override"]["threshold"] == 1.9 and g.detail["override"]["by"] == "admin passphrase"
    assert s.lockout("alice").failures == 2  # ... but never resets the failures
    assert s.audit(decision="passphrase_failed")
    s.close()


def test_admin_commands_ask_for_the_passphrase(assets, db, tmp_path):
    set_settings(db, admin_passphrase=hash_passphrase("open sesame"))
    f = tmp_path / "a.json"
    for args in (
        ["enroll", "alice", *assets["enroll"]],
        ["profiles", "remove", "alice", "--yes"],
        ["profiles", "export", "alice", f],
        ["calibrate", "alice", "--reset"],
        ["verify", "alice", "--image", assets["d3"], "--debug"],
    ):
        r = run_cli(assets, db, *args)
        assert r.returncode == 4 and "needs the admin passphrase" in r.stderr, (args, r.stderr)
    assert not f.exists()
    assert run_cli(assets, db, "profiles", "export", "alice", f, TWINLOCK_PASSPHRASE="open sesame").returncode == 0
    s = Store(db)
    assert s.audit(decision="profile_exported")[0].detail["references"] == 3
    assert s.get_profile("alice").n_references == 3
    s.close()


def test_calibrate_apply_never_loosens_the_lock_without_a_confirmation(assets, db, capsys):
    """The core rule (calibration.threshold_risk): looser than the model default, or a FAR the
    impostor count cannot support, is applied only with --yes (or a yes at the prompt), audited."""
    args = [
        "calibrate",
        "alice",
        "--genuine",
        assets["d3"],
        "--impostor",
        *[assets[f"d{d}"] for d in range(10) if d != 3],
        "--target-far",
        "0.5",
        "--apply",
    ]
    capsys.readouterr()
    assert main(args) == 4
    err = capsys.readouterr().err
    assert "looser than the model's calibrated default" in err and "needs a confirmation" in err
    s = Store(db)
    assert s.get_profile("alice").threshold is None and not s.audit(decision="threshold_set")
    s.close()
    assert main([*args, "--yes"]) == 0
    s = Store(db)
    e = s.audit(decision="threshold_set")[0]
    assert e.detail["looser_than_default"] is True and e.detail["confirmed"] is True
    assert s.get_profile("alice").threshold > 0.48
    s.close()
