"""The profile file format: a profile exported as JSON (references as base64 PNG with their
embeddings) and imported back, every field checked before anything is written.

An import never reads the embeddings in the file: they are recomputed from the reference
images by the model in use (a file whose embeddings are another symbol's cannot plant it).
Every PNG is sized from its header before it is decoded; each crop and the file's crops
together are capped (MAX_CROP_PIXELS, MAX_IMPORT_PIXELS). A threshold looser than the
model's default or a policy weaker than the app's (core.import_risks) needs ``confirmed``
and is audited with what it loosened.

A one-symbol profile is written as format version 1 (as always). A passcode is written as
version 2: ``symbols`` (2-4) and each reference's ``position`` (0-based, left to right), so a
twinlock that does not know passcodes refuses the file rather than mixing its symbols. A
version-1 file imports as a one-symbol profile."""

from __future__ import annotations

import base64
import json
import math
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..decision import AuditEvent
from ..import_risks import import_risks
from ..paths import atomic_write_bytes
from ..policy import check_profile_values
from .codec import _png, _unpng
from .errors import ProfileExists, StoreError
from .open_files import refuse_if_open_database
from .profiles import Profile, validate_profile_name, validate_symbols

EXPORT_FORMAT = "twinlock-profile"
EXPORT_VERSION = 2  # the newest this twinlock reads; one-symbol profiles are still written as 1
MAX_IMPORT_BYTES = 64 * 2**20
MAX_IMPORT_REFERENCES = 1000
MIN_EMBEDDING_DIM, MAX_EMBEDDING_DIM = 2, 4096
MAX_CROP_SIDE = 4096
MAX_CROP_PIXELS = 16_000_000  # one crop (a camera crop is far smaller; an image file's at most 12 MP)
MAX_IMPORT_PIXELS = 64_000_000  # every crop of one file together (64 MB decoded)
MAX_IMPORT_NUMBERS = 5_000_000  # 1000 references x 4096-number embeddings (unread) and more
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ImportNeedsConfirmation(StoreError):
    """The profile file loosens the threshold or the policy; ``risks`` says how."""

    def __init__(self, message: str, risks: list[str]):
        super().__init__(message)
        self.risks = risks


class ProfileFiles:
    """Export and import of one profile: a service over the tables (their public methods)."""

    def __init__(self, db, profiles, refs, lockouts, audit_log, app_settings):
        self.db, self.profiles, self.refs = db, profiles, refs
        self.lockouts, self.audit_log, self.app_settings = lockouts, audit_log, app_settings

    def export_profile(self, name, path) -> Path:
        prof = self.profiles.get_profile(name)
        refs = self.refs.references(name)
        doc = {
            "format": EXPORT_FORMAT,
            "version": 1 if prof.symbols == 1 else 2,
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
        if prof.symbols > 1:
            doc["symbols"] = prof.symbols
            for entry, r in zip(doc["references"], refs):
                entry["position"] = r.position
        data = json.dumps(doc, indent=1).encode("utf-8")
        return atomic_write_bytes(path, data, mode=0o600)

    def import_profile(
        self,
        path,
        embedder,
        name=None,
        overwrite: bool = False,
        policy_check=None,
        confirmed: bool = False,
        via: str = "",
    ) -> Profile:
        """Read a profile export; every field is checked before anything is written, and the
        embeddings are computed from its images by ``embedder`` (the model in use), never read
        from the file.

        ``policy_check(threshold, policy_dict)`` raises ValueError for values the verifier
        would refuse (:func:`~desktop_app.core.policy.check_profile_values`
        by default). A threshold looser than the model's default or a policy weaker than the
        app's raises :class:`ImportNeedsConfirmation` unless ``confirmed``; a confirmed one is
        audited with what it loosened. Replacing an existing profile (``overwrite``) keeps its
        lockout state: an import never resets failures."""
        p = Path(path)
        what = f"The file {p}"
        doc = _read_document(p, what)
        target = validate_profile_name(name if name is not None else doc.get("name", ""))
        try:
            exp = _checked_export(doc, policy_check)
            embs = _embed(embedder, exp)
            _check_threshold(exp.threshold, embs)
        except (KeyError, TypeError, ValueError, StoreError, base64.binascii.Error, OverflowError) as exc:
            why = str(exc) if isinstance(exc, ValueError) and str(exc) else "its references cannot be read"
            if isinstance(exc, KeyError):
                why = f"the field {exc} is missing"
            raise StoreError(
                f"{what} is not a usable twinlock profile export ({why}). Nothing was "
                "imported; export the profile again."
            ) from None
        risks = import_risks(self.app_settings, embedder.contract, exp.threshold, exp.policy)
        if risks and not confirmed:
            raise ImportNeedsConfirmation(
                f"{what} would loosen the lock: {'; '.join(risks)}. Nothing was imported; import it "
                "anyway only if you trust it (it is then audited).",
                risks,
            )
        fp = embedder.fingerprint
        with self.db.write() as con:
            found = self.profiles.lookup_in(con, target)
            kept_lock = None
            if found is not None:
                if not overwrite:
                    raise ProfileExists(
                        f"A profile named '{target}' already exists. Import under "
                        "another name (--name) or replace it (--overwrite)."
                    )
                self.profiles.delete_in(con, target)
                kept_lock = self.lockouts.lockout_in(con, target)  # the lockout state stays as it was
            pid = self.profiles.insert_in(con, target, exp.threshold, exp.policy, exp.created, symbols=exp.symbols)
            for (img, crop, c), e, position in zip(exp.references, embs, exp.positions):
                self.refs.insert_in(con, pid, _png(img), _png(crop), e.tobytes(), e.size, fp, c, position)
            detail = {
                "file": str(p),
                "references": len(exp.references),
                "replaced": found is not None,
                "failures_kept": None if kept_lock is None else kept_lock.failures,
                "embeddings": f"recomputed by model {fp[:12]}",
            }
            if risks:
                detail.update(confirmed=True, loosened=risks)
            if exp.symbols > 1:
                detail["symbols"] = exp.symbols
            if via:
                detail["via"] = via
            self.audit_log.log_in(con, target, AuditEvent.PROFILE_IMPORTED, fingerprint=fp, detail=detail)
        return self.profiles.get_profile(target)


def _embed(embedder, exp) -> np.ndarray:
    """The references' embeddings, computed by the model in use."""
    imgs = np.stack([r[0] for r in exp.references])
    e = np.asarray(embedder.embed_images(imgs), dtype=np.float32)
    if e.ndim != 2 or e.shape[0] != len(imgs) or not np.all(np.isfinite(e)):
        raise ValueError("the model gives no usable embeddings for its images")
    return e


def _check_threshold(threshold, embs: np.ndarray) -> None:
    if threshold is None:
        return
    max_norm = float(np.linalg.norm(embs, axis=1).max())
    if threshold >= 2 * max_norm:
        raise ValueError(
            f"the threshold {threshold:g} is at least the largest possible distance "
            f"between its embeddings ({2 * max_norm:.3g}): it would accept any symbol"
        )


@dataclass
class _Export:
    """A profile export whose every field was checked: (image, crop, created) per reference,
    and the profile's threshold, policy and creation time (its embeddings are never read)."""

    references: list
    threshold: float | None
    policy: dict
    created: float | None
    symbols: int = 1
    positions: tuple = ()  # one per reference (0 for a one-symbol profile)


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
    refuse_if_open_database(p, "a profile export", StoreError)  # before it is opened
    if st.st_size > MAX_IMPORT_BYTES:
        raise StoreError(
            f"{what} is {st.st_size / 2**20:.0f} MiB, larger than any profile export "
            f"({MAX_IMPORT_BYTES // 2**20} MiB at most)."
        )
    try:
        with open(p, "rb") as fh:
            raw = fh.read(MAX_IMPORT_BYTES + 1)
        doc = _parse_bounded(raw.decode("utf-8"))
    except _TooManyNumbers:
        raise StoreError(
            f"{what} holds more than {MAX_IMPORT_NUMBERS:,} numbers, more than any profile export; "
            "nothing was imported."
        ) from None
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


class _TooManyNumbers(Exception):
    pass


def _parse_bounded(text: str):
    """``json.loads`` that stops after MAX_IMPORT_NUMBERS numbers: a 64 MiB file of numbers
    would otherwise take about 1 GB as Python objects (each number 32 bytes)."""
    count = [0]

    def number(kind):
        def parse(s):
            count[0] += 1
            if count[0] > MAX_IMPORT_NUMBERS:
                raise _TooManyNumbers
            return kind(s)

        return parse

    return json.loads(text, parse_float=number(float), parse_int=number(int))


def _png_size(data: bytes, what: str) -> tuple[int, int]:
    """(width, height) from a PNG's header, nothing decoded; ValueError for anything else."""
    if len(data) < 24 or data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise ValueError(f"{what} is not a PNG image")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _checked_reference(r, budget: list) -> tuple:
    """(image, crop, created) of one exported reference; ValueError (or KeyError, TypeError,
    a decoding error) says what is wrong. ``budget``: [crop pixels left in this file]."""
    if not isinstance(r, dict):
        raise ValueError("a reference is not an object")
    data = base64.b64decode(r["image_png"], validate=True)
    if _png_size(data, "a reference image") != (28, 28):
        raise ValueError("a reference image is not a 28x28 8-bit image")
    img = _unpng(data)
    if img is None or img.shape != (28, 28) or img.dtype != np.uint8:
        raise ValueError("a reference image is not a 28x28 8-bit image")
    crop = None
    if r.get("crop_png") is not None:
        data = base64.b64decode(r["crop_png"], validate=True)
        w, h = _png_size(data, "a reference crop")
        if max(w, h) > MAX_CROP_SIDE or w * h > MAX_CROP_PIXELS:
            raise ValueError(
                f"a reference crop is {w}x{h} pixels; an import takes crops up to {MAX_CROP_SIDE} pixels "
                f"a side and {MAX_CROP_PIXELS / 1e6:g} MP"
            )
        budget[0] -= w * h
        if budget[0] < 0:
            raise ValueError(f"its crops hold more than {MAX_IMPORT_PIXELS / 1e6:g} MP together")
        crop = _unpng(data)
        if crop.dtype != np.uint8 or crop.ndim != 2 or crop.shape != (h, w):
            raise ValueError("a reference crop is not an 8-bit grey image")
    c = r.get("created", time.time())
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
        raise ValueError("a reference's creation time is not a number")
    return img, crop, float(c)


def _checked_export(doc: dict, policy_check=None) -> _Export:
    """Every field of an export document checked (the references, the threshold, the policy
    with ``policy_check``); raises as :func:`_checked_reference` does. The embeddings and
    fingerprints in the file are not read."""
    refs = doc["references"]
    if not isinstance(refs, list) or not refs or len(refs) > MAX_IMPORT_REFERENCES:
        raise ValueError(f"it needs 1 to {MAX_IMPORT_REFERENCES} references")
    budget = [MAX_IMPORT_PIXELS]
    references = [_checked_reference(r, budget) for r in refs]
    symbols, positions = _checked_positions(doc, refs)
    threshold = doc.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))):
        raise ValueError("the threshold is not a number")
    threshold = None if threshold is None else float(threshold)
    if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
        raise ValueError(f"the threshold {threshold} is not a positive number")
    policy = doc.get("policy") or {}
    if not isinstance(policy, dict):
        raise ValueError("the policy is not an object")
    pc = doc.get("created")
    if pc is not None and (isinstance(pc, bool) or not isinstance(pc, (int, float)) or not math.isfinite(pc)):
        raise ValueError("the creation time is not a number")
    if policy_check is None:
        policy_check = check_profile_values
    policy_check(threshold, policy)
    return _Export(references, threshold, policy, pc, symbols, positions)


def _checked_positions(doc: dict, refs: list) -> tuple[int, tuple]:
    """(symbols, one position per reference): version 1 is one symbol; version 2 says how many
    and where each reference belongs, every position holding at least one."""
    if doc.get("version", 1) < 2:
        return 1, (0,) * len(refs)
    try:
        symbols = validate_symbols(doc.get("symbols", 1))
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    positions = []
    for r in refs:
        p = r.get("position", 0)
        if isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < symbols:
            raise ValueError(f"a reference's position ({str(p)[:20]}) is not one of its {symbols} symbols")
        positions.append(p)
    missing = sorted(set(range(symbols)) - set(positions))
    if missing:
        raise ValueError(f"symbol {missing[0] + 1} of its {symbols} has no reference")
    return symbols, tuple(positions)
