"""The decision policy: frames -> granted / denied / no symbol / locked. Every decision is made here.

A frame's distance to a profile is its euclidean distance to the nearest enrolled
reference (or the mean of the ``k_nearest`` nearest).

**An attempt is one presentation of one symbol.** It is decided on its first ``n``
acquired frames (frames without a symbol -- failures to acquire -- count as neither): it is
granted as soon as ``k`` of them lie within the threshold, and denied as soon as ``k`` can
no longer be reached. The window never slides, so showing one symbol after another inside
one attempt does not get more tries. A change of symbol inside an attempt -- two
consecutive acquired frames of which one matches and the other does not, whose embeddings
lie farther apart than ``change_factor`` x the threshold -- ends the attempt as denied (a
failure); frames of one drawing lie much closer together than that. No decision
within ``time_limit_s`` (or ``max_frames`` frames seen) with a frame acquired is a denial;
an attempt that acquired nothing is "no symbol". Every attempt is written to the audit
log. Consecutive denials lead to a lockout with a growing delay, kept in the store so
that a restart does not reset it.

**A passcode** (a profile of 2-4 symbols, :mod:`.passcode`) is shown as one card: each frame
is read as a card (``preprocess_card``: a card with another number of symbols is a frame
without a symbol), and it matches only when every position lies within its own threshold of
its own references, in order. Its distance is the worst position's distance over that
position's threshold (the policy's threshold is then 1.0); the rule above is unchanged.
Nothing says which position failed: not the state, not the reason, not the audit row.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, replace

import numpy as np

from .decision import FAILURES, AuditEvent, Decision
from .metrics import pairwise_distances
from .policy import Policy, app_policy, check_profile_values
from .passcode import frame_score, position_jump, position_thresholds
from .preprocess import (
    REASONS,
    PreprocessConfig,
    PreprocessResult,
    prepare_card_image,
    prepare_image,
    preprocess,
    preprocess_card,
)
from .settings import effective_threshold
from .store import (
    LockoutState,
    Store,
    StoreError,
    boot_clock,
    boot_id,
    process_start,
)

_PSTART = process_start()
# A pending attempt this old, or of an earlier boot, is relabelled "abandoned" in the audit
# log. Only the label: its try was counted when it started (no process is asked if it lives).
STALE_PENDING_S = 6 * 3600.0


def resolve_policy(store: Store, profile: str, embedder) -> Policy:
    """Policy defaults <- app setting "policy" (:func:`app_policy`) <- the profile's policy; the threshold is
    :func:`~desktop_app.core.settings.effective_threshold` (for a passcode 1.0: its frames are
    scored relative to the per-position thresholds, :func:`.passcode.position_thresholds`).
    Unusable stored values raise StoreError (what is wrong and what to do), never a traceback."""
    prof = store.get_profile(profile)
    try:
        check_profile_values(None, prof.policy or {})  # read back: checked like an import
        pol = app_policy(store).updated(prof.policy or {})
        if prof.symbols > 1:
            pol = replace(pol, threshold=1.0)
        else:
            pol = replace(pol, threshold=effective_threshold(store, prof, embedder.contract).value)
        pol = pol.validate()
    except (ValueError, TypeError, AttributeError) as exc:
        raise StoreError(
            f"Profile '{prof.name}' (or the app's policy setting) holds an unusable value: "
            f"{exc}. Fix it in Settings, or re-import/re-enroll the profile."
        ) from None
    if prof.symbols == 1 and embedder.contract.normalized and pol.threshold >= 2.0:
        raise StoreError(
            f"Profile '{prof.name}' has threshold {pol.threshold:g}: with normalised embeddings "
            "no two symbols are farther apart than 2, so it would accept anything. Calibrate "
            "it again ('twinlock calibrate') or reset it ('twinlock calibrate --reset')."
        )
    return pol


def _digits_to_differ(a: float, b: float, digits: int = 3) -> int:
    while digits < 9 and format(a, f".{digits}f") == format(b, f".{digits}f"):
        digits += 1
    return digits


def compare_text(distance: float | None, threshold: float, digits: int = 3) -> str:
    """ "1.506 > threshold 1.508"-style text that is true after rounding: as many decimals
    as it takes for two different numbers not to print the same ("1.5081 > 1.5080")."""
    if distance is None:
        return f"threshold {threshold:.{digits}f}"
    t = float(threshold)
    d = float(distance)
    nd = _digits_to_differ(d, t, digits) if d != t else digits
    op = "\u2264" if d <= t else ">"
    return f"distance {d:.{nd}f} {op} threshold {t:.{nd}f}"


def frame_distances(embeddings, references, k_nearest: int = 1) -> np.ndarray:
    """Distance of each embedding [N,D] to the profile [M,D]: nearest reference, or the mean
    of the ``k_nearest`` nearest."""
    e = np.atleast_2d(np.asarray(embeddings, np.float32))
    r = np.atleast_2d(np.asarray(references, np.float32))
    if r.shape[0] == 0:
        raise ValueError("the profile has no references")
    d = pairwise_distances(e, r)
    k = min(max(1, int(k_nearest)), r.shape[0])
    if k == 1:
        return d.min(axis=1)
    return np.sort(d, axis=1)[:, :k].mean(axis=1)


@dataclass
class AttemptState:
    state: Decision
    final: bool
    distance: float | None = None
    best_distance: float | None = None
    threshold: float = 0.0
    matches: int = 0
    frames_used: int = 0
    frames_seen: int = 0
    k: int = 0
    n: int = 0
    elapsed_s: float = 0.0
    time_left_s: float = 0.0
    lockout_remaining_s: float = 0.0
    reason: str = ""
    preprocess: PreprocessResult | None = None
    audit_id: int | None = None
    attempts_left: int | None = None  # denied attempts left before a lockout (None: never locks)
    symbols: int = 1  # how many symbols the profile's card holds (1: one symbol)


class Verifier:
    """One profile's verification with one embedder. Not thread-safe: one caller feeds it."""

    def __init__(
        self,
        store: Store,
        embedder,
        profile: str,
        policy: Policy | None = None,
        preprocess_config: PreprocessConfig | None = None,
        clock=time.time,
        boot_clock=boot_clock,
        overrides: dict | None = None,
    ):
        """``overrides``: what an admin changed for this run only (e.g. {"threshold": 0.9});
        audited with every decision, and a grant under an override never resets failures."""
        self.store = store
        self.embedder = embedder
        prof = store.get_profile(profile)
        self.profile = prof.name
        self.symbols = prof.symbols
        # a passcode: one threshold per position (NoPasscodePoint when the model has none); an
        # admin's run-only threshold (``overrides``) applies to every position
        self.position_thresholds = None
        if self.symbols > 1:
            over_t = (overrides or {}).get("threshold")
            self.position_thresholds = (
                (float(over_t),) * self.symbols
                if over_t is not None
                else position_thresholds(prof, embedder.contract).values
            )
            if policy is not None and policy.threshold is not None:
                policy = replace(policy, threshold=1.0)  # its frames are scored relative to its positions
        if policy is None:
            policy = resolve_policy(store, self.profile, embedder)
        elif policy.threshold is None:
            policy = replace(policy, threshold=resolve_policy(store, self.profile, embedder).threshold)
        self.policy = policy.validate()
        self.preprocess_config = preprocess_config or PreprocessConfig()
        self.clock = clock
        self.boot_clock = boot_clock
        self.overrides = dict(overrides or {})
        self._pending_id = None
        self._charge: tuple[LockoutState, LockoutState] | None = None  # (before, after) this attempt's count
        self.references = self._read_references()
        self._check_references()
        self._active = False
        self._started = False
        self._attempts_left_now = None
        self._reset_attempt()
        self.state = self._state(Decision.WAITING, False, reason="show your symbol to the camera")

    # ------------------------------------------------------------------ helpers
    def _reset_attempt(self) -> None:
        self._t0 = None
        self._window: list = []  # match / no match of the acquired frames, in order
        self._frames_used = 0
        self._frames_seen = 0
        self._best = None
        self._best_image = None
        self._elapsed = 0.0
        self._last_embedding = None
        self._changed = False
        # A denial that is certain before the n-th frame is held until n frames are acquired (or
        # the attempt ends): its timing must not tell how many frames matched or that the symbol
        # changed. (reason, distance) of the held denial, or None.
        self._held_denial: tuple[str, float] | None = None

    def _matches(self) -> int:
        return int(sum(self._window))

    def _attempts_left(self, failures: int | None = None) -> int | None:
        if failures is None:
            failures = self.store.lockout(self.profile).failures
        return self.policy.attempts_left(failures)

    def _state(self, state, final, distance=None, reason="", pre=None, audit_id=None) -> AttemptState:
        p = self.policy
        return AttemptState(
            state=state,
            final=final,
            distance=distance,
            best_distance=self._best,
            threshold=float(p.threshold),
            matches=self._matches(),
            frames_used=self._frames_used,
            frames_seen=self._frames_seen,
            k=p.k,
            n=p.n,
            elapsed_s=self._elapsed,
            time_left_s=max(0.0, p.time_limit_s - self._elapsed),
            lockout_remaining_s=self.lockout_remaining() if state in (Decision.LOCKED, Decision.DENIED) else 0.0,
            reason=reason,
            preprocess=pre,
            audit_id=audit_id,
            attempts_left=self._attempts_left_now,
            symbols=self.symbols,
        )

    def _now(self, t):
        now = float(t) if t is not None else self.clock()
        if self._t0 is None:
            self._t0 = now
        self._elapsed = max(0.0, now - self._t0)
        return now

    def lockout_remaining(self) -> float:
        return self.store.lockout(self.profile).remaining(self.clock(), self.boot_clock())

    def _new_lock(self, old: LockoutState, failures: int, now: float) -> tuple[LockoutState, float]:
        delay = self.policy.lockout_delay(failures)
        if delay <= 0:
            return LockoutState(failures, old.locked_until, old.lock_s, old.boot_id, old.boot_at), 0.0
        return LockoutState(failures, now + delay, delay, boot_id(), self.boot_clock()), delay

    def _common_detail(self) -> dict:
        d = {"pid": os.getpid(), "pstart": _PSTART, "host": socket.gethostname(), "boot": boot_id()}
        if self.overrides:
            d["override"] = self.overrides
        if self.symbols > 1:
            d["symbols"] = self.symbols  # never which position matched or failed
        return d

    def _settle(self, tx, now: float) -> LockoutState:
        """Inside each of the attempt's transactions: relabel stale pending attempts (their try
        was counted when they started) and repair a lock end further out than the policy
        allows (tampering)."""
        p = self.policy
        lock = tx.lockout(self.profile)
        for rid, t0, det in tx.pending(self.profile):
            if rid == self._pending_id:
                continue
            if det.get("boot", "") == boot_id() and now - t0 < STALE_PENDING_S:
                continue  # it may still finish (``now`` may even precede its start); it has cost its try
            if not det.get("charged"):  # written by a twinlock that counted at the end: count it now
                lock, _ = self._new_lock(lock, lock.failures + 1, now)
                tx.set_lockout(self.profile, lock)
            det = {
                **det,
                "reason": "the attempt never finished (its process ended, was stopped or killed); "
                "its try was counted when it started",
                "failures": lock.failures,
            }
            tx.finish_row(rid, Decision.ABANDONED, detail=det)
        wall = lock.locked_until - now
        if wall > p.lockout_max_s + 1.0 or lock.lock_s > p.lockout_max_s + 1.0:
            fixed = LockoutState(lock.failures, now + p.lockout_max_s, p.lockout_max_s, boot_id(), self.boot_clock())
            tx.log(
                self.profile,
                AuditEvent.LOCKOUT_TAMPERED,
                detail={
                    "reason": f"the lock ended {wall:.0f} s from now, beyond the longest lockout "
                    f"({p.lockout_max_s:g} s): a clock or database was tampered with; the lock "
                    "was set to the longest lockout",
                    "locked_until": lock.locked_until,
                    "lock_s": lock.lock_s,
                    "now": now,
                },
            )
            tx.set_lockout(self.profile, fixed)
            lock = fixed
        return lock

    def _locked_state(self, audit_id, rem: float) -> AttemptState:
        self._active = False
        self._attempts_left_now = 0 if self._attempts_left() is not None else None
        st = self._state(
            Decision.LOCKED, True, reason=f"locked out: try again in {int(np.ceil(rem))} s", audit_id=audit_id
        )
        st.lockout_remaining_s = rem
        self.state = st
        return st

    def _tally(self) -> str:
        """What the acquired frames showed, in words: "1 of the 3 frames matched; 2 are needed"."""
        p, m, used = self.policy, self._matches(), len(self._window)
        if used == p.n:
            if used == 1:
                return f"the frame {'matched' if m else 'did not match'}; {p.k} {'is' if p.k == 1 else 'are'} needed"
            return f"{m} of the {used} frames matched; {p.k} are needed"
        return (
            f"{m} of {used} frame{'s' if used != 1 else ''} matched; {p.k} of {p.n} "
            f"{'is' if p.k == 1 else 'are'} needed"
        )

    # ------------------------------------------------------------------ attempt
    def start_attempt(self, t: float | None = None) -> AttemptState:
        """Begin a new attempt: "waiting", or "locked" (audited) while the profile is locked.

        One transaction: the lock is checked, and the attempt is written as "pending" AND
        counted as a failure (with the lock that failure brings). Only the attempt's own
        final commit gives the try back -- a grant, or an end that compared nothing (no
        symbol, cancelled) -- so an attempt that is stopped, killed, or run under another
        host name costs its try without anyone asking whether its process still lives."""
        if self._active:  # an attempt left open is ended first, never dropped
            self.finish(reason="cancelled")
        self._reset_attempt()
        self._started = True
        now = self.clock()
        p = self.policy
        with self.store.transaction() as tx:
            lock = self._settle(tx, now)
            rem = lock.remaining(now, self.boot_clock())
            self._attempts_left_now = p.attempts_left(lock.failures)
            if rem > 0:
                audit_id = tx.log(
                    self.profile,
                    Decision.LOCKED,
                    threshold=p.threshold,
                    fingerprint=self.embedder.fingerprint,
                    provider=getattr(self.embedder, "provider", ""),
                    detail={"lockout_remaining_s": round(rem, 1), **self._common_detail()},
                )
                self._pending_id = None
            else:
                charged, _ = self._new_lock(lock, lock.failures + 1, now)
                tx.set_lockout(self.profile, charged)
                self._charge = (lock, charged)
                self._pending_id = tx.log(
                    self.profile,
                    Decision.PENDING,
                    threshold=p.threshold,
                    fingerprint=self.embedder.fingerprint,
                    provider=getattr(self.embedder, "provider", ""),
                    detail={"k": p.k, "n": p.n, "charged": True, "failures": charged.failures, **self._common_detail()},
                )
        if rem > 0:
            return self._locked_state(audit_id, rem)
        self._active = True
        if t is not None:
            self._t0 = float(t)
        self.state = self._state(Decision.WAITING, False, reason="show your symbol to the camera")
        return self.state

    def feed(self, frame, t: float | None = None) -> AttemptState:
        """One camera frame: preprocess (a passcode: read the card), embed, decide."""
        if not self._ready():
            return self.state
        return self.feed_preprocessed(self.read_frame(frame), t)

    def read_frame(self, frame) -> PreprocessResult:
        """The frame as this profile is read: one symbol, or a card of its symbols."""
        if self.symbols > 1:
            return preprocess_card(frame, self.symbols, self.preprocess_config)
        return preprocess(frame, self.preprocess_config)

    def read_image(self, image) -> PreprocessResult:
        """An image file (``verify --image``) as this profile is read: searched whole."""
        if self.symbols > 1:
            return prepare_card_image(image, self.symbols, self.preprocess_config)
        return prepare_image(image, self.preprocess_config)

    def _ready(self) -> bool:
        if not self._started:
            self.start_attempt()
        if self.state.state == Decision.LOCKED:
            rem = self.lockout_remaining()
            self.state.lockout_remaining_s = rem
            self.state.reason = (
                f"locked out: try again in {int(np.ceil(rem))} s"
                if rem > 0
                else "the lockout is over: start a new attempt"
            )
            return False
        return self._active

    def feed_preprocessed(
        self, result: PreprocessResult, t: float | None = None, embedding: np.ndarray | None = None
    ) -> AttemptState:
        """A frame that was already preprocessed (optionally already embedded)."""
        if not self._ready():
            return self.state
        self._now(t)
        p = self.policy
        if self._elapsed > p.time_limit_s:
            return self._timeout(result)
        self._frames_seen += 1
        if result.ok and self.symbols > 1 and result.symbols != self.symbols:
            # not this passcode's card (one symbol, or another count): no symbol, nothing judged
            result = replace(result, ok=False, code="card", reason=REASONS["card"])
        if not result.ok:
            if self._frames_seen >= p.max_frames:
                return self._timeout(result, frames=True)
            self.state = self._state(Decision.NO_SYMBOL, False, reason=result.reason, pre=result)
            return self.state
        if self._held_denial is not None:  # decided: only count the frame, judge nothing more
            self._frames_used += 1
            return self._after_held_denial(result)
        embedding, d = self._distance(result, embedding)
        match = d <= p.threshold
        if self._last_embedding is not None and match != self._window[-1]:
            if self.symbols > 1:
                jump = position_jump(embedding, self._last_embedding, self.position_thresholds)
            else:
                jump = float(np.linalg.norm(embedding - self._last_embedding))
            if jump > p.change_factor * p.threshold:
                self._changed = True
                self._frames_used += 1
                self._window.append(d <= p.threshold)
                self._best = d if self._best is None else min(self._best, d)
                self._held_denial = (
                    "the symbol changed during the attempt (one attempt is one symbol): denied",
                    d,
                )
                return self._after_held_denial(result)
        self._last_embedding = embedding
        self._frames_used += 1
        self._window.append(d <= p.threshold)
        if self._best is None or d < self._best:
            self._best = d
            self._best_image = result.image if self.symbols == 1 else np.hstack(list(result.images))
        m, used = self._matches(), len(self._window)
        if m >= p.k:
            return self._finish(
                Decision.GRANTED,
                f"{m} of the first {used} frames matched ({p.k} of {p.n} needed)"
                if used > 1
                else f"1 of 1 frame matched ({p.k} of {p.n} needed)",
                distance=d,
                pre=result,
            )
        if m + (p.n - used) < p.k:
            self._held_denial = (self._tally(), d)
            return self._after_held_denial(result)
        if self._frames_seen >= p.max_frames:
            return self._timeout(result, frames=True)
        self.state = self._state(
            Decision.CHECKING,
            False,
            distance=d,
            pre=result,
            reason=f"{m} of {p.k} matching frames ({used} of {p.n} frames)",
        )
        return self.state

    def _distance(self, result, embedding=None) -> tuple[np.ndarray, float]:
        """(the frame's embedding(s), its distance). One symbol: the distance to the profile.
        A passcode: embeddings [L, D] of its positions and the worst position's distance over
        its own threshold (:func:`.passcode.frame_score`)."""
        p = self.policy
        if self.symbols == 1:
            if embedding is None:
                embedding = self.embedder.embed_images(result.image[None])[0]
            embedding = np.asarray(embedding, np.float32).reshape(-1)
            return embedding, float(frame_distances(embedding, self.references, p.k_nearest)[0])
        if embedding is None:
            embedding = self.embedder.embed_images(result.images)
        embedding = np.asarray(embedding, np.float32).reshape(self.symbols, -1)
        per = [float(frame_distances(embedding[i], r, p.k_nearest)[0]) for i, r in enumerate(self.references)]
        return embedding, frame_score(per, self.position_thresholds)

    def _after_held_denial(self, result) -> AttemptState:
        """A certain denial is announced once n frames were acquired (or the frame cap is
        reached); until then the attempt looks exactly like one still checking."""
        p = self.policy
        reason, d = self._held_denial
        if self._frames_used >= p.n or self._frames_seen >= p.max_frames:
            return self._finish(Decision.DENIED, reason, distance=d, pre=result)
        self.state = self._state(Decision.CHECKING, False, pre=result, reason="checking")
        return self.state

    def tick(self, t: float | None = None) -> AttemptState:
        """No new frame: apply the time limit (and refresh a lockout countdown)."""
        if not self._ready():
            return self.state
        self._now(t)
        if self._elapsed > self.policy.time_limit_s:
            return self._timeout(None)
        self.state.elapsed_s = self._elapsed
        self.state.time_left_s = max(0.0, self.policy.time_limit_s - self._elapsed)
        return self.state

    def finish(self, t: float | None = None, reason: str = "end of input") -> AttemptState:
        """End the attempt now (end of a video; "cancelled" from a Cancel button; "interrupted").

        An attempt ended after a frame was acquired counts as a failure whatever the reason
        (so interrupting or cancelling after a wrong frame does not hide a try); one that
        acquired nothing is "no symbol" (or "cancelled") and counts as neither."""
        if not self._ready():
            return self.state
        self._now(t)
        if reason == "cancelled" and not self._frames_used:
            return self._finish(Decision.CANCELLED, "cancelled")
        if self._held_denial is not None:
            return self._finish(Decision.DENIED, f"{reason}: {self._held_denial[0]}", distance=self._held_denial[1])
        if self._frames_used:
            return self._finish(Decision.DENIED, f"{reason}: {self._tally()}")
        return self._finish(Decision.NO_SYMBOL, f"{reason}: no symbol found")

    def _timeout(self, pre, frames: bool = False) -> AttemptState:
        p = self.policy
        why = f"{p.max_frames} frames seen" if frames else f"time limit of {p.time_limit_s:g} s reached"
        if self._held_denial is not None:
            return self._finish(
                Decision.DENIED, f"{why}: {self._held_denial[0]}", distance=self._held_denial[1], pre=pre
            )
        if self._frames_used:
            return self._finish(Decision.DENIED, f"{why}: {self._tally()}", pre=pre)
        return self._finish(Decision.NO_SYMBOL, f"{why}: no symbol found", pre=pre)

    def _finish(self, decision: Decision, reason: str, distance=None, pre=None) -> AttemptState:
        p = self.policy
        now = self.clock()
        snapshot = self._best_image if (decision == Decision.DENIED and p.save_denied_snapshots) else None
        detail = {
            "reason": reason,
            "k": p.k,
            "n": p.n,
            "matches": self._matches(),
            "frames_seen": self._frames_seen,
            "elapsed_s": round(self._elapsed, 3),
            "k_nearest": p.k_nearest,
        }
        if self._changed:
            detail["symbol_changed"] = True

        detail.update(self._common_detail())
        boot_now = self.boot_clock()
        recorded = None
        with self.store.transaction() as tx:
            if self._pending_id is not None:
                recorded = tx.row_decision(self._pending_id)
            if recorded in (None, Decision.PENDING):
                recorded = None
                decision, reason, lock, delay, audit_id = self._settle_outcome(
                    tx, now, boot_now, decision, reason, detail, snapshot
                )
        if recorded is not None:
            # already recorded by this attempt's own final commit (a signal came right after
            # it, before this object knew): nothing more is written, nothing counted again
            return self._already_recorded(recorded)
        self._pending_id = None
        self._charge = None
        if delay > 0:
            reason += f"; locked out for {delay:g} s after {lock.failures} denied attempts"
        self._active = False
        left = p.attempts_left(lock.failures)
        rem = lock.remaining(now, boot_now)
        self._attempts_left_now = 0 if (left is not None and rem > 0) else left
        self.state = self._state(decision, True, distance=distance, reason=reason, pre=pre, audit_id=audit_id)
        if decision in (Decision.DENIED, Decision.LOCKED, Decision.ABANDONED):
            self.state.lockout_remaining_s = rem
        return self.state

    def _settle_outcome(self, tx, now, boot_now, decision, reason, detail, snapshot):
        """Inside the final transaction: the outcome and the lock it leaves. The try was
        counted when the attempt started (``self._charge``: the lock before and after that
        count); it is given back only here, by a grant or by an end that compared nothing."""
        p = self.policy
        lock = self._settle(tx, now)
        before, charged = self._charge if self._charge is not None else (lock, lock)
        own = lock == charged  # no other attempt (or admin) changed the lock since ours was counted
        # No verdict is withheld for a lock that came while this attempt ran: only attempts
        # allowed to start (and counted then) are judged, so a lock set meanwhile was set by
        # the count of another allowed try -- and "locked" never stands for a withheld grant.
        delay = 0.0
        if decision == Decision.GRANTED and not self.overrides:
            lock = LockoutState(0, 0.0)
        elif decision in (Decision.GRANTED, Decision.NO_SYMBOL, Decision.CANCELLED):
            # an override's grant gives back only its own try; so does an end that compared nothing
            lock = before if own else replace(lock, failures=max(0, lock.failures - 1))
        elif decision in FAILURES and own and charged.lock_s > 0:
            # the lock this attempt's count brought runs from its end, not its start
            lock, delay = self._new_lock(before, charged.failures, now)
        detail["reason"] = reason
        detail["failures"] = lock.failures
        tx.set_lockout(self.profile, lock)
        log = dict(
            best_distance=self._best,
            threshold=p.threshold,
            frames_used=self._frames_used,
            fingerprint=self.embedder.fingerprint,
            provider=getattr(self.embedder, "provider", ""),
            detail=detail,
            snapshot=snapshot,
        )
        if self._pending_id is not None:
            audit_id = tx.finish_row(self._pending_id, decision, **log)
        else:
            audit_id = tx.log(self.profile, decision, **log)
        return decision, reason, lock, delay, audit_id

    def _already_recorded(self, recorded: str) -> AttemptState:
        audit_id, self._pending_id, self._charge = self._pending_id, None, None
        self._active = False
        try:
            decision = Decision(recorded)
        except ValueError:
            decision = Decision.ABANDONED
        self.state = self._state(
            decision, True, reason=f"the attempt was already recorded as {decision}", audit_id=audit_id
        )
        return self.state

    def abandon(self, reason: str = "interrupted") -> AttemptState:
        """The attempt is cut short (a signal, the window closed): recorded as "abandoned", a
        failure -- its try was counted when it started and is not given back. A signal that
        comes right after the attempt's final commit changes nothing (no second row, no
        second count)."""
        if not self._active:
            return self.state
        return self._finish(Decision.ABANDONED, f"{reason}: the attempt was not finished; counted as a failure")

    def reload_references(self) -> None:
        """Read the profile's references again (after an enrollment or a model switch)."""
        self.references = self._read_references()
        self._check_references()

    def _read_references(self):
        """[M, D] for one symbol; a list of one [M_i, D] per position for a passcode."""
        if self.symbols > 1:
            return self.store.position_embeddings(self.profile, self.embedder.fingerprint)
        return self.store.reference_embeddings(self.profile, self.embedder.fingerprint)

    def _check_references(self) -> None:
        for r in self.references if self.symbols > 1 else [self.references]:
            r = np.asarray(r)
            dim = int(getattr(self.embedder, "dim", r.shape[-1]))
            if r.ndim != 2 or r.shape[1] != dim or not np.all(np.isfinite(r)):
                raise StoreError(
                    f"Profile '{self.profile}' holds references the model cannot be compared with "
                    f"({r.shape[-1] if r.ndim == 2 else '?'} numbers each, the model gives {dim}, or "
                    "not finite). Re-enroll it, or re-import a good export."
                )


__all__ = [
    "AttemptState",
    "Decision",
    "Policy",
    "StoreError",
    "Verifier",
    "app_policy",
    "compare_text",
    "frame_distances",
    "resolve_policy",
]


def attempt_time_left(state: AttemptState, policy: Policy, fps: float | None = None) -> float:
    """Seconds until the attempt in ``state`` ends by the rule that ends it (the verifier's
    ``feed_preprocessed``/``tick``): the time limit, or ``policy.max_frames`` frames seen,
    whichever comes first at ``fps`` frames per second (None or 0: the time limit only). The
    app's countdown shows this, so it never counts 10 s down for an attempt that 60 frames
    end after 4."""
    left = max(0.0, float(policy.time_limit_s) - float(state.elapsed_s))
    if fps and fps > 0:
        left = min(left, max(0, int(policy.max_frames) - int(state.frames_seen)) / float(fps))
    return left
