"""A real PAM stack for tests and benchmarks/bench_pam.py: a created user with a home of its
own, twinlock data enrolled there *as that user*, a root-owned system folder, and a
temporary /etc/pam.d service with the documented line followed by pam_deny.so; pamtester
drives it. Needs root, pamtester and pam_exec.so (``why_not()`` says what is missing).

The user runs the Python the PAM line names. When the checkout's venv Python cannot be run
by the user (it lives under a folder only root can enter, as a pyenv under /root), a small
venv is made in a temporary folder from a system Python of the same version, pointing at
the checkout's site-packages: nothing in the repo or under /root is chmod'ed.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import cv2

from training.camera_sim import junk_frames, render_frame
from pixel_model import make_pixel_model
from ui_support import write_video

PAM_DIRS = (
    "/lib/x86_64-linux-gnu/security",
    "/usr/lib/x86_64-linux-gnu/security",
    "/lib/security",
    "/usr/lib/security",
)


def why_not() -> str | None:
    """Why a real PAM stack cannot be tested here (None: it can)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root (creates a user and an /etc/pam.d service); .ci/run runs it as root"
    if not shutil.which("pamtester"):
        return "pamtester is not installed (apt-get install pamtester; .ci/run installs it)"
    if not any(Path(d, "pam_exec.so").exists() for d in PAM_DIRS):
        return "pam_exec.so is not installed (libpam-modules)"
    if not (shutil.which("useradd") and shutil.which("userdel")):
        return "useradd/userdel are not installed (passwd)"
    return None


def _world_readable_dir(prefix: str) -> Path:
    d = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    os.chmod(d, 0o755)
    return d


class PamStack:
    """One user, their enrolled profile and a PAM service; ``close()`` removes all three."""

    def __init__(self, time_limit_s: float | None = None, model: str | os.PathLike | None = None):
        """``model``: the ONNX model the user's app uses (default: the tests' pixel model; a
        digit is weak for the shipped one, so it is enrolled with --allow-weak then)."""
        self.name = "tlpam" + secrets.token_hex(3)
        self.service = "twinlock-test-" + secrets.token_hex(3)
        self.service_file = Path("/etc/pam.d") / self.service
        self.sysdir = _world_readable_dir("twinlock-pam-sys-")  # root's: the switch, pam.json
        self.work = _world_readable_dir("twinlock-pam-py-")  # a Python the user can run
        self._opened: dict[Path, int] = {}  # folders given the search bit, and their old modes
        subprocess.run(
            ["useradd", "--create-home", "--user-group", "--shell", "/usr/sbin/nologin", self.name],
            check=True,
            capture_output=True,
        )
        self.pw = pwd.getpwnam(self.name)
        self.home = Path(self.pw.pw_dir)
        try:
            self.python = self._user_python()
            self._make_assets(model)
            self.write_service()
            if time_limit_s is not None:
                self.set_system({"time_limit_s": time_limit_s})
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ set-up
    def _can_run(self, py: str) -> bool:
        probe = "import desktop_app.cli.main, numpy, cv2, onnxruntime"
        try:
            return self.as_user([py, "-I", "-c", probe], check=False).returncode == 0
        except PermissionError:  # the user cannot even start it
            return False

    def _user_python(self) -> str:
        """The checkout's Python if the user can run it; else a venv of a system Python of
        the same version pointing at the checkout's packages; else the checkout's Python
        after giving others the search (x) bit on the folders above it that lack it (a
        pyenv under /root) -- only those folders, only that bit, restored by close()."""
        if self._can_run(sys.executable):
            return sys.executable
        ver = f"python{sys.version_info.major}.{sys.version_info.minor}"
        site = sysconfig.get_paths()["purelib"]
        for cand in (f"/usr/bin/{ver}", f"/usr/local/bin/{ver}"):
            if not os.access(cand, os.X_OK):
                continue
            venv = self.work / "venv"
            made = subprocess.run([cand, "-m", "venv", "--without-pip", str(venv)], capture_output=True)
            if made.returncode != 0:
                continue
            sp = Path(
                subprocess.check_output(
                    [str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                    text=True,
                ).strip()
            )
            (sp / "twinlock-checkout.pth").write_text(f"import site; site.addsitedir({site!r})\n")
            for root, dirs, files in os.walk(self.work):
                for x in dirs + files:
                    p = os.path.join(root, x)
                    if not os.path.islink(p):
                        os.chmod(p, os.stat(p).st_mode | 0o055)
            py = str(venv / "bin/python")
            if self._can_run(py):
                return py
        needed = {Path(os.path.realpath(sys.executable)).parent, Path(sys.base_prefix), Path(sys.prefix), Path(site)}
        needed.add(Path(__file__).resolve().parents[1])
        for path in needed:
            for d in [path, *path.parents]:
                mode = os.stat(d).st_mode
                if not mode & 0o001 and d not in self._opened:
                    self._opened[d] = mode
                    os.chmod(d, mode | 0o001)
        if self._can_run(sys.executable):
            return sys.executable
        raise RuntimeError(
            f"user {self.name} can run neither {sys.executable} nor a system {ver} with the checkout's packages"
        )

    def _make_assets(self, model) -> None:
        a = self.home / "assets"
        a.mkdir()
        self.model = Path(model) if model is not None else make_pixel_model(a / "pixel.onnx")
        self.images = []
        for i in range(3):
            p = a / f"three_{i}.png"
            cv2.imwrite(str(p), render_frame(3, seed=300 + i))
            self.images.append(p)
        self.videos = {
            "genuine": write_video(a / "genuine.avi", [render_frame(3, seed=500 + i) for i in range(6)], 10.0),
            "impostor": write_video(a / "impostor.avi", [render_frame(7, seed=600 + i) for i in range(6)], 10.0),
            "blank": write_video(a / "blank.avi", [junk_frames(seed=s)["blank_paper"] for s in range(4)], 10.0),
            "missing": a / "no-such-camera.avi",
        }
        for root, dirs, files in os.walk(self.home):
            for x in [root, *(os.path.join(root, y) for y in dirs + files)]:
                os.lchown(x, self.pw.pw_uid, self.pw.pw_gid)
        # the user's own database, made by the user: their model and camera, one profile
        self.user_python(
            "from desktop_app.core.store import Store\n"
            "s = Store()\n"
            f"s.set_setting('model_path', {str(self.model)!r})\n"
            f"s.set_setting('camera', {str(self.videos['genuine'])!r})\n"
            "print(s.path)\n"
            "s.close()\n"
        )
        self.db = self.home / ".local/share/twinlock/twinlock.sqlite3"
        self.twinlock("enroll", self.name, *self.images, *(["--allow-weak"] if model is not None else []))

    def write_service(self, line_args: str = "", log: bool = True) -> None:
        """The documented line, then pam_deny.so; pam_exec's own log beside pam.json (a
        root-owned file: only for stacks run as root)."""
        log_opt = f"log={self.sysdir}/pam_exec.log " if log else ""
        self.service_file.write_text(
            f"auth sufficient pam_exec.so quiet {log_opt}"
            f"{self.python} -I -m desktop_app.cli.main pam --system-dir {self.sysdir}{line_args}\n"
            "auth requisite pam_deny.so\n"
        )

    def set_system(self, settings: dict | None) -> None:
        p = self.sysdir / "pam.json"
        if settings is None:
            p.unlink(missing_ok=True)
        else:
            p.write_text(json.dumps(settings))
            os.chmod(p, 0o644)

    # ------------------------------------------------------------------ as the user
    def as_user(self, argv, check=True, timeout=120) -> subprocess.CompletedProcess:
        r = subprocess.run(
            [str(a) for a in argv],
            user=self.pw.pw_uid,
            group=self.pw.pw_gid,
            extra_groups=[],
            umask=0o077,
            env={"HOME": str(self.home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            cwd=str(self.home),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and r.returncode != 0:
            raise AssertionError(f"{argv} as {self.name} failed ({r.returncode}): {r.stderr[-2000:]}")
        return r

    def user_python(self, code: str) -> str:
        return self.as_user([self.python, "-I", "-c", code]).stdout

    def twinlock(self, *args, check=True) -> subprocess.CompletedProcess:
        return self.as_user([self.python, "-I", "-m", "desktop_app.cli.main", *args], check=check)

    def set_camera(self, which: str) -> None:
        self.set_setting("camera", str(self.videos[which]))

    def set_setting(self, key: str, value) -> None:
        self.user_python(
            f"from desktop_app.core.store import Store\ns = Store(); s.set_setting({key!r}, {value!r}); s.close()\n"
        )

    def set_user_config(self, pam: dict | None) -> None:
        code = (
            "from desktop_app.core import config\n"
            "d = config.load()\n"
            + (f"d['pam'] = {pam!r}\n" if pam is not None else "d.pop('pam', None)\n")
            + "config.save(d)\n"
        )
        self.user_python(code)

    def audit(self) -> list[dict]:
        """Every audit row (id, profile, decision, detail), read as the user."""
        out = self.user_python(
            "import json, sqlite3\n"
            f"con = sqlite3.connect({str(self.db)!r})\n"
            "rows = con.execute('SELECT id, profile, decision, detail FROM audit ORDER BY id').fetchall()\n"
            "print(json.dumps([dict(id=i, profile=p, decision=d, detail=json.loads(x or '{}')) for i, p, d, x in rows]))\n"
        )
        return json.loads(out)

    def lockout(self, profile: str | None = None) -> dict:
        out = self.user_python(
            "import json\n"
            "from desktop_app.core.store import Store\n"
            f"s = Store(); st = s.lockout({profile or self.name!r})\n"
            "print(json.dumps(dict(failures=st.failures, lock_s=st.lock_s, remaining=st.remaining())))\n"
            "s.close()\n"
        )
        return json.loads(out)

    def reset_lockout(self, profile: str | None = None) -> None:
        self.user_python(
            "from desktop_app.core.store import Store, LockoutState\n"
            f"s = Store(); s.set_lockout({profile or self.name!r}, LockoutState()); s.close()\n"
        )

    # ------------------------------------------------------------------ PAM
    def pam(self, timeout: float = 60) -> tuple[int, float, str]:
        """``pamtester SERVICE USER authenticate`` as root: (exit status, seconds, output)."""
        t0 = time.monotonic()
        r = subprocess.run(
            ["pamtester", self.service, self.name, "authenticate"], capture_output=True, text=True, timeout=timeout
        )
        return r.returncode, time.monotonic() - t0, (r.stdout + r.stderr).strip()

    def pam_log(self) -> str:
        try:
            return (self.sysdir / "pam_exec.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def root_owned_in_home(self) -> list[str]:
        bad = []
        for root, dirs, files in os.walk(self.home):
            for x in [root, *(os.path.join(root, y) for y in dirs + files)]:
                if os.lstat(x).st_uid != self.pw.pw_uid:
                    bad.append(x)
        return bad

    def close(self) -> None:
        for d, mode in self._opened.items():
            os.chmod(d, mode)
        self._opened.clear()
        self.service_file.unlink(missing_ok=True)
        subprocess.run(["userdel", "--remove", self.name], capture_output=True)
        shutil.rmtree(self.sysdir, ignore_errors=True)
        shutil.rmtree(self.work, ignore_errors=True)
