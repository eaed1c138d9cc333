"""``twinlock verify PROFILE (--image F... | --video F | --camera N)``: one unlock attempt.

Exits 0 granted, 1 denied, 2 no symbol or timeout, 3 locked out, 4 usage or setup error, so
it can sit behind pam_exec or a script. A signal (Ctrl-C, SIGTERM, SIGHUP) ends the attempt
as abandoned (recorded, counted as a failure) and exits 128 + the signal number.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from dataclasses import replace

from desktop_app.core.decision import Decision
from desktop_app.core.disclosure import admin_result, public_reason, public_result
from desktop_app.core.camera import ImageSource, make_source
from desktop_app.core.preprocess.loading import image_file_size
from desktop_app.core.verifier import Verifier, compare_text, resolve_policy

from .common import (
    EXIT_DENIED,
    EXIT_LOCKED,
    EXIT_NO_SYMBOL,
    EXIT_OK,
    SetupError,
    add_common,
    camera_index,
    db_path,
    fmt,
    friendly,
    embedder_from_args,
    open_existing_store,
    require_admin,
)

# the exit status of each way an attempt ends: every final Decision (decision.FINAL) has one
EXIT_FOR_DECISION = {
    Decision.GRANTED: EXIT_OK,
    Decision.DENIED: EXIT_DENIED,
    Decision.NO_SYMBOL: EXIT_NO_SYMBOL,
    Decision.CANCELLED: EXIT_NO_SYMBOL,
    Decision.ABANDONED: EXIT_NO_SYMBOL,  # cut short without a signal (a signal exits 128 + its number)
    Decision.LOCKED: EXIT_LOCKED,
}


def register(sub) -> None:
    p = sub.add_parser(
        "verify",
        help="verify a symbol against a profile (exit 0 granted, 1 denied, 2 no symbol/timeout, 3 locked out, 4 error)",
    )
    p.add_argument("profile", help="the enrolled profile to verify against")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--image", action="append", metavar="FILE", help="an image (repeat for several)")
    g.add_argument("--video", metavar="FILE", help="frames of a video file (time limit in video time)")
    g.add_argument("--camera", type=camera_index, metavar="N", help="webcam N")
    p.add_argument("-k", type=int, default=None, help="matching frames needed (default: policy, 2)")
    p.add_argument("-n", type=int, default=None, help="of the first n acquired frames (default: policy, 3)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds (default: policy, 10)")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="override the profile's threshold for this run (admin: needs the passphrase when "
        "one is set; audited as an override; a grant under it never resets failures)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="print on stderr, per frame, whether a symbol was found"
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="show distances and frame counts (per frame with -v, and of the outcome); needs the "
        "admin passphrase when one is set. Without it an attempt says only whether a symbol was "
        "found and the outcome, never how close it came (see also: twinlock test).",
    )
    add_common(p)
    p.set_defaults(func=cmd_verify)


class _Interrupted(BaseException):  # not an Exception: no error handler may swallow it
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _overrides(args) -> dict:
    over = {}
    if args.k is not None:
        over["k"] = args.k
    if args.n is not None:
        over["n"] = args.n
    if args.threshold is not None:
        over["threshold"] = args.threshold
    return over


def _policy(args, store, emb, over: dict):
    """The profile's policy with --time-limit and the admin overrides applied (not yet
    fitted to the source)."""
    pol = resolve_policy(store, args.profile, emb)
    if args.time_limit is not None:
        if not (math.isfinite(args.time_limit) and 0 < args.time_limit <= 3600):
            raise SetupError(f"--time-limit must be between 0 and 3600 seconds (got {args.time_limit:g})")
        pol = pol.updated({"time_limit_s": args.time_limit})
    try:
        pol = pol.updated(over)
        if "threshold" in over and not (math.isfinite(args.threshold) and args.threshold > 0):
            raise ValueError("the threshold must be a positive number")
    except ValueError as exc:
        raise SetupError(f"bad policy: {exc}") from None
    return pol


def _source(args, pol):
    """(frame source, policy): image files cap k and n at their number. Each image file is
    checked from its header first (nothing decoded) and decoded inside the attempt, whose
    time limit counts on the wall clock from its start, decoding included."""
    if args.image is not None:
        for p in args.image:
            try:
                image_file_size(p)
            except ValueError as exc:
                raise SetupError(str(exc)) from None
        m = len(args.image)
        pol = replace(pol, n=min(pol.n, m), k=min(pol.k, m), max_frames=max(pol.max_frames, m))
        return ImageSource(list(args.image), description=f"{m} image(s)"), pol
    if args.video is not None:
        src = make_source(str(args.video))
        if isinstance(src, ImageSource):
            raise SetupError(f"{args.video} is an image; use --image for images")
        return src, pol
    return make_source(int(args.camera)), pol


def _run_attempt(args, ver, src, show_distances: bool):
    """(final state, signal number or None): the frames fed until the attempt is decided; a
    signal abandons it (recorded, never left pending)."""

    def on_signal(signum, frame):
        raise _Interrupted(signum)

    src.open()  # a source that cannot be opened is an error before any attempt (and any handler)
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            old[sig] = signal.signal(sig, on_signal)
    interrupted = None
    try:
        try:
            images = args.image is not None
            # image files: the attempt's clock is the wall clock from now (decoding counts)
            st = ver.start_attempt(t=time.time() if images else None)
            if not st.final:
                with src:
                    while True:
                        if images and ver.tick().final:  # the time limit, before each decode
                            st = ver.state
                            break
                        try:
                            f = src.read()
                        except Exception:
                            ver.finish(reason="the source failed")  # recorded, never left pending
                            raise
                        if f is None:
                            st = ver.finish(reason="end of input")
                            break
                        if images:  # image files: the whole image is searched, on the wall clock
                            st = ver.feed_preprocessed(ver.read_image(f.image))
                        else:
                            st = ver.feed(f.image, t=f.t)
                        if args.verbose and not st.final:
                            if show_distances:  # --debug (admin): the frame's state and distance
                                line = f"{st.state} distance {fmt(st.distance)} {st.reason}"
                            else:  # only whether a symbol was found (core.disclosure)
                                line = public_reason(st)
                            print(f"frame {f.index}: {line}", file=sys.stderr)
                        if st.final:
                            break
            else:
                src.close()
        except (_Interrupted, KeyboardInterrupt) as exc:
            interrupted = getattr(exc, "signum", signal.SIGINT)
            # further signals must not cut the recording of this one short
            for sig in old:
                signal.signal(sig, signal.SIG_IGN)
            st = ver.abandon(f"interrupted by {signal.Signals(interrupted).name}")
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)
    return st, interrupted


def _report(args, st, emb, code: int, reveal: bool) -> None:
    """The outcome: without ``reveal`` (--debug, an admin) only what core.disclosure lets
    anyone see -- no distance, no count of matching or used frames."""
    if args.json:
        out = admin_result(st) if reveal else public_result(st)
        out.update(exit=code, model=emb.contract.short_fingerprint, provider=emb.provider)
        print(json.dumps(out))
        return
    label = {Decision.NO_SYMBOL: "no symbol"}.get(st.state, st.state)
    left = ""
    if (
        st.state in (Decision.DENIED, Decision.ABANDONED)
        and st.attempts_left is not None
        and st.lockout_remaining_s <= 0
    ):
        left = f"{st.attempts_left} attempt(s) left before a lockout"
    if not reveal:
        print(f"{label}: {public_reason(st)}" + (f" ({left})" if left else ""))
        return
    extra = ""
    if st.best_distance is not None:
        extra = f"best {compare_text(st.best_distance, st.threshold)}, "
    print(f"{label}: {st.reason} ({extra}{st.frames_used} frame(s) used" + (f"; {left})" if left else ")"))


@friendly
def cmd_verify(args) -> int:
    sources = [x for x in (args.image, args.video, args.camera) if x is not None]
    if len(sources) != 1:
        raise SetupError("verify needs exactly one of --image F, --video F or --camera N")
    store = open_existing_store(args)
    if store is None:
        raise SetupError(f"There is no twinlock database at {db_path(args)}: enroll a profile first.")
    over = _overrides(args)
    admin = False
    if over or args.debug:
        # an override loosens (or changes) the decision rule, --debug shows distances: admin only
        admin = require_admin(
            args,
            store,
            "verify "
            + " ".join(f"--{k}" if len(k) > 1 else f"-{k}" for k in [*over, *(["debug"] if args.debug else [])]),
            args.profile,
        )
    emb = embedder_from_args(args, store)
    pol = _policy(args, store, emb, over)
    src, pol = _source(args, pol)
    try:
        pol = pol.validate()
    except ValueError as exc:
        raise SetupError(f"bad policy: {exc}") from None
    overrides = dict(over)
    if overrides:
        overrides["by"] = "admin passphrase" if admin else "cli (no passphrase set)"
    ver = Verifier(store, emb, args.profile, pol, overrides=overrides or None)
    st, interrupted = _run_attempt(args, ver, src, show_distances=args.debug)
    if interrupted is not None:
        print(
            f"twinlock: interrupted ({signal.Signals(interrupted).name}); the attempt was recorded as "
            f"{st.state}" + ("" if st.state == Decision.GRANTED else " and counts as a failure"),
            file=sys.stderr,
        )
        return 128 + int(interrupted)
    code = EXIT_FOR_DECISION.get(st.state, EXIT_NO_SYMBOL)
    _report(args, st, emb, code, reveal=args.debug)
    return code
