"""The admin passphrase: scrypt hashing and constant-time verification (Qt-free).

A stored hash is one self-describing string::

    scrypt$n=16384,r=8,p=1$<salt base64>$<hash base64>

so the cost parameters can be raised later without breaking hashes already stored.
Verification recomputes the hash with the stored parameters and salt and compares with
:func:`hmac.compare_digest` (constant time).

:func:`check_admin_passphrase` is the one gate the app and the CLI ask: like a profile's
lockout, each try is counted when it starts (in the database, with the lock check) and a
right passphrase resets the count; after :data:`ADMIN_FREE_TRIES` wrong ones each further
try waits a growing delay (30 s, doubling, at most an hour), kept in the database with the
boot clock so that a restart or a moved wall clock does not shorten it. New passphrases need
:data:`MIN_LENGTH` characters; a shorter one set earlier still verifies.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import time

from .decision import AuditEvent
from .store import LockoutState, boot_clock, boot_id, validate_profile_name

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # ~16 MiB, ~50 ms: interactive-login strength
SALT_BYTES = 16
DKLEN = 32
MIN_LENGTH = 8  # for new passphrases; one set earlier with fewer characters still verifies
_MAXMEM = 64 * 1024 * 1024

# the delay after wrong admin passphrases (the profile lockout's default numbers)
ADMIN_LOCK_KEY = "*admin passphrase*"  # its row in the lockout table (never a profile name)
ADMIN_FREE_TRIES = 5
ADMIN_BASE_S, ADMIN_FACTOR, ADMIN_MAX_S = 30.0, 2.0, 3600.0


class PassphraseError(ValueError):
    """A passphrase or stored hash that cannot be used; the message is for the user."""


class PassphraseDelayed(PassphraseError):
    """Too many wrong admin passphrases: no passphrase is checked until the delay is over."""

    def __init__(self, remaining_s: float):
        self.remaining_s = float(remaining_s)
        super().__init__(
            f"Too many wrong admin passphrases: try again in {math.ceil(self.remaining_s)} s. "
            "This one was not checked and nothing was changed (this is audited)."
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def check_new(passphrase: str) -> None:
    """Raise :class:`PassphraseError` when ``passphrase`` is unusable as a new passphrase."""
    if not isinstance(passphrase, str) or len(passphrase) < MIN_LENGTH:
        raise PassphraseError(f"The passphrase must have at least {MIN_LENGTH} characters.")
    if passphrase != passphrase.strip():
        raise PassphraseError("The passphrase must not start or end with a space.")


def hash_passphrase(passphrase: str, *, n: int = N, r: int = R, p: int = P, salt: bytes | None = None) -> str:
    """The encoded scrypt hash of ``passphrase`` with a fresh random salt."""
    check_new(passphrase)
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    dk = hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=DKLEN)
    return f"{SCHEME}$n={n},r={r},p={p}${_b64(salt)}${_b64(dk)}"


def _parse(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    try:
        scheme, params, salt_b64, hash_b64 = encoded.split("$")
        if scheme != SCHEME:
            raise ValueError(scheme)
        kv = dict(item.split("=", 1) for item in params.split(","))
        n, r, p = int(kv["n"]), int(kv["r"]), int(kv["p"])
        if n < 2 or n & (n - 1) or r < 1 or p < 1 or n * r * 128 > _MAXMEM:
            raise ValueError(params)
        salt, dk = _unb64(salt_b64), _unb64(hash_b64)
        if not salt or not dk:
            raise ValueError("empty")
    except (ValueError, KeyError, AttributeError, TypeError):
        raise PassphraseError(
            "The stored admin passphrase hash is damaged. Remove it from the "
            "settings (twinlock's database) and set the passphrase again."
        ) from None
    return n, r, p, salt, dk


def verify_passphrase(passphrase: str, encoded: str) -> bool:
    """Whether ``passphrase`` matches the encoded hash (constant-time comparison)."""
    n, r, p, salt, dk = _parse(encoded)
    if not isinstance(passphrase, str):
        return False
    cand = hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=len(dk))
    return hmac.compare_digest(cand, dk)


def is_hash(encoded: str | None) -> bool:
    """Whether ``encoded`` is a well-formed stored hash (a passphrase is set)."""
    if not encoded:
        return False
    try:
        _parse(encoded)
    except PassphraseError:
        return False
    return True


def admin_delay(failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive wrong admin passphrases."""
    if failures < ADMIN_FREE_TRIES:
        return 0.0
    return float(min(ADMIN_MAX_S, ADMIN_BASE_S * ADMIN_FACTOR ** min(failures - ADMIN_FREE_TRIES, 64)))


def check_admin_passphrase(store, given, action: str, profile=None, via: str = "cli", **extra) -> bool:
    """Whether ``given`` is the admin passphrase stored in ``store`` (one is set), counted
    like an unlock attempt: the try is counted in the transaction that checks the delay,
    before the (slow) comparison, and only a right passphrase resets the count; a wrong one
    is audited ("passphrase_failed", never the text). Raises :class:`PassphraseDelayed`
    (audited, nothing compared) while a delay runs, :class:`PassphraseError` for a damaged
    hash, and the store's InvalidProfileName for a bad ``profile`` before anything is written."""
    if profile is not None:
        profile = validate_profile_name(profile)
    stored = store.get_setting("admin_passphrase", None)
    _parse(stored if isinstance(stored, str) else "")  # a damaged hash: PassphraseError, nothing counted
    detail = {"action": str(action)[:200], "via": via, **extra}
    now = time.time()
    with store.transaction() as tx:
        lock = tx.lockout(ADMIN_LOCK_KEY)
        rem = lock.remaining(now)
        if rem > 0:
            tx.log(profile, AuditEvent.PASSPHRASE_FAILED, detail={**detail, "delayed_s": round(rem, 1)})
        else:
            failures = lock.failures + 1
            delay = admin_delay(failures)
            if delay > 0:
                counted = LockoutState(failures, now + delay, delay, boot_id(), boot_clock())
            else:
                counted = LockoutState(failures, lock.locked_until, lock.lock_s, lock.boot_id, lock.boot_at)
            tx.set_lockout(ADMIN_LOCK_KEY, counted)
    if rem > 0:
        raise PassphraseDelayed(rem)
    ok = verify_passphrase(given, stored) if isinstance(given, str) else False
    with store.transaction() as tx:
        if ok:
            tx.set_lockout(ADMIN_LOCK_KEY, LockoutState())
        else:
            tx.log(profile, AuditEvent.PASSPHRASE_FAILED, detail={**detail, "failures": counted.failures})
    return ok
