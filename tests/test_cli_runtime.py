"""`twinlock` runtime commands end to end: real files, real SQLite, real ONNX Runtime,
video files written with cv2.VideoWriter, subprocesses (exit codes, kills mid-enrollment)."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from desktop_app.cli.main import main
from desktop_app.core.embedder import Embedder
from desktop_app.core.store import Store
from training.camera_sim import junk_frames, render_frame
from ui_support import write_video
from pixel_model import make_pixel_model

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def _video(path, frames, fps=10.0):
    return write_video(path, frames, fps)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    a = {"dir": d, "model": make_pixel_model(d / "pixel.onnx")}
    a["enroll"] = []
    for i in range(3):
        p = d / f"three_{i}.png"
        cv2.imwrite(str(p), render_frame(3, seed=300 + i))
        a["enroll"].append(str(p))
    a["probe3"] = d / "probe3.jpg"
    cv2.imwrite(str(a["probe3"]), render_frame(3, seed=400, polarity="light_on_dark"))
    a["probe7"] = d / "probe7.jpg"
    cv2.imwrite(str(a["probe7"]), render_frame(7, seed=401))
    a["blank"] = d / "blank.png"
    cv2.imwrite(str(a["blank"]), junk_frames(seed=1)["blank_paper"])
    a["genuine"] = _video(d / "genuine.avi", [render_frame(3, seed=500 + i) for i in range(6)])
    a["impostor"] = _video(d / "impostor.avi", [render_frame(7, seed=600 + i) for i in range(6)])
    a["junk"] = _video(d / "junk.avi", [junk_frames(seed=s)["blank_paper"] for s in range(4)])
    # a labelled folder for calibration: folder/<label>/*.png
    lab = d / "labelled"
    for digit in (1, 3, 7):
        (lab / str(digit)).mkdir(parents=True)
        for i in range(5):
            cv2.imwrite(str(lab / str(digit) / f"{i}.png"), render_frame(digit, seed=700 + 10 * digit + i))
    a["labelled"] = lab
    return a


@pytest.fixture
def env(assets, tmp_path, monkeypatch):
    monkeypatch.setenv("TWINLOCK_MODEL", str(assets["model"]))
    monkeypatch.setenv("TWINLOCK_DB", str(tmp_path / "db.sqlite3"))
    monkeypatch.setenv("TWINLOCK_HOME", str(tmp_path / "home"))
    return tmp_path / "db.sqlite3"


def _run(*args, env=None, timeout=60):
    """The real `twinlock` in a subprocess."""
    e = dict(os.environ, **(env or {}))
    e["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "desktop_app.cli.main", *map(str, args)],
        cwd=ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_verify_exit_codes_end_to_end_on_video_files(assets, env):
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    cli_env = {"TWINLOCK_MODEL": str(assets["model"]), "TWINLOCK_DB": str(env)}
    r = _run("verify", "alice", "--video", assets["genuine"], "--json", env=cli_env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["decision"] == "granted" and "matches" not in out and out["provider"] == "CPU"
    assert main(["verify", "alice", "--video", str(assets["impostor"])]) == 1
    assert main(["verify", "alice", "--video", str(assets["junk"])]) == 2
    s = Store(env)
    s.set_setting("policy", {"lockout_after": 2, "lockout_base_s": 600})
    s.close()
    assert main(["verify", "alice", "--video", str(assets["impostor"])]) == 1  # 2nd denial: locked
    r = _run("verify", "alice", "--video", assets["genuine"], env=cli_env)
    assert r.returncode == 3 and "locked" in r.stdout, (r.stdout, r.stderr)
    decisions = [e.decision for e in Store(env).audit()]
    assert decisions[:5] == ["locked", "denied", "no_symbol", "denied", "granted"]


def test_verify_with_images_and_time_limit(assets, env, capsys):
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    assert main(["verify", "alice", "--image", str(assets["probe3"])]) == 0  # k capped at 1 image
    assert main(["verify", "alice", "--image", str(assets["probe7"])]) == 1
    assert main(["verify", "alice", "--image", str(assets["blank"])]) == 2
    assert (
        main(
            [
                "verify",
                "alice",
                "--image",
                str(assets["probe3"]),
                "--image",
                str(assets["probe7"]),
                "-k",
                "2",
                "-n",
                "2",
            ]
        )
        == 1
    )
    # time limit on the video's own clock: 6 frames at 10 fps, limit 0.25 s -> decided early
    assert (
        main(
            [
                "verify",
                "alice",
                "--video",
                str(assets["impostor"]),
                "--time-limit",
                "0.25",
                "-k",
                "1",
                "-n",
                "5",
                "--json",
                "--debug",  # the frame counts and the reason are the admin's
            ]
        )
        == 1
    )
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["frames_used"] == 3 and "time limit" in last["reason"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["verify", "alice"], "exactly one of"),
        (["verify", "nobody", "--image", "X"], "no twinlock database|no profile"),
        (["enroll", "../evil", "x.png"], "not a valid profile name"),
        (["verify", "alice", "--image", "/nonexistent.png"], "no such file"),
        (["verify", "alice", "--video", "/nonexistent.avi"], "does not exist"),
        (["verify", "alice", "--camera", "9"], "Camera 9"),
        (["profiles", "show", "nobody"], "no profile 'nobody'"),
        (["calibrate", "alice"], "needs --genuine"),
    ],
)
def test_usage_and_setup_errors_exit_4_with_a_message(assets, env, capsys, argv, message):
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    capsys.readouterr()
    argv = [str(assets["probe3"]) if a == "X" else a for a in argv]
    assert main(argv) == 4
    err = capsys.readouterr().err
    assert "Traceback" not in err
    import re

    assert re.search(message, err), err


def test_argparse_errors_exit_4_not_2():
    with pytest.raises(SystemExit) as e:
        main(["verify", "alice", "--no-such-option"])
    assert e.value.code == 4


def test_corrupt_database_and_model_are_reported_and_left_alone(assets, env, tmp_path):
    env.write_bytes(b"\x00garbage" * 500)
    digest = hashlib.sha256(env.read_bytes()).hexdigest()
    r = _run(
        "verify",
        "alice",
        "--image",
        assets["probe3"],
        env={"TWINLOCK_MODEL": str(assets["model"]), "TWINLOCK_DB": str(env)},
    )
    assert r.returncode == 4 and "not an SQLite database" in r.stderr and "Traceback" not in r.stderr
    assert main(["enroll", "alice", *assets["enroll"]]) == 4
    assert hashlib.sha256(env.read_bytes()).hexdigest() == digest

    bad_model = tmp_path / "bad.onnx"
    good = Path(assets["model"]).read_bytes()
    bad_model.write_bytes(good[: len(good) // 2])
    model_digest = hashlib.sha256(bad_model.read_bytes()).hexdigest()
    r = _run("doctor", "--db", tmp_path / "fresh.db", "--model", bad_model)
    assert r.returncode == 4 and "PROBLEM" in r.stdout and "Traceback" not in r.stderr
    assert (
        main(["enroll", "bob", *assets["enroll"], "--db", str(tmp_path / "fresh.db"), "--model", str(bad_model)]) == 4
    )
    assert hashlib.sha256(bad_model.read_bytes()).hexdigest() == model_digest


def test_profiles_audit_export_import(assets, env, tmp_path, capsys):
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    out = capsys.readouterr().out
    assert "enrolled 3 reference" in out and "consistency" in out
    assert main(["profiles", "list"]) == 0
    assert "alice\t3 references" in capsys.readouterr().out
    f = tmp_path / "alice.json"
    assert main(["profiles", "export", "alice", str(f)]) == 0 and f.exists()
    assert main(["profiles", "import", str(f), "--name", "alice2"]) == 0
    assert main(["profiles", "import", str(f)]) == 4  # exists
    assert main(["profiles", "remove", "alice2"]) == 4  # not a tty, no --yes
    assert main(["profiles", "remove", "alice2", "--yes"]) == 0
    assert main(["profiles", "show", "alice"]) == 0
    capsys.readouterr()
    assert main(["audit", "--json", "--decision", "enrolled", "--decision", "profile_removed"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["decision"] for r in rows] == ["profile_removed", "enrolled"]


def test_every_way_an_attempt_ends_has_its_exit_status():
    from desktop_app.cli.verify import EXIT_FOR_DECISION
    from desktop_app.core.decision import FINAL, Decision

    assert set(EXIT_FOR_DECISION) == set(FINAL)
    assert EXIT_FOR_DECISION[Decision.GRANTED] == 0 and EXIT_FOR_DECISION[Decision.DENIED] == 1
    assert EXIT_FOR_DECISION[Decision.NO_SYMBOL] == EXIT_FOR_DECISION[Decision.CANCELLED] == 2
    assert EXIT_FOR_DECISION[Decision.LOCKED] == 3
    assert EXIT_FOR_DECISION.get("denied") == 1  # the verifier's states are its strings


def test_profiles_actions_are_subcommands_and_take_the_options_before_or_after(assets, env, tmp_path, capsys):
    """`profiles` has one subcommand per action; --db works before the action as well as after
    it, and one given before is not undone by the action's own (absent) option."""
    other = tmp_path / "other.sqlite3"
    assert main(["enroll", "carol", *assets["enroll"], "--db", str(other)]) == 0
    capsys.readouterr()
    assert main(["profiles", "--db", str(other), "list"]) == 0
    assert capsys.readouterr().out.startswith("carol\t3 references")
    assert main(["profiles", "list", "--db", str(other)]) == 0
    assert capsys.readouterr().out.startswith("carol\t3 references")
    assert main(["profiles", "list"]) == 0  # $TWINLOCK_DB: a database without carol
    assert capsys.readouterr().out == "no profiles yet: twinlock enroll NAME IMAGES...\n"
    # usage errors are exit 4 with one line naming what is missing
    for argv, says in (
        (["profiles"], "ACTION"),
        (["profiles", "show"], "name"),
        (["profiles", "rename", "carol"], "invalid choice"),
        (["profiles", "list", "--overwrite"], "unrecognized arguments: --overwrite"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 4 and says in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert main(["profiles", "export", "carol", "--db", str(other)]) == 4
    assert "the file to write is missing" in capsys.readouterr().err


def test_enroll_from_video_spreads_picks_and_skips_junk(assets, env, capsys):
    assert main(["enroll", "vid", "--video", str(assets["genuine"]), "--count", "3"]) == 0
    assert Store(env).get_profile("vid").n_references == 3
    assert main(["enroll", "nothing", "--video", str(assets["junk"])]) == 2
    assert not Store(env).has_profile("nothing")


def test_calibrate_from_images_and_labelled_folder(assets, env, capsys):
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    capsys.readouterr()
    assert (
        main(
            [
                "calibrate",
                "alice",
                "--genuine",
                str(assets["probe3"]),
                "--impostor",
                str(assets["probe7"]),
                str(assets["blank"]),
                "--target-far",
                "0.01",
            ]
        )
        == 0
    )
    out = capsys.readouterr()
    assert "1 genuine, 1 impostor" in out.out and "not applied" in out.out and "cannot support" in out.err
    assert (
        main(["calibrate", "alice", "--labelled", str(assets["labelled"]), "--target-far", "0.1", "--apply", "--yes"])
        == 0
    )
    s = Store(env)
    t = s.get_profile("alice").threshold
    assert t is not None and 0 < t < 2
    entry = s.audit(decision="threshold_set")[0]
    assert entry.detail["target_far"] == 0.1 and "looser_than_default" in entry.detail
    assert main(["calibrate", "alice", "--reset"]) == 0
    assert Store(env).get_profile("alice").threshold is None


def test_calibrate_names_the_threshold_verify_uses(assets, env, capsys):
    """The current threshold calibrate shows is the one verify applies (core
    settings.effective_threshold): a profile's own, else a policy's, else the model default."""
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    labelled = ["calibrate", "alice", "--labelled", str(assets["labelled"]), "--target-far", "0.1"]

    def current():
        assert main(labelled) == 0
        return [line for line in capsys.readouterr().out.splitlines() if line.startswith("current threshold:")]

    capsys.readouterr()
    assert current() == ["current threshold: 0.4800 (model default)"]  # the pixel model's default
    with Store(env) as s:
        s.set_setting("policy", {"threshold": 0.41})
    assert current() == ["current threshold: 0.4100 (app settings)"]
    capsys.readouterr()
    assert main(["verify", "alice", "--image", str(assets["probe3"]), "--json"]) in (0, 1)  # granted or denied
    assert json.loads(capsys.readouterr().out)["threshold"] == pytest.approx(0.41)


def test_doctor_reports_model_store_and_cameras(assets, env, capsys):
    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    assert "not created yet" in out and "contract v1" in out and "provider:  CPU" in out
    from desktop_app.core.camera import list_cameras

    cams = list_cameras(6)  # what this machine has, probed the same way
    if cams:
        assert all(f"camera:    {c.description}" in out for c in cams)
    else:
        assert "cameras:   none found (probed indices 0..5" in out
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    assert main(["doctor"]) == 0
    assert "1 profile(s), 3 reference(s)" in capsys.readouterr().out


KILL_SCRIPT = r"""
import sys, time
sys.path[:0] = [{root!r}, {tests!r}]
from desktop_app.core.store import References
real = References.insert_in
def slow(self, *a):
    real(self, *a)
    print("inserted", flush=True)
    time.sleep(0.15)
References.insert_in = slow
print("ready", flush=True)
from desktop_app.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("kill_after", [0, 1, 4, "done"])
def test_killed_enrollment_leaves_all_or_nothing(assets, tmp_path, kill_after):
    """SIGKILL the real `twinlock enroll` before, in the middle of, and after its transaction."""
    db = tmp_path / "db.sqlite3"
    s = Store(db)  # an existing database with another profile
    # of the model in use: a model no admin accepted is refused where references of another exist
    fp = Embedder(assets["model"], "cpu").fingerprint
    s.add_references("keep", np.zeros((1, 28, 28), np.uint8), None, np.ones((1, 196)), fp, create=True)
    s.close()
    imgs = assets["enroll"] * 2  # 6 references in one enrollment
    script = tmp_path / "enroll.py"
    script.write_text(KILL_SCRIPT.format(root=str(ROOT), tests=str(TESTS)))
    e = dict(os.environ, TWINLOCK_MODEL=str(assets["model"]), TWINLOCK_DB=str(db))
    p = subprocess.Popen(
        [sys.executable, str(script), "enroll", "bob", *imgs],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=e,
    )
    inserted = 0
    try:
        for line in p.stdout:
            if kill_after == 0 and line.startswith("ready"):
                time.sleep(0.3)  # somewhere in loading / preprocessing
                break
            if line.startswith("inserted"):
                inserted += 1
                if inserted == kill_after:
                    break
        if kill_after == "done":
            p.wait(timeout=60)
        else:
            p.send_signal(signal.SIGKILL)
            p.wait(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    s = Store(db)
    assert s.integrity_check() == "ok"
    assert s.get_profile("keep").n_references == 1
    if kill_after == "done":
        assert p.returncode == 0
        assert s.get_profile("bob").n_references == 6 and len(s.audit(decision="enrolled")) == 2
    else:
        assert p.returncode == -signal.SIGKILL
        assert not s.has_profile("bob")  # none of it
        assert s.query("SELECT COUNT(*) FROM refs")[0][0] == 1
        assert len(s.audit(decision="enrolled")) == 1
    s.close()


def _write_idx_gz(path, arr, magic):
    import gzip
    import struct

    head = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in arr.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(head + arr.astype(np.uint8).tobytes())


def test_calibrate_from_an_mnist_folder(assets, env, tmp_path, capsys):
    """A tiny MNIST-format folder (IDX .gz files) of synthetic digits, not MNIST itself."""
    from desktop_app.core.preprocess import mnist_form
    from training.synthetic_digits import digit_strokes

    imgs, labels = [], []
    for d in (0, 1, 3, 7):
        for j in range(8):
            imgs.append(mnist_form(digit_strokes(d, 128, slant=0.05 * (j - 4), jitter=0.03, seed=j)))
            labels.append(d)
    mn = tmp_path / "mnist"
    mn.mkdir()
    _write_idx_gz(mn / "t10k-images-idx3-ubyte.gz", np.stack(imgs), 0x00000803)
    _write_idx_gz(mn / "t10k-labels-idx1-ubyte.gz", np.array(labels), 0x00000801)
    assert main(["enroll", "alice", *assets["enroll"]]) == 0
    capsys.readouterr()
    assert main(["calibrate", "alice", "--mnist", str(mn), "--target-far", "0.05"]) == 0
    out = capsys.readouterr().out
    assert "MNIST test" in out and "4 labels, 32 images, 3 references" in out
    # 4 labels x 5 genuine probes; each probe against 3 other labels' profiles
    assert "comparisons: 20 genuine, 96 impostor" in out
    (mn / "t10k-labels-idx1-ubyte.gz").write_bytes(b"broken")
    assert main(["calibrate", "alice", "--mnist", str(mn)]) == 4
    assert main(["calibrate", "alice", "--mnist", str(tmp_path / "nothing")]) == 4


def test_shipped_default_model_end_to_end(assets, tmp_path, monkeypatch, capsys):
    """No --model, no $TWINLOCK_MODEL: the shipped model enrolls and verifies camera-like video."""
    from desktop_app.core.paths import DEFAULT_MODEL

    assert DEFAULT_MODEL.is_file(), f"the shipped model {DEFAULT_MODEL} is missing"
    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    monkeypatch.setenv("TWINLOCK_HOME", str(tmp_path / "home"))
    db = str(tmp_path / "db.sqlite3")
    # the default model knows symbols: a digit is "weak" and refused unless an admin overrides
    assert main(["enroll", "alice", *assets["enroll"], "--db", db]) == 1
    assert "weak: this looks like the digit 3" in capsys.readouterr().out
    assert Store(db).list_profiles() == []
    assert main(["enroll", "alice", *assets["enroll"], "--db", db, "--allow-weak"]) == 0
    assert main(["doctor", "--db", db]) == 0
    assert "twinlock-default.onnx" in capsys.readouterr().out
    assert main(["verify", "alice", "--video", str(assets["genuine"]), "--db", db]) == 0
    assert main(["verify", "alice", "--video", str(assets["impostor"]), "--db", db]) == 1
    assert main(["verify", "alice", "--video", str(assets["junk"]), "--db", db]) == 2


def test_enroll_and_verify_from_a_webcam(assets, env, monkeypatch, capsys):
    """`--camera 0` through the real OpenCV capture path, with camera 0 being a looping video
    file (this machine has no webcam)."""
    import desktop_app.core.camera as camera

    real = cv2.VideoCapture
    feeds = {0: assets["genuine"], 1: assets["impostor"]}

    class LoopingCam:
        def __init__(self, index):
            self.cap = real(str(feeds[index]))

        def read(self):
            ok, img = self.cap.read()
            if not ok:
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, img = self.cap.read()
            return ok, img

        def __getattr__(self, name):
            return getattr(self.cap, name)

    def fake_capture(arg, *rest):
        return LoopingCam(arg) if isinstance(arg, int) and arg in feeds else real(arg, *rest)

    monkeypatch.setattr(camera.cv2, "VideoCapture", fake_capture)
    assert main(["enroll", "cam", "--camera", "0", "--count", "4", "--interval", "0"]) == 0
    assert "enrolled 4 reference" in capsys.readouterr().out
    assert main(["verify", "cam", "--camera", "0"]) == 0
    assert main(["verify", "cam", "--camera", "1", "--time-limit", "0.5"]) == 1
    assert main(["doctor"]) == 0
    assert "camera:    camera 0: 640x480" in capsys.readouterr().out


def test_verify_image_files_searches_the_whole_image(tmp_path, monkeypatch, capsys):
    """`verify --image` reads a file the way `enroll IMAGE` does (prepare_image: the whole image
    searched), not through the camera's centred ROI, which cuts a tightly cropped photo."""
    from desktop_app.core.preprocess import prepare_image, preprocess
    from training.camera_sim import photo_of_page

    monkeypatch.delenv("TWINLOCK_MODEL", raising=False)
    monkeypatch.setenv("TWINLOCK_HOME", str(tmp_path / "home"))
    db = str(tmp_path / "db.sqlite3")
    crops = {}
    for d, seed in ((3, 1), (3, 2), (3, 3), (3, 4), (7, 5)):
        img = photo_of_page(d, seed=seed, crop=True)
        assert prepare_image(img).ok and not preprocess(img).ok  # only the whole-image search finds it
        p = tmp_path / f"crop{d}_{seed}.png"
        cv2.imwrite(str(p), img)
        crops[(d, seed)] = str(p)
    assert main(["enroll", "alice", crops[(3, 1)], crops[(3, 2)], crops[(3, 3)], "--db", db, "--allow-weak"]) == 0
    assert main(["verify", "alice", "--image", crops[(3, 4)], "--db", db]) == 0
    capsys.readouterr()
    assert main(["verify", "alice", "--image", crops[(7, 5)], "--db", db]) == 1
