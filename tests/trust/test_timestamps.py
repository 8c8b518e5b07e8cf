"""RFC 3161 timestamps a bundle carries that no TSA of the trusted root verifies (red team 13).

sigstore-go (VerifySignedTimestamp, under the `WithObserverTimestamps(1)` cosign and the
GitHub CLI verify with) skips such a timestamp and goes on with what verified: a keyless bundle
with a Rekor v1 SET verifies by it. cosign v3 stamps every signature at its signing config's
TSA, so a trusted root without that TSA (an older copy of public-good's, a private instance's)
met such bundles — and clamp refused them whole ("no trusted TSA verifies the timestamp", or
"the trusted root has no timestamp authority"). Now they are skipped as in sigstore-go, and a
skipped timestamp is never a signing time: without other verified evidence the bundle is still
refused, and a legacy `.sig` annotation keeps cosign's rule (refused when it does not verify).

The bundles are cosign v3's shape (v0.3, one `certificate`, a DSSE envelope with cosign's sign
predicate) signed with the test sigstore's CA and logs; the timestamps come from `openssl ts`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.cosign_legacy import verify_legacy_layer
from clamp.trust.errors import TrustError
from clamp.trust.keys import sign_bytes
from clamp.trust.mediatypes import ANN_TIMESTAMP, COSIGN_SIGN_PREDICATE, INTOTO_PAYLOAD_TYPE
from clamp.trust.pki import TestSigstore, keyless_sign_image
from clamp.trust.policy import Identity, Policy
from clamp.trust.rekor_body import Envelope
from clamp.trust.result import VerificationResult
from clamp.trust.root import TrustedRoot, parse_trusted_root
from clamp.trust.sign import image_statement
from clamp.trust.tsa import verified_timestamps
from tests.support.tsa import OpensslTsa, _name

from .conftest import DIGEST, IDENTITY, ISSUER, REFERENCE
from .test_other_tools_formats import TileLog, b64, rekor_v1_entry, root_with


@pytest.fixture(scope="module")
def tsas(tmp_path_factory: pytest.TempPathFactory) -> tuple[OpensslTsa, OpensslTsa]:
    """(a TSA the trusted root lists, one it does not)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tsas")
    return OpensslTsa(folder / "listed"), OpensslTsa(folder / "unlisted")


@pytest.fixture(scope="module")
def tile() -> TileLog:
    return TileLog("log2025-1.rekor.clamp.test", ed25519.Ed25519PrivateKey.generate())


def cosign_v3_bundle(pki: TestSigstore, stamps: list[OpensslTsa], *, tile: TileLog | None = None,
                     stamp_other: bool = False) -> bytes:
    """A keyless cosign v3 signature bundle: Rekor v1 dsse 0.0.1 entry (SET + proof), or with
    `tile` a Rekor v2 dsse 0.0.2 one (proof only); one timestamp per TSA of `stamps`, over the
    DSSE signature (`stamp_other`: over another signature)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_leaf(key, identity=IDENTITY, issuer=ISSUER)
    pem, der = (cert.public_bytes(serialization.Encoding.PEM),
                cert.public_bytes(serialization.Encoding.DER))
    statement = image_statement(DIGEST, REFERENCE, predicate_type=COSIGN_SIGN_PREDICATE)
    signature = sign_bytes(key, Envelope(INTOTO_PAYLOAD_TYPE, statement, ()).pae())
    payload_hash = hashlib.sha256(statement)
    entry: dict[str, Any]
    if tile is None:
        entry = rekor_v1_entry(pki, {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "payloadHash": {"algorithm": "sha256", "value": payload_hash.hexdigest()},
            "signatures": [{"signature": b64(signature), "verifier": b64(pem)}]}})
    else:
        entry = tile.entry({"apiVersion": "0.0.2", "kind": "dsse", "spec": {"dsseV002": {
            "payloadHash": {"algorithm": "SHA2_256", "digest": b64(payload_hash.digest())},
            "signatures": [{"content": b64(signature), "verifier": {
                "x509Certificate": {"rawBytes": b64(der)},
                "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}]}}})
    stamped = signature + b"other" if stamp_other else signature
    return json.dumps({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": {"rawBytes": b64(der)}, "tlogEntries": [entry],
            "timestampVerificationData": {"rfc3161Timestamps": [
                {"signedTimestamp": b64(tsa.timestamp(stamped))} for tsa in stamps]}},
        "dsseEnvelope": {"payload": b64(statement), "payloadType": INTOTO_PAYLOAD_TYPE,
                         "signatures": [{"sig": b64(signature), "keyid": ""}]}}).encode()


def _verify(root: TrustedRoot, bundle: bytes) -> VerificationResult:
    policy = Policy.with_root(root, identities=(Identity(subject=IDENTITY, issuer=ISSUER),))
    return verify_bundle(bundle, Artifact.from_digest(DIGEST), policy, subject_digest=DIGEST)


def test_a_timestamp_no_trusted_tsa_verifies_is_skipped(
        pki: TestSigstore, tsas: tuple[OpensslTsa, OpensslTsa]) -> None:
    listed, unlisted = tsas
    root = root_with(pki, tsas=(listed.authority_json(),))
    for stamps in ([unlisted], [listed, unlisted], [unlisted, listed]):
        result = _verify(root, cosign_v3_bundle(pki, stamps))
        assert result.ok and result.time_source == "set", stamps
    # A trusted root listing no TSA at all (clamp said "has no timestamp authority").
    result = _verify(root_with(pki), cosign_v3_bundle(pki, [listed]))
    assert result.ok and result.time_source == "set"
    # A listed TSA's timestamp over another signature proves nothing either.
    result = _verify(root, cosign_v3_bundle(pki, [listed], stamp_other=True))
    assert result.ok and result.time_source == "set"


def test_a_skipped_timestamp_is_never_a_signing_time(
        pki: TestSigstore, tsas: tuple[OpensslTsa, OpensslTsa], tile: TileLog) -> None:
    """A Rekor v2 entry binds no time: with only a skipped timestamp there is none, and the
    keyless bundle is refused, saying why the timestamp was skipped."""
    listed, unlisted = tsas
    root = root_with(pki, tsas=(listed.authority_json(),), tlogs=(tile.tlog_json(pki.start),))
    assert _verify(root, cosign_v3_bundle(pki, [listed], tile=tile)).time_source == "tsa"
    for stamps, other in (([unlisted], False), ([listed], True), ([], False)):
        with pytest.raises(TrustError) as info:
            _verify(root, cosign_v3_bundle(pki, stamps, tile=tile, stamp_other=other))
        assert info.value.check == "tsa", str(info.value)
        assert ("skipped" in info.value.reason) == bool(stamps), info.value.reason
    # A legacy `.sig` layer's timestamp keeps cosign's rule: refused when it does not verify.
    layer = keyless_sign_image(pki, DIGEST, REFERENCE, identity=IDENTITY, issuer=ISSUER)
    signature = base64.b64decode(layer.annotations["dev.cosignproject.cosign/signature"])
    policy = Policy.with_root(root, identities=(Identity(subject=IDENTITY, issuer=ISSUER),))
    for tsa, ok in ((listed, True), (unlisted, False)):
        stamped = type(layer)(layer.payload, {**layer.annotations, ANN_TIMESTAMP: json.dumps(
            {"SignedRFC3161Timestamp": b64(tsa.timestamp(signature))})}, layer.media_type)
        if ok:
            assert verify_legacy_layer(stamped, DIGEST, policy).ok
            continue
        with pytest.raises(TrustError) as refused:
            verify_legacy_layer(stamped, DIGEST, policy)
        assert refused.value.check == "tsa", str(refused.value)


def _reissued(tsa: OpensslTsa, *, days: tuple[int, int], critical: bool = False) -> OpensslTsa:
    """`tsa` with its leaf re-issued by its root for the days (from now) given, optionally
    with a critical extension nobody handles; `openssl ts` then signs with that leaf."""
    now = datetime.now(UTC)
    key = serialization.load_pem_private_key((tsa.folder / "tsa.key").read_bytes(), None)
    root_key = ec.generate_private_key(ec.SECP384R1())
    tsa.root = (x509.CertificateBuilder().subject_name(_name("tsa-root-2"))
                .issuer_name(_name("tsa-root-2")).public_key(root_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - timedelta(days=30))
                .not_valid_after(now + timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), True)
                .sign(root_key, hashes.SHA384()))
    builder = (x509.CertificateBuilder().subject_name(_name("tsa-leaf-2"))
               .issuer_name(tsa.root.subject).public_key(key.public_key())  # type: ignore[arg-type]
               .serial_number(x509.random_serial_number())
               .not_valid_before(now + timedelta(days=days[0]))
               .not_valid_after(now + timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True))
    if critical:
        builder = builder.add_extension(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.57264.99"), b"\x05\x00"), True)
    tsa.leaf = builder.sign(root_key, hashes.SHA384())
    (tsa.folder / "tsa.pem").write_bytes(tsa.leaf.public_bytes(serialization.Encoding.PEM))
    return tsa


@pytest.mark.parametrize(("days", "critical", "verifies"), [
    ((-1, 9), False, True),    # the honest twin: valid at genTime
    ((-9, -1), False, False),  # expired before genTime
    ((1, 9), False, False),    # not yet valid at genTime
    ((-1, 9), True, False),    # a critical extension no verifier handles
], ids=["valid", "expired", "not-yet-valid", "critical-extension"])
def test_a_tsa_certificate_not_good_at_gen_time_verifies_nothing(
        pki: TestSigstore, tmp_path: Path, days: tuple[int, int], critical: bool,
        verifies: bool) -> None:
    """Tried in red team 13, already refused: the TSA's certificate is checked at the
    timestamp's genTime (rfc3161-client verifies the CMS signature at it) and with OpenSSL's
    critical-extension rule. `openssl ts` refuses to sign with an EKU other than exactly a
    critical timeStamping, so those variants were not produced."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    tsa = _reissued(OpensslTsa(tmp_path / "tsa"), days=days, critical=critical)
    doc = json.loads(pki.trusted_root_json())
    doc["timestampAuthorities"] = [tsa.authority_json()]
    root = parse_trusted_root(json.dumps(doc).encode(), source="tsa-at-gen-time")
    times, skipped = verified_timestamps([tsa.timestamp(b"signature")], b"signature", root)
    assert bool(times) == verifies and bool(skipped) != verifies, skipped


def test_a_second_timestamp_from_the_same_tsa_counts_once(
        pki: TestSigstore, tsas: tuple[OpensslTsa, OpensslTsa], tile: TileLog) -> None:
    """sigstore-go (VerifySignedTimestamp, `isDuplicateTSA`) ignores a verified timestamp from
    a TSA already counted; clamp refused byte-identical copies ("duplicate timestamps"). Now
    the first counts and the copy, or another reply of the same TSA, is skipped. A copy makes
    nothing count that did not: an unlisted TSA's timestamp twice is still no signing time."""
    listed, unlisted = tsas
    root = root_with(pki, tsas=(listed.authority_json(),), tlogs=(tile.tlog_json(pki.start),))

    def doubled(bundle: bytes) -> bytes:
        doc = json.loads(bundle)
        stamps = doc["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
        stamps.append(dict(stamps[0]))
        return json.dumps(doc).encode()

    for bundle in (doubled(cosign_v3_bundle(pki, [listed], tile=tile)),
                   cosign_v3_bundle(pki, [listed, listed], tile=tile)):
        result = _verify(root, bundle)
        assert result.ok and result.time_source == "tsa"
    responses = [listed.timestamp(b"signature")] * 2 + [listed.timestamp(b"signature")]
    times, skipped = verified_timestamps(responses, b"signature", root)
    assert len(times) == 1 and len(skipped) == 2 and "one counts" in skipped[0], skipped
    with pytest.raises(TrustError) as refused:
        _verify(root, doubled(cosign_v3_bundle(pki, [unlisted], tile=tile)))
    assert refused.value.check == "tsa", str(refused.value)
