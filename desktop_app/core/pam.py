"""The rules of ``twinlock pam``, the entry point pam_exec runs (docs/pam.md).

- **The switch and the limit are root's**: in ``/etc/twinlock`` (:data:`SYSTEM_DIR`), a file
  named ``pam-disabled`` (anything by that name) switches PAM unlocking off for everyone at
  once; ``pam.json`` may hold ``{"time_limit_s": 3, "disabled": false}``. Both are read only
  when owned by root and not writable by anyone else.
- **Whose attempt**: the user in ``PAM_USER``. The attempt runs as that user
  (:func:`become_user`: groups, gid, uid, then a clean environment with their home), so it
  reads that user's config and database exactly as their app does, and every file it
  creates (the database's ``-wal``/``-shm``) is theirs, never root's.
- **Which database**: the user's own (core.paths.database_path under their home), used only
  when it is theirs and nobody else can change it (core/store/safety.py, as every Store).
- **Which profile**: ``"pam": {"profile": NAME}`` in the user's config file, else the one
  named like the user; ``"pam": {"disabled": true}`` there switches it off for that user.
- **Which camera**: the one the user chose in the app (the ``camera`` setting: a webcam
  index, or a video file or image folder).
- **One attempt** (:func:`run_attempt`): written to the audit log once, counted by the same
  lockout as every other attempt, its time limit what is left of the run's deadline.

Module level imports the standard library only: the parent of a PAM run (root) stays small
and fast; the heavy parts load in the child (core/deadline.py), as the user.
"""

from __future__ import annotations

import json
import math
import os
import pwd
import signal
import stat
import time
from dataclasses import dataclass, replace
from pathlib import Path

SYSTEM_DIR = Path("/etc/twinlock")
KILL_SWITCH = "pam-disabled"
SYSTEM_CONFIG = "pam.json"
DEFAULT_TIME_LIMIT_S = 3.0
TIME_LIMIT_RANGE = (0.5, 30.0)
MAX_CONFIG_BYTES = 64 * 1024
# the attempt's own time limit ends this long before the run's deadline, so it ends (and
# is recorded) by itself before the parent stops it
ATTEMPT_MARGIN_S = 0.35


class PamRefused(Exception):
    """No attempt is made (the run fails at once and the next PAM module asks); the message
    says why and what to do."""


# --------------------------------------------------------------------------- root's settings
@dataclass(frozen=True)
class SystemSettings:
    time_limit_s: float = DEFAULT_TIME_LIMIT_S
    disabled_by: str | None = None  # what switched PAM unlocking off, None: it is on


def _trusted(path: Path, st: os.stat_result, what: str) -> None:
    if st.st_uid != 0:
        raise PamRefused(f"{path} is not owned by root, so it is not trusted; as root: chown root: {path}")
    if st.st_mode & 0o022:
        raise PamRefused(f"{path} ({what}) is writable by others; as root: chmod go-w {path}")


def read_system_settings(system_dir: str | os.PathLike = SYSTEM_DIR) -> SystemSettings:
    """The kill switch and the time limit (:data:`SYSTEM_DIR`). A settings file that is not
    root's, unreadable, damaged or holds an unknown key or a limit outside
    :data:`TIME_LIMIT_RANGE` raises :class:`PamRefused` (fail closed: the password asks)."""
    d = Path(system_dir)
    switch = d / KILL_SWITCH
    if os.path.lexists(switch):
        return SystemSettings(disabled_by=f"{switch} exists")
    cfg = d / SYSTEM_CONFIG
    try:
        fd = os.open(cfg, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return SystemSettings()
    except OSError as exc:
        raise PamRefused(f"cannot read {cfg} ({exc.strerror}): fix or remove it") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PamRefused(f"{cfg} is not a regular file: remove it")
        _trusted(cfg, st, "the PAM settings")
        _trusted(d, os.stat(d), "the folder of the PAM settings")
        raw = os.read(fd, MAX_CONFIG_BYTES + 1)
    finally:
        os.close(fd)
    if len(raw) > MAX_CONFIG_BYTES:
        raise PamRefused(f"{cfg} is larger than {MAX_CONFIG_BYTES // 1024} KiB: it is not a twinlock PAM settings file")
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError) as exc:
        raise PamRefused(f"{cfg} is not valid JSON ({exc}): fix it or remove it") from None
    if not isinstance(data, dict):
        raise PamRefused(f"{cfg} does not hold a JSON object: fix it or remove it")
    unknown = sorted(set(data) - {"time_limit_s", "disabled"})
    if unknown:
        raise PamRefused(f"{cfg} has an unknown setting '{str(unknown[0])[:40]}' (known: time_limit_s, disabled)")
    disabled = data.get("disabled", False)
    if not isinstance(disabled, bool):
        raise PamRefused(f'{cfg}: "disabled" must be true or false')
    if disabled:
        return SystemSettings(disabled_by=f'"disabled": true in {cfg}')
    limit = data.get("time_limit_s", DEFAULT_TIME_LIMIT_S)
    lo, hi = TIME_LIMIT_RANGE
    if (
        isinstance(limit, bool)
        or not isinstance(limit, (int, float))
        or not math.isfinite(limit)
        or not lo <= limit <= hi
    ):
        raise PamRefused(f'{cfg}: "time_limit_s" must be a number of seconds from {lo:g} to {hi:g}, not {limit!r:.40}')
    return SystemSettings(time_limit_s=float(limit))


# --------------------------------------------------------------------------- the user
def pam_user_name(environ=None) -> str:
    """The user pam_exec asks about (``PAM_USER``), checked to be a plain name; refused in
    any PAM stack but ``auth`` (``PAM_TYPE``: account, session, password)."""
    env = os.environ if environ is None else environ
    kind = env.get("PAM_TYPE", "")
    if kind and kind != "auth":
        raise PamRefused(f"twinlock pam answers the auth stack only, not '{kind[:20]}': put the line under auth")
    name = env.get("PAM_USER", "")
    if not name:
        raise PamRefused("PAM_USER is not set: twinlock pam is run by pam_exec (see docs/pam.md)")
    if len(name) > 256 or any(c in name for c in "/\0\n"):
        raise PamRefused("PAM_USER is not a user name")
    return name


def target_user(name: str) -> pwd.struct_passwd:
    """The account of ``name`` (looked up in the child: a slow directory service is inside
    the time limit)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise PamRefused(f"there is no user '{name}'") from None


def become_user(pw: pwd.struct_passwd) -> None:
    """From here on run as ``pw`` (root gives up its groups, gid and uid for good; a process
    already running as ``pw`` -- a screen locker -- stays as it is; any other refuses), with
    umask 077, the working folder their home, and an environment of their home and name only:
    the PAM environment (which a user may influence) and root's are dropped."""
    if os.geteuid() == 0:
        os.setgroups(os.getgrouplist(pw.pw_name, pw.pw_gid))
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
        if os.getresuid() != (pw.pw_uid,) * 3 or os.getresgid() != (pw.pw_gid,) * 3:
            raise PamRefused(f"could not become {pw.pw_name}")
        if pw.pw_uid != 0:
            try:
                os.setuid(0)
            except PermissionError:
                pass
            else:
                raise PamRefused(f"could not give up root for {pw.pw_name}")
    elif not (os.getuid() == os.geteuid() == pw.pw_uid):
        raise PamRefused(
            f"twinlock pam runs as uid {os.geteuid()}, neither root nor {pw.pw_name}: it cannot act for them"
        )
    os.umask(0o077)
    os.environ.clear()
    os.environ.update(HOME=pw.pw_dir, USER=pw.pw_name, LOGNAME=pw.pw_name, PATH="/usr/bin:/bin")
    try:
        os.chdir(pw.pw_dir)
    except OSError:
        os.chdir("/")


@dataclass(frozen=True)
class UserSettings:
    profile: str | None = None  # None: the profile named like the user
    disabled: bool = False


def read_user_settings() -> UserSettings:
    """The ``"pam"`` object of the user's config file (core.config), read as the user."""
    from . import config

    try:
        data = config.load().get("pam", {})
    except Exception as exc:  # a damaged config: no attempt
        raise PamRefused(str(exc)) from None
    where = f'the "pam" setting of {config.config_path()}'
    if not isinstance(data, dict):
        raise PamRefused(f'{where} must be an object like {{"profile": "NAME"}}')
    unknown = sorted(set(data) - {"profile", "disabled"})
    if unknown:
        raise PamRefused(f"{where} has an unknown key '{str(unknown[0])[:40]}' (known: profile, disabled)")
    prof = data.get("profile")
    if prof is not None and (not isinstance(prof, str) or not prof.strip()):
        raise PamRefused(f'{where}: "profile" must be a profile name')
    disabled = data.get("disabled", False)
    if not isinstance(disabled, bool):
        raise PamRefused(f'{where}: "disabled" must be true or false')
    return UserSettings(prof, disabled)


def profile_for(pw: pwd.struct_passwd, settings: UserSettings) -> str:
    """The profile a PAM attempt for ``pw`` verifies against."""
    return settings.profile or pw.pw_name


# --------------------------------------------------------------------------- the database
def open_user_store():
    """The user's own database, where their app finds it (core.paths.database_path, under
    their home: run this as the user). Never created here. Store refuses, with how to fix
    it, one that others could change or swap (core/store/safety.check_database_safe: owned
    by the user, one name, not writable by others, in a folder of the user's)."""
    from .paths import database_path
    from .store import Store

    try:
        path = database_path()
    except Exception as exc:  # a damaged config file
        raise PamRefused(str(exc)) from None
    if not os.path.lexists(path):
        raise PamRefused(f"there is no twinlock database at {path}: enroll a profile in the app first")
    return Store(path, create=False)


# --------------------------------------------------------------------------- one attempt
class _Stopped(BaseException):  # not an Exception: no handler on the way may swallow it
    pass


def _camera(store, time_left: float):
    """The user's chosen camera (the ``camera`` and ``resolution`` settings), unopened; a
    webcam's open and reads are bounded by the time left."""
    from .camera import WebcamSource, make_source
    from .settings import DEFAULTS

    spec = store.get_setting("camera", DEFAULTS["camera"])
    res = store.get_setting("resolution", DEFAULTS["resolution"])
    try:
        res = (int(res[0]), int(res[1]))
    except (TypeError, ValueError, IndexError):
        res = tuple(DEFAULTS["resolution"])
    src = make_source(spec, resolution=res)
    if isinstance(src, WebcamSource):
        src.open_timeout_s = src.read_timeout_s = max(0.1, time_left)
    return src


def run_attempt(store, embedder, profile: str, deadline: float):
    """One attempt of ``profile`` on the user's camera, decided by ``deadline``
    (``time.monotonic()``): the final AttemptState. Written "pending" when it starts and
    finished once: locked, granted, denied, no symbol (a camera that cannot be opened or
    shows nothing); SIGTERM (the run's deadline) abandons it, counted as a failure."""
    from .camera import CameraError
    from .verifier import Verifier, resolve_policy

    pol = resolve_policy(store, profile, embedder)
    left = deadline - time.monotonic() - ATTEMPT_MARGIN_S
    if left <= 0.05:
        raise PamRefused("no time was left for an attempt: raise time_limit_s in /etc/twinlock/pam.json")
    pol = replace(pol, time_limit_s=min(pol.time_limit_s, left))
    ver = Verifier(store, embedder, profile, pol)

    def stop(signum, frame):
        raise _Stopped()

    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    src = None
    try:
        st = ver.start_attempt(t=time.time())  # the time limit counts from here, in wall time
        if st.final:
            return st
        try:
            src = _camera(store, deadline - time.monotonic())
            src.open()
        except (CameraError, OSError, ValueError) as exc:
            src = None
            return ver.finish(reason=f"the camera could not be opened ({str(exc)[:200]})")
        while True:
            try:
                f = src.read()
            except CameraError as exc:
                return ver.finish(reason=f"the camera failed ({str(exc)[:200]})")
            if f is None:
                return ver.finish(reason="end of input")
            st = ver.feed(f.image)  # wall-clock time, a video file too
            if st.final:
                return st
    except _Stopped:
        for s in old:
            signal.signal(s, signal.SIG_IGN)  # nothing cuts the recording short
        return ver.abandon("stopped at the PAM time limit")
    finally:
        if src is not None:
            try:
                src.close()
            except Exception:
                pass
        for s, h in old.items():
            signal.signal(s, h)


def attempt_for_user(name: str, deadline: float):
    """Everything a PAM run does in its child: look the user up, become them, read their
    settings, open their database, load their model, make one attempt. The final
    AttemptState, or :class:`PamRefused` (nothing attempted, nothing counted) with why."""
    from .threads import limit_blas_threads

    pw = target_user(name)
    become_user(pw)
    limit_blas_threads(1)
    settings = read_user_settings()
    if settings.disabled:
        raise PamRefused('switched off by the user ("pam": {"disabled": true} in their config file)')
    profile = profile_for(pw, settings)
    store = open_user_store()
    try:
        if not store.has_profile(profile):
            raise PamRefused(
                f"{pw.pw_name} has no profile named '{profile}': enroll one, or name it as "
                '"pam": {"profile": "NAME"} in their config file'
            )
        from .settings import load_embedder

        emb = load_embedder(store, reembed=False)
        return run_attempt(store, emb, profile, deadline)
    finally:
        store.close()


__all__ = [
    "ATTEMPT_MARGIN_S",
    "DEFAULT_TIME_LIMIT_S",
    "KILL_SWITCH",
    "SYSTEM_CONFIG",
    "SYSTEM_DIR",
    "TIME_LIMIT_RANGE",
    "PamRefused",
    "SystemSettings",
    "UserSettings",
    "attempt_for_user",
    "become_user",
    "open_user_store",
    "pam_user_name",
    "profile_for",
    "read_system_settings",
    "read_user_settings",
    "run_attempt",
    "target_user",
]
