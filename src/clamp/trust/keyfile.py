"""cosign's encrypted private key file (`cosign.key`) and key-pair generation.

Format (go-securesystemslib `encrypted`, as cosign writes it): a PEM block of type
`ENCRYPTED SIGSTORE PRIVATE KEY` (older cosign: `ENCRYPTED COSIGN PRIVATE KEY`) whose body is
JSON: `{"kdf": {"name": "scrypt", "params": {"N", "r", "p"}, "salt": b64},
"cipher": {"name": "nacl/secretbox", "nonce": b64}, "ciphertext": b64}`. The secretbox key is
scrypt(password, salt, N, r, p, 32 bytes); the plaintext is the PKCS#8 DER private key.
cosign's defaults are N=32768, r=8, p=1, a 32-byte salt and a 24-byte nonce.
"""

from __future__ import annotations

import hashlib
import os
import re

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from clamp.trust.encoding import b64decode, b64encode, loads_json
from clamp.trust.errors import TrustInputError
from clamp.trust.keys import PrivateKeyTypes, PublicKey

PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
WRITE_PEM_TYPE = PEM_TYPES[0]
SCRYPT_N, SCRYPT_R, SCRYPT_P = 32768, 8, 1
_MAX_N = 1 << 20  # refuse KDF parameters that would make reading a key a denial of service
_PEM_RE = re.compile(
    rb"-----BEGIN ([A-Z ]+)-----\r?\n(.*?)\r?\n-----END \1-----", re.DOTALL)
MAX_KEY_FILE = 64 * 1024


def _derive(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    if n < 2 or n & (n - 1) or n > _MAX_N or not 1 <= r <= 32 or not 1 <= p <= 16:
        raise TrustInputError("private-key", f"refusing scrypt parameters N={n} r={r} p={p}")
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32,
                          maxmem=256 * r * n * p + (1 << 20))


def encrypt_private_key(private_key: PrivateKeyTypes, password: bytes) -> bytes:
    """PEM bytes of `private_key` encrypted the way `cosign generate-key-pair` does it."""
    import json

    from nacl.secret import SecretBox

    der = private_key.private_bytes(serialization.Encoding.DER,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    salt, nonce = os.urandom(32), os.urandom(24)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    ciphertext = SecretBox(key).encrypt(der, nonce).ciphertext
    body = json.dumps({
        "kdf": {"name": "scrypt", "params": {"N": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
                "salt": b64encode(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": b64encode(nonce)},
        "ciphertext": b64encode(ciphertext),
    }, separators=(",", ":")).encode()
    lines = [b64encode(body)[i:i + 64] for i in range(0, len(b64encode(body)), 64)]
    text = f"-----BEGIN {WRITE_PEM_TYPE}-----\n" + "\n".join(lines) + \
        f"\n-----END {WRITE_PEM_TYPE}-----\n"
    return text.encode()


def decrypt_private_key(pem: bytes, password: bytes, *, where: str | None = None
                        ) -> PrivateKeyTypes:
    """Read a cosign encrypted private key; BAD_INPUT on a wrong password or a damaged file."""
    if len(pem) > MAX_KEY_FILE:
        raise TrustInputError("private-key", "key file too large", where=where)
    match = _PEM_RE.search(pem)
    if not match or match.group(1).decode() not in PEM_TYPES:
        raise TrustInputError("private-key", "not an ENCRYPTED SIGSTORE/COSIGN PRIVATE KEY PEM",
                              where=where)
    body = b64decode(b"".join(match.group(2).split()), check="private-key")
    doc = loads_json(body, check="private-key", error=TrustInputError)
    try:
        kdf, cipher = doc["kdf"], doc["cipher"]
        if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
            raise TrustInputError("private-key", "unsupported KDF or cipher", where=where)
        params = kdf["params"]
        n, r, p = (int(params[k]) for k in ("N", "r", "p"))
        salt = b64decode(kdf["salt"], check="private-key")
        nonce = b64decode(cipher["nonce"], check="private-key")
        ciphertext = b64decode(doc["ciphertext"], check="private-key")
    except (KeyError, TypeError, ValueError) as exc:
        raise TrustInputError("private-key", f"malformed key file ({exc})", where=where) from exc
    if len(nonce) != 24:
        raise TrustInputError("private-key", "secretbox nonce must be 24 bytes", where=where)
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    try:
        der = SecretBox(_derive(password, salt, n, r, p)).decrypt(ciphertext, nonce)
    except CryptoError as exc:
        raise TrustInputError("private-key", "wrong password or damaged key file",
                              where=where) from exc
    try:
        key = serialization.load_der_private_key(der, password=None)
    except ValueError as exc:
        raise TrustInputError("private-key", f"not a PKCS#8 key ({exc})", where=where) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
                      | ed25519.Ed25519PrivateKey):
        raise TrustInputError("private-key", "unsupported private key type", where=where)
    return key


def generate_key_pair(password: bytes) -> tuple[bytes, bytes]:
    """(cosign.key PEM, cosign.pub PEM) for a fresh ECDSA P-256 key, as cosign generates."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    return encrypt_private_key(private_key, password), PublicKey(private_key.public_key()).pem
