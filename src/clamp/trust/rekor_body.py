"""Does a logged Rekor entry body describe *this* signature?

A valid SET or inclusion proof only proves that some entry is in the log; the entry must also
name the same signature, the same key or certificate and the same artifact/payload hash, or an
attacker could staple any logged entry to a forged signature (CVE-2022-36056 family). Supported
kinds: hashedrekord 0.0.1/0.0.2, rekord 0.0.1 (cosign 1.x), dsse 0.0.1/0.0.2 (0.0.2 is Rekor
v2's), intoto 0.0.1/0.0.2.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from clamp.trust.encoding import b64decode, go_get, loads_json
from clamp.trust.errors import InvalidSignatureError
from clamp.trust.keys import PublicKey
from clamp.trust.tlog import same_key

CHECK = "tlog-body"
Signer = bytes | PublicKey  # a certificate's DER, or a public key


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope, decoded."""

    payload_type: str
    payload: bytes
    signatures: tuple[bytes, ...]
    #: Each signature's `keyid` ("" when absent), in the order of `signatures`.
    keyids: tuple[str, ...] = ()

    def pae(self) -> bytes:
        """DSSE v1 pre-authentication encoding: what the signature covers."""
        t = self.payload_type.encode()
        return b"DSSEv1 %d %b %d %b" % (len(t), t, len(self.payload), self.payload)


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        obj = go_get(obj, key)
    return obj


def _fail(reason: str) -> InvalidSignatureError:
    return InvalidSignatureError(CHECK, reason)


def _parse(body: bytes) -> tuple[str, str, dict[str, Any]]:
    doc = loads_json(body, check=CHECK, limit=1024 * 1024)
    kind, version, spec = _get(doc, "kind"), _get(doc, "apiVersion"), _get(doc, "spec")
    if not isinstance(kind, str) or not isinstance(version, str) or not isinstance(spec, dict):
        raise _fail("entry body lacks kind/apiVersion/spec")
    return kind, version, spec


def _signer_matches(material: Any, signer: Signer, *, b64: bool = True) -> bool:
    if not isinstance(material, str):
        return False
    raw = b64decode(material, check=CHECK) if b64 else material.encode()
    return same_key(raw, signer)


def _v2_verifier_matches(verifier: Any, signer: Signer) -> bool:
    cert = _get(verifier, "x509Certificate", "rawBytes")
    key = _get(verifier, "publicKey", "rawBytes")
    if isinstance(signer, bytes):
        return isinstance(cert, str) and b64decode(cert, check=CHECK) == signer
    return isinstance(key, str) and same_key(b64decode(key, check=CHECK), signer)


_V2_HASHES = {"SHA2_256": "sha256", "SHA2_384": "sha384", "SHA2_512": "sha512"}


def same_hash(algorithm: Any, value: bytes, digest: bytes, data: bytes | None) -> bool:
    """The logged hash (`algorithm` as Rekor names it) is the artifact's: its SHA-256 `digest`,
    or, given the artifact's bytes, its SHA-384/SHA-512 (P-384/P-521 signers log those)."""
    name = _V2_HASHES.get(algorithm, algorithm) if isinstance(algorithm, str) else None
    if name == "sha256":
        return value == digest
    if name in ("sha384", "sha512") and data is not None:
        return value == hashlib.new(name, data).digest()
    return False


def check_message_body(body: bytes, *, signature: bytes, digest: bytes, signer: Signer,
                       data: bytes | None = None, stated: tuple[Any, bytes] | None = None
                       ) -> str:
    """hashedrekord (or cosign 1.x's rekord): the same artifact hash, signature and key/cert.

    `digest` is the artifact's SHA-256; `data`, its bytes when known, lets an entry that logged
    a SHA-384/SHA-512 hash be checked too. `stated`, a bundle's messageDigest (algorithm as
    protobuf-specs names it, bytes), must be the logged hash itself, algorithm and bytes, as
    sigstore-go compares them: each may name the artifact by another hash, and then the bundle
    and its entry say two things."""
    kind, version, spec = _parse(body)
    if kind not in ("hashedrekord", "rekord"):
        raise _fail(f"expected a hashedrekord entry, got {kind}")
    if version == "0.0.1":
        algorithm = _get(spec, "data", "hash", "algorithm")
        value = _get(spec, "data", "hash", "value")
        sig = _get(spec, "signature", "content")
        material = _get(spec, "signature", "publicKey", "content")
        try:
            logged = bytes.fromhex(value) if isinstance(value, str) else b""
        except ValueError:
            logged = b""
        if not same_hash(algorithm, logged, digest, data):
            raise _fail("logged artifact hash differs from the artifact's")
        _same_as_stated(algorithm, logged, stated)
        if not isinstance(sig, str) or b64decode(sig, check=CHECK) != signature:
            raise _fail("logged signature differs from the signature")
        if not _signer_matches(material, signer):
            raise _fail("logged key/certificate differs from the signer")
        return f"{kind}/{version}"
    if version == "0.0.2" and kind == "hashedrekord":
        v2 = _get(spec, "hashedRekordV002")
        algorithm = _get(v2, "data", "algorithm")
        logged = b64decode(str(_get(v2, "data", "digest")), check=CHECK)
        if not same_hash(algorithm, logged, digest, data):
            raise _fail("logged artifact hash differs from the artifact's")
        _same_as_stated(algorithm, logged, stated)
        content = _get(v2, "signature", "content")
        if not isinstance(content, str) or b64decode(content, check=CHECK) != signature:
            raise _fail("logged signature differs from the signature")
        if not _v2_verifier_matches(_get(v2, "signature", "verifier"), signer):
            raise _fail("logged key/certificate differs from the signer")
        return f"{kind}/{version}"
    raise _fail(f"unsupported {kind} version {version}")


def _hash_name(algorithm: Any) -> str | None:
    """`sha256` for Rekor v1's `sha256` and protobuf-specs' `SHA2_256` alike."""
    return _V2_HASHES.get(algorithm, algorithm) if isinstance(algorithm, str) else None


def _same_as_stated(algorithm: Any, logged: bytes, stated: tuple[Any, bytes] | None) -> None:
    if stated is None:
        return
    if _hash_name(algorithm) is None or _hash_name(algorithm) != _hash_name(stated[0]) \
            or logged != stated[1]:
        raise _fail(f"logged hash ({str(algorithm)[:20]}) is not the bundle's messageDigest "
                    f"({str(stated[0])[:20]})")


def _check_logged_signatures(logged: Any, envelope: Envelope, content_key: str,
                             verifier_matches: Callable[[Any], bool]) -> None:
    """A dsse entry's `signatures` are the envelope's, one for one, each by the signer (the
    signature under `content_key`; the verifier as the entry's version writes it)."""
    if not isinstance(logged, list) or len(logged) != len(envelope.signatures):
        raise _fail("logged signatures differ from the envelope's")
    for item, sig in zip(logged, envelope.signatures, strict=True):
        content = _get(item, content_key)
        if not isinstance(content, str) or b64decode(content, check=CHECK) != sig:
            raise _fail("logged signatures differ from the envelope's")
        if not verifier_matches(_get(item, "verifier")):
            raise _fail("logged verifier differs from the signer")


def check_dsse_body(body: bytes, *, envelope: Envelope, signer: Signer) -> str:
    """dsse/intoto entries (or Rekor v2 hashedrekord over the PAE) name this envelope."""
    kind, version, spec = _parse(body)
    payload_hash = hashlib.sha256(envelope.payload).hexdigest()
    if kind == "hashedrekord" and version == "0.0.2":
        if len(envelope.signatures) != 1:
            raise _fail("a Rekor v2 DSSE entry needs exactly one envelope signature")
        return check_message_body(body, signature=envelope.signatures[0],
                                  digest=hashlib.sha256(envelope.pae()).digest(), signer=signer)
    if kind == "dsse" and version == "0.0.2":  # Rekor v2 (rekor-tiles), as sigstore-js logs
        v2 = _get(spec, "dsseV002")
        ph = _get(v2, "payloadHash")
        if (_get(ph, "algorithm") != "SHA2_256" or b64decode(str(_get(ph, "digest")), check=CHECK)
                != hashlib.sha256(envelope.payload).digest()):
            raise _fail("logged payload hash differs from the envelope payload")
        _check_logged_signatures(_get(v2, "signatures"), envelope, "content",
                                 lambda v: _v2_verifier_matches(v, signer))
        return f"{kind}/{version}"
    if kind == "dsse" and version == "0.0.1":
        ph = _get(spec, "payloadHash")
        if _get(ph, "algorithm") != "sha256" or _get(ph, "value") != payload_hash:
            raise _fail("logged payload hash differs from the envelope payload")
        _check_logged_signatures(_get(spec, "signatures"), envelope, "signature",
                                 lambda v: _signer_matches(v, signer))
        return f"{kind}/{version}"
    if kind == "intoto" and version in ("0.0.1", "0.0.2"):
        content = _get(spec, "content")
        ph = _get(content, "payloadHash")
        if _get(ph, "algorithm") != "sha256" or _get(ph, "value") != payload_hash:
            raise _fail("logged payload hash differs from the envelope payload")
        if version == "0.0.1":
            if not _signer_matches(_get(spec, "publicKey"), signer):
                raise _fail("logged key differs from the signer")
            return f"{kind}/{version}"
        logged_env = _get(content, "envelope")
        if _get(logged_env, "payloadType") != envelope.payload_type:
            raise _fail("logged payload type differs from the envelope's")
        logged = _get(logged_env, "signatures")
        if not isinstance(logged, list) or len(logged) != len(envelope.signatures):
            raise _fail("logged signatures differ from the envelope's")
        for item, sig in zip(logged, envelope.signatures, strict=True):
            inner = b64decode(str(_get(item, "sig")), check=CHECK)  # base64 of the base64 sig
            try:
                logged_sig = b64decode(inner, check=CHECK)
            except InvalidSignatureError:
                logged_sig = b""
            if logged_sig != sig:
                raise _fail("logged signatures differ from the envelope's")
            if not _signer_matches(_get(item, "publicKey"), signer):
                raise _fail("logged verifier differs from the signer")
        return f"{kind}/{version}"
    raise _fail(f"unsupported entry kind {kind}/{version} for a DSSE envelope")
