"""The admin's test mode (as ``howdy test``): how far each frame lies from a profile, against
the threshold that profile is verified with -- without an attempt, a lockout count or a
decision. Only the admin gets here (core.admin_actions: refused while the profile is locked
out, the passphrase, audited); ``twinlock test`` and the app's Tools > Test mode show it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .verifier import compare_text, frame_distances, resolve_policy


@dataclass(frozen=True)
class Reading:
    """One frame in test mode: a symbol found or not (and why), its distance, the threshold."""

    found: bool
    reason: str
    distance: float | None
    threshold: float
    image: np.ndarray | None  # the 28x28 model image (None: no symbol)

    @property
    def match(self) -> bool:
        return self.distance is not None and self.distance <= self.threshold

    def text(self) -> str:
        if not self.found:
            return f"no symbol: {self.reason}"
        return f"{compare_text(self.distance, self.threshold)} ({'match' if self.match else 'no match'})"


class ProfileProbe:
    """Distances of frames to one profile's references with one embedder."""

    def __init__(self, store, embedder, profile: str):
        self.embedder = embedder
        self.profile = store.get_profile(profile).name
        pol = resolve_policy(store, self.profile, embedder)
        self.threshold = float(pol.threshold)
        self.k_nearest = pol.k_nearest
        self.references = store.reference_embeddings(self.profile, embedder.fingerprint)
        if len(self.references) == 0:
            raise ValueError(
                f"profile '{self.profile}' has no references embedded by this model: re-embed them "
                "(twinlock doctor --reembed) or re-enroll"
            )

    def measure(self, result) -> Reading:
        """A PreprocessResult -> its Reading."""
        if not result.ok:
            return Reading(False, result.reason, None, self.threshold, None)
        e = self.embedder.embed_images(result.image[None])
        d = float(frame_distances(e, self.references, self.k_nearest)[0])
        return Reading(True, "", d, self.threshold, result.image)
