"""The admin passphrase: scrypt hashing and constant-time verification (Qt-free).

A stored hash is one self-describing string::

    scrypt$n=16384,r=8,p=1$<salt base64>$<hash base64>

so the cost parameters can be raised later without breaking hashes already stored.
Verification recomputes the hash with the stored parameters and salt and compares with
:func:`hmac.compare_digest` (constant time).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCHEME = "scrypt"
N, R, P = 2**14, 8, 1  # ~16 MiB, ~50 ms: interactive-login strength
SALT_BYTES = 16
DKLEN = 32
MIN_LENGTH = 4
_MAXMEM = 64 * 1024 * 1024


class PassphraseError(ValueError):
    """A passphrase or stored hash that cannot be used; the message is for the user."""


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
