"""RFC 3161 signed timestamps over a signature, verified against the trusted root's TSAs.

Parsing and CMS verification are done by `rfc3161-client` (the library sigstore-python uses);
the policy around it is ours: a timestamp counts only if one TSA of the trusted root verifies
it *and* its genTime lies inside that TSA's validity window (inclusive at both ends, as
sigstore-go compares; sigstore-python treats the end as exclusive and wrongly rejects the
`trust-root-tsa-validity-end-inclusive` conformance case).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from clamp.trust.errors import InvalidSignatureError
from clamp.trust.root import CertificateAuthority, TrustedRoot

if TYPE_CHECKING:
    from rfc3161_client import TimeStampResponse

MAX_TIMESTAMPS = 32
MAX_TIMESTAMP_BYTES = 64 * 1024


def verify_timestamps(responses: list[bytes], signature: bytes, root: TrustedRoot
                      ) -> list[datetime]:
    """Verified genTimes of `responses` (each over `signature`); raise on a bad one. A legacy
    layer's `rfc3161timestamp` annotation is read so: cosign, told to use signed timestamps,
    refuses a signature whose timestamp does not verify (VerifyRFC3161Timestamp)."""
    _bound(responses)
    if responses and not root.timestamp_authorities:
        raise InvalidSignatureError("tsa", "signed timestamp present but the trusted root "
                                    "has no timestamp authority")
    return [_verify_one(raw, signature, root)[0] for raw in responses]


def verified_timestamps(responses: list[bytes], signature: bytes, root: TrustedRoot
                        ) -> tuple[list[datetime], list[str]]:
    """A bundle's timestamps as sigstore-go reads them (VerifySignedTimestamp): the genTimes
    of those a TSA of the trusted root verifies, and why each other one was skipped. A
    timestamp no trusted TSA vouches for proves no time, so it counts for nothing — but it is
    no reason to refuse a bundle whose other evidence holds: cosign v3 stamps every signature
    at the signing config's TSA, and a trusted root without that TSA (an older public-good copy,
    a private instance's) still verifies its bundles by their log entries in sigstore-go, as
    it did not in clamp before session 13. Only verified times are ever used: each must lie in
    the certificate's validity. A second verified timestamp from a TSA already counted (same
    `uri`, a byte-identical copy included) is skipped, as sigstore-go's `isDuplicateTSA`
    ignores it; clamp refused byte-identical copies before."""
    _bound(responses)
    times: list[datetime] = []
    skipped: list[str] = []
    authorities: set[str] = set()
    for raw in responses:
        try:
            when, authority = _verify_one(raw, signature, root)
        except InvalidSignatureError as exc:
            skipped.append(exc.reason)
            continue
        if authority.uri in authorities:  # sigstore-go's isDuplicateTSA: counted once
            skipped.append(f"another timestamp from TSA {authority.uri[:80]!r} (one counts)")
            continue
        authorities.add(authority.uri)
        times.append(when)
    return times, skipped


def _bound(responses: list[bytes]) -> None:
    if len(responses) > MAX_TIMESTAMPS:
        raise InvalidSignatureError("tsa", f"too many timestamps ({len(responses)})")


def _verify_one(raw: bytes, signature: bytes, root: TrustedRoot
                ) -> tuple[datetime, CertificateAuthority]:
    from rfc3161_client import VerificationError, VerifierBuilder, decode_timestamp_response

    if len(raw) > MAX_TIMESTAMP_BYTES:
        raise InvalidSignatureError("tsa", "timestamp response too large")
    try:
        response = decode_timestamp_response(raw)
        gen_time = response.tst_info.gen_time
    except (ValueError, VerificationError, Exception) as exc:  # rust parser errors vary
        raise InvalidSignatureError("tsa", f"malformed timestamp response ({exc})") from exc
    when = gen_time if gen_time.tzinfo else gen_time.replace(tzinfo=UTC)
    if not root.timestamp_authorities:
        raise InvalidSignatureError("tsa", "signed timestamp present but the trusted root "
                                    "has no timestamp authority")
    reasons = []
    for authority in root.timestamp_authorities:
        certs = authority.certificates
        if len(certs) < 2:
            reasons.append("TSA chain incomplete")
            continue
        refusal = _signer_refusal(response, certs)
        if refusal:
            reasons.append(refusal)
            continue
        builder = VerifierBuilder().tsa_certificate(certs[0]).add_root_certificate(certs[-1])
        for cert in certs[1:-1]:
            builder = builder.add_intermediate_certificate(cert)
        try:
            builder.build().verify_message(response, signature)
        except (VerificationError, ValueError) as exc:
            reasons.append(str(exc))
            continue
        if not authority.validity.contains(when):
            reasons.append("genTime outside the TSA's validity in the trusted root")
            continue
        return when, authority
    raise InvalidSignatureError("tsa", "no trusted TSA verifies the timestamp: "
                                + "; ".join(reasons)[:300])


def _signer_refusal(response: TimeStampResponse, certs: tuple[x509.Certificate, ...]) -> str | None:
    """Why the token is not the TSA leaf's, or None. rfc3161-client, given no embedded
    certificate, runs its EKU checks on the trusted leaf but lets OpenSSL pick the signer among
    *every* certificate of the chain, all trust anchors: a chain CA that OpenSSL's
    timestamp-signing purpose accepts (no KeyUsage, a critical timeStamping EKU) could sign.
    timestamp-authority (sigstore-go) looks the signer up only in the embedded certificates or,
    with none, in the trusted leaf — so the one SignerInfo must name that leaf. Intermediates
    follow its EKU chaining: none (unrestricted), or one listing timeStamping or any."""
    infos = list(response.signed_data.signer_infos)
    if len(infos) != 1:
        return f"{len(infos)} SignerInfos (a TSA signs its token once)"
    try:  # a subjectKeyIdentifier sid has no issuer: digitorus/pkcs7 finds no signer either
        issuer, serial = infos[0].issuer, infos[0].serial_number
    except (ValueError, AttributeError):
        return "the SignerInfo names no issuer and serial number"
    if issuer != certs[0].issuer or serial != certs[0].serial_number:
        return "timestamp signed by a key that is not the TSA's certificate"
    for cert in certs[1:-1]:
        try:
            usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if not {ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE
                } & set(usages):
            return "a TSA intermediate's EKU does not allow timestamping"
    return None
