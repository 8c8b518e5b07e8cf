"""Bundles with several transparency log entries (red team 13, second pass).

sigstore-go's signer writes one entry per transparency log it is configured with (`sign.Bundle`
loops over `opts.TransparencyLogs`), e.g. a Rekor v1 and a Rekor v2 entry under a signing config
that selects both; its verifier (`VerifyArtifactTransparencyLog`) takes them all. clamp refused
any bundle with more than one entry as malformed. Now every entry of a log the trusted root
lists must verify and log this very signature; an unlisted log's entry is skipped, as in
sigstore-go, when another verifies.

The bundles are cosign v3's shape (v0.3 DSSE, one certificate) from the test sigstore's CA and
its Rekor v1 log, plus a rekor-tiles log; nothing is mocked.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.errors import TrustError
from clamp.trust.keys import sign_bytes
from clamp.trust.mediatypes import COSIGN_SIGN_PREDICATE, INTOTO_PAYLOAD_TYPE
from clamp.trust.pki import TestSigstore
from clamp.trust.policy import Identity, Policy
from clamp.trust.rekor_body import Envelope
from clamp.trust.result import VerificationResult
from clamp.trust.root import TrustedRoot
from clamp.trust.sign import image_statement

from .conftest import DIGEST, IDENTITY, ISSUER, REFERENCE
from .test_other_tools_formats import TileLog, b64, rekor_v1_entry, root_with


@pytest.fixture(scope="module")
def tile() -> TileLog:
    return TileLog("log2025-1.rekor.clamp.test", ed25519.Ed25519PrivateKey.generate())


class Signed:
    """One keyless DSSE signature over the image statement, and log entries for it."""

    def __init__(self, pki: TestSigstore, statement: bytes | None = None) -> None:
        self.pki = pki
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = pki.issue_leaf(self.key, identity=IDENTITY, issuer=ISSUER)
        self.statement = statement or image_statement(DIGEST, REFERENCE,
                                                      predicate_type=COSIGN_SIGN_PREDICATE)
        self.signature = sign_bytes(self.key,
                                    Envelope(INTOTO_PAYLOAD_TYPE, self.statement, ()).pae())

    def v1(self) -> dict[str, Any]:
        """A Rekor v1 dsse 0.0.1 entry (SET + proof) of the test sigstore's log."""
        pem = self.cert.public_bytes(serialization.Encoding.PEM)
        return rekor_v1_entry(self.pki, {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
            "payloadHash": {"algorithm": "sha256",
                            "value": hashlib.sha256(self.statement).hexdigest()},
            "signatures": [{"signature": b64(self.signature), "verifier": b64(pem)}]}})

    def v2(self, tile: TileLog, **options: Any) -> dict[str, Any]:
        """A Rekor v2 dsse 0.0.2 entry (proof + checkpoint) of `tile`."""
        der = self.cert.public_bytes(serialization.Encoding.DER)
        return tile.entry({"apiVersion": "0.0.2", "kind": "dsse", "spec": {"dsseV002": {
            "payloadHash": {"algorithm": "SHA2_256",
                            "digest": b64(hashlib.sha256(self.statement).digest())},
            "signatures": [{"content": b64(self.signature), "verifier": {
                "x509Certificate": {"rawBytes": b64(der)},
                "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}]}}}, **options)

    def bundle(self, entries: list[dict[str, Any]]) -> bytes:
        return json.dumps({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(self.cert.public_bytes(
                    serialization.Encoding.DER))},
                "tlogEntries": entries},
            "dsseEnvelope": {"payload": b64(self.statement), "payloadType": INTOTO_PAYLOAD_TYPE,
                             "signatures": [{"sig": b64(self.signature), "keyid": ""}]}}).encode()


def _verify(root: TrustedRoot, bundle: bytes) -> VerificationResult:
    policy = Policy.with_root(root, identities=(Identity(subject=IDENTITY, issuer=ISSUER),))
    return verify_bundle(bundle, Artifact.from_digest(DIGEST), policy, subject_digest=DIGEST)


def _refused(root: TrustedRoot, bundle: bytes) -> TrustError:
    with pytest.raises(TrustError) as info:
        _verify(root, bundle)
    return info.value


def test_a_bundle_logged_in_two_logs_passes(pki: TestSigstore, tile: TileLog) -> None:
    """The honest case: a Rekor v1 and a Rekor v2 entry for the one signature, in either order;
    the SET's integrated time is the signing time and the record names the first entry."""
    root = root_with(pki, tlogs=(tile.tlog_json(pki.start),))
    signed = Signed(pki)
    v1, v2 = signed.v1(), signed.v2(tile)
    for entries in ([v1, v2], [v2, v1]):
        result = _verify(root, signed.bundle(entries))
        assert result.ok and result.time_source == "set", entries
        assert result.log_index == int(entries[0]["logIndex"])


def test_an_entry_of_a_log_the_root_lacks_is_skipped(pki: TestSigstore, tile: TileLog) -> None:
    """sigstore-go skips an entry whose log the trusted root does not list (an older copy of
    the root, without the new Rekor v2 shard); alone, such an entry is still refused."""
    root = root_with(pki)  # no rekor-tiles log
    signed = Signed(pki)
    assert _verify(root, signed.bundle([signed.v2(tile), signed.v1()])).ok
    refused = _refused(root, signed.bundle([signed.v2(tile)]))
    assert refused.check == "log-id", str(refused)


def test_a_valid_entry_beside_a_forged_one_is_refused(pki: TestSigstore, tile: TileLog) -> None:
    """One honest entry and one the attacker made: a Rekor v2 entry whose checkpoint another
    key signed, or whose proof is not its path; a Rekor v1 entry whose SET is broken. A listed
    log's evidence must verify (sigstore-go errors on the proof; the broken SET it skips,
    clamp refuses: deliberate)."""
    root = root_with(pki, tlogs=(tile.tlog_json(pki.start),))
    signed = Signed(pki)
    v1 = signed.v1()
    forged_note = signed.v2(tile, note_key=ed25519.Ed25519PrivateKey.generate())
    wrong_path = signed.v2(tile)
    wrong_path["inclusionProof"]["logIndex"] = wrong_path["logIndex"] = "2"
    broken_set = copy.deepcopy(v1)
    broken_set["integratedTime"] = str(int(v1["integratedTime"]) - 1)
    assert _verify(root, signed.bundle([v1, signed.v2(tile)])).ok  # the twin
    for honest, forged, check in ((v1, forged_note, "checkpoint"),
                                  (v1, wrong_path, "inclusion-proof"),
                                  (signed.v2(tile), broken_set, "set")):
        refused = _refused(root, signed.bundle([honest, forged]))
        assert refused.check == check, str(refused)


def test_two_entries_for_different_signatures_are_refused(
        pki: TestSigstore, tile: TileLog) -> None:
    """The bundle's signature logged once, beside an honest entry of another signature (the
    same identity's, over another statement, or the same statement by another key): every
    entry must log this signature with this certificate."""
    root = root_with(pki, tlogs=(tile.tlog_json(pki.start),))
    signed = Signed(pki)
    other_statement = Signed(pki, image_statement(
        "sha256:" + "ab" * 32, REFERENCE, predicate_type=COSIGN_SIGN_PREDICATE))
    other_key = Signed(pki)
    for other in (other_statement, other_key):
        for entries in ([signed.v1(), other.v2(tile)], [other.v1(), signed.v1()]):
            refused = _refused(root, signed.bundle(entries))
            assert refused.check == "tlog-body", str(refused)


def test_duplicate_or_too_many_entries_are_refused(pki: TestSigstore) -> None:
    """sigstore-go refuses two entries with the same log and index (a duplicate must not count
    twice) and more than 32 entries."""
    root = root_with(pki)
    signed = Signed(pki)
    v1 = signed.v1()
    refused = _refused(root, signed.bundle([v1, v1]))
    assert "duplicate" in str(refused), str(refused)
    refused = _refused(root, signed.bundle([signed.v1() for _ in range(33)]))
    assert "tlogEntries" in str(refused), str(refused)
