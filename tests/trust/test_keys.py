"""Key loading for every supported type, cosign encrypted keys, and `clamp keygen`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from clamp.cli.main import app, invoke
from clamp.exitcodes import ExitCode
from clamp.trust.cosign_legacy import verify_legacy_layer
from clamp.trust.errors import InvalidSignatureError, TrustInputError
from clamp.trust.keyfile import decrypt_private_key, encrypt_private_key
from clamp.trust.keys import PublicKey, load_public_key
from clamp.trust.policy import Policy
from clamp.trust.sign import sign_image_legacy

from .conftest import DIGEST, REFERENCE

KEYS = {
    "p256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "rsa": lambda: rsa.generate_private_key(65537, 2048),
    "ed25519": ed25519.Ed25519PrivateKey.generate,
}


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_every_key_type_signs_and_verifies(kind: str) -> None:
    private = KEYS[kind]()
    public = load_public_key(PublicKey(private.public_key()).pem)
    layer = sign_image_legacy(private, DIGEST, REFERENCE)
    assert verify_legacy_layer(layer, DIGEST, Policy(keys=(public,), require_tlog=False)).ok
    assert len(public.fingerprint) == 64


def test_rsa_pss_is_not_a_key_signature() -> None:
    """cosign's key loader (sigstore `LoadVerifier`) verifies RSA keys with PKCS#1 v1.5 only:
    a PSS signature by the same key is refused (clamp took it until session 11); a trusted
    root's log key whose details name PSS is verified with PSS, and then only PSS."""
    private = rsa.generate_private_key(65537, 2048)
    key = PublicKey(private.public_key())
    pss = private.sign(b"data", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    pkcs1 = private.sign(b"data", padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignatureError):
        key.verify(pss, b"data")
    with pytest.raises(InvalidSignatureError):
        key.verify_any(pss, b"data")
    key.verify(pkcs1, b"data")
    key.verify_any(pkcs1, b"data")
    key.verify(pss, b"data", rsa_pss=True)
    with pytest.raises(InvalidSignatureError):
        key.verify(pkcs1, b"data", rsa_pss=True)


def test_key_not_pem() -> None:
    with pytest.raises(TrustInputError) as info:
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    assert info.value.check == "key"


def test_signature_rejects_garbage() -> None:
    key = PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key())
    with pytest.raises(InvalidSignatureError):
        key.verify(b"\x30\x02\x00\x00", b"data")


def test_encrypted_key_round_trip() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = encrypt_private_key(private, b"pw")
    assert pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    body = json.loads(base64.b64decode(b"".join(pem.splitlines()[1:-1])))
    assert body["kdf"]["name"] == "scrypt" and body["cipher"]["name"] == "nacl/secretbox"
    assert body["kdf"]["params"] == {"N": 32768, "r": 8, "p": 1}
    back = decrypt_private_key(pem, b"pw")
    assert PublicKey(back.public_key()).fingerprint == PublicKey(private.public_key()).fingerprint
    legacy = pem.replace(b"SIGSTORE", b"COSIGN")
    assert decrypt_private_key(legacy, b"pw") is not None
    with pytest.raises(TrustInputError, match="wrong password"):
        decrypt_private_key(pem, b"other")


def test_keygen_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAMP_PASSWORD", "s3cret")
    prefix = str(tmp_path / "k")
    assert invoke(app, ["keygen", "--output-prefix", prefix], prog_name="clamp") == 0
    private = decrypt_private_key((tmp_path / "k.key").read_bytes(), b"s3cret")
    public = load_public_key((tmp_path / "k.pub").read_bytes())
    assert public.equals(private.public_key())  # type: ignore[arg-type]
    assert (tmp_path / "k.key").stat().st_mode & 0o077 == 0
    assert invoke(app, ["keygen", "--output-prefix", prefix],
                  prog_name="clamp") == ExitCode.BAD_INPUT
