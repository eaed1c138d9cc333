"""How long a PAM unlock takes: ``pamtester`` start to success through the documented
``auth sufficient pam_exec.so quiet PY -I -m desktop_app.cli.main pam`` line, on a video
file as the user's camera, with the shipped model (the target: median <= 1.5 s;
Howdy measured 2.07 s). Also how soon a wrong symbol lets the password ask.

The stack is tests/pam_support.py's: a created user with its own home and database, a
temporary /etc/pam.d service (the line, then pam_deny.so), removed afterwards. Needs root
and pamtester (apt-get install pamtester).

    sudo .venv/bin/python -m benchmarks.bench_pam --runs 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the PAM stack (tests/pam_support.py)


def _stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p90 = xs[min(len(xs) - 1, int(round(0.9 * (len(xs) - 1))))]
    return f"{statistics.median(xs):.2f} s | {p90:.2f} s | {xs[0]:.2f} s | {xs[-1]:.2f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=30, help="granted runs (default 30; wrong-symbol runs: a third)")
    ap.add_argument("--model", default=None, help="ONNX model of the user (default: the shipped one)")
    ap.add_argument("--no-write", action="store_true", help="print the table only")
    args = ap.parse_args(argv)

    from benchmarks.report import machine, write_section
    from desktop_app.core.paths import DEFAULT_MODEL
    from pam_support import PamStack, why_not

    why = why_not()
    if why:
        print(f"bench_pam: cannot run: {why}", file=sys.stderr)
        return 4
    model = Path(args.model) if args.model else DEFAULT_MODEL
    load0 = os.getloadavg()[0]
    t0 = time.monotonic()
    stack = PamStack(model=model)
    print(f"stack ready in {time.monotonic() - t0:.1f} s (user {stack.name}, python {stack.python})")
    try:
        stack.set_camera("genuine")
        stack.pam()  # one warm-up: the page cache holds the interpreter and the model
        granted, denied = [], []
        for i in range(args.runs):
            rc, secs, out = stack.pam()
            if rc != 0:
                raise SystemExit(f"run {i}: not granted ({out}); pam_exec log: {stack.pam_log()[-600:]}")
            granted.append(secs)
        stack.set_camera("impostor")
        for i in range(max(3, args.runs // 3)):
            if i % 4 == 0:
                stack.reset_lockout()  # never reach the lockout: each run is a whole attempt
            rc, secs, out = stack.pam()
            if rc == 0:
                raise SystemExit(f"wrong-symbol run {i} was granted")
            denied.append(secs)
        rows = stack.audit()
        user_py = stack.user_python("import platform; print(platform.python_version())").strip()
    finally:
        stack.close()
    decisions = [r["decision"] for r in rows if r["decision"] in ("granted", "denied", "locked", "pending")]
    body = "\n".join(
        [
            "## PAM unlock time",
            "",
            "`pamtester SERVICE USER authenticate` through the documented line "
            "(`auth sufficient pam_exec.so quiet PY -I -m desktop_app.cli.main pam`, then "
            "`pam_deny.so`), timed from pamtester's start to its exit: a fresh interpreter, "
            "root's checks, the fork and the drop to the user, the imports, the user's "
            "database, the model, the camera (a 6-frame MJPG video of a drawn 3 at 640x480) "
            "and one audited attempt. "
            f"Model: `{model.name}`. Target: median <= 1.5 s.",
            "",
            "| attempt | runs | median | p90 | min | max |",
            "|---|---:|---:|---:|---:|---:|",
            f"| granted (the enrolled symbol) | {len(granted)} | {_stats(granted)} |",
            f"| denied (another digit): the password asks | {len(denied)} | {_stats(denied)} |",
            "",
            f"Audit rows written: {decisions.count('granted')} granted, {decisions.count('denied')} denied, "
            f"{decisions.count('pending')} left pending: one per attempt (the warm-up run included), none lost. "
            f"pam_exec ran Python {user_py}; {machine()}; the machine was shared with other jobs "
            f"(load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).",
            "",
            "Reproduce (root, pamtester installed): `sudo .venv/bin/python -m benchmarks.bench_pam "
            f"--runs {args.runs}`",
        ]
    )
    print(body)
    if not args.no_write:
        print("wrote", write_section("pam", body))
    return 0


if __name__ == "__main__":
    sys.exit(main())
