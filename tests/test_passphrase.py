import hashlib

import pytest

from desktop_app.core import passphrase as pp


def test_hash_then_verify_roundtrip():
    h = pp.hash_passphrase("correct horse")
    assert h.startswith("scrypt$n=16384,r=8,p=1$")
    assert pp.verify_passphrase("correct horse", h)
    assert not pp.verify_passphrase("correct hors", h)
    assert not pp.verify_passphrase("Correct horse", h)
    assert not pp.verify_passphrase("", h)
    assert pp.is_hash(h)


def test_salt_is_random_so_hashes_differ():
    a, b = pp.hash_passphrase("same words"), pp.hash_passphrase("same words")
    assert a != b
    assert pp.verify_passphrase("same words", a) and pp.verify_passphrase("same words", b)


def test_matches_hashlib_scrypt_with_stored_parameters():
    salt = bytes(range(16))
    h = pp.hash_passphrase("pässwörd", n=1024, r=8, p=1, salt=salt)
    expected = hashlib.scrypt("pässwörd".encode(), salt=salt, n=1024, r=8, p=1, dklen=32)
    import base64

    assert h.split("$")[3] == base64.b64encode(expected).decode()
    assert h.split("$")[1] == "n=1024,r=8,p=1"
    assert pp.verify_passphrase("pässwörd", h)  # parameters come from the string


@pytest.mark.parametrize("bad", ["", "abc", "seven77", " leading passphrase", "trailing passphrase "])
def test_rejects_weak_or_padded_new_passphrase(bad):
    with pytest.raises(pp.PassphraseError):
        pp.hash_passphrase(bad)


@pytest.mark.parametrize(
    "damaged",
    [
        "",
        "plain",
        "bcrypt$n=2,r=1,p=1$AA==$AA==",
        "scrypt$n=1000,r=8,p=1$AAAA$AAAA",  # n not a power of 2
        "scrypt$n=16384,r=8,p=1$!!!$AAAA",
        "scrypt$n=16384$AAAA$AAAA",
        "scrypt$n=4194304,r=8,p=1$AAAA$AAAA",
    ],
)  # absurd memory
def test_damaged_hash_gives_clear_error(damaged):
    assert not pp.is_hash(damaged)
    with pytest.raises(pp.PassphraseError, match="damaged"):
        pp.verify_passphrase("whatever", damaged)
