"""The attempt policy and its bounds: how many frames an attempt decides from, how many must
match, its time limit, and the lockout after repeated denials (:class:`Policy`); the bounds
the settings dialog allows, which a stored or imported profile must stay inside
(:func:`check_profile_values`); and the policy every profile starts from (:func:`app_policy`:
the defaults <- the app's "policy" setting). Plain values: the store checks a profile's
policy with it, the verifier applies it (core.verifier)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import numpy as np


@dataclass
class Policy:
    threshold: float | None = None
    k: int = 2
    n: int = 3
    time_limit_s: float = 10.0
    max_frames: int = 60
    k_nearest: int = 1
    lockout_after: int = 5
    lockout_base_s: float = 30.0
    lockout_factor: float = 2.0
    lockout_max_s: float = 3600.0
    save_denied_snapshots: bool = False
    change_factor: float = 1.0  # consecutive frames farther apart than this x threshold: a change

    def validate(self) -> Policy:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "save_denied_snapshots":
                continue
            if v is None and f.name == "threshold":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
                raise ValueError(f"{f.name} must be a finite number, not {v!r:.40}")
        if self.threshold is not None and not (np.isfinite(self.threshold) and self.threshold > 0):
            raise ValueError("the threshold must be a positive number")
        lo, hi = POLICY_BOUNDS["n"]  # the settings dialog's range too: one home
        if not (isinstance(self.n, int) and lo <= self.n <= hi):
            raise ValueError(f"n (frames an attempt decides from) must be between {lo} and {hi}")
        if not (isinstance(self.k, int) and 1 <= self.k <= self.n):
            raise ValueError(f"k (matching frames needed) must be between 1 and n={self.n}")
        if not self.time_limit_s > 0:
            raise ValueError("the time limit must be positive")
        if not (isinstance(self.max_frames, int) and self.max_frames >= self.n):
            raise ValueError("max_frames must be at least n")
        if not (isinstance(self.k_nearest, int) and self.k_nearest >= 1):
            raise ValueError("k_nearest must be 1 or more")
        if not (isinstance(self.lockout_after, int) and self.lockout_after >= 1):
            raise ValueError("lockout_after must be 1 or more")
        if self.lockout_base_s < 0 or self.lockout_factor < 1 or self.lockout_max_s < 0:
            raise ValueError("lockout delays must be >= 0 and the factor >= 1")
        if not (np.isfinite(self.change_factor) and self.change_factor > 0):
            raise ValueError("change_factor must be a positive number")
        return self

    def attempts_left(self, failures: int) -> int | None:
        """Denied attempts still possible before a lockout; None when denials never lock."""
        if self.lockout_base_s <= 0 or self.lockout_max_s <= 0:
            return None
        if failures >= self.lockout_after:
            return 1  # past the limit, every further denial locks again
        return int(self.lockout_after - failures)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> Policy:
        return cls().updated(d or {})

    def updated(self, d: dict) -> Policy:
        """A copy with the known keys of ``d`` applied (ints kept ints); unknown keys ignored."""
        known = {f.name: f.type for f in fields(self)}
        vals = {}
        for key, v in (d or {}).items():
            if key not in known:
                continue
            cur = getattr(self, key)
            if v is None:
                if key == "threshold":
                    vals[key] = None
                continue
            if isinstance(cur, bool) or key == "save_denied_snapshots":
                vals[key] = bool(v)
            elif key in ("k", "n", "max_frames", "k_nearest", "lockout_after"):
                vals[key] = int(v)
            else:
                vals[key] = float(v)
        return replace(self, **vals)

    def lockout_delay(self, failures: int) -> float:
        """Seconds of lockout after ``failures`` consecutive denials (0 below lockout_after)."""
        if failures < self.lockout_after:
            return 0.0
        grown = self.lockout_base_s * self.lockout_factor ** min(failures - self.lockout_after, 64)
        return float(min(self.lockout_max_s, grown))


# The bounds of each policy field: the settings dialog's spin boxes take their ranges from
# here, an imported or stored profile must stay inside them, and Policy.validate holds n to
# its bound. The one home of these numbers.
POLICY_BOUNDS = {
    "k": (1, 20),
    "n": (1, 50),
    "time_limit_s": (1.0, 300.0),
    "max_frames": (1, 10000),
    "k_nearest": (1, 20),
    "lockout_after": (1, 100),
    "lockout_base_s": (0.1, 86400.0),
    "lockout_factor": (1.0, 10.0),
    "lockout_max_s": (1.0, 7 * 86400.0),
    "change_factor": (0.1, 10.0),
}
_INT_FIELDS = {"k", "n", "max_frames", "k_nearest", "lockout_after"}


def check_profile_values(threshold, policy: dict) -> Policy:
    """Validate a profile's own threshold and policy (an import, a stored profile) against
    the settings' bounds; raises ValueError saying which value is wrong."""
    if not isinstance(policy, dict):
        raise ValueError("the policy is not an object")
    for key, v in policy.items():
        if key not in POLICY_BOUNDS and key not in ("threshold", "save_denied_snapshots"):
            raise ValueError(f"the policy has an unknown field '{str(key)[:40]}'")
        if key == "save_denied_snapshots":
            if not isinstance(v, bool):
                raise ValueError("save_denied_snapshots must be true or false")
            continue
        if key == "threshold" and v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise ValueError(f"the policy's {key} must be a number, not {v!r:.40}")
        if key in _INT_FIELDS and not float(v).is_integer():
            raise ValueError(f"the policy's {key} must be a whole number, not {v!r}")
        if key in POLICY_BOUNDS:
            lo, hi = POLICY_BOUNDS[key]
            if not lo <= v <= hi:
                raise ValueError(f"the policy's {key} is {v:g}; it must be between {lo:g} and {hi:g}")
    pol = Policy().updated(policy)
    if threshold is not None:
        pol = replace(pol, threshold=float(threshold))
    return pol.validate()


def app_policy(store) -> Policy:
    """The policy every profile starts from: the defaults <- the app's "policy" setting
    (``save_denied_snapshots`` included)."""
    return Policy().updated(store.get_setting("policy", {}) or {})
