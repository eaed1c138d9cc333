"""The profile file format: a profile exported as JSON (references as base64 PNG with their
embeddings) and imported back, every field checked before anything is written."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..decision import AuditEvent
from ..paths import atomic_write_bytes
from .codec import _png, _unpng
from .errors import ProfileExists, StoreError
from .profiles import Profile, validate_profile_name

EXPORT_FORMAT = "twinlock-profile"
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 64 * 2**20
MAX_IMPORT_REFERENCES = 1000
MIN_EMBEDDING_DIM, MAX_EMBEDDING_DIM = 2, 4096


class ProfileFileMixin:
    """Export and import of one profile."""

    def export_profile(self, name, path) -> Path:
        prof = self.get_profile(name)
        refs = self.references(name)
        doc = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "name": prof.name,
            "created": prof.created,
            "threshold": prof.threshold,
            "policy": prof.policy,
            "exported": time.time(),
            "references": [
                {
                    "image_png": base64.b64encode(_png(r.image)).decode("ascii"),
                    "crop_png": None if r.crop is None else base64.b64encode(_png(r.crop)).decode("ascii"),
                    "embedding": [float(v) for v in r.embedding],
                    "fingerprint": r.fingerprint,
                    "created": r.created,
                }
                for r in refs
            ],
        }
        data = json.dumps(doc, indent=1).encode("utf-8")
        return atomic_write_bytes(path, data, mode=0o600)

    def import_profile(self, path, name=None, overwrite: bool = False, policy_check=None) -> Profile:
        """Read a profile export; every field is checked before anything is written.

        ``policy_check(threshold, policy_dict)`` raises ValueError for values the verifier
        would refuse (the verifier's :func:`~desktop_app.core.verifier.check_profile_values`
        by default). Replacing an existing profile (``overwrite``) keeps its lockout state:
        an import never resets failures."""
        p = Path(path)
        what = f"The file {p}"
        doc = _read_document(p, what)
        target = validate_profile_name(name if name is not None else doc.get("name", ""))
        try:
            exp = _checked_export(doc, policy_check)
        except (KeyError, TypeError, ValueError, StoreError, base64.binascii.Error, OverflowError) as exc:
            why = str(exc) if isinstance(exc, ValueError) and str(exc) else "its references cannot be read"
            if isinstance(exc, KeyError):
                why = f"the field {exc} is missing"
            raise StoreError(
                f"{what} is not a usable twinlock profile export ({why}). Nothing was "
                "imported; export the profile again."
            ) from None
        with self._tx() as con:
            row = con.execute("SELECT id FROM profiles WHERE name = ?", (target,)).fetchone()
            kept_lock = None
            if row is not None:
                if not overwrite:
                    raise ProfileExists(
                        f"A profile named '{target}' already exists. Import under "
                        "another name (--name) or replace it (--overwrite)."
                    )
                con.execute("DELETE FROM profiles WHERE id = ?", (row[0],))
                kept_lock = self.lockout_in(con, target)  # the lockout state stays as it was
            pid = self._insert_profile(con, target, exp.threshold, exp.policy, exp.created)
            for img, crop, e, fp, c in exp.references:
                self._insert_reference(con, pid, _png(img), _png(crop), e.tobytes(), e.size, fp, c)
            self._log(
                con,
                target,
                AuditEvent.PROFILE_IMPORTED,
                detail={
                    "file": str(p),
                    "references": len(exp.references),
                    "replaced": row is not None,
                    "failures_kept": None if kept_lock is None else kept_lock.failures,
                },
            )
        return self.get_profile(target)


@dataclass
class _Export:
    """A profile export whose every field was checked: (image, crop, embedding, fingerprint,
    created) per reference, and the profile's threshold, policy and creation time."""

    references: list
    threshold: float | None
    policy: dict
    created: float | None


def _read_document(p: Path, what: str) -> dict:
    """The export file's JSON document, of a format version this twinlock reads."""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise StoreError(f"{what} does not exist.") from None
    except OSError as exc:
        raise StoreError(f"{what} cannot be read ({exc.strerror}).") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a device, FIFO or socket)"
        raise StoreError(f"{what} is {kind}; a profile export is a .json file.")
    if st.st_size > MAX_IMPORT_BYTES:
        raise StoreError(
            f"{what} is {st.st_size / 2**20:.0f} MiB, larger than any profile export "
            f"({MAX_IMPORT_BYTES // 2**20} MiB at most)."
        )
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_IMPORT_BYTES + 1)
        doc = json.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise StoreError(f"{what} is not a twinlock profile export (not readable JSON).") from None
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        raise StoreError(f"{what} is not a twinlock profile export.")
    version = doc.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise StoreError(f"{what} has an invalid format version ({str(version)[:20]!r}); export the profile again.")
    if version > EXPORT_VERSION:
        raise StoreError(f"{what} was exported by a newer twinlock (format version {version}). Update twinlock.")
    return doc


def _checked_reference(r) -> tuple:
    """(image, crop, embedding, fingerprint, created) of one exported reference; ValueError
    (or KeyError, TypeError, a decoding error) says what is wrong."""
    if not isinstance(r, dict):
        raise ValueError("a reference is not an object")
    img = _unpng(base64.b64decode(r["image_png"], validate=True))
    if img is None or img.shape != (28, 28) or img.dtype != np.uint8:
        raise ValueError("a reference image is not a 28x28 8-bit image")
    crop = None
    if r.get("crop_png") is not None:
        crop = _unpng(base64.b64decode(r["crop_png"], validate=True))
        if crop.dtype != np.uint8 or crop.ndim != 2 or max(crop.shape) > 4096:
            raise ValueError("a reference crop is not an 8-bit grey image")
    vals = r["embedding"]
    if not isinstance(vals, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        raise ValueError("an embedding is not a list of numbers")
    e = np.asarray(vals, dtype=np.float32)
    if e.ndim != 1 or not (MIN_EMBEDDING_DIM <= e.size <= MAX_EMBEDDING_DIM) or not np.all(np.isfinite(e)):
        raise ValueError(
            f"an embedding has {e.size} numbers or is not finite "
            f"({MIN_EMBEDDING_DIM}..{MAX_EMBEDDING_DIM} finite numbers expected)"
        )
    fp = r["fingerprint"]
    if not isinstance(fp, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,128}", fp):
        raise ValueError("a reference has no valid model fingerprint")
    c = r.get("created", time.time())
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
        raise ValueError("a reference's creation time is not a number")
    return img, crop, e, fp, float(c)


def _checked_export(doc: dict, policy_check=None) -> _Export:
    """Every field of an export document checked (the references, the threshold against
    them, the policy with ``policy_check``); raises as :func:`_checked_reference` does."""
    refs = doc["references"]
    if not isinstance(refs, list) or not refs or len(refs) > MAX_IMPORT_REFERENCES:
        raise ValueError(f"it needs 1 to {MAX_IMPORT_REFERENCES} references")
    references = [_checked_reference(r) for r in refs]
    embs = [r[2] for r in references]
    if len({e.size for e in embs}) != 1 or len({r[3] for r in references}) != 1:
        raise ValueError("the references mix embedding sizes or models")
    threshold = doc.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise ValueError("the threshold is not a number")
    threshold = None if threshold is None else float(threshold)
    policy = doc.get("policy") or {}
    if not isinstance(policy, dict):
        raise ValueError("the policy is not an object")
    pc = doc.get("created")
    if pc is not None and (isinstance(pc, bool) or not isinstance(pc, (int, float)) or not math.isfinite(pc)):
        raise ValueError("the creation time is not a number")
    max_norm = max(float(np.linalg.norm(e)) for e in embs)
    if threshold is not None:
        if not (math.isfinite(threshold) and threshold > 0):
            raise ValueError(f"the threshold {threshold} is not a positive number")
        if threshold >= 2 * max_norm:
            raise ValueError(
                f"the threshold {threshold:g} is at least the largest possible distance "
                f"between its embeddings ({2 * max_norm:.3g}): it would accept any symbol"
            )
    if policy_check is None:
        from ..verifier import check_profile_values as policy_check
    policy_check(threshold, policy)
    return _Export(references, threshold, policy, pc)
