"""A hard wall-clock limit on a piece of work: it runs in a forked child that is killed at
the deadline, whatever it is doing (importing, opening a camera, stuck in a driver call,
stopped with SIGSTOP).

The limit counts from the moment this process was started (:func:`process_age`), so the
interpreter's start and the imports before the work are inside it too. The parent stays
small: it only waits. At ``deadline - grace`` the child gets SIGTERM (time to record what
it was doing), at the deadline SIGKILL; the parent then returns at once.

Used by ``twinlock pam`` (desktop_app/core/pam.py): the password prompt after it is never
held back longer than the limit.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

KILLED = -1  # RunResult.code of a child killed at the deadline


def process_age() -> float:
    """Seconds since this process was started (exec'd), from /proc (0.0 where unknown):
    what an interpreter's start-up and imports have already spent of a time limit."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, IndexError, ValueError, AttributeError):
        return 0.0


@dataclass(frozen=True)
class RunResult:
    code: int  # the child's exit status; 128 + n for a signal n; KILLED at the deadline
    killed: bool  # the child was stopped by the deadline (SIGTERM or SIGKILL from here)
    elapsed_s: float


def _status(st: int) -> int:
    if os.WIFEXITED(st):
        return os.WEXITSTATUS(st)
    if os.WIFSIGNALED(st):
        return 128 + os.WTERMSIG(st)
    return 255


def _wait_until(pid: int, pidfd: int | None, until: float) -> int | None:
    """The child's status once it ends, or None when ``until`` (monotonic) comes first."""
    while True:
        done, st = os.waitpid(pid, os.WNOHANG)
        if done:
            return _status(st)
        left = until - time.monotonic()
        if left <= 0:
            return None
        if pidfd is not None:
            select.select([pidfd], [], [], left)  # readable when the child ends
        else:
            time.sleep(min(left, 0.01))


def run_with_deadline(work, deadline: float, grace_s: float = 0.25) -> RunResult:
    """Run ``work()`` (returns an exit status) in a forked child; the result by ``deadline``
    (``time.monotonic()`` seconds) at the latest. The child is its own process group, so
    anything it starts is killed with it. An exception in ``work`` exits the child with 4
    and one line on stderr. Fork before any thread is started (the child inherits none)."""
    t0 = time.monotonic()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 4
        try:
            os.setpgid(0, 0)
            code = int(work() or 0)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 4
        except BaseException as exc:  # the child's last net: one line, exit 4
            try:
                print(f"twinlock: {type(exc).__name__}: {str(exc)[:300]}", file=sys.stderr)
            except BaseException:
                pass
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code & 0xFF)
    try:
        os.setpgid(pid, pid)  # also from here: no race with the child's own call
    except OSError:
        pass
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = None
    try:
        code = _wait_until(pid, pidfd, deadline - grace_s)
        if code is not None:
            return RunResult(code, False, time.monotonic() - t0)
        _signal_group(pid, signal.SIGTERM)
        code = _wait_until(pid, pidfd, deadline)
        if code is not None:
            return RunResult(code, True, time.monotonic() - t0)
        _signal_group(pid, signal.SIGKILL)
        # SIGKILL ends even a stopped process at once; one stuck in the kernel (a driver
        # call) ends when it leaves it: it is not waited for (init reaps it)
        _wait_until(pid, pidfd, time.monotonic() + 0.2)
        return RunResult(KILLED, True, time.monotonic() - t0)
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _signal_group(pid: int, sig: int) -> None:
    for kill in (lambda: os.killpg(pid, sig), lambda: os.kill(pid, sig)):
        try:
            kill()
        except OSError:
            pass


__all__ = ["KILLED", "RunResult", "process_age", "run_with_deadline"]
