"""A private key written by real cosign (`cosign generate-key-pair`, empty password) decrypts.

The key file is public test data of the sigstore-rs project (tests/data/keys/
cosign_generated_encrypted_empty_private.key): scrypt N=65536, r=8, p=1, nacl/secretbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clamp.trust.errors import TrustError
from clamp.trust.keyfile import decrypt_private_key
from clamp.trust.keys import public_of, sign_bytes

KEY = Path(__file__).parent / "data" / "cosign_generated_empty_password.key"


def test_real_cosign_key_decrypts_and_signs() -> None:
    private = decrypt_private_key(KEY.read_bytes(), b"")
    signature = sign_bytes(private, b"payload")
    public_of(private).verify(signature, b"payload")


def test_wrong_password_is_a_typed_error() -> None:
    with pytest.raises(TrustError) as info:
        decrypt_private_key(KEY.read_bytes(), b"not the password")
    assert "\n" not in str(info.value)
