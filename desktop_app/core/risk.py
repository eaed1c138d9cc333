"""The rule of three, and what a threshold or a model's default operating point risks, in
words: which FAR a count of impostor comparisons can support (:func:`far_upper_bound`,
:func:`impostors_needed`), whether a threshold is looser than the model's calibrated default
or claims an unsupported FAR (:func:`threshold_risk`), and whether a model's default point is
looser than FAR 1e-3 or unsupported (:func:`model_risk`). Plain numbers and a contract: the
calibration screens, ``settings.switch_model`` and the admin actions all ask here."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import metrics


class CalibrationError(ValueError):
    """Calibration cannot run on what was given; the message is for the user."""


# --------------------------------------------------------------------------- loosening rule
# A threshold is a promise about other people's symbols. Calibration must never loosen the
# lock quietly: a threshold looser than the model's calibrated default, or a target FAR the
# impostor count cannot support, is applied only after the user confirmed it in words.


def far_upper_bound(false_accepts: int, impostor: int) -> float:
    """The FAR these samples cannot rule out (95%): by the rule of three 3/n when no impostor
    was accepted, else the upper end of the Wilson interval."""
    n = int(impostor)
    if n <= 0:
        return 1.0
    if int(false_accepts) == 0:
        return min(1.0, 3.0 / n)
    return metrics.wilson_interval(int(false_accepts), n)[1]


def one_in_words(rate: float) -> str:
    """0.115 -> "about 1 in 9"; 1.0 -> "every"; tiny -> "about 1 in 1,000,000"."""
    if rate >= 0.75:
        return "nearly every"
    if rate <= 0:
        return "no"
    n = 1.0 / rate
    if n < 20:
        k = int(round(n))
    else:
        mag = 10 ** max(0, int(np.floor(np.log10(n))) - 1)  # two significant figures
        k = int(round(n / mag) * mag)
    return f"about 1 in {k:,}"


def up_to_words(rate: float) -> str:
    """An upper bound in words: 0.024 -> "1 in 42", 1.0 -> "nearly every one of the"."""
    w = one_in_words(rate)
    return "nearly all" if w == "nearly every" else w.removeprefix("about ")


def impostors_needed(target_far: float) -> int:
    """Impostor comparisons needed to support a claim of FAR ``target_far`` (the rule of
    three, as :func:`metrics.supports_far` applies it): ceil(3 / target_far)."""
    return int(np.ceil(3.0 / float(target_far)))


def percent_text(x: float) -> str:
    """A rate as the calibration screens print it: "0%", "0.012%", "1.50%"."""
    if x == 0:
        return "0%"
    if x < 1e-3:
        return f"{x * 100:.3f}%"
    return f"{x * 100:.2f}%"


def describe_point(op, target_far: float | None) -> tuple[str, str]:
    """(figures line, warning line) for a :class:`metrics.OperatingPoint`: the warning says
    when the impostor count cannot support the FAR shown or asked for (rule of three)."""
    line = (
        f"threshold {op.threshold:.4f} · expected FAR {percent_text(op.far)} ({op.false_accepts:,} of "
        f"{op.impostor:,} impostor comparisons accepted) · FRR {percent_text(op.frr)} "
        f"({op.false_rejects:,} of {op.genuine:,} genuine comparisons rejected)"
    )
    claim = target_far if target_far is not None else op.far
    warn = ""
    if claim <= 0:
        warn = (
            f"No impostor was accepted, but {op.impostor:,} impostor comparisons only show that "
            f"FAR is below about {percent_text(far_upper_bound(0, op.impostor))} (rule of 3). Collect "
            "more impostor samples to support a lower FAR."
        )
    elif not metrics.supports_far(op.impostor, claim):
        warn = (
            f"Too few impostor comparisons to support FAR {claim:g}: {op.impostor:,} here, at least "
            f"{impostors_needed(claim):,} needed. Treat this FAR as unproven; collect more impostor samples."
        )
    return line, warn


def preset_support(impostor: int, target_far: float) -> tuple[bool, str]:
    """Whether a target-FAR preset can be offered for ``impostor`` comparisons, and why not."""
    need = impostors_needed(target_far)
    if metrics.supports_far(int(impostor), float(target_far)):
        return True, ""
    return False, (
        f"FAR {target_far:g} needs at least {need:,} impostor comparisons (rule of three); "
        f"these samples have {int(impostor):,}. Record or load more impostor samples."
    )


@dataclass
class ThresholdRisk:
    threshold: float
    default_threshold: float | None
    looser_than_default: bool
    unsupported: bool  # a target FAR was asked for that the impostor count cannot support
    false_accepts: int
    impostor: int
    genuine: int
    far_upper: float
    words: str  # "at 95% confidence up to 1 in 9 other symbols may be accepted"

    @property
    def needs_confirmation(self) -> bool:
        return self.looser_than_default or self.unsupported

    def message(self) -> str:
        """What the confirmation says, in words first and numbers after."""
        parts = []
        if self.looser_than_default:
            parts.append(
                f"This threshold ({self.threshold:.3f}) is looser than the model's calibrated default "
                f"({self.default_threshold:.3f}): it accepts symbols farther from yours."
            )
        if self.unsupported:
            parts.append(f"{self.impostor:,} impostor comparisons are too few to support the chosen FAR.")
        parts.append(f"On these samples {self.counted()}; {self.words}.")
        return " ".join(parts)

    def counted(self) -> str:
        """ "2 of 300 impostor comparisons were accepted (0.67%)"."""
        rate = self.false_accepts / self.impostor if self.impostor else 0.0
        return f"{self.false_accepts:,} of {self.impostor:,} impostor comparisons were accepted ({percent_text(rate)})"

    def as_detail(self) -> dict:
        return {
            "default_threshold": self.default_threshold,
            "looser_than_default": self.looser_than_default,
            "unsupported": self.unsupported,
            "false_accepts": self.false_accepts,
            "impostor": self.impostor,
            "genuine": self.genuine,
            "far_upper_95": round(self.far_upper, 6),
            "words": self.words,
        }


def threshold_risk(
    threshold: float, genuine, impostor, default_threshold: float | None, target_far: float | None = None
) -> ThresholdRisk:
    """The rule: is ``threshold`` looser than the model's calibrated default, or is a target
    FAR claimed that the impostor count cannot support (rule of three)? With the words a
    confirmation must say ("2 of 300 impostor comparisons were accepted (0.67%); at 95%
    confidence up to 1 in 42 other symbols may be accepted")."""
    op = metrics.operating_point(genuine, impostor, float(threshold))
    upper = far_upper_bound(op.false_accepts, op.impostor)
    looser = default_threshold is not None and float(threshold) > float(default_threshold) + 1e-12
    unsupported = target_far is not None and not metrics.supports_far(op.impostor, float(target_far))
    words = f"at 95% confidence up to {up_to_words(upper)} other symbols may be accepted"
    return ThresholdRisk(
        float(threshold),
        None if default_threshold is None else float(default_threshold),
        bool(looser),
        bool(unsupported),
        int(op.false_accepts),
        int(op.impostor),
        int(op.genuine),
        float(upper),
        words,
    )


# --------------------------------------------------------------------------- a model's default point
# Switching models changes every profile's threshold that follows the model default. A model
# whose default operating point is looser than FAR 1e-3, or whose impostor count cannot
# support the FAR it claims there (rule of three), is used only after a confirmation in words
# (the export dialog's "Use this model", `twinlock model use --yes`), and the switch is audited
# with what was confirmed.
MODEL_FAR_LIMIT = 1e-3


class ModelRiskError(CalibrationError):
    """A model that needs a confirmation was about to be used without one."""


@dataclass
class ModelRisk:
    key: str  # the default operating point's name ("far_1e-3", "eer", ...)
    threshold: float
    far: float | None  # measured at export (None: not in the contract)
    false_accepts: int | None
    impostor: int | None
    claim: float  # the FAR the point stands for: its target, else its measured FAR
    looser: bool  # looser than FAR 1e-3
    unsupported: bool  # too few impostor comparisons for the claim (rule of three)
    far_upper: float  # what the counts cannot rule out (95%)

    @property
    def needs_confirmation(self) -> bool:
        return self.looser or self.unsupported

    def message(self) -> str:
        """What the confirmation says, in words first and numbers after."""
        parts = []
        n = self.impostor or 0
        measured = (
            f"{self.false_accepts:,} of {n:,} impostor comparisons were accepted ({percent_text(self.far)})"
            if self.far is not None and self.false_accepts is not None and n
            else "its card gives no impostor counts"
        )
        if self.looser:
            rate = self.far if self.far is not None else self.claim
            parts.append(
                f"This model's default threshold ({self.key}, {self.threshold:.3f}) lets {one_in_words(rate)} "
                f"other symbols through: {measured} when it was exported. The app asks for at most 1 in "
                f"{int(round(1 / MODEL_FAR_LIMIT)):,} (FAR {MODEL_FAR_LIMIT:g})."
            )
        if self.unsupported:
            parts.append(
                f"The default threshold ({self.key}) claims FAR {self.claim:g}, but {n:,} impostor comparisons "
                f"cannot support it (at least {impostors_needed(self.claim):,} are needed, rule of three): "
                f"at 95% confidence up to {up_to_words(self.far_upper)} other symbols "
                "may be accepted."
            )
        parts.append(
            "Every profile without a threshold of its own will use this threshold; calibrate each "
            "profile afterwards, or keep the current model."
        )
        return " ".join(parts)

    def as_detail(self) -> dict:
        return {
            "default_threshold_key": self.key,
            "default_threshold": self.threshold,
            "far": self.far,
            "false_accepts": self.false_accepts,
            "impostor": self.impostor,
            "claimed_far": self.claim,
            "looser_than_far_limit": self.looser,
            "unsupported": self.unsupported,
            "far_upper_95": round(self.far_upper, 6),
        }


def _number(v, kind=float):
    try:
        x = kind(v)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) and x >= 0 else None


def model_risk(contract, far_limit: float = MODEL_FAR_LIMIT) -> ModelRisk:
    """The rule for a model's default operating point (a ModelContract): looser than FAR
    ``far_limit``, or a FAR its impostor count cannot support (rule of three)? The one check
    the export dialog and ``twinlock model use`` both ask."""
    key = contract.default_threshold_key
    op = contract.thresholds.get(key) or {}
    far = _number(op.get("far"))
    n = _number(op.get("impostor"), int)
    fa = _number(op.get("false_accepts"), int)
    if fa is None and far is not None and n is not None:
        fa = int(round(far * n))
    target = _number(op.get("target_far"))
    claim = target if target else (far if far else far_limit)
    looser = far is None or far > far_limit * (1 + 1e-6) or claim > far_limit * (1 + 1e-6)
    unsupported = not n or not metrics.supports_far(n, claim)
    upper = far_upper_bound(fa or 0, n or 0)
    return ModelRisk(key, float(contract.default_threshold), far, fa, n, claim, looser, unsupported, upper)


def check_model_risk(contract, confirmed: bool) -> ModelRisk:
    """The risk of ``contract``'s default point; ModelRiskError (its message in words) when it
    needs a confirmation that was not given."""
    risk = model_risk(contract)
    if risk.needs_confirmation and not confirmed:
        raise ModelRiskError(risk.message())
    return risk
