"""Fulcio certificate checks: chain to a trusted CA at the signing time, the Sigstore X.509
profile (code-signing EKU, digital-signature key usage), identity (SAN, OIDC issuer) and the
embedded SCT.

The path is built from the trusted root's CA chains alone, as cosign (`VerifyLeafCertificate`
with the trusted root) and sigstore-go build it: a certificate is trusted only if a certificate
listed in the trusted root issued it, every certificate on the path is valid at the signing
time, and the CA's own validity window in the trusted root contains that time. Intermediates a
signature carries (a `.sig` chain annotation, a v0.1/v0.2 bundle's `x509CertificateChain`) are
read, never trusted: before session 13 they extended the path, so a leaf from an intermediate
the trusted root does not list (one its curators retired, or never listed) verified.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

from clamp.trust.claims import der_utf8, extensions_of
from clamp.trust.errors import InvalidSignatureError
from clamp.trust.keys import PublicKey
from clamp.trust.root import CertificateAuthority, TrustedRoot
from clamp.trust.tlog import integrated_at

OID_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_OTHERNAME_USERNAME = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


_BEGIN, _END = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"


def load_pem_certs(pem: bytes, *, check: str, limit: int = 16) -> list[x509.Certificate]:
    """The certificates of a PEM annotation, read as cosign reads it (sigstore's
    `UnmarshalCertificatesFromPEM`: after trimming whitespace, `pem.Decode` block after block
    until nothing is left, each block's bytes parsed as a certificate whatever its type).

    `cryptography` alone reads it otherwise: it skips blocks of other types and text after
    the last block, so `PUBLIC KEY` (holding certificate A) + `CERTIFICATE` B was A for cosign
    and B for clamp, and trailing junk cosign refuses was accepted. Text before a block is
    skipped, as Go skips it; a block typed other than CERTIFICATE, or anything but whitespace
    after the last block, is refused."""
    rest = pem.strip()
    certs: list[x509.Certificate] = []
    while rest:
        start = rest.find(b"-----BEGIN ")
        if start < 0:
            raise InvalidSignatureError(check, "text after the last PEM block (cosign refuses "
                                        f"it): {rest[:60]!r}")
        if not rest.startswith(_BEGIN + b"\n", start) and \
                not rest.startswith(_BEGIN + b"\r\n", start):
            raise InvalidSignatureError(check, "a PEM block that is not a CERTIFICATE: "
                                        f"{rest[start:start + 60]!r}")
        end = rest.find(_END, start)
        if end < 0:
            raise InvalidSignatureError(check, "a PEM CERTIFICATE block without its END line")
        tail = rest.find(b"\n", end)
        tail = len(rest) if tail < 0 else tail
        if rest[end + len(_END):tail].strip(b" \t\r"):
            raise InvalidSignatureError(check, "text after a PEM END line (cosign refuses it)")
        block, rest = rest[start:end + len(_END)], rest[tail + 1:]
        if len(certs) == limit:
            raise InvalidSignatureError(check, f"expected 1..{limit} certificates, got more")
        try:
            certs.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            raise InvalidSignatureError(check, f"not a PEM certificate ({exc})") from exc
    if not certs:
        raise InvalidSignatureError(check, f"expected 1..{limit} certificates, got 0")
    return certs


def load_der_cert(der: bytes, *, check: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise InvalidSignatureError(check, f"not a DER certificate ({exc})") from exc


def _valid_at(cert: x509.Certificate, when: datetime) -> bool:
    return cert.not_valid_before_utc <= when <= cert.not_valid_after_utc


def require_logged_within(leaf: x509.Certificate, integrated_time: int) -> None:
    """A log entry's integratedTime, signed or not, lies in the certificate's validity, as
    sigstore-go checks every entry: an entry with only an inclusion proof binds no time (the
    proof covers the body, not the time), but a log saying it took the signature before the
    certificate existed or after it expired is refused, never ignored."""
    when = integrated_at(integrated_time)
    if not _valid_at(leaf, when):
        raise InvalidSignatureError(
            "cert-validity", f"log entry integrated {when:%Y-%m-%dT%H:%M:%SZ}, outside the "
            f"certificate's validity {leaf.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}.."
            f"{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}")


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        constraints = extensions_of(parent).get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, InvalidSignatureError):
        return False
    if not constraints.ca:
        return False
    try:
        child.verify_directly_issued_by(parent)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def chain_authority(leaf: x509.Certificate, root: TrustedRoot, when: datetime
                    ) -> tuple[list[x509.Certificate], CertificateAuthority]:
    """The issuing path (leaf's issuer first) and the trusted CA it reaches, valid at `when`:
    a tail of one CA chain of the trusted root whose first certificate issued the leaf."""
    if not _valid_at(leaf, when):
        raise InvalidSignatureError(
            "cert-validity", f"certificate valid {leaf.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}"
            f"..{leaf.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}, not at signing time "
            f"{when:%Y-%m-%dT%H:%M:%SZ}")
    last_refusal: str | None = None
    for authority in root.certificate_authorities:
        if not authority.validity.contains(when):
            continue
        chain = list(authority.certificates)
        for start in range(len(chain)):
            if not _issued_by(leaf, chain[start]):
                continue
            full = chain[start:]
            if all(_valid_at(c, when) for c in full) and all(
                    _issued_by(a, b) for a, b in itertools.pairwise(full)):
                refused = _weak_signature([leaf, *full[:-1]]) or _refused_issuer(full)
                if refused is None:
                    return full, authority
                last_refusal = refused
    if last_refusal is not None:
        raise InvalidSignatureError("chain", last_refusal)
    raise InvalidSignatureError(
        "chain", "certificate does not chain to a Fulcio CA of the trusted root "
        f"valid at {when:%Y-%m-%dT%H:%M:%SZ}")


#: Extensions Go's x509 parser handles when critical (crypto/x509 parser.go): any other
#: critical extension makes `Certificate.Verify` refuse the certificate, leaf or CA
#: (UnhandledCriticalExtension), and sigstore-go exempts only a leaf's critical SAN.
_GO_HANDLED = frozenset(f"2.5.29.{n}" for n in (14, 15, 17, 19, 31, 32, 35, 37))
#: Constraints Go enforces on the path below a CA that clamp does not evaluate: name
#: constraints, policy constraints, policy mappings, inhibitAnyPolicy. A path through a CA
#: that carries one is refused (critical or not) rather than judged as if it were absent.
_UNEVALUATED = {"2.5.29.30": "nameConstraints", "2.5.29.36": "policyConstraints",
                "2.5.29.33": "policyMappings", "2.5.29.54": "inhibitAnyPolicy"}


def refused_extension(cert: x509.Certificate) -> str | None:
    """Why an extension makes `cert` unverifiable, or None: a critical extension Go's
    verifier does not handle (a Fulcio OID, an SCT list or a private one marked critical),
    or a path constraint clamp does not evaluate. Without this, a CA of the trusted root
    could constrain what it issues (a critical usage limit, permitted names) and clamp would
    accept the leaves cosign and sigstore-go refuse."""
    for ext in extensions_of(cert):
        oid = ext.oid.dotted_string
        if oid in _UNEVALUATED:
            return f"carries {_UNEVALUATED[oid]} ({oid}), which clamp does not evaluate"
        if ext.critical and oid not in _GO_HANDLED:
            return f"carries the critical extension {oid}, which no verifier here handles"
    return None


def _grants_code_signing(cert: x509.Certificate) -> bool:
    """Go's checkChainForKeyUsage: a CA without an EKU extension allows any usage; one with
    it must list codeSigning (asked for by cosign and sigstore-go) or anyExtendedKeyUsage."""
    try:
        eku = extensions_of(cert).get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ExtendedKeyUsageOID.CODE_SIGNING in eku or \
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in eku


#: The hashes Go's x509 verifies a certificate signature with (signatureAlgorithmDetails, less
#: the SHA-1 and MD5 ones it refuses as insecure); Ed25519 signs without a separate hash.
_GO_SIGNATURE_HASHES = frozenset({"sha256", "sha384", "sha512"})


def _weak_signature(signed: Sequence[x509.Certificate]) -> str | None:
    """Why a certificate's signature (the leaf's, each intermediate's; not the anchor's own)
    is one Go refuses, or None: SHA-1 or MD5 (insecure), SHA-224 (not implemented). A CA of
    the trusted root that still signs with SHA-1 makes collisions a forger's tool."""
    from cryptography.exceptions import UnsupportedAlgorithm

    for cert in signed:
        try:
            algorithm = cert.signature_hash_algorithm
        except UnsupportedAlgorithm:
            return f"certificate {cert.subject.rfc4514_string()[:80]!r} has an unknown " \
                   "signature algorithm"
        if algorithm is not None and algorithm.name not in _GO_SIGNATURE_HASHES:
            return (f"certificate {cert.subject.rfc4514_string()[:80]!r} is signed with "
                    f"{algorithm.name.upper()}, which cosign and sigstore-go refuse")
    return None


def _refused_issuer(issuers: Sequence[x509.Certificate]) -> str | None:
    """Why the path is refused, or None: RFC 5280 §6.1.4 on every issuing certificate (the
    leaf's issuer first, the trust anchor last): CA:TRUE, a key usage with keyCertSign, and a
    pathLenConstraint no smaller than the number of (non-self-issued) CA certificates below it.
    Without this, a CA the root limited to issuing leaves (pathLen=0) could mint a sub-CA whose
    leaves verify. As Go's verifier, also: an EKU extension that allows code signing and no
    critical extension it does not handle (`refused_extension`)."""
    below = 0  # intermediate CA certificates between this issuer and the leaf
    for position, cert in enumerate(issuers):
        what = f"issuing certificate {position} ({cert.subject.rfc4514_string()[:80]})"
        refused = refused_extension(cert)
        if refused is not None:
            return f"{what} {refused}"
        if not _grants_code_signing(cert):
            return (f"{what} has an extended key usage without codeSigning: it may not "
                    "issue signing certificates")
        try:
            constraints = extensions_of(cert).get_extension_for_class(x509.BasicConstraints).value
            usage = extensions_of(cert).get_extension_for_class(x509.KeyUsage).value
        except x509.ExtensionNotFound:
            return f"{what} lacks basicConstraints or keyUsage"
        if not constraints.ca:
            return f"{what} is not a CA (CA:FALSE)"
        if not usage.key_cert_sign:
            return f"{what} lacks the keyCertSign key usage"
        if constraints.path_length is not None and below > constraints.path_length:
            return (f"{what} allows {constraints.path_length} CA certificate(s) below it "
                    f"(pathLenConstraint), the path has {below}")
        if cert.issuer != cert.subject:
            below += 1
    return None


def check_profile(leaf: x509.Certificate) -> None:
    """Fulcio leaf profile: digitalSignature key usage and the codeSigning EKU, not a CA, and
    no critical extension Go's verifier refuses (a critical SAN is exempt, as in sigstore-go,
    for Fulcio's username OtherName)."""
    extensions = extensions_of(leaf)
    refused = refused_extension(leaf)
    if refused is not None:
        raise InvalidSignatureError("extensions", f"certificate {refused}")
    try:
        eku = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise InvalidSignatureError("eku", "certificate has no extended key usage") from exc
    if ExtendedKeyUsageOID.CODE_SIGNING not in eku:
        raise InvalidSignatureError("eku", "certificate lacks the codeSigning EKU")
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            raise InvalidSignatureError("eku", "key usage lacks digitalSignature")
    except x509.ExtensionNotFound:
        pass
    try:
        if extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise InvalidSignatureError("eku", "a CA certificate cannot sign artifacts")
    except x509.ExtensionNotFound:
        pass


def san_identities(leaf: x509.Certificate) -> list[str]:
    """The one SAN value Fulcio sets (URI, email, or its username OtherName), as a list."""
    try:
        san = extensions_of(leaf).get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out: list[str] = []
    for name in san:
        if isinstance(name, x509.UniformResourceIdentifier | x509.RFC822Name | x509.DNSName):
            value = str(name.value)
            if not value.isascii() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
                # Go's x509 parser refuses the whole certificate (IA5String; url.Parse refuses
                # control characters), so cosign and sigstore-go never match such a SAN.
                raise InvalidSignatureError("san", f"a SAN holds a control or non-ASCII "
                                            f"character: {value[:100]!r}")
            out.append(value)
        elif isinstance(name, x509.OtherName) and name.type_id == OID_OTHERNAME_USERNAME:
            # Fulcio's username SAN; an OtherName of any other type is never an identity.
            text = der_utf8(name.value)
            if text is not None:
                out.append(text)
    if len(out) > 1:
        # Fulcio issues one SAN. With several, cosign matches any and sigstore-go only the
        # first URI (else email), and the record would name one while another matched.
        raise InvalidSignatureError("san", f"certificate carries {len(out)} identities "
                                    f"({', '.join(v[:80] for v in out[:4])}); a Fulcio "
                                    "certificate carries one")
    return out


def oidc_issuer(leaf: x509.Certificate) -> str | None:
    """Issuer from 1.3.6.1.4.1.57264.1.8 (DER UTF8String), else legacy .1.1 (raw bytes).

    With both present they must agree: sigstore-go reads the extensions in certificate order
    and the last one wins, so a v1 issuer after a v2 one is what it matches, while a reader
    preferring v2 matches the other. Fulcio writes the same value in both; a certificate
    read two ways is refused rather than read one way."""
    found: dict[bool, str] = {}
    for oid, der in ((OID_ISSUER_V2, True), (OID_ISSUER_V1, False)):
        try:
            ext = extensions_of(leaf).get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
        if der:
            text = der_utf8(raw)
            if text is None:
                raise InvalidSignatureError("issuer", "issuer extension is not a UTF8String")
            found[True] = text
            continue
        try:
            found[False] = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidSignatureError("issuer", "legacy issuer extension not UTF-8") from exc
    if len(found) == 2 and found[True] != found[False]:
        raise InvalidSignatureError("issuer", f"issuer extensions disagree: "
                                    f"{found[True][:100]!r} (1.3.6.1.4.1.57264.1.8) and "
                                    f"{found[False][:100]!r} (legacy 1.3.6.1.4.1.57264.1.1)")
    return found.get(True, found.get(False))


def _sct_millis(when: datetime) -> int:
    delta = when.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def verify_embedded_sct(leaf: x509.Certificate, issuer: x509.Certificate,
                        root: TrustedRoot) -> None:
    """At least one embedded SCT verifies against a CT log key of the trusted root (RFC 6962)."""
    try:
        scts = extensions_of(leaf).get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps).value
    except x509.ExtensionNotFound as exc:
        raise InvalidSignatureError("sct", "certificate has no embedded SCT") from exc
    issuer_key_hash = hashlib.sha256(PublicKey(issuer.public_key()).der).digest()  # type: ignore[arg-type]
    tbs = leaf.tbs_precertificate_bytes
    reasons = []
    for sct in scts:
        log = root.ctlog(sct.log_id)
        if log is None:
            reasons.append(f"log {sct.log_id.hex()[:16]} is not a CT log of the trusted root")
            continue
        if not log.validity.contains(sct.timestamp.replace(tzinfo=UTC)):
            # sigstore-go skips an SCT outside its log key's validity: a retired CT log key
            # (the public-good root lists one) vouches for nothing signed after its end.
            reasons.append(f"SCT of {sct.timestamp:%Y-%m-%dT%H:%M:%SZ} is outside the validity "
                           f"of CT log {sct.log_id.hex()[:16]}")
            continue
        millis = _sct_millis(sct.timestamp)
        signed = (struct.pack(">BBQH", 0, 0, millis, 1) + issuer_key_hash
                  + len(tbs).to_bytes(3, "big") + tbs
                  + len(sct.extension_bytes).to_bytes(2, "big") + sct.extension_bytes)
        hash_name = getattr(sct.signature_hash_algorithm, "name", "sha256")
        try:
            log.key.verify(sct.signature, signed, hash_name=hash_name, check="sct")
        except InvalidSignatureError as exc:
            reasons.append(exc.reason)
            continue
        return
    raise InvalidSignatureError("sct", "; ".join(reasons) or "no SCT")
