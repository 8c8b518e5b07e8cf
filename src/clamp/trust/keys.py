"""Public keys as small verifier objects, and the signing keys `clamp sign` uses.

cosign loads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) and verifies with SHA-256 unless told
otherwise (`--signature-digest-algorithm`); its key loader (sigstore's `LoadVerifier`) gives an
RSA key a PKCS#1 v1.5 verifier and never a PSS one, and sigstore-go's default verifier for a
Fulcio certificate's RSA key is PKCS#1 v1.5 too. So an RSA signature by a policy key or a
certificate is PKCS#1 v1.5 with SHA-256, nothing else (clamp took PSS as well until session 11);
PSS only where a trusted root's key details name it (`PKIX_RSA_PSS_*`, a log's own key).
ECDSA on P-256/P-384/P-521 verifies with SHA-256 or the curve's own hash (SHA-384/SHA-512):
sigstore-go's verifier for a certificate takes exactly these two (its default and its
"compatibility" verifier), and cosign >= 2.4 signs with the curve's hash. Ed25519: pure, or
Ed25519ph (cosign >= 2.4's default for Ed25519 keys).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from clamp.trust.encoding import MAX_PEM
from clamp.trust.errors import InvalidSignatureError, TrustInputError

PublicKeyTypes = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey
PrivateKeyTypes = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
MAX_SIGNATURE_BYTES = 2048  # RSA-16384; anything longer is not a signature we would accept
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def spki_der(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def spki_fingerprint(key: PublicKeyTypes) -> str:
    """sha256 of the DER SubjectPublicKeyInfo, hex: cosign's and Rekor's key/log identifier."""
    return hashlib.sha256(spki_der(key)).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    """A verifier for one public key; `.verify()` raises `InvalidSignatureError`."""

    key: PublicKeyTypes
    fingerprint: str = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey
                          | ed25519.Ed25519PublicKey):
            raise TrustInputError("key", f"unsupported public key type {type(self.key).__name__}")
        if isinstance(self.key, rsa.RSAPublicKey) and self.key.key_size < 2048:
            raise TrustInputError("key", f"RSA key too small ({self.key.key_size} bits)")
        object.__setattr__(self, "fingerprint", spki_fingerprint(self.key))

    @property
    def der(self) -> bytes:
        return spki_der(self.key)

    @property
    def ssh_key_id(self) -> str:
        """The key's OpenSSH SHA256 fingerprint (`SHA256:` + unpadded base64 of the SHA-256 of
        its SSH wire form): the DSSE keyid go-securesystemslib gives a verifier without one."""
        import base64

        blob = self.key.public_bytes(serialization.Encoding.OpenSSH,
                                     serialization.PublicFormat.OpenSSH).split()[1]
        digest = hashlib.sha256(base64.b64decode(blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def pem(self) -> bytes:
        return self.key.public_bytes(serialization.Encoding.PEM,
                                     serialization.PublicFormat.SubjectPublicKeyInfo)

    def verify(self, signature: bytes, data: bytes, *, hash_name: str = "sha256",
               check: str = "signature", prehashed: bool = False,
               rsa_pss: bool = False) -> None:
        """Verify `signature` over `data` (or over the digest `data` when `prehashed`); an RSA
        signature is PKCS#1 v1.5, or PSS (only) when `rsa_pss` (a trusted root's key details)."""
        if not signature or len(signature) > MAX_SIGNATURE_BYTES:
            raise InvalidSignatureError(check, f"signature length {len(signature)} is implausible")
        algorithm = _HASHES.get(hash_name)
        if algorithm is None:
            raise InvalidSignatureError(check, f"unsupported hash {hash_name}")
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        chosen: hashes.HashAlgorithm | Prehashed = (
            Prehashed(algorithm()) if prehashed else algorithm())
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, data, ec.ECDSA(chosen))
            elif isinstance(self.key, rsa.RSAPublicKey):
                padded = (padding.PSS(mgf=padding.MGF1(algorithm()),
                                      salt_length=padding.PSS.AUTO)
                          if rsa_pss else padding.PKCS1v15())
                self.key.verify(signature, data, padded, chosen)
            else:
                if prehashed:
                    raise InvalidSignatureError(check, "Ed25519 cannot verify a bare digest")
                self.key.verify(signature, data)
        except InvalidSignature as exc:
            raise InvalidSignatureError(
                check, f"signature does not verify with key sha256:{self.fingerprint[:16]}"
            ) from exc
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise InvalidSignatureError(check, f"malformed signature ({exc})") from exc

    def hash_names(self) -> list[str]:
        """Hashes a signer with this key may have used, most likely first: ECDSA P-384 and
        P-521 keys sign with SHA-384/SHA-512 under current cosign and sigstore clients
        (sigstore/sigstore's default key details), with SHA-256 under older ones."""
        if isinstance(self.key, ec.EllipticCurvePublicKey):
            size = self.key.curve.key_size
            return ["sha384", "sha256"] if size == 384 else (
                ["sha512", "sha256"] if size == 521 else ["sha256"])
        return ["sha256"]

    def verify_any(self, signature: bytes, data: bytes, *, check: str = "signature") -> None:
        """Verify `signature` over `data` with any hash `hash_names` allows; for Ed25519, pure
        Ed25519 or Ed25519ph (cosign's default for Ed25519 keys since v2.4)."""
        last: InvalidSignatureError | None = None
        for hash_name in self.hash_names():
            try:
                self.verify(signature, data, hash_name=hash_name, check=check)
                return
            except InvalidSignatureError as exc:
                last = exc
        if isinstance(self.key, ed25519.Ed25519PublicKey) and _verify_ed25519ph(
                self.key, signature, data):
            return
        raise last or InvalidSignatureError(check, "signature does not verify")

    def equals(self, other: PublicKeyTypes) -> bool:
        return spki_der(other) == self.der


def load_public_key(data: bytes | str, *, where: str | None = None) -> PublicKey:
    """Read a PEM `PUBLIC KEY` (or DER SPKI) into a `PublicKey`; BAD_INPUT when unreadable."""
    raw = data.encode() if isinstance(data, str) else data
    if len(raw) > MAX_PEM:
        raise TrustInputError("key", "public key file too large", where=where)
    if raw.count(b"-----BEGIN") > 1:
        # cosign reads the first PEM block and ignores the rest; `cryptography` would read a
        # certificate's key wherever it sits. Which key is trusted must not depend on the tool.
        raise TrustInputError("key", "key file holds more than one PEM block; give one key",
                              where=where)
    key: Any
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            if b"-----BEGIN CERTIFICATE-----" in raw:
                # cosign's key loader (sigstore's UnmarshalPEMToPublicKey) takes PUBLIC KEY and
                # RSA PUBLIC KEY blocks only: a certificate as a key would trust its key with its
                # validity, chain and identity ignored, which no certificate flag would allow.
                raise TrustInputError(
                    "key", "a certificate is not a public key (give its key: openssl x509 "
                    "-pubkey -noout -in CERT; a certificate's signer is checked by "
                    "--certificate-identity and a trusted root)", where=where)
            key = serialization.load_pem_public_key(raw)
        else:
            key = serialization.load_der_public_key(raw)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TrustInputError("key", f"not a PEM public key ({exc})", where=where) from exc
    return PublicKey(key)


def sign_bytes(private_key: PrivateKeyTypes, data: bytes) -> bytes:
    """Sign `data` the way cosign does with this key type (SHA-256, PKCS#1 v1.5 for RSA)."""
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return private_key.sign(data)


def public_of(private_key: PrivateKeyTypes) -> PublicKey:
    return PublicKey(private_key.public_key())


def _verify_ed25519ph(key: ed25519.Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """RFC 8032 Ed25519ph (SHA-512 prehash) through libsodium, which `cryptography` lacks."""
    if len(signature) != 64:
        return False
    from nacl.bindings import (
        crypto_sign_ed25519ph_final_verify,
        crypto_sign_ed25519ph_state,
        crypto_sign_ed25519ph_update,
    )
    from nacl.exceptions import BadSignatureError

    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    state = crypto_sign_ed25519ph_state()
    crypto_sign_ed25519ph_update(state, data)
    try:
        return bool(crypto_sign_ed25519ph_final_verify(state, signature, raw))
    except BadSignatureError:
        return False
