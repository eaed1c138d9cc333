"""Passcodes: a profile of several symbols (2-4), shown on one card and read left to right.

An attempt is still one presentation decided on its first *n* acquired frames (the
verifier's rule); a frame matches only when EVERY position's symbol lies within that
position's threshold of its own references -- the same symbols in another order are a
wrong card. This module is the one home of:

- which named operating point a passcode of L symbols uses (:func:`point_key`:
  ``passcodeL_far_1e-5``), read from the model contract's ``passcodes`` (calibrated at
  export or added by ``twinlock model calibrate-passcode``);
- the per-position thresholds a profile is verified with (:func:`position_thresholds`): the
  profile's own threshold when an admin calibrated one (it applies to every position), else
  the contract's point for its length; the app-wide "policy" threshold is a one-symbol
  setting and never applies to a passcode;
- the refusal when a model has no point for that length (:class:`NoPasscodePoint`);
- the frame's score (:func:`frame_score`): the worst position's distance over its threshold,
  so 1.0 is "at the threshold" and a frame matches when the score is at most 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .store import MAX_SYMBOLS, StoreError

PASSCODE_FAR = 1e-5  # the FAR a passcode's default point stands for: Windows Hello's bar
MIN_SYMBOLS, MAX_PASSCODE_SYMBOLS = 2, MAX_SYMBOLS


def point_key(symbols: int, far: float = PASSCODE_FAR) -> str:
    """The contract key of the passcode point for ``symbols`` positions at ``far``."""
    return f"passcode{int(symbols)}_far_{far:.0e}".replace("e-0", "e-")


class NoPasscodePoint(StoreError):
    """The model carries no calibrated passcode point for that many symbols."""


def check_supported(contract, symbols: int) -> dict:
    """The contract's point for a passcode of ``symbols``; NoPasscodePoint (what to do) when
    it has none. One symbol needs no point (the one-symbol thresholds apply)."""
    if symbols == 1:
        return {}
    if not MIN_SYMBOLS <= symbols <= MAX_PASSCODE_SYMBOLS:
        raise NoPasscodePoint(f"A passcode holds 2 to {MAX_PASSCODE_SYMBOLS} symbols, not {symbols}.")
    key = point_key(symbols)
    op = (contract.passcodes if contract is not None else {}).get(key)
    if not op:
        have = sorted(contract.passcodes) if contract is not None else []
        raise NoPasscodePoint(
            f"The model in use ({getattr(contract, 'short_fingerprint', 'none')}) has no calibrated "
            f"passcode point for {symbols} symbols ('{key}'), so it cannot tell how strict each symbol "
            "must be for the whole card to keep false accepts below 1 in 100,000. Nothing was enrolled. "
            "Add the points with 'twinlock model calibrate-passcode' (then 'twinlock model use' the new "
            f"file), or use a model exported with them{'; it has ' + ', '.join(have) if have else ''}."
        )
    return op


@dataclass(frozen=True)
class PositionThresholds:
    """The thresholds a passcode profile is verified with, one per position, and their source."""

    values: tuple  # one float per position
    source: str  # "profile" (an admin calibrated it) or "model point"
    key: str  # the contract point's key ("" when the profile's own threshold applies)


def position_thresholds(profile, contract) -> PositionThresholds:
    """Per-position thresholds for ``profile`` (a store Profile with ``symbols`` > 1):
    its own threshold on every position, else the contract's point for its length
    (NoPasscodePoint when there is none)."""
    n = int(profile.symbols)
    if profile.threshold is not None:
        return PositionThresholds((float(profile.threshold),) * n, "profile", "")
    op = check_supported(contract, n)
    return PositionThresholds(tuple(float(t) for t in op["thresholds"]), "model point", point_key(n))


def frame_score(position_distances, thresholds) -> float:
    """The worst position's distance relative to its threshold: a card matches when every
    position does, i.e. when this is at most 1."""
    d = np.asarray(position_distances, np.float64)
    t = np.asarray(thresholds, np.float64)
    return float(np.max(d / t))


def position_jump(embeddings, last, thresholds) -> float:
    """How far a card's embeddings [L, D] moved from the previous frame's, as the largest
    position's move relative to its threshold (the verifier's change-of-symbol rule)."""
    e = np.asarray(embeddings, np.float32)
    p = np.asarray(last, np.float32)
    return float(np.max(np.linalg.norm(e - p, axis=1) / np.asarray(thresholds, np.float64)))


CARD_LAYOUT = "space the symbols apart, in one row, left to right, and keep the whole card inside the box"


def enrollment_reason(result, symbols: int) -> str:
    """Why a capture of a card cannot be enrolled, in enrollment's words: how many symbols
    were found against how many the passcode has, and how to fix it; or which symbol failed
    and why. For ENROLLMENT only (the owner at the wizard or the CLI): an unlock attempt is
    told only the generic reason (``result.reason``), never a count or a position."""
    q = getattr(result, "quality", None) or {}
    if symbols > 1 and result.code == "card" and "card_found" in q:
        found = int(q["card_found"])
        return (
            f"found {found} symbol{'s' if found != 1 else ''} on the card, but the passcode has {symbols}: "
            f"{CARD_LAYOUT}"
        )
    if symbols > 1 and "card_position" in q:
        return f"symbol {int(q['card_position']) + 1} (from the left): {result.reason}"
    return result.reason


def describe_passcode_point(key: str, op: dict) -> list[str]:
    """A contract's passcode point in words, with the counts behind it (the calibration
    dialog shows it as it shows a one-symbol point): its per-position thresholds, the card's
    FAR and FRR and how many comparisons they rest on, whether the impostor count supports
    the FAR (the rule of three), and what it was measured on."""
    from .metrics import supports_far
    from .risk import impostors_needed

    n = int(op.get("symbols", 0) or len(op.get("thresholds", [])))
    thr = ", ".join(f"{float(t):.4f}" for t in op.get("thresholds", []))
    far, frr = float(op.get("far", float("nan"))), float(op.get("frr", float("nan")))
    imp, gen = int(op.get("impostor", 0)), int(op.get("genuine", 0))
    fa = op.get("false_accepts")
    target = float(op.get("target_far", far))
    one_in = f" (about 1 in {round(1 / far):,})" if far > 0 else ""
    accepted = (
        f": {int(fa):,} of {imp:,} impostor cards accepted" if fa is not None else f" over {imp:,} impostor cards"
    )
    rejected = f"FRR {frr * 100:.1f}% per card ({gen:,} genuine cards)" if frr == frr else "FRR not measured"
    lines = [
        f"{key}: {n} symbols, each within its own threshold ({thr}), all of them in order.",
        f"FAR {far:.2g} per card{one_in}{accepted} · {rejected}.",
    ]
    if supports_far(imp, target):
        lines.append(f"{imp:,} impostor cards support FAR {target:g} (at least {impostors_needed(target):,} needed).")
    else:
        lines.append(
            f"Too few impostor cards to support FAR {target:g}: {imp:,} here, at least "
            f"{impostors_needed(target):,} needed. Treat this FAR as unproven."
        )
    if op.get("source"):
        lines.append(f"Measured on {op['source']}.")
    return lines
