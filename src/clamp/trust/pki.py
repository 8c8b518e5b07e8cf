"""A private "sigstore" made with `cryptography`: Fulcio-like CAs, a CT log, a Rekor-like log.

Used by the tests and the demo. It emits a `trusted_root.json` in the public format, so
verification against it runs through exactly the same code as against the public-good root,
and it keyless-signs image payloads producing the annotations cosign writes (signature,
certificate, chain, Rekor bundle with a real SET over a real hashedrekord body).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from clamp.trust.certs import OID_ISSUER_V1, OID_ISSUER_V2
from clamp.trust.cosign_legacy import LegacyLayer
from clamp.trust.encoding import canonical_json
from clamp.trust.keys import spki_der
from clamp.trust.mediatypes import (
    ANN_BUNDLE,
    ANN_CERTIFICATE,
    ANN_CHAIN,
    ANN_SIGNATURE,
    SIMPLESIGNING_MEDIA_TYPE,
    TRUSTED_ROOT_MEDIA_TYPE,
)
from clamp.trust.root import TrustedRoot, parse_trusted_root
from clamp.trust.sign import simplesigning_payload

OID_SCT_LIST = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _der_utf8(text: str) -> bytes:
    raw = text.encode()
    if len(raw) < 0x80:
        return bytes([0x0C, len(raw)]) + raw
    length = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(length)]) + length + raw


def _der_octets(raw: bytes) -> bytes:
    if len(raw) < 0x80:
        return bytes([0x04, len(raw)]) + raw
    length = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(length)]) + length + raw


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Log:
    """A log key (Rekor or CT) and its ID = sha256(DER SPKI)."""

    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def log_id(self) -> bytes:
        return hashlib.sha256(spki_der(self.key.public_key())).digest()

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def json(self, start: datetime, url: str) -> dict[str, Any]:
        return {"baseUrl": url, "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": _b64(spki_der(self.key.public_key())),
                              "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                              "validFor": {"start": _iso(start)}},
                "logId": {"keyId": _b64(self.log_id)}}


def make_ca(name: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Certificate | None,
            issuer_key: ec.EllipticCurvePrivateKey | None, start: datetime, years: int = 10, *,
            path_length: int | None = -1, ca: bool = True,
            key_cert_sign: bool = True) -> x509.Certificate:
    """A CA certificate (self-signed without `issuer`). By default (`path_length=-1`) a root has
    no path length limit and an intermediate pathLen=0, as Fulcio's; tests pass other values to
    build the certificates a mis-issuing CA would."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "clamp-test"),
                         x509.NameAttribute(NameOID.COMMON_NAME, name)])
    length = (None if issuer is None else 0) if path_length == -1 else path_length
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer.subject if issuer else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(start).not_valid_after(start + timedelta(days=365 * years))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=length if ca else None),
                              critical=True)
               .add_extension(x509.KeyUsage(not key_cert_sign, False, False, False, False,
                                            key_cert_sign, key_cert_sign, False, False),
                              critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                              critical=False))
    return builder.sign(issuer_key or key, hashes.SHA384())


_ca = make_ca


@dataclass
class TestSigstore:
    """Root + intermediate CA, CT log, Rekor log; `trusted_root()` describes them."""

    __test__ = False  # not a pytest test class, despite the name

    start: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=1))
    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    intermediate_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    ctlog: Log = field(default_factory=Log)
    rekor: Log = field(default_factory=Log)
    log_index: int = 0

    def __post_init__(self) -> None:
        self.root_cert = _ca("clamp-test-root", self.root_key, None, None, self.start)
        self.intermediate_cert = _ca("clamp-test-intermediate", self.intermediate_key,
                                     self.root_cert, self.root_key, self.start)

    def trusted_root_json(self) -> bytes:
        chain = [self.intermediate_cert, self.root_cert]
        doc = {
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [self.rekor.json(self.start, "https://rekor.clamp.test")],
            "certificateAuthorities": [{
                "subject": {"organization": "clamp-test", "commonName": "clamp-test"},
                "uri": "https://fulcio.clamp.test",
                "certChain": {"certificates": [
                    {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))}
                    for c in chain]},
                "validFor": {"start": _iso(self.start)}}],
            "ctlogs": [self.ctlog.json(self.start, "https://ctfe.clamp.test")],
            "timestampAuthorities": [],
        }
        return json.dumps(doc, indent=2).encode()

    def trusted_root(self) -> TrustedRoot:
        return parse_trusted_root(self.trusted_root_json(), source="clamp-test-pki")

    def issue_leaf(self, key: ec.EllipticCurvePrivateKey, *, identity: str, issuer: str,
                   issued_at: datetime | None = None, lifetime: timedelta = timedelta(minutes=10),
                   issuer_oid: str = "v2", email: bool = False, code_signing: bool = True,
                   ctlog: Log | None = None, signer: tuple[x509.Certificate,
                                                           ec.EllipticCurvePrivateKey] | None
                   = None, san: x509.GeneralName | None = None,
                   extensions: Sequence[tuple[str, bytes]] = ()) -> x509.Certificate:
        """A Fulcio-like leaf: SAN (`san` replaces the URI/email one built from `identity`),
        issuer OID (v1 raw / v2 UTF8String), EKU, embedded SCT. `extensions` adds
        `(OID, value bytes)` as they are (`claim_extensions` encodes build claims as Fulcio
        does); an OID given twice makes the certificate an attacker would: the same extension
        twice, validly signed (`cryptography` refuses to build one, so it is patched in)."""
        issued_at = issued_at or datetime.now(UTC) - timedelta(minutes=1)
        ca_cert, ca_key = signer or (self.intermediate_cert, self.intermediate_key)
        san = san or (x509.RFC822Name(identity) if email
                      else x509.UniformResourceIdentifier(identity))
        eku = [ExtendedKeyUsageOID.CODE_SIGNING if code_signing
               else ExtendedKeyUsageOID.CLIENT_AUTH]
        built: list[tuple[x509.ExtensionType, bool]] = [
            (x509.KeyUsage(True, False, False, False, False, False, False, False, False), True),
            (x509.ExtendedKeyUsage(eku), False),
            (x509.SubjectAlternativeName([san]), True),
        ]
        if issuer_oid in ("v1", "both"):
            built.append((x509.UnrecognizedExtension(OID_ISSUER_V1, issuer.encode()), False))
        if issuer_oid in ("v2", "both"):
            built.append((x509.UnrecognizedExtension(OID_ISSUER_V2, _der_utf8(issuer)), False))
        seen: set[str] = set()
        patches: list[tuple[bytes, bytes]] = []
        for oid, value in extensions:
            if oid in seen:  # a stand-in OID of the same DER length, swapped back once built
                stand_in = f"{_ARC}{100 + len(patches)}"
                patches.append((_oid_der(stand_in), _oid_der(oid)))
                oid = stand_in
            seen.add(oid)
            built.append((x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), False))
        serial = x509.random_serial_number()

        def build(extra: list[tuple[x509.ExtensionType, bool]]) -> x509.Certificate:
            builder = (x509.CertificateBuilder().subject_name(x509.Name([]))
                       .issuer_name(ca_cert.subject).public_key(key.public_key())
                       .serial_number(serial).not_valid_before(issued_at)
                       .not_valid_after(issued_at + lifetime))
            for ext, critical in built + extra:
                builder = builder.add_extension(ext, critical=critical)
            return _patched(builder.sign(ca_key, hashes.SHA384()), patches, ca_key)

        tbs = build([]).tbs_certificate_bytes
        log = ctlog or self.ctlog
        millis = (issued_at - _EPOCH) // timedelta(milliseconds=1)
        issuer_key_hash = hashlib.sha256(spki_der(ca_cert.public_key())).digest()  # type: ignore[arg-type]
        signed = (struct.pack(">BBQH", 0, 0, millis, 1) + issuer_key_hash
                  + len(tbs).to_bytes(3, "big") + tbs + b"\x00\x00")
        sig = log.sign(signed)
        sct = (b"\x00" + log.log_id + struct.pack(">Q", millis) + b"\x00\x00"
               + b"\x04\x03" + struct.pack(">H", len(sig)) + sig)
        sct_list = struct.pack(">H", len(sct) + 2) + struct.pack(">H", len(sct)) + sct
        return build([(x509.UnrecognizedExtension(OID_SCT_LIST, _der_octets(sct_list)), False)])

    def rekor_bundle(self, body: dict[str, Any], *, integrated_time: int | None = None,
                     log: Log | None = None) -> str:
        """The `dev.sigstore.cosign/bundle` annotation: SET over the canonical entry."""
        log = log or self.rekor
        body_b64 = _b64(canonical_json(body))
        payload = {"body": body_b64,
                   "integratedTime": integrated_time or int(datetime.now(UTC).timestamp()),
                   "logIndex": self.log_index, "logID": log.log_id.hex()}
        self.log_index += 1
        set_sig = log.sign(canonical_json(payload))
        return json.dumps({"SignedEntryTimestamp": _b64(set_sig), "Payload": payload})


_ARC = "1.3.6.1.4.1.57264.1."


def claim_extensions(**claims: str) -> list[tuple[str, bytes]]:
    """Build claims (`clamp.trust.claims.CLAIMS` names) as Fulcio encodes them: the legacy
    GitHub ones as raw UTF-8, the v2 ones (1.3.6.1.4.1.57264.1.8+) as a DER UTF8String."""
    from clamp.trust.claims import CLAIMS

    return [(CLAIMS[name].oid, value.encode() if CLAIMS[name].encoding == "raw"
             else _der_utf8(value)) for name, value in claims.items()]


def _oid_der(dotted: str) -> bytes:
    """The DER of an OBJECT IDENTIFIER (short lengths only: enough for Fulcio's arcs)."""
    arcs = [int(a) for a in dotted.split(".")]
    body = bytearray([40 * arcs[0] + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | (arc & 0x7F))
        body += bytes(reversed(chunk))
    return bytes([0x06, len(body)]) + bytes(body)


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _patched(cert: x509.Certificate, patches: list[tuple[bytes, bytes]],
             ca_key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """`cert` with each stand-in OID swapped for the real one, signed again by `ca_key`."""
    if not patches:
        return cert
    tbs = cert.tbs_certificate_bytes
    for stand_in, real in patches:
        assert tbs.count(stand_in) == 1 and len(stand_in) == len(real)
        tbs = tbs.replace(stand_in, real)
    der = cert.public_bytes(serialization.Encoding.DER)
    start = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)
    rest = der[start + len(cert.tbs_certificate_bytes):]
    algorithm = rest[:2 + rest[1]]
    signature = b"\x00" + ca_key.sign(tbs, ec.ECDSA(hashes.SHA384()))
    bits = b"\x03" + _der_length(len(signature)) + signature
    body = tbs + algorithm + bits
    return x509.load_der_x509_certificate(b"\x30" + _der_length(len(body)) + body)


def hashedrekord(signature: bytes, data: bytes, signer_pem: bytes) -> dict[str, Any]:
    return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(data).hexdigest()}},
        "signature": {"content": _b64(signature), "publicKey": {"content": _b64(signer_pem)}}}}


def keyless_sign_image(pki: TestSigstore, manifest_digest: str, docker_reference: str, *,
                       identity: str, issuer: str, payload: bytes | None = None,
                       chain: list[x509.Certificate] | None = None,
                       key: ec.EllipticCurvePrivateKey | None = None,
                       **leaf_options: Any) -> LegacyLayer:
    """Sign like `cosign sign` keyless: ephemeral key, Fulcio-like cert, Rekor SET. `chain`
    replaces the chain annotation (intermediate, root); `key` replaces the ephemeral key (as
    `cosign sign --key K --issue-certificate` certifies a long-lived key)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_leaf(key, identity=identity, issuer=issuer, **leaf_options)
    payload = payload or simplesigning_payload(manifest_digest, docker_reference)
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    chain_pem = b"".join(c.public_bytes(serialization.Encoding.PEM)
                         for c in (chain or [pki.intermediate_cert, pki.root_cert]))
    bundle = pki.rekor_bundle(hashedrekord(signature, payload, cert_pem))
    return LegacyLayer(payload=payload, media_type=SIMPLESIGNING_MEDIA_TYPE, annotations={
        ANN_SIGNATURE: _b64(signature), ANN_CERTIFICATE: cert_pem.decode(),
        ANN_CHAIN: chain_pem.decode(), ANN_BUNDLE: bundle})
