"""Headless runtime commands: enroll, verify, profiles, audit, calibrate, doctor.

``twinlock verify`` exits 0 granted, 1 denied, 2 no symbol or timeout, 3 locked out,
4 usage or setup error, so it can sit behind pam_exec or a script.

Admin actions (enroll, calibrate --apply/--reset, profiles remove/import/export, doctor
--reembed, and verify's --threshold/-k/-n/--debug overrides) need the admin passphrase
once one is set (in the app's Settings): from ``--passphrase-file FILE`` (its first line),
``$TWINLOCK_PASSPHRASE``, or a prompt when run in a terminal. A wrong passphrase is
audited ("passphrase_failed") and changes nothing.
"""

from __future__ import annotations

import functools
import json
import math
import os
import signal
import sys
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from .main import EXIT_DENIED, EXIT_LOCKED, EXIT_NO_SYMBOL, EXIT_OK, EXIT_SETUP, SetupError

EXIT_FOR_DECISION = {
    "granted": EXIT_OK,
    "denied": EXIT_DENIED,
    "no_symbol": EXIT_NO_SYMBOL,
    "cancelled": EXIT_NO_SYMBOL,
    "locked": EXIT_LOCKED,
}


def _friendly(fn):
    """Turn the core's user-facing errors into SetupError (exit 4, one clear line)."""

    @functools.wraps(fn)
    def wrapper(args):
        try:
            return fn(args)
        except Exception as exc:
            # imported here, on the error path: calibration alone costs ~0.1 s of every verify
            from desktop_app.core.calibration import CalibrationError
            from desktop_app.core.camera import CameraError
            from desktop_app.core.contract import ContractError
            from desktop_app.core.passphrase import PassphraseError
            from desktop_app.core.store import StoreError

            if isinstance(exc, (ContractError, StoreError, CameraError, CalibrationError, PassphraseError)):
                raise SetupError(str(exc)) from None
            raise

    return wrapper


def _read_passphrase(args) -> str | None:
    f = getattr(args, "passphrase_file", None)
    if f:
        pf = Path(f)
        if not pf.is_file():
            raise SetupError(f"--passphrase-file {f}: not a regular file")
        try:
            with open(pf, encoding="utf-8") as fh:
                return fh.readline(4096).rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise SetupError(f"--passphrase-file {f} cannot be read ({exc})") from None
    env = os.environ.get("TWINLOCK_PASSPHRASE")
    if env is not None:
        return env
    if sys.stdin.isatty():
        import getpass

        try:
            return getpass.getpass("twinlock admin passphrase: ")
        except EOFError:
            return None
    return None


def _admin(args, store, action: str, profile: str | None = None) -> bool:
    """Ask for the admin passphrase when one is set; True when one was set and given.
    A wrong or missing passphrase raises SetupError (exit 4), a wrong one is audited."""
    from desktop_app.core.passphrase import is_hash, verify_passphrase

    stored = store.get_setting("admin_passphrase", None)
    if not stored:
        return False
    if not is_hash(stored):
        raise SetupError(
            "The stored admin passphrase is damaged, so admin actions are refused. Set a new "
            "one in the app (Tools > Settings) after restoring the database from a backup."
        )
    given = _read_passphrase(args)
    if given is None:
        raise SetupError(
            f"{action} needs the admin passphrase: pass --passphrase-file FILE, set "
            "$TWINLOCK_PASSPHRASE, or run it in a terminal to be asked. Nothing was changed."
        )
    if not verify_passphrase(given, stored):
        store.log_attempt(profile, "passphrase_failed", detail={"action": action, "via": "cli"})
        raise SetupError(f"wrong admin passphrase for {action}; nothing was changed (this is audited).")
    return True


def _common(p) -> None:
    p.add_argument("--db", metavar="PATH", help="database file (default: $TWINLOCK_DB or the user data folder)")
    p.add_argument(
        "--model",
        metavar="PATH",
        help="ONNX model (default: $TWINLOCK_MODEL, the configured model, or the shipped default)",
    )
    p.add_argument(
        "--provider",
        choices=("auto", "cuda", "cpu"),
        default=None,
        help="ONNX Runtime provider (default: the app setting, 'auto')",
    )
    p.add_argument(
        "--passphrase-file",
        metavar="FILE",
        help="admin passphrase (first line of FILE; else $TWINLOCK_PASSPHRASE or a prompt), "
        "needed for admin actions once a passphrase is set",
    )


def _store(args, create=True):
    from desktop_app.core.store import Store

    return Store(args.db, create=create)


def _embedder(args, store):
    from desktop_app.core.settings import load_embedder

    # never re-embeds: switching models is an explicit admin action (doctor --reembed, the app)
    return load_embedder(store, args.model, args.provider, reembed=False)


def _bar(desc):
    """A tqdm-backed ``progress(done, total)`` callback (on stderr)."""
    state = {}

    def progress(done, total):
        from tqdm import tqdm

        if "bar" not in state:
            state["bar"] = tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=False)
        bar = state["bar"]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return progress


def _camera_index(text: str) -> int:
    import argparse

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a camera is a number 0..63, not {text!r}") from None
    if not 0 <= v <= 63:
        raise argparse.ArgumentTypeError(f"a camera is a number 0..63, not {v}")
    return v


def _ts(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S")


def _fmt(v, spec=".3f"):
    return "-" if v is None else format(v, spec)


# --------------------------------------------------------------------------- enroll
def _frames_from_spec(args):
    """(iterator of (frame, label), description, is_live) for the enroll sources."""
    from desktop_app.core.camera import open_source
    from desktop_app.core.preprocess import load_image

    if args.images:
        loaded = []
        for p in args.images:  # every file is read before anything is enrolled
            try:
                loaded.append((load_image(p), str(p)))
            except ValueError as exc:
                raise SetupError(f"{exc} Nothing was enrolled.") from None
        return iter(loaded), f"{len(args.images)} image files", False
    spec = args.camera if args.camera is not None else args.video
    src = open_source(int(spec) if args.camera is not None else spec)

    def gen():
        try:
            while True:
                f = src.read()
                if f is None:
                    return
                yield f.image, f"{src.description} frame {f.index}"
        finally:
            src.close()

    return gen(), src.description, src.is_live


@_friendly
def cmd_enroll(args) -> int:
    from tqdm import tqdm

    from desktop_app.core.metrics import pairwise_distances
    from desktop_app.core.preprocess import prepare_image, preprocess
    from desktop_app.core.store import validate_profile_name

    name = validate_profile_name(args.profile)
    if not args.images and args.camera is None and args.video is None:
        raise SetupError("enroll needs images, --camera N or --video FILE")
    if not 1 <= args.count <= 100:
        raise SetupError(f"--count must be between 1 and 100 (got {args.count})")
    for opt, v in (("--interval", args.interval), ("--timeout", args.timeout)):
        if not (math.isfinite(v) and 0 <= v <= 3600):
            raise SetupError(f"{opt} must be between 0 and 3600 seconds (got {v:g})")
    store = _store(args)
    _admin(args, store, "enroll", name)
    emb = _embedder(args, store)
    frames, desc, live = _frames_from_spec(args)
    count = args.count
    images, crops, skipped = [], [], 0
    last_t = -1e9
    deadline = time.monotonic() + args.timeout
    bar = tqdm(
        total=count if (live or args.video) else len(args.images),
        desc=f"enrolling '{name}'",
        unit="img",
        file=sys.stderr,
        leave=False,
    )
    good = []
    for frame, label in frames:
        res = prepare_image(frame) if args.images else preprocess(frame)
        if not res.ok:
            skipped += 1
            if args.images:
                print(f"skipped {label}: {res.reason}", file=sys.stderr)
                bar.update(1)
            if live and time.monotonic() > deadline:
                break
            continue
        if live:
            now = time.monotonic()
            if now - last_t < args.interval:
                continue
            last_t = now
        good.append(res)
        bar.update(1)
        if (live and len(good) >= count) or (live and time.monotonic() > deadline):
            break
    bar.close()
    if args.video and len(good) > count:  # spread the picks over the whole video
        idx = np.linspace(0, len(good) - 1, count).round().astype(int)
        good = [good[i] for i in idx]
    if not good:
        print(f"twinlock: no usable symbol found in {desc}; nothing was enrolled.", file=sys.stderr)
        return EXIT_NO_SYMBOL
    images = np.stack([r.image for r in good])
    crops = [r.crop for r in good]
    vecs = emb.embed_images(images)
    from .identify_cmds import enroll_strength_gate  # issue 13: verdict; refuse weak unless --allow-weak

    if not enroll_strength_gate(args, store, emb, name, vecs):
        return EXIT_DENIED
    n = store.add_references(name, images, crops, vecs, emb.fingerprint, create=True, source=desc)
    prof = store.get_profile(name)
    print(
        f"enrolled {n} reference image(s) into profile '{name}' (now {prof.n_references}; "
        f"{skipped} frame(s) without a usable symbol skipped; model {emb.contract.short_fingerprint}, "
        f"{emb.provider})"
    )
    refs = store.reference_embeddings(name, emb.fingerprint)
    if len(refs) >= 2:
        d = pairwise_distances(refs, refs)
        off = d[~np.eye(len(refs), dtype=bool)]
        thr = prof.threshold if prof.threshold is not None else emb.contract.default_threshold
        mean_to_others = d.sum(1) / (len(refs) - 1)
        print(f"consistency: mutual distances mean {off.mean():.3f}, max {off.max():.3f} (threshold {thr:.3f})")
        out = [i for i, m in enumerate(mean_to_others) if m > thr]
        if out:
            print(
                f"warning: reference(s) {', '.join(str(i + 1) for i in out)} lie far from the others "
                "(mean distance above the threshold); consider re-enrolling them.",
                file=sys.stderr,
            )
    if len(refs) < 3:
        print("hint: enroll at least 3 references for a dependable profile.", file=sys.stderr)
    return EXIT_OK


# --------------------------------------------------------------------------- verify
class _Interrupted(BaseException):  # not an Exception: no error handler may swallow it
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


@_friendly
def cmd_verify(args) -> int:
    from desktop_app.core.camera import ImageSource, make_source
    from desktop_app.core.preprocess import load_image, prepare_image
    from desktop_app.core.verifier import Verifier, compare_text, resolve_policy

    sources = [x for x in (args.image, args.video, args.camera) if x is not None]
    if len(sources) != 1:
        raise SetupError("verify needs exactly one of --image F, --video F or --camera N")
    store = _store(args, create=False) if Path(_db_path(args)).exists() else None
    if store is None:
        raise SetupError(f"There is no twinlock database at {_db_path(args)}: enroll a profile first.")
    over = {}
    if args.k is not None:
        over["k"] = args.k
    if args.n is not None:
        over["n"] = args.n
    if args.threshold is not None:
        over["threshold"] = args.threshold
    admin = False
    if over or args.debug:
        # an override loosens (or changes) the decision rule, --debug shows distances: admin only
        admin = _admin(
            args,
            store,
            "verify "
            + " ".join(f"--{k}" if len(k) > 1 else f"-{k}" for k in [*over, *(["debug"] if args.debug else [])]),
            args.profile,
        )
    emb = _embedder(args, store)
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
    if args.image is not None:
        frames = []
        for p in args.image:
            try:
                frames.append(load_image(p))
            except ValueError as exc:
                raise SetupError(str(exc)) from None
        m = len(frames)
        pol = replace(pol, n=min(pol.n, m), k=min(pol.k, m), max_frames=max(pol.max_frames, m))
        src = ImageSource(frames, description=f"{m} image(s)")
    elif args.video is not None:
        src = make_source(str(args.video))
        if isinstance(src, ImageSource):
            raise SetupError(f"{args.video} is an image; use --image for images")
    else:
        src = make_source(int(args.camera))
    try:
        pol = pol.validate()
    except ValueError as exc:
        raise SetupError(f"bad policy: {exc}") from None
    overrides = {k: v for k, v in over.items()}
    if overrides:
        overrides["by"] = "admin passphrase" if admin else "cli (no passphrase set)"
    ver = Verifier(store, emb, args.profile, pol, overrides=overrides or None)
    show_distances = args.debug

    def on_signal(signum, frame):
        raise _Interrupted(signum)

    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            old[sig] = signal.signal(sig, on_signal)
    interrupted = None
    src.open()  # a source that cannot be opened is an error before any attempt
    try:
        try:
            st = ver.start_attempt()
            if not st.final:
                with src:
                    while True:
                        try:
                            f = src.read()
                        except Exception:
                            ver.finish(reason="the source failed")  # recorded, never left pending
                            raise
                        if f is None:
                            st = ver.finish(reason="end of input")
                            break
                        if args.image is not None:  # image files: the whole image is searched
                            st = ver.feed_preprocessed(prepare_image(f.image, ver.preprocess_config), t=f.t)
                        else:
                            st = ver.feed(f.image, t=f.t)
                        if args.verbose and not st.final:
                            extra = f" distance {_fmt(st.distance)}" if show_distances else ""
                            print(f"frame {f.index}: {st.state}{extra} {st.reason}", file=sys.stderr)
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
    if interrupted is not None:
        print(
            f"twinlock: interrupted ({signal.Signals(interrupted).name}); the attempt was recorded as "
            "abandoned and counts as a failure",
            file=sys.stderr,
        )
        return 128 + int(interrupted)
    code = EXIT_FOR_DECISION.get(st.state, EXIT_NO_SYMBOL)
    reveal = show_distances or st.state == "granted"
    if args.json:
        out = {
            "decision": st.state,
            "exit": code,
            "threshold": st.threshold,
            "matches": st.matches,
            "k": st.k,
            "n": st.n,
            "frames_used": st.frames_used,
            "frames_seen": st.frames_seen,
            "lockout_remaining_s": round(st.lockout_remaining_s, 1),
            "attempts_left": st.attempts_left,
            "reason": st.reason,
            "model": emb.contract.short_fingerprint,
            "provider": emb.provider,
        }
        if reveal:
            out["best_distance"] = st.best_distance
        print(json.dumps(out))
    else:
        label = {"no_symbol": "no symbol"}.get(st.state, st.state)
        extra = ""
        if reveal and st.best_distance is not None:
            extra = f"best {compare_text(st.best_distance, st.threshold)}, "
        left = ""
        if st.state in ("denied", "abandoned") and st.attempts_left is not None and st.lockout_remaining_s <= 0:
            left = f"; {st.attempts_left} attempt(s) left before a lockout"
        print(f"{label}: {st.reason} ({extra}{st.frames_used} frame(s) used{left})")
    return code


def _db_path(args):
    from desktop_app.core.paths import database_path

    return database_path(args.db)


# --------------------------------------------------------------------------- profiles
@_friendly
def cmd_profiles(args) -> int:
    store = _store(args)
    act = args.action
    if act == "list":
        profs = store.list_profiles()
        if not profs:
            print("no profiles yet: twinlock enroll NAME IMAGES...")
        for p in profs:
            lock = store.lockout(p.name)
            extra = f", locked {math.ceil(lock.remaining()):.0f} s" if lock.remaining() > 0 else ""
            thr = "model default" if p.threshold is None else f"{p.threshold:.3f}"
            print(f"{p.name}\t{p.n_references} references\tthreshold {thr}\tcreated {_ts(p.created)}{extra}")
        return EXIT_OK
    if not args.name:
        raise SetupError(f"profiles {act} needs a profile name")
    if act == "show":
        p = store.get_profile(args.name)
        lock = store.lockout(p.name)
        print(f"profile:     {p.name}")
        print(f"created:     {_ts(p.created)}")
        print(f"references:  {p.n_references} (model {', '.join(f[:12] for f in p.fingerprints) or '-'})")
        print(f"threshold:   {'model default' if p.threshold is None else f'{p.threshold:.4f}'}")
        print(f"policy:      {json.dumps(p.policy) if p.policy else 'app defaults'}")
        print(
            f"failures:    {lock.failures} consecutive denied"
            + (f"; locked for {lock.remaining():.0f} s" if lock.remaining() > 0 else "")
        )
        from .identify_cmds import profile_strength_lines  # issue 13: repeat the strength verdict

        profile_strength_lines(store, _embedder(args, store), p.name)
        return EXIT_OK
    if act == "remove":
        store.get_profile(args.name)
        _admin(args, store, "profiles remove", args.name)
        if not args.yes:
            if not sys.stdin.isatty():
                raise SetupError(f"removing '{args.name}' deletes its references: add --yes to confirm")
            if input(f"Remove profile '{args.name}' and its references? [y/N] ").strip().lower() not in ("y", "yes"):
                print("nothing removed")
                return EXIT_OK
        store.remove_profile(args.name)
        print(f"removed profile '{args.name}'")
        return EXIT_OK
    if act == "export":
        if not args.file:
            raise SetupError("profiles export NAME FILE: the file to write is missing")
        prof = store.get_profile(args.name)
        _admin(args, store, "profiles export", prof.name)
        rem = store.lockout(prof.name).remaining()
        if rem > 0:
            store.log_attempt(
                prof.name,
                "export_refused",
                detail={"reason": "the profile is locked out", "lockout_remaining_s": round(rem, 1)},
            )
            raise SetupError(
                f"profile '{prof.name}' is locked out for {math.ceil(rem)} s: it cannot be exported "
                "until the lockout ends (this was audited)."
            )
        dest = Path(args.file)
        if dest.is_dir():
            raise SetupError(f"{dest} is a folder: give the export a file name, e.g. {dest / (prof.name + '.json')}")
        if dest.exists() and not dest.is_file():
            raise SetupError(f"{dest} exists and is not a regular file; choose another file name")
        try:
            out = store.export_profile(prof.name, dest)
        except OSError as exc:
            raise SetupError(
                f"cannot write {dest} ({exc.strerror or exc}): choose a folder you can write to. Nothing was written."
            ) from None
        store.log_attempt(
            prof.name, "profile_exported", detail={"file": str(Path(out).resolve()), "references": prof.n_references}
        )
        print(f"exported '{prof.name}' to {out}")
        return EXIT_OK
    if act == "import":
        # "profiles import FILE": the positional NAME is the file here
        path = args.file or args.name
        _admin(args, store, "profiles import", args.as_name)
        p = store.import_profile(path, name=args.as_name, overwrite=args.overwrite)
        print(f"imported profile '{p.name}' ({p.n_references} references) from {path}")
        return EXIT_OK
    raise SetupError(f"unknown profiles action {act}")


# --------------------------------------------------------------------------- audit
@_friendly
def cmd_audit(args) -> int:
    store = _store(args)
    rows = store.audit(profile=args.profile, decision=args.decision, limit=args.limit)
    if args.json:
        print(json.dumps([{**r.__dict__} for r in rows], default=str))
        return EXIT_OK
    if not rows:
        print("the audit log is empty" + (" for this filter" if args.profile or args.decision else ""))
    for r in rows:
        print(
            f"{_ts(r.time)}  {r.profile or '-':<16} {r.decision:<16} best {_fmt(r.best_distance)} "
            f"thr {_fmt(r.threshold)} frames {r.frames_used:<3} model {r.fingerprint[:12] or '-':<12} "
            f"{r.provider or '-':<4} {r.detail.get('reason', '') if isinstance(r.detail, dict) else ''}"
        )
    return EXIT_OK


# --------------------------------------------------------------------------- calibrate
@_friendly
def cmd_calibrate(args) -> int:
    from desktop_app.core import calibration as cal

    store = _store(args)
    prof = store.get_profile(args.profile)
    if args.reset or args.apply:
        _admin(args, store, "calibrate --reset" if args.reset else "calibrate --apply", prof.name)
    if args.reset:
        cal.reset_threshold(store, prof.name)
        print(f"profile '{prof.name}' uses the model's calibrated default threshold again")
        return EXIT_OK
    emb = _embedder(args, store)
    if args.genuine or args.impostor:
        if not (args.genuine and args.impostor):
            raise SetupError("calibrate needs both --genuine and --impostor images")
        data = cal.from_image_files(store, emb, prof.name, args.genuine, args.impostor, args.k_nearest)
    elif args.labelled:
        data = cal.from_labelled_folder(
            emb,
            args.labelled,
            refs_per_profile=max(1, prof.n_references),
            k_nearest=args.k_nearest,
            progress=_bar("calibrating"),
        )
    elif args.mnist:
        data = cal.from_mnist(
            emb,
            args.mnist,
            limit=args.limit,
            refs_per_profile=max(1, prof.n_references),
            k_nearest=args.k_nearest,
            progress=_bar("calibrating"),
        )
    else:
        raise SetupError("calibrate needs --genuine/--impostor images, --labelled DIR or --mnist DIR")
    if not 0 < args.target_far < 1:
        raise SetupError("--target-far must be between 0 and 1, e.g. 1e-3")
    rec = cal.recommend(data, args.target_far)
    g, i = data.counts
    print(f"source: {data.source}")
    print(f"comparisons: {g} genuine, {i} impostor")
    print(f"EER {rec['eer']:.2%} at threshold {rec['eer_threshold']:.4f}")
    print(
        f"at target FAR {args.target_far:g}: threshold {rec['threshold']:.4f}, FAR {rec['far']:.4%} "
        f"({rec['false_accepts']}/{rec['impostor']}), FRR {rec['frr']:.2%} ({rec['false_rejects']}/{rec['genuine']})"
    )
    current = prof.threshold if prof.threshold is not None else emb.contract.default_threshold
    print(f"current threshold: {current:.4f} ({'profile' if prof.threshold is not None else 'model default'})")
    if not rec["supported"]:
        need = int(np.ceil(3 / args.target_far))
        print(
            f"warning: {i} impostor comparisons cannot support a FAR of {args.target_far:g} (need at least "
            f"{need}); the threshold is a guess at that rate.",
            file=sys.stderr,
        )
    if args.apply:
        risk = cal.threshold_risk(
            rec["threshold"], data.genuine, data.impostor, emb.contract.default_threshold, args.target_far
        )
        if risk.needs_confirmation:
            print(f"warning: {risk.message()}", file=sys.stderr)
            ok = args.yes
            if not ok and sys.stdin.isatty():
                ok = input("Apply it anyway? [y/N] ").strip().lower() in ("y", "yes")
            if not ok:
                raise SetupError(
                    "not applied: the threshold needs a confirmation (see the warning); add --yes to apply it anyway"
                )
        cal.apply_threshold(
            store,
            prof.name,
            rec["threshold"],
            data.source,
            detail={
                "target_far": args.target_far,
                "far": rec["far"],
                "frr": rec["frr"],
                "genuine": g,
                "impostor": i,
                "supported": rec["supported"],
                "confirmed": risk.needs_confirmation,
                **risk.as_detail(),
            },
        )
        print(f"applied threshold {rec['threshold']:.4f} to profile '{prof.name}'")
    else:
        print("(not applied: add --apply to use it)")
    return EXIT_OK


# --------------------------------------------------------------------------- doctor
@_friendly
def cmd_doctor(args) -> int:
    from desktop_app.core.camera import list_cameras
    from desktop_app.core.contract import ContractError
    from desktop_app.core.paths import database_path
    from desktop_app.core.settings import active_model_path, load_embedder
    from desktop_app.core.store import Store, StoreError

    if not 1 <= args.max_cameras <= 64:
        raise SetupError(f"--max-cameras must be between 1 and 64 (got {args.max_cameras})")
    problems = 0
    store = None
    try:
        dbp = database_path(args.db)
    except (StoreError, OSError, ValueError) as exc:
        raise SetupError(str(exc)) from None
    print(f"database:  {dbp}")
    try:
        store = Store(args.db, create=False) if (dbp.exists() or dbp.is_symlink()) else None
        if store is None:
            print("           (not created yet: it is created at the first enrollment)")
        else:
            integ = store.integrity_check()
            profs = store.list_profiles()
            print(
                f"           schema {store.schema_version}, integrity {integ}, {len(profs)} profile(s), "
                f"{sum(p.n_references for p in profs)} reference(s)"
            )
            if integ != "ok":
                problems += 1
            bad = store.check_references()
            for line in bad[:10]:
                print(f"  PROBLEM: {line}")
            if bad:
                problems += len(bad)
                print(f"           {len(bad)} damaged reference(s): re-enroll those profiles (or restore a backup)")
    except StoreError as exc:
        print(f"  PROBLEM: {exc}")
        problems += 1
        store = None
    mp = active_model_path(store, args.model)
    print(f"model:     {mp}")
    emb = None
    try:
        emb = load_embedder(store, args.model, args.provider, reembed=False)
        c = emb.contract
        thr = ", ".join(
            f"{k} {v.get('threshold', float('nan')):.4f}" for k, v in c.thresholds.items() if isinstance(v, dict)
        )
        print(
            f"           contract v{c.version}, embedding {c.embedding_dim}-d {c.metric}"
            f"{' normalised' if c.normalized else ''}, fingerprint {c.short_fingerprint}"
        )
        print(f"           thresholds: {thr}; default '{c.default_threshold_key}' = {c.default_threshold:.4f}")
        print(f"provider:  {emb.provider}" + (f" ({emb.fallback_reason})" if emb.fallback_reason else ""))
    except ContractError as exc:
        print(f"  PROBLEM: {exc}")
        problems += 1
    except StoreError as exc:
        print(f"  PROBLEM: {exc}")
        problems += 1
    if store is not None and emb is not None:
        stale = store.stale_references(emb.fingerprint)
        if stale and args.reembed:
            try:
                _admin(args, store, "doctor --reembed")
                n = store.reembed_all(emb, progress=_bar("re-embedding"))
            except StoreError as exc:
                raise SetupError(str(exc)) from None
            store.log_attempt(
                None,
                "reembedded",
                fingerprint=emb.fingerprint,
                provider=emb.provider,
                detail={"references": n, "stale": stale},
            )
            print(f"           re-embedded {n} reference(s) for this model")
        elif stale:
            print(
                f"  NOTE: {stale} reference(s) were embedded by another model; verify refuses those "
                "profiles until they are re-embedded for this one (an admin action: doctor --reembed, "
                "or choose the model in the app)"
            )
    t0 = time.monotonic()
    cams = list_cameras(args.max_cameras)
    took = time.monotonic() - t0
    if cams:
        for c in cams:
            print(f"camera:    {c.description}")
    else:
        print(
            f"cameras:   none found (probed indices 0..{args.max_cameras - 1} in {took:.1f} s); "
            "use --video or images instead"
        )
    print("doctor: " + ("all good" if not problems else f"{problems} problem(s) found"))
    return EXIT_OK if not problems else EXIT_SETUP


# --------------------------------------------------------------------------- parser
def register(sub) -> None:
    p = sub.add_parser("enroll", help="enroll reference images of a symbol into a profile")
    p.add_argument("profile", help="profile name (created if new, else references are added)")
    p.add_argument("images", nargs="*", help="image files (photos of the symbol, or 28x28 images)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--camera", type=_camera_index, metavar="N", help="capture from webcam N")
    g.add_argument("--video", metavar="FILE", help="take frames from a video file")
    p.add_argument("--count", type=int, default=5, help="references to capture (camera/video; default 5)")
    p.add_argument("--interval", type=float, default=0.5, help="seconds between camera captures")
    p.add_argument("--timeout", type=float, default=60.0, help="give up capturing after this many seconds")
    _common(p)
    p.set_defaults(func=cmd_enroll)

    p = sub.add_parser(
        "verify",
        help="verify a symbol against a profile (exit 0 granted, 1 denied, 2 no symbol/timeout, 3 locked out, 4 error)",
    )
    p.add_argument("profile", help="the enrolled profile to verify against")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--image", action="append", metavar="FILE", help="an image (repeat for several)")
    g.add_argument("--video", metavar="FILE", help="frames of a video file (time limit in video time)")
    g.add_argument("--camera", type=_camera_index, metavar="N", help="webcam N")
    p.add_argument("-k", type=int, default=None, help="matching frames needed (default: policy, 2)")
    p.add_argument("-n", type=int, default=None, help="of the last n acquired frames (default: policy, 3)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds (default: policy, 10)")
    p.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="override the profile's threshold for this run (admin: needs the passphrase when "
        "one is set; audited as an override; a grant under it never resets failures)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="print every frame's state on stderr")
    p.add_argument(
        "--debug",
        action="store_true",
        help="show distances (per frame with -v, and of a denied attempt); needs the admin "
        "passphrase when one is set. Without it a denial does not say how close it came.",
    )
    _common(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("profiles", help="list, show, remove, export or import profiles")
    p.add_argument("action", choices=("list", "show", "remove", "export", "import"))
    p.add_argument("name", nargs="?", help="profile name (for import: the file)")
    p.add_argument("file", nargs="?", help="export/import file")
    p.add_argument("--name", dest="as_name", help="import under this name")
    p.add_argument("--overwrite", action="store_true", help="import over an existing profile")
    p.add_argument("--yes", action="store_true", help="remove without asking")
    _common(p)
    p.set_defaults(func=cmd_profiles)

    p = sub.add_parser("audit", help="show the audit log")
    p.add_argument("--profile")
    p.add_argument("--decision", action="append", help="granted, denied, no_symbol, locked, ... (repeatable)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    _common(p)
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("calibrate", help="choose a profile's threshold from genuine and impostor samples")
    p.add_argument("profile")
    p.add_argument("--genuine", nargs="+", metavar="IMG", help="images of the enrolled symbol")
    p.add_argument("--impostor", nargs="+", metavar="IMG", help="images of other symbols")
    p.add_argument("--labelled", metavar="DIR", help="labelled folder DIR/<label>/*.png")
    p.add_argument("--mnist", metavar="DIR", help="MNIST folder (IDX files; test split)")
    p.add_argument("--limit", type=int, default=2000, help="MNIST images to use (default 2000)")
    p.add_argument("--target-far", type=float, default=1e-3)
    p.add_argument("--k-nearest", type=int, default=1)
    p.add_argument("--apply", action="store_true", help="persist the recommended threshold (admin)")
    p.add_argument(
        "--yes",
        action="store_true",
        help="apply even a threshold looser than the model default or one the impostor count "
        "cannot support (otherwise that needs a confirmation)",
    )
    p.add_argument("--reset", action="store_true", help="go back to the model's default threshold")
    _common(p)
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("doctor", help="check model, provider, cameras and database")
    p.add_argument("--reembed", action="store_true", help="re-embed references made by another model")
    p.add_argument("--max-cameras", type=int, default=6, help="webcam indices to probe (1..64, default 6)")
    _common(p)
    p.set_defaults(func=cmd_doctor)
