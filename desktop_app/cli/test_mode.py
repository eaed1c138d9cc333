"""``twinlock test PROFILE (--image F... | --video F | --camera N) [--frames N] [--seconds S]
[--save-dir DIR] [--json]``: the admin's test mode (as ``howdy test``): every frame's distance
to the profile against its threshold, and what the model sees (--save-dir writes each 28×28
model image). Not an unlock attempt: nothing is decided or counted. An admin action: refused
while the profile is locked out (exit 3), the passphrase when one is set, audited."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from desktop_app.core.camera import ImageSource, make_source
from desktop_app.core.preprocess import prepare_image, preprocess
from desktop_app.core.test_mode import ProfileProbe

from .common import EXIT_OK, SetupError, add_common, camera_index, friendly, embedder_from_args, open_existing_store


def register(sub) -> None:
    p = sub.add_parser(
        "test",
        help="admin test mode: each frame's distance to a profile against its threshold (not an unlock)",
    )
    p.add_argument("profile")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--image", action="append", metavar="FILE", help="an image (repeat for several)")
    g.add_argument("--video", metavar="FILE", help="frames of a video file")
    g.add_argument("--camera", type=camera_index, metavar="N", help="webcam N")
    p.add_argument("--frames", type=int, default=30, help="frames to measure at most (default 30)")
    p.add_argument("--seconds", type=float, default=15.0, help="stop after this long (default 15 s)")
    p.add_argument("--save-dir", metavar="DIR", help="write each frame's 28x28 model image (what the model sees)")
    p.add_argument("--json", action="store_true", help="one JSON object per frame")
    add_common(p)
    p.set_defaults(func=cmd_test)


@friendly
def cmd_test(args) -> int:
    import time

    from .admin_gate import inspect_profile

    if sum(x is not None for x in (args.image, args.video, args.camera)) != 1:
        raise SetupError("test needs exactly one of --image F, --video F or --camera N")
    if not (1 <= args.frames <= 10000) or not (0 < args.seconds <= 3600):
        raise SetupError("--frames must be 1..10000 and --seconds between 0 and 3600")
    store = open_existing_store(args)
    if store is None:
        raise SetupError("There is no twinlock database here: enroll a profile first.")
    name = store.get_profile(args.profile).name
    refused = inspect_profile(args, store, name, "test mode")
    if refused is not None:
        return refused
    emb = embedder_from_args(args, store)
    try:
        probe = ProfileProbe(store, emb, name)
    except ValueError as exc:
        raise SetupError(str(exc)) from None
    save = Path(args.save_dir) if args.save_dir else None
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
    if args.image is not None:
        src = ImageSource(list(args.image), description=f"{len(args.image)} image(s)")
    elif args.video is not None:
        src = make_source(str(args.video))
    else:
        src = make_source(int(args.camera))
    images = args.image is not None
    print(f"test mode for '{name}': threshold {probe.threshold:.4f} (not an unlock attempt)", file=sys.stderr)
    seen = matched = 0
    t0 = time.monotonic()
    try:
        with src:
            while seen < args.frames and time.monotonic() - t0 < args.seconds:
                f = src.read()
                if f is None:
                    break
                res = prepare_image(f.image) if images else preprocess(f.image)
                r = probe.measure(res)
                seen += 1
                matched += r.match
                if save is not None and r.image is not None:
                    import cv2

                    cv2.imwrite(str(save / f"frame_{f.index:04d}.png"), r.image)
                if args.json:
                    rec = {"frame": f.index, "found": r.found, "distance": r.distance, "threshold": r.threshold}
                    rec.update(match=r.match, reason=r.reason)
                    print(json.dumps(rec))
                else:
                    print(f"frame {f.index}: {r.text()}")
    except KeyboardInterrupt:
        pass
    print(f"{seen} frame(s) measured, {matched} within the threshold", file=sys.stderr)
    return EXIT_OK
