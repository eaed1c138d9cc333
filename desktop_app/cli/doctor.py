"""``twinlock doctor [--reembed] [--max-cameras N]``: the database, the model and its
contract, the provider and the cameras, each checked and reported; exit 4 when a problem was
found. ``--reembed`` (admin) re-embeds references made by another model."""

from __future__ import annotations

import time

from desktop_app.core.camera import list_cameras
from desktop_app.core.contract import ContractError
from desktop_app.core.decision import AuditEvent
from desktop_app.core.paths import database_path
from desktop_app.core.settings import active_model_path, load_embedder
from desktop_app.core.store import Store, StoreError

from .common import (
    EXIT_OK,
    EXIT_SETUP,
    SetupError,
    add_common,
    friendly,
    progress_bar,
    require_admin,
)


def register(sub) -> None:
    p = sub.add_parser("doctor", help="check model, provider, cameras and database")
    p.add_argument("--reembed", action="store_true", help="re-embed references made by another model")
    p.add_argument("--max-cameras", type=int, default=6, help="webcam indices to probe (1..64, default 6)")
    add_common(p)
    p.set_defaults(func=cmd_doctor)


def _check_database(args):
    """(store or None, problems found)."""
    problems = 0
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
    return store, problems


def _check_model(args, store):
    """(embedder or None, problems found)."""
    mp = active_model_path(store, args.model)
    print(f"model:     {mp}")
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
    except (ContractError, StoreError) as exc:
        print(f"  PROBLEM: {exc}")
        return None, 1
    return emb, 0


def _stale_references(args, store, emb) -> None:
    stale = store.stale_references(emb.fingerprint)
    if stale and args.reembed:
        try:
            require_admin(args, store, "doctor --reembed")
            n = store.reembed_all(emb, progress=progress_bar("re-embedding"))
        except StoreError as exc:
            raise SetupError(str(exc)) from None
        store.log_attempt(
            None,
            AuditEvent.REEMBEDDED,
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


def _cameras(args) -> None:
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


@friendly
def cmd_doctor(args) -> int:
    if not 1 <= args.max_cameras <= 64:
        raise SetupError(f"--max-cameras must be between 1 and 64 (got {args.max_cameras})")
    store, problems = _check_database(args)
    emb, model_problems = _check_model(args, store)
    problems += model_problems
    if store is not None and emb is not None:
        _stale_references(args, store, emb)
    _cameras(args)
    print("doctor: " + ("all good" if not problems else f"{problems} problem(s) found"))
    return EXIT_OK if not problems else EXIT_SETUP
