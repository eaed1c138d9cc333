"""How easy an enrolled symbol is to guess, like a password meter (a core decision).

The profile's references are compared with a gallery of common symbols (digits in many hands,
letters, simple shapes, Omniglot characters; :mod:`desktop_app.core.gallery`) at the profile's
threshold, by the verifier's own rule (a frame is accepted when it lies within the threshold
of the nearest reference, or of the mean of the ``k_nearest`` nearest). Every gallery symbol
so accepted is a symbol that someone who never saw yours might draw and be let in by.

The verdict:

- **weak** when one common symbol is matched by many hands (at least ``WEAK_LABEL_FRACTION``
  of that symbol's gallery drawings, for a symbol with at least ``MIN_LABEL_SAMPLES``), or
  when more than ``WEAK_TOTAL_FRACTION`` of the whole gallery is accepted: "weak: this looks
  like the digit 7 — anyone who writes a 7 is let in";
- **fair** when a few gallery symbols are accepted but no common symbol is (a guesser could
  still stumble on it);
- **strong** when none is: "strong: none of 4,000 common symbols comes within the threshold".

The policy level (app setting ``enroll_min_strength``: "weak" accepts everything, "fair"
refuses weak symbols, "strong" refuses all but strong ones) decides whether an enrollment is
allowed; below it the admin may override, and the override is audited (:func:`audit_override`).
Without the setting it is "fair" for a model trained on symbols other than digits, and "weak"
(advisory only) for a digits-only model, which calls nearly every symbol weak (measured:
two crossed spirals look like a G and a circle to the shipped digits model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from .decision import AuditEvent

LEVELS = ("weak", "fair", "strong")
POLICY_SETTING = "enroll_min_strength"
DEFAULT_POLICY = "fair"
WEAK_LABEL_FRACTION = 0.2  # of one symbol's gallery drawings accepted -> it looks like that symbol
MIN_LABEL_SAMPLES = 5  # a symbol needs this many drawings in the gallery to be judged that way
WEAK_TOTAL_FRACTION = 0.01  # of the whole gallery accepted -> weak, whatever the symbols
ALL_FRACTION = 0.5  # "anyone who writes a 7 is let in" from this fraction on
OVERRIDE_DECISION = AuditEvent.ENROLL_WEAK_OVERRIDE
REFUSED_DECISION = AuditEvent.ENROLL_REFUSED_WEAK


@dataclass
class Neighbour:
    index: int
    label: str
    kind: str
    distance: float
    image: np.ndarray  # 28x28 uint8 (model form)


@dataclass
class LabelCount:
    label: str
    kind: str
    accepted: int
    total: int

    @property
    def fraction(self) -> float:
        return self.accepted / self.total if self.total else 0.0


@dataclass
class StrengthReport:
    level: str  # "weak" | "fair" | "strong"
    text: str  # the verdict in plain words
    threshold: float
    gallery_size: int
    accepted: int  # gallery symbols within the threshold
    by_label: list[LabelCount]  # symbols with accepted drawings, most-matched first
    nearest: list[Neighbour]  # the nearest few distinct gallery symbols (one drawing each)
    policy: str = DEFAULT_POLICY  # the minimum level the policy allows
    fingerprint: str = ""
    looks_like: LabelCount | None = None  # the common symbol it is taken for (weak)
    extra: dict = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        """Allowed by the policy without an override."""
        return LEVELS.index(self.level) >= LEVELS.index(self.policy)

    def refusal(self) -> str:
        return (
            f"This symbol is {self.level}, below the minimum strength '{self.policy}' set for "
            "enrollment. Choose a more distinctive symbol (not a digit or a letter: combine strokes "
            "into something of your own), or have an admin override the check."
        )

    def as_dict(self) -> dict:
        return {
            "level": self.level,
            "text": self.text,
            "threshold": self.threshold,
            "gallery_size": self.gallery_size,
            "accepted": self.accepted,
            "policy": self.policy,
            "allowed": self.allowed,
            "fingerprint": self.fingerprint,
            "looks_like": None
            if self.looks_like is None
            else {
                "label": self.looks_like.label,
                "kind": self.looks_like.kind,
                "accepted": self.looks_like.accepted,
                "total": self.looks_like.total,
            },
            "by_label": [
                {"label": c.label, "kind": c.kind, "accepted": c.accepted, "total": c.total} for c in self.by_label[:10]
            ],
            "nearest": [{"label": n.label, "kind": n.kind, "distance": round(n.distance, 4)} for n in self.nearest],
        }


def _an(word: str) -> str:
    w = str(word)
    vowel = w.upper() in "AEFHILMNORSX8" if len(w) == 1 else w[:1].lower() in "aeiou"
    return ("an " if vowel else "a ") + w


def symbol_name(label: str, kind: str) -> str:
    """ "the digit 7", "the capital letter A", "a heart", "the Omniglot character Greek #03"."""
    if kind == "digit":
        return f"the digit {label}"
    if kind in ("capital letter", "lower-case letter"):
        return f"the {kind} {label}"
    if kind == "shape":
        return _an(label)
    if kind == "Omniglot character":
        return f"the Omniglot character {label}"
    return f"the symbol \u201c{label}\u201d"


def _writes(label: str, kind: str) -> str:
    if kind == "shape":
        return f"anyone who draws {_an(label)}"
    if kind in ("digit", "capital letter", "lower-case letter"):
        return f"anyone who writes {_an(label)}"
    return f"anyone who draws {symbol_name(label, kind)}"


def _plural(label: str, kind: str) -> str:
    return f"{label}s"


def assess(
    ref_embeddings: np.ndarray,
    gallery_embeddings: np.ndarray,
    labels,
    kinds,
    threshold: float,
    images: np.ndarray | None = None,
    k_nearest: int = 1,
    top: int = 6,
    policy: str = DEFAULT_POLICY,
    fingerprint: str = "",
) -> StrengthReport:
    """The verdict for a profile with references ``ref_embeddings`` at ``threshold``."""
    from .verifier import frame_distances

    if policy not in LEVELS:
        raise ValueError(f"the strength policy must be one of {', '.join(LEVELS)}, not {policy!r}")
    refs = np.atleast_2d(np.asarray(ref_embeddings, np.float32))
    if refs.shape[0] == 0:
        raise ValueError("no references to judge: enroll at least one image first")
    labels = np.asarray(labels).astype(str)
    kinds = np.asarray(kinds).astype(str)
    n = len(labels)
    thr = float(threshold)
    d = frame_distances(gallery_embeddings, refs, k_nearest=k_nearest) if n else np.zeros(0)
    acc = d <= thr
    n_acc = int(acc.sum())
    # per symbol (label + kind): accepted / total
    keys = np.char.add(np.char.add(kinds, "\x1f"), labels) if n else np.zeros(0, str)
    uniq, inv, totals = np.unique(keys, return_inverse=True, return_counts=True)
    acc_counts = np.bincount(inv, weights=acc.astype(np.float64), minlength=len(uniq)).astype(int)
    by = [
        LabelCount(str(u).split("\x1f", 1)[1], str(u).split("\x1f", 1)[0], int(a), int(t))
        for u, a, t in zip(uniq, acc_counts, totals)
        if a > 0
    ]
    by.sort(key=lambda c: (-c.fraction if c.total >= MIN_LABEL_SAMPLES else 0.0, -c.accepted, c.label))
    # the nearest drawing of each of the ``top`` nearest distinct symbols
    srt = np.argsort(d, kind="stable")
    _, first = np.unique(keys[srt], return_index=True) if n else (None, np.zeros(0, int))
    order = srt[np.sort(first)[:top]]
    nearest = [
        Neighbour(
            int(i),
            str(labels[i]),
            str(kinds[i]),
            float(d[i]),
            images[i] if images is not None else np.zeros((28, 28), np.uint8),
        )
        for i in order
    ]
    common = [c for c in by if c.total >= MIN_LABEL_SAMPLES and c.fraction >= WEAK_LABEL_FRACTION and c.accepted >= 2]
    # the symbol it is taken for: among those that most hands pass for (>= ALL_FRACTION of
    # their drawings, else all), the one with the most accepted drawings (the most evidence:
    # 280 of 300 hand-written 4s outweigh 10 of 10 rendered Hs), then the nearest (median)
    med = {}
    for c in common:
        med[(c.kind, c.label)] = float(np.median(d[(labels == c.label) & (kinds == c.kind)]))
    common.sort(key=lambda c: (c.fraction < ALL_FRACTION, -c.accepted, med[(c.kind, c.label)]))
    looks = common[0] if common else None
    n_txt = f"{n:,}"
    near_txt = (
        f"nearest: {symbol_name(nearest[0].label, nearest[0].kind)} at {nearest[0].distance:.2f}"
        if nearest
        else "the gallery is empty"
    )
    if looks is not None:
        level = "weak"
        who = symbol_name(looks.label, looks.kind)
        if looks.fraction >= ALL_FRACTION:
            text = (
                f"weak: this looks like {who} \u2014 {_writes(looks.label, looks.kind)} is let in "
                f"({looks.accepted} of {looks.total} such drawings in the gallery are accepted)"
            )
        else:
            text = (
                f"weak: this looks like {who} \u2014 many people's {_plural(looks.label, looks.kind)} "
                f"are let in ({looks.accepted} of {looks.total} such drawings in the gallery)"
            )
        others = [c for c in common[1:3]]
        if others:
            text += "; also " + ", ".join(f"{symbol_name(c.label, c.kind)} ({c.accepted} of {c.total})" for c in others)
    elif n and n_acc > WEAK_TOTAL_FRACTION * n:
        level = "weak"
        text = (
            f"weak: {n_acc:,} of {n_txt} common symbols come within the threshold "
            f"(most often: " + ", ".join(symbol_name(c.label, c.kind) for c in by[:3]) + ")"
        )
    elif n_acc > 0:
        level = "fair"
        text = (
            f"fair: {n_acc} of {n_txt} common symbols come{'s' if n_acc == 1 else ''} within the threshold "
            f"({near_txt}); no common symbol is matched by many hands, but a guesser could stumble on it"
        )
    else:
        level = "strong"
        text = f"strong: none of {n_txt} common symbols comes within the threshold ({near_txt})"
    return StrengthReport(
        level, text, thr, n, n_acc, by, nearest, policy, fingerprint, looks, {"k_nearest": int(k_nearest)}
    )


# ----------------------------------------------------------------------------- with a store
def model_knows_symbols(contract) -> bool:
    """Whether the model was trained on symbols other than digits (its provenance names
    Omniglot or non-digit training data). A digits-only model maps every symbol near some
    digit, so its verdicts cannot tell a distinctive symbol from a common one."""
    if contract is None:
        return False
    prov = json.dumps(getattr(contract, "provenance", {}) or {}, default=str).lower()
    return any(w in prov for w in ("omniglot", "any-symbol", "any symbol", "non-digit symbols"))


def default_policy(contract=None) -> str:
    """ "fair" (refuse weak symbols) for a model that knows symbols; "weak" (advisory: the
    verdict is shown, nothing is refused) for a digits-only model, whose verdicts call almost
    every symbol weak."""
    return DEFAULT_POLICY if model_knows_symbols(contract) else "weak"


def policy_level(store, contract=None) -> str:
    """The enrollment policy's minimum strength: the app setting, else :func:`default_policy`."""
    fallback = default_policy(contract)
    v = store.get_setting(POLICY_SETTING, fallback) if store is not None else fallback
    return v if v in LEVELS else fallback


def set_policy_level(store, level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"the minimum enrollment strength must be one of {', '.join(LEVELS)}")
    store.set_setting(POLICY_SETTING, level)


def profile_threshold(store, embedder, name: str) -> tuple[float, int]:
    """(threshold, k_nearest) that ``name`` is (or, for a new profile, will be) verified with."""
    from .settings import effective_threshold
    from .verifier import Policy, resolve_policy

    if store is not None and store.has_profile(name):
        pol = resolve_policy(store, name, embedder)
        return float(pol.threshold), int(pol.k_nearest)
    pol = Policy().updated((store.get_setting("policy", {}) or {}) if store is not None else {})
    return float(effective_threshold(store, None, embedder.contract).value), int(pol.k_nearest)


def strength_report(
    store, embedder, name: str, new_embeddings=None, gallery=None, threshold: float | None = None
) -> StrengthReport:
    """The verdict for profile ``name``: its stored references (this model's) plus
    ``new_embeddings`` not yet saved, against the shipped gallery (cached beside the database)."""
    from .gallery import embedded_gallery

    refs = []
    if store is not None and store.has_profile(name):
        r = store.reference_embeddings(name, embedder.fingerprint)
        if len(r):
            refs.append(np.asarray(r, np.float32))
    if new_embeddings is not None and len(new_embeddings):
        refs.append(np.atleast_2d(np.asarray(new_embeddings, np.float32)))
    if not refs:
        raise ValueError(f"profile '{name}' has no references embedded with this model to judge")
    thr, k = profile_threshold(store, embedder, name)
    if threshold is not None:
        thr = float(threshold)
    eg = embedded_gallery(embedder, gallery, db=store.path if store is not None else None)
    g = eg.gallery
    return assess(
        np.concatenate(refs),
        eg.embeddings,
        g.labels,
        g.kinds,
        thr,
        images=g.images,
        k_nearest=k,
        policy=policy_level(store, embedder.contract),
        fingerprint=embedder.fingerprint,
    )


def audit_override(store, name: str, report: StrengthReport, who: str, source: str) -> int:
    """Record that an admin enrolled a symbol below the policy level."""
    detail = {"source": source, "by": who, **report.as_dict()}
    detail.pop("by_label", None)
    return store.log_attempt(
        name, OVERRIDE_DECISION, threshold=report.threshold, fingerprint=report.fingerprint, detail=detail
    )


def audit_refusal(store, name: str, report: StrengthReport, source: str) -> int:
    detail = {"source": source, **report.as_dict()}
    detail.pop("by_label", None)
    return store.log_attempt(
        name, REFUSED_DECISION, threshold=report.threshold, fingerprint=report.fingerprint, detail=detail
    )


# ----------------------------------------------------------------------------- passcodes
@dataclass
class PasscodeStrength:
    """The verdict for a passcode: each symbol's own (:class:`StrengthReport`, at its
    position's threshold) and the whole card's, counted as ordered combinations of gallery
    symbols (one per position) that every position would accept."""

    level: str
    text: str
    positions: list  # one StrengthReport per position, left to right
    combinations: int  # gallery symbols ** positions
    accepted: int  # combinations accepted at every position
    policy: str = DEFAULT_POLICY
    fingerprint: str = ""

    threshold = None  # the audit row's threshold column: a passcode has one per position

    @property
    def allowed(self) -> bool:
        return LEVELS.index(self.level) >= LEVELS.index(self.policy)

    def refusal(self) -> str:
        return (
            f"This passcode is {self.level}, below the minimum strength '{self.policy}' set for "
            "enrollment: its symbols are common ones a guesser would try. Make at least one symbol "
            "a distinctive one of your own, or have an admin override the check."
        )

    def lines(self) -> list[str]:
        """The verdict in words: the whole passcode, then each symbol."""
        return [self.text] + [f"symbol {i + 1}: {r.text}" for i, r in enumerate(self.positions)]

    def as_dict(self) -> dict:
        return {
            "level": self.level,
            "text": self.text,
            "symbols": len(self.positions),
            "combinations": self.combinations,
            "accepted": self.accepted,
            "policy": self.policy,
            "allowed": self.allowed,
            "fingerprint": self.fingerprint,
            "positions": [
                {k: v for k, v in r.as_dict().items() if k not in ("by_label", "fingerprint", "policy")}
                for r in self.positions
            ],
        }


def passcode_verdict(reports: list, policy: str = DEFAULT_POLICY, fingerprint: str = "") -> PasscodeStrength:
    """The whole passcode's verdict from its positions' reports: **strong** when one position
    accepts no common symbol (no combination of common symbols gets in), **weak** when every
    position looks like a common symbol (trying common symbols in turn gets in), else
    **fair**; in words with the combinations counted."""
    n = len(reports)
    g = reports[0].gallery_size if reports else 0
    combos = int(g) ** n
    acc = 1
    for r in reports:
        acc *= int(r.accepted)
    if acc == 0:
        level = "strong"
        text = (
            f"strong: none of the {combos:,} combinations of {n} common symbols in order gets in "
            f"({sum(r.accepted == 0 for r in reports)} of the {n} symbols matches no common symbol at all)"
        )
    elif all(r.level == "weak" for r in reports):
        level = "weak"
        who = " then ".join(
            symbol_name(r.looks_like.label, r.looks_like.kind) if r.looks_like is not None else "a common symbol"
            for r in reports
        )
        text = (
            f"weak: every symbol looks like a common one ({who}): someone who tries common symbols "
            f"in order gets in ({acc:,} of the {combos:,} combinations of common symbols are accepted)"
        )
    else:
        level = "fair"
        text = (
            f"fair: {acc:,} of the {combos:,} combinations of {n} common symbols in order get in "
            f"(1 in {max(1, combos // acc):,}); no symbol is matched by everyone's drawing of a common one "
            "at every position, but a guesser could stumble on it"
        )
    return PasscodeStrength(level, text, list(reports), combos, acc, policy, fingerprint)


def passcode_strength_report(
    store, embedder, name: str, new_embeddings=None, symbols: int | None = None, gallery=None
) -> PasscodeStrength:
    """The verdict for passcode ``name``: per position, its stored references plus
    ``new_embeddings[i]`` (not yet saved) against the gallery at that position's threshold
    (the profile's, or for a new profile the model's point for ``symbols``; NoPasscodePoint
    when there is none)."""
    from .gallery import embedded_gallery
    from .passcode import check_supported, position_thresholds
    from .policy import Policy

    exists = store is not None and store.has_profile(name)
    if exists:
        prof = store.get_profile(name)
        n = prof.symbols
        thresholds = position_thresholds(prof, embedder.contract).values
        stored = store.position_embeddings(name, embedder.fingerprint)
        k = int(Policy().updated(store.get_setting("policy", {}) or {}).updated(prof.policy or {}).k_nearest)
    else:
        n = int(symbols or (len(new_embeddings) if new_embeddings is not None else 0))
        thresholds = tuple(float(t) for t in check_supported(embedder.contract, n)["thresholds"])
        stored = [np.zeros((0, embedder.contract.embedding_dim), np.float32)] * n
        k = int(Policy().updated((store.get_setting("policy", {}) or {}) if store is not None else {}).k_nearest)
    eg = embedded_gallery(embedder, gallery, db=store.path if store is not None else None)
    g = eg.gallery
    policy = policy_level(store, embedder.contract)
    reports = []
    for i in range(n):
        parts = [np.asarray(stored[i], np.float32)]
        if new_embeddings is not None and len(new_embeddings[i]):
            parts.append(np.atleast_2d(np.asarray(new_embeddings[i], np.float32)))
        refs = np.concatenate([p for p in parts if len(p)]) if any(len(p) for p in parts) else np.zeros((0, 1))
        reports.append(
            assess(
                refs,
                eg.embeddings,
                g.labels,
                g.kinds,
                thresholds[i],
                images=g.images,
                k_nearest=k,
                policy=policy,
                fingerprint=embedder.fingerprint,
            )
        )
    return passcode_verdict(reports, policy, embedder.fingerprint)
