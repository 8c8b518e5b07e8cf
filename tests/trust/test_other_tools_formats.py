"""Signatures in the formats other tools make, verified by `clamp.trust` and `clamp.verify`.

Each test builds a signature the way the named tool writes it, using the project's private test
sigstore (`clamp.trust.pki.TestSigstore`: Fulcio-like CA, CT log, Rekor-like log) for the
certificate, SCT, SET and checkpoint. It then checks that a copy tampered in one place is
rejected by the check that should catch it, so every test can fail:

* cosign >= 2.4 `sign --key` / `attest --key` use the key's default algorithm
  (sigstore/sigstore `GetDefaultPublicKeyDetails`): ECDSA-SHA384 for P-384, ECDSA-SHA512 for
  P-521, Ed25519ph (SHA-512 prehash) for Ed25519. Before 2.4 cosign signed P-384 with SHA-256
  and Ed25519 pure. All of these must still verify, both on legacy `.sig` layers and in v0.3
  DSSE bundles.
* `cosign attest --timestamp-server-url` adds a `dev.sigstore.cosign/rfc3161timestamp`
  annotation to the `.att` layer. Its RFC 3161 timestamp covers the whole layer blob (the DSSE
  envelope JSON), not the DSSE signature. `cosign sign --timestamp-server-url` timestamps the
  raw signature of a `.sig` layer.
* cosign 1.x put a Rekor bundle (SET) on `.sig` layers whose entry body is `rekord` 0.0.1.
* sigstore-js (`@sigstore/sign`) logging to Rekor v2 (rekor-tiles) writes `dsse` 0.0.2
  entries in the DSSERequestV002 shape. Their inclusion proof comes with a C2SP signed-note
  checkpoint from an Ed25519 log whose log ID is the note key hash; there is no SET.
* actions/attest-build-provenance v1.0.x with `push-to-registry` stores v0.2 bundles as
  referrers whose artifactType is `application/vnd.dev.sigstore.bundle+json;version=0.2`.
* `gh attestation trusted-root` prints the trusted roots as JSON lines, one root per line.
  Other clients spell the trusted-root media type `...trustedroot.v0.1+json` /
  `...trustedroot.v0.2+json`.
* P-384/P-521 signers (cosign >= 2.4, sigstore-go) log hashedrekord 0.0.1 entries whose
  artifact hash is SHA-384/SHA-512.

The test sigstore has no timestamp authority. The RFC 3161 responses therefore come from
`openssl ts -reply`: `cryptography` makes the TSA's keys and certificates and `rfc3161-client`
builds the request. Its files live under pytest's `tmp_path`, and every `openssl` call has a
timeout.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from nacl.bindings import (
    crypto_sign_ed25519ph_final_create,
    crypto_sign_ed25519ph_state,
    crypto_sign_ed25519ph_update,
    crypto_sign_seed_keypair,
)

from clamp.demo.images import put_image
from clamp.digest import digest_of
from clamp.location import Layout
from clamp.oci.layout import LayoutStore
from clamp.oci.manifest import OCI_EMPTY_CONFIG, OCI_INDEX, OCI_MANIFEST, Manifest, encode_json
from clamp.oci.reference import Reference
from clamp.signed.image import verify_image
from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.cosign_legacy import LegacyLayer, verify_legacy_layer
from clamp.trust.encoding import canonical_json
from clamp.trust.errors import InvalidSignatureError, TrustError, TrustInputError
from clamp.trust.keys import PrivateKeyTypes, PublicKey, sign_bytes, spki_der
from clamp.trust.mediatypes import (
    ANN_BUNDLE,
    ANN_CERTIFICATE,
    ANN_SIGNATURE,
    ANN_TIMESTAMP,
    DSSE_MEDIA_TYPE,
    INTOTO_PAYLOAD_TYPE,
    SIMPLESIGNING_MEDIA_TYPE,
)
from clamp.trust.pki import TestSigstore, hashedrekord, keyless_sign_image
from clamp.trust.policy import Identity, Policy
from clamp.trust.rekor_body import Envelope, check_message_body
from clamp.trust.root import TrustedRoot, load_trusted_root, parse_trusted_root
from clamp.trust.sign import image_statement, sign_image_bundle, simplesigning_payload
from tests.support.tsa import OpensslTsa

from .conftest import DIGEST, IDENTITY, ISSUER, REFERENCE

SLSA = "https://slsa.dev/provenance/v1"
BUNDLE_V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
REPO = "rocm/dev"
SEED = bytes(range(32))  # a fixed Ed25519 seed: PyNaCl and `cryptography` derive the same key

Sign = Callable[[bytes], bytes]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def flip(signature: bytes) -> bytes:
    """One bit flipped at byte 10. That byte lies inside ECDSA's DER `r` and Ed25519's `R`,
    so the encoding stays well formed and only the mathematics can reject the signature."""
    return signature[:10] + bytes([signature[10] ^ 0x01]) + signature[11:]


def root_with(pki: TestSigstore, *, tsas: tuple[dict[str, Any], ...] = (),
              tlogs: tuple[dict[str, Any], ...] = ()) -> TrustedRoot:
    """The test sigstore's trusted root plus extra timestamp authorities / transparency logs."""
    doc = json.loads(pki.trusted_root_json())
    doc["timestampAuthorities"] += list(tsas)
    doc["tlogs"] += list(tlogs)
    return parse_trusted_root(json.dumps(doc).encode(), source="clamp-test-pki+extras")


# --- key algorithms of cosign >= 2.4 ---------------------------------------------------------

def ed25519ph_sign(seed: bytes, message: bytes) -> bytes:
    """RFC 8032 Ed25519ph via libsodium: what cosign >= 2.4 makes with an Ed25519 key."""
    _, secret = crypto_sign_seed_keypair(seed)  # libsodium's 64-byte secret key
    state = crypto_sign_ed25519ph_state()
    crypto_sign_ed25519ph_update(state, message)
    return bytes(crypto_sign_ed25519ph_final_create(state, secret))


KEY_CASES = ["p384-sha384", "p384-sha256", "p521-sha512", "ed25519", "ed25519ph"]
NEW_SCHEMES = ["p384-sha384", "p521-sha512", "ed25519ph"]  # what cosign < 2.4 never made


@cache
def key_case(name: str) -> tuple[PrivateKeyTypes, Sign]:
    """(private key, signer) for a KEY_CASES name; cached so a case keeps its key."""
    if name.startswith("ed25519"):
        edkey = ed25519.Ed25519PrivateKey.from_private_bytes(SEED)
        return edkey, (edkey.sign if name == "ed25519" else
                       (lambda message: ed25519ph_sign(SEED, message)))
    curve, algorithm = {"p384-sha384": (ec.SECP384R1(), hashes.SHA384()),
                        "p384-sha256": (ec.SECP384R1(), hashes.SHA256()),
                        "p521-sha512": (ec.SECP521R1(), hashes.SHA512())}[name]
    eckey = ec.generate_private_key(curve)
    return eckey, lambda message: eckey.sign(message, ec.ECDSA(algorithm))


def key_bundle(private_key: PrivateKeyTypes, sign: Sign, digest: str = DIGEST, *,
               tamper: bool = False) -> bytes:
    """A v0.3 DSSE bundle as `clamp sign` makes it, re-signed over the PAE with `sign`."""
    doc = json.loads(sign_image_bundle(private_key, digest, REFERENCE))
    envelope = doc["dsseEnvelope"]
    pae = Envelope(envelope["payloadType"], base64.b64decode(envelope["payload"]), ()).pae()
    signature = sign(pae)
    envelope["signatures"][0]["sig"] = b64(flip(signature) if tamper else signature)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("name", NEW_SCHEMES)
def test_new_key_schemes_are_not_the_old_ones(name: str) -> None:
    """Guards the cases below: a SHA-384/SHA-512/Ed25519ph signature does not verify as
    ECDSA-SHA256 / pure Ed25519, so accepting it exercises the new code path."""
    private_key, sign = key_case(name)
    signature = sign(b"message")
    public = private_key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        assert crypto_sign_seed_keypair(SEED)[0] == public.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    with pytest.raises(InvalidSignature):
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, b"message", ec.ECDSA(hashes.SHA256()))
        else:
            assert isinstance(public, ed25519.Ed25519PublicKey)
            public.verify(signature, b"message")


@pytest.mark.parametrize("name", KEY_CASES)
def test_cosign_key_algorithm_legacy_sig(pki: TestSigstore, name: str) -> None:
    private_key, sign = key_case(name)
    public = PublicKey(private_key.public_key())
    policy = Policy.with_root(pki.trusted_root(), keys=(public,), require_tlog=False)
    payload = simplesigning_payload(DIGEST, REFERENCE)
    signature = sign(payload)
    result = verify_legacy_layer(LegacyLayer(payload, {ANN_SIGNATURE: b64(signature)}), DIGEST,
                                 policy)
    assert result.ok and result.signature_kind == "cosign-simplesigning"
    assert result.signer is not None and result.signer.key_fingerprint == public.fingerprint
    with pytest.raises(TrustError) as info:
        verify_legacy_layer(LegacyLayer(payload, {ANN_SIGNATURE: b64(flip(signature))}),
                            DIGEST, policy)
    assert info.value.check == "signature", str(info.value)


@pytest.mark.parametrize("name", KEY_CASES)
def test_cosign_key_algorithm_dsse_bundle(pki: TestSigstore, name: str) -> None:
    private_key, sign = key_case(name)
    public = PublicKey(private_key.public_key())
    policy = Policy.with_root(pki.trusted_root(), keys=(public,), require_tlog=False)
    result = verify_bundle(key_bundle(private_key, sign), Artifact.from_digest(DIGEST), policy)
    assert result.ok and result.signature_kind == "bundle-dsse"
    assert result.signer is not None and result.signer.key_fingerprint == public.fingerprint
    with pytest.raises(TrustError) as info:
        verify_bundle(key_bundle(private_key, sign, tamper=True), Artifact.from_digest(DIGEST),
                      policy)
    assert info.value.check == "dsse", str(info.value)


# --- RFC 3161 timestamps on legacy layers (cosign --timestamp-server-url) ------------------

@pytest.fixture()
def tsa(tmp_path: Path) -> OpensslTsa:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return OpensslTsa(tmp_path / "tsa")


def _stamped(payload: bytes, timestamp: bytes, *, signature: str = "",
             media_type: str = DSSE_MEDIA_TYPE) -> LegacyLayer:
    """A layer with the annotations cosign writes (`.att`: an empty signature annotation)."""
    annotations = {ANN_SIGNATURE: signature,
                   ANN_TIMESTAMP: json.dumps({"SignedRFC3161Timestamp": b64(timestamp)})}
    if media_type == DSSE_MEDIA_TYPE:
        annotations["predicateType"] = SLSA
    return LegacyLayer(payload, annotations, media_type)


def dsse_layer_blob(private_key: PrivateKeyTypes, statement: bytes) -> tuple[bytes, bytes]:
    """(the `.att` layer blob cosign pushes, i.e. the envelope's compact JSON; its signature)."""
    signature = sign_bytes(private_key, Envelope(INTOTO_PAYLOAD_TYPE, statement, ()).pae())
    envelope = {"payloadType": INTOTO_PAYLOAD_TYPE, "payload": b64(statement),
                "signatures": [{"keyid": "", "sig": b64(signature)}]}
    return json.dumps(envelope, separators=(",", ":")).encode(), signature


def test_att_layer_timestamp_covers_the_envelope(pki: TestSigstore, tsa: OpensslTsa,
                                                 signing_key: ec.EllipticCurvePrivateKey) -> None:
    policy = Policy.with_root(root_with(pki, tsas=(tsa.authority_json(),)),
                              keys=(PublicKey(signing_key.public_key()),), require_tlog=False)
    blob, signature = dsse_layer_blob(signing_key, image_statement(DIGEST, REFERENCE,
                                                                   predicate_type=SLSA))
    before = datetime.now(UTC) - timedelta(minutes=5)
    result = verify_legacy_layer(_stamped(blob, tsa.timestamp(blob)), DIGEST, policy,
                                 role="attestation", predicate_types=(SLSA,))
    assert result.ok and result.time_source == "tsa", result
    assert result.integrated_time is not None and result.integrated_time >= before
    assert result.signature_kind == "cosign-attestation" and result.predicate_types == [SLSA]
    # A timestamp over the DSSE signature alone is not what cosign makes: refused.
    with pytest.raises(TrustError) as info:
        verify_legacy_layer(_stamped(blob, tsa.timestamp(signature)), DIGEST, policy,
                            role="attestation")
    assert info.value.check == "tsa", str(info.value)
    # The right timestamp, but from a TSA the trusted root does not list: refused.
    untrusted = Policy.with_root(pki.trusted_root(), keys=(PublicKey(signing_key.public_key()),),
                                 require_tlog=False)
    with pytest.raises(TrustError) as info:
        verify_legacy_layer(_stamped(blob, tsa.timestamp(blob)), DIGEST, untrusted,
                            role="attestation")
    assert info.value.check == "tsa", str(info.value)


def test_sig_layer_timestamp_covers_the_signature(pki: TestSigstore, tsa: OpensslTsa,
                                                  signing_key: ec.EllipticCurvePrivateKey
                                                  ) -> None:
    """`cosign sign --timestamp-server-url`: on a `.sig` layer the raw signature is stamped."""
    policy = Policy.with_root(root_with(pki, tsas=(tsa.authority_json(),)),
                              keys=(PublicKey(signing_key.public_key()),), require_tlog=False)
    payload = simplesigning_payload(DIGEST, REFERENCE)
    signature = sign_bytes(signing_key, payload)
    good = _stamped(payload, tsa.timestamp(signature), signature=b64(signature),
                    media_type=SIMPLESIGNING_MEDIA_TYPE)
    result = verify_legacy_layer(good, DIGEST, policy)
    assert result.ok and result.time_source == "tsa", result
    wrong = _stamped(payload, tsa.timestamp(payload), signature=b64(signature),
                     media_type=SIMPLESIGNING_MEDIA_TYPE)
    with pytest.raises(TrustError) as info:
        verify_legacy_layer(wrong, DIGEST, policy)
    assert info.value.check == "tsa", str(info.value)


# --- cosign 1.x: rekord 0.0.1 entries in the Rekor bundle ------------------------------------

def rekord(signature: bytes, data: bytes, signer_pem: bytes) -> dict[str, Any]:
    """A `rekord` 0.0.1 body as Rekor canonicalizes it (artifact hash, x509 signature)."""
    return {"apiVersion": "0.0.1", "kind": "rekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": hashlib.sha256(data).hexdigest()}},
        "signature": {"content": b64(signature), "format": "x509",
                      "publicKey": {"content": b64(signer_pem)}}}}


def test_rekord_entry_key_mode(pki: TestSigstore, signing_key: ec.EllipticCurvePrivateKey,
                               key_policy: Policy) -> None:
    policy = replace(key_policy, require_tlog=True)
    payload = simplesigning_payload(DIGEST, REFERENCE)
    signature = sign_bytes(signing_key, payload)
    pem = PublicKey(signing_key.public_key()).pem

    def layer(body: dict[str, Any]) -> LegacyLayer:
        return LegacyLayer(payload, {ANN_SIGNATURE: b64(signature),
                                     ANN_BUNDLE: pki.rekor_bundle(body)})

    result = verify_legacy_layer(layer(rekord(signature, payload, pem)), DIGEST, policy)
    assert result.ok and result.time_source == "set" and result.log_index is not None
    another_signature = sign_bytes(signing_key, payload)  # ECDSA: same payload, other bytes
    other_key = PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem
    for tampered in (rekord(another_signature, payload, pem),
                     rekord(signature, payload + b" ", pem),
                     rekord(signature, payload, other_key)):
        with pytest.raises(TrustError) as info:
            verify_legacy_layer(layer(tampered), DIGEST, policy)
        assert info.value.check == "tlog-body", str(info.value)


def test_rekord_entry_keyless(pki: TestSigstore, keyless_policy: Policy) -> None:
    signed = keyless_sign_image(pki, DIGEST, REFERENCE, identity=IDENTITY, issuer=ISSUER)
    signature = base64.b64decode(signed.annotations[ANN_SIGNATURE])
    cert_pem = signed.annotations[ANN_CERTIFICATE].encode()

    def layer(body: dict[str, Any]) -> LegacyLayer:
        return replace(signed, annotations={**signed.annotations,
                                            ANN_BUNDLE: pki.rekor_bundle(body)})

    result = verify_legacy_layer(layer(rekord(signature, signed.payload, cert_pem)), DIGEST,
                                 keyless_policy)
    assert result.ok and result.signer is not None and result.signer.identity == IDENTITY
    with pytest.raises(TrustError) as info:
        verify_legacy_layer(layer(rekord(flip(signature), signed.payload, cert_pem)), DIGEST,
                            keyless_policy)
    assert info.value.check == "tlog-body", str(info.value)


# --- transparency log entries with inclusion proofs ------------------------------------------

def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """RFC 6962's k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _tree_hash(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(_tree_hash(leaves[:k]), _tree_hash(leaves[k:]))


def _audit_path(index: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*_audit_path(index, leaves[:k]), _tree_hash(leaves[k:])]
    return [*_audit_path(index - k, leaves[k:]), _tree_hash(leaves[:k])]


def inclusion(body: bytes, index: int, size: int) -> tuple[bytes, list[bytes]]:
    """(root hash, audit path) of a tree of `size` leaves with `body` at `index`."""
    leaves = [hashlib.sha256(b"\x00" + (body if i == index else b"entry %d" % i)).digest()
              for i in range(size)]
    return _tree_hash(leaves), _audit_path(index, leaves)


def signed_note(origin: str, size: int, root_hash: bytes, key_hint: bytes, sign: Sign) -> str:
    """A checkpoint (C2SP signed note): `origin\\nsize\\nroot\\n`, blank line, signature line."""
    text = f"{origin}\n{size}\n{b64(root_hash)}\n"
    name = origin.split(" ")[0]
    return f"{text}\n\u2014 {name} {b64(key_hint + sign(text.encode()))}\n"


@dataclass(frozen=True)
class TileLog:
    """A Rekor v2 (rekor-tiles) log: Ed25519, its log ID the C2SP note key hash of origin and
    key. That is how the public-good root lists log2025-1.rekor.sigstore.dev."""

    origin: str
    key: ed25519.Ed25519PrivateKey

    @property
    def log_id(self) -> bytes:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw)
        return hashlib.sha256(self.origin.encode() + b"\n\x01" + raw).digest()

    def tlog_json(self, start: datetime) -> dict[str, Any]:
        return {"baseUrl": f"https://{self.origin}", "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": b64(spki_der(self.key.public_key())),
                              "keyDetails": "PKIX_ED25519",
                              "validFor": {"start": start.strftime("%Y-%m-%dT%H:%M:%SZ")}},
                "logId": {"keyId": b64(self.log_id)}}

    def entry(self, body: dict[str, Any], *, index: int = 3, size: int = 5,
              note_key: ed25519.Ed25519PrivateKey | None = None) -> dict[str, Any]:
        """A Rekor v2 TransparencyLogEntry: inclusion proof + checkpoint, no integratedTime,
        no inclusion promise."""
        raw = canonical_json(body)
        root_hash, path = inclusion(raw, index, size)
        note = signed_note(self.origin, size, root_hash, self.log_id[:4],
                           (note_key or self.key).sign)
        return {"logIndex": str(index), "logId": {"keyId": b64(self.log_id)},
                "kindVersion": {"kind": body["kind"], "version": body["apiVersion"]},
                "inclusionProof": {"logIndex": str(index), "rootHash": b64(root_hash),
                                   "treeSize": str(size), "hashes": [b64(h) for h in path],
                                   "checkpoint": {"envelope": note}},
                "canonicalizedBody": b64(raw)}


def rekor_v1_entry(pki: TestSigstore, body: dict[str, Any]) -> dict[str, Any]:
    """A Rekor v1 entry of the test sigstore's log: SET (inclusion promise) + inclusion proof
    with a checkpoint signed by the same log key."""
    promise = json.loads(pki.rekor_bundle(body))
    payload = promise["Payload"]
    raw = base64.b64decode(payload["body"])
    index = payload["logIndex"]
    size = index + 2
    root_hash, path = inclusion(raw, index, size)
    note = signed_note(f"rekor.clamp.test - {index}", size, root_hash, pki.rekor.log_id[:4],
                       pki.rekor.sign)
    return {"logIndex": str(index), "logId": {"keyId": b64(pki.rekor.log_id)},
            "kindVersion": {"kind": body["kind"], "version": body["apiVersion"]},
            "integratedTime": str(payload["integratedTime"]),
            "inclusionPromise": {"signedEntryTimestamp": promise["SignedEntryTimestamp"]},
            "inclusionProof": {"logIndex": str(index), "rootHash": b64(root_hash),
                               "treeSize": str(size), "hashes": [b64(h) for h in path],
                               "checkpoint": {"envelope": note}},
            "canonicalizedBody": payload["body"]}


def dsse_v002(payload: bytes, signature: bytes, key: PublicKey) -> dict[str, Any]:
    """rekor-tiles' dsse 0.0.2 entry (what a DSSERequestV002 becomes)."""
    return {"apiVersion": "0.0.2", "kind": "dsse", "spec": {"dsseV002": {
        "payloadHash": {"algorithm": "SHA2_256", "digest": b64(hashlib.sha256(payload).digest())},
        "signatures": [{"content": b64(signature),
                        "verifier": {"publicKey": {"rawBytes": b64(key.der)},
                                     "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}]}}}


@pytest.fixture(scope="module")
def tile_log() -> TileLog:
    return TileLog("log2025-1.rekor.clamp.test", ed25519.Ed25519PrivateKey.generate())


def _rekor_v2_case(tamper: str, signing_key: ec.EllipticCurvePrivateKey, tile_log: TileLog
                   ) -> bytes:
    doc = json.loads(sign_image_bundle(signing_key, DIGEST, REFERENCE))
    envelope = doc["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    signature = base64.b64decode(envelope["signatures"][0]["sig"])
    public = PublicKey(signing_key.public_key())
    pae = Envelope(envelope["payloadType"], payload, ()).pae()
    body = {
        "none": lambda: dsse_v002(payload, signature, public),
        "payload-hash": lambda: dsse_v002(payload + b" ", signature, public),
        "signature": lambda: dsse_v002(payload, sign_bytes(signing_key, pae), public),
        "verifier": lambda: dsse_v002(payload, signature, PublicKey(
            ec.generate_private_key(ec.SECP256R1()).public_key())),
        "checkpoint": lambda: dsse_v002(payload, signature, public),
    }[tamper]()
    note_key = ed25519.Ed25519PrivateKey.generate() if tamper == "checkpoint" else None
    doc["verificationMaterial"]["tlogEntries"] = [tile_log.entry(body, note_key=note_key)]
    return json.dumps(doc).encode()


def test_rekor_v2_dsse_entry(pki: TestSigstore, signing_key: ec.EllipticCurvePrivateKey,
                             tile_log: TileLog) -> None:
    policy = Policy.with_root(root_with(pki, tlogs=(tile_log.tlog_json(pki.start),)),
                              keys=(PublicKey(signing_key.public_key()),), require_tlog=True)
    result = verify_bundle(_rekor_v2_case("none", signing_key, tile_log),
                           Artifact.from_digest(DIGEST), policy)
    assert result.ok and result.time_source == "inclusion_proof", result
    assert result.log_id == tile_log.log_id.hex() and result.log_index == 3
    assert result.integrated_time is None  # Rekor v2 binds no time; a TSA would


@pytest.mark.parametrize(("tamper", "check"), [("payload-hash", "tlog-body"),
                                               ("signature", "tlog-body"),
                                               ("verifier", "tlog-body"),
                                               ("checkpoint", "checkpoint")])
def test_rekor_v2_dsse_entry_tampered(pki: TestSigstore, signing_key: ec.EllipticCurvePrivateKey,
                                      tile_log: TileLog, tamper: str, check: str) -> None:
    """Each tampered entry has a valid inclusion proof of its own body; only the check named
    can reject it."""
    policy = Policy.with_root(root_with(pki, tlogs=(tile_log.tlog_json(pki.start),)),
                              keys=(PublicKey(signing_key.public_key()),), require_tlog=True)
    with pytest.raises(TrustError) as info:
        verify_bundle(_rekor_v2_case(tamper, signing_key, tile_log),
                      Artifact.from_digest(DIGEST), policy)
    assert info.value.check == check, str(info.value)


# --- attest-build-provenance v1.0.x: v0.2 bundle referrers -----------------------------------

def keyless_attestation_bundle(pki: TestSigstore, digest: str, media_type: str, *,
                               tamper: bool = False) -> bytes:
    """A keyless SLSA provenance bundle as sigstore-js writes it: Fulcio-like certificate (a
    one-certificate `x509CertificateChain` in v0.2, `certificate` in v0.3), dsse 0.0.1 entry
    with inclusion promise and inclusion proof."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_leaf(key, identity=IDENTITY, issuer=ISSUER)
    statement = image_statement(digest, REFERENCE, predicate_type=SLSA)
    signature = sign_bytes(key, Envelope(INTOTO_PAYLOAD_TYPE, statement, ()).pae())
    envelope: dict[str, Any] = {"payload": b64(statement), "payloadType": INTOTO_PAYLOAD_TYPE,
                                "signatures": [{"sig": b64(signature)}]}
    body = {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "envelopeHash": {"algorithm": "sha256",
                         "value": hashlib.sha256(canonical_json(envelope)).hexdigest()},
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(statement).hexdigest()},
        "signatures": [{"signature": b64(signature),
                        "verifier": b64(cert.public_bytes(serialization.Encoding.PEM))}]}}
    der = {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))}
    material: dict[str, Any] = ({"x509CertificateChain": {"certificates": [der]}}
                                if media_type == BUNDLE_V02 else {"certificate": der})
    if tamper:
        envelope["signatures"][0]["sig"] = b64(flip(signature))
    return json.dumps({"mediaType": media_type,
                       "verificationMaterial": {**material,
                                                "tlogEntries": [rekor_v1_entry(pki, body)]},
                       "dsseEnvelope": envelope}).encode()


async def push_bundle_like_sigstore_js(store: LayoutStore, image: Manifest, bundle: bytes,
                                       media_type: str) -> None:
    """The referrer manifest @sigstore/oci pushes (artifactType = layer media type = the
    bundle's) and the tag-schema fallback index naming it."""
    empty = await store.put_blob(REPO, b"{}")
    blob = await store.put_blob(REPO, bundle)
    annotations = {"dev.sigstore.bundle.content": "dsse-envelope",
                   "dev.sigstore.bundle.predicateType": SLSA}
    raw = encode_json({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": media_type,
        "config": {"mediaType": OCI_EMPTY_CONFIG, "size": 2, "digest": str(empty)},
        "layers": [{"mediaType": media_type, "size": len(bundle), "digest": str(blob)}],
        "subject": {"mediaType": OCI_MANIFEST, "size": len(image.raw),
                    "digest": str(image.digest)},
        "annotations": annotations})
    referrer = await store.put_manifest(REPO, str(digest_of(raw)), raw, OCI_MANIFEST)
    index = encode_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": str(referrer), "size": len(raw),
         "artifactType": media_type, "annotations": annotations}]})
    await store.put_manifest(REPO, image.digest.referrers_tag, index, OCI_INDEX)


@pytest.mark.parametrize("media_type", [BUNDLE_V02, BUNDLE_V03])
def test_bundle_referrer_artifact_types(tmp_path: Path, pki: TestSigstore,
                                        keyless_policy: Policy, media_type: str) -> None:
    async def run(tamper: bool) -> Any:
        folder = tmp_path / ("tampered" if tamper else "good")
        store = LayoutStore(folder)
        image = await put_image(store, REPO, "6.4.4", version="6.4.4", os_name="ubuntu")
        bundle = keyless_attestation_bundle(pki, str(image.digest), media_type, tamper=tamper)
        await push_bundle_like_sigstore_js(store, image, bundle, media_type)
        return await verify_image(store, Reference(Layout(str(folder)), REPO, digest=image.digest),
                                  [keyless_policy], attestation_types=(SLSA,),
                                  require_attestation=True)

    verified = asyncio.run(run(tamper=False))
    assert [b.media_type for s in verified.found for b in s.bundles] == [media_type]
    assert verified.attestation is not None and verified.attestation.ok, verified.attestation
    assert verified.attestation.media_type == media_type
    assert verified.attestation.signer is not None
    assert verified.attestation.signer.identity == IDENTITY
    tampered = asyncio.run(run(tamper=True))
    assert [b.media_type for s in tampered.found for b in s.bundles] == [media_type]
    assert tampered.attestation is not None and tampered.attestation.verdict == "invalid"
    assert tampered.attestation.check == "dsse", tampered.attestation


# --- trusted roots: media-type spellings and JSON lines (gh attestation trusted-root) -------

def _root_doc(pki: TestSigstore, **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(pki.trusted_root_json())
    doc.update(changes)
    return doc


def _line(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()  # Go's json.Marshal: compact


@pytest.mark.parametrize("media_type", [
    "application/vnd.dev.sigstore.trustedroot.v0.1+json",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
    "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
    "application/vnd.dev.sigstore.trustedroot+json;version=0.2",
])
def test_trusted_root_media_types(pki: TestSigstore, media_type: str) -> None:
    root = parse_trusted_root(_line(_root_doc(pki, mediaType=media_type)))
    assert [log.log_id for log in root.tlogs] == [pki.rekor.log_id]
    assert [log.log_id for log in root.ctlogs] == [pki.ctlog.log_id]
    assert root.certificate_authorities[0].certificates[-1] == pki.root_cert


@pytest.mark.parametrize("media_type", [
    "application/vnd.dev.sigstore.trustedroot.v0.9+json",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
    "application/json",
    None,
])
def test_trusted_root_unknown_media_type_refused(pki: TestSigstore,
                                                 media_type: str | None) -> None:
    with pytest.raises(TrustInputError) as info:
        parse_trusted_root(_line(_root_doc(pki, mediaType=media_type)))
    assert info.value.check == "trusted-root" and "mediaType" in info.value.reason


def test_trusted_root_pretty_printed_single_root(pki: TestSigstore) -> None:
    pretty = pki.trusted_root_json()
    assert pretty.count(b"\n") > 10  # indented: many lines, none of them a whole root
    root = parse_trusted_root(pretty)
    assert [log.log_id for log in root.tlogs] == [pki.rekor.log_id]
    assert len(root.certificate_authorities) == 1


def test_trusted_root_json_lines_merged(pki: TestSigstore, tmp_path: Path) -> None:
    """Two roots one to a line (as `gh attestation trusted-root` prints them) make one root:
    a signature from either instance verifies, one from a third instance does not."""
    other = TestSigstore()
    stranger = TestSigstore(ctlog=other.ctlog, rekor=other.rekor)  # known logs, foreign CA
    path = tmp_path / "trusted_root.jsonl"
    path.write_bytes(_line(_root_doc(pki)) + b"\n" + _line(_root_doc(other)) + b"\n")
    root = load_trusted_root(path)
    assert [log.log_id for log in root.tlogs] == [pki.rekor.log_id, other.rekor.log_id]
    assert [log.log_id for log in root.ctlogs] == [pki.ctlog.log_id, other.ctlog.log_id]
    assert [ca.certificates[-1] for ca in root.certificate_authorities] == [pki.root_cert,
                                                                          other.root_cert]
    policy = Policy.with_root(root, identities=(Identity(subject=IDENTITY, issuer=ISSUER),))
    for instance in (pki, other):
        layer = keyless_sign_image(instance, DIGEST, REFERENCE, identity=IDENTITY,
                                   issuer=ISSUER)
        assert verify_legacy_layer(layer, DIGEST, policy).ok
    with pytest.raises(TrustError) as info:
        verify_legacy_layer(keyless_sign_image(stranger, DIGEST, REFERENCE, identity=IDENTITY,
                                               issuer=ISSUER), DIGEST, policy)
    assert info.value.check == "chain", str(info.value)


def test_trusted_root_json_lines_keep_each_instance(pki: TestSigstore) -> None:
    """GitHub's own instance (its line in `gh attestation trusted-root`) runs no transparency
    or CT log: its CA keeps saying so after the merge, the public-good-like one does not."""
    github = TestSigstore()
    tsa_chain = [{"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))}
                 for c in (github.intermediate_cert, github.root_cert)]
    github_doc = _root_doc(github, tlogs=[], ctlogs=[], timestampAuthorities=[{
        "subject": {"organization": "clamp-test", "commonName": "tsa"},
        "uri": "timestamp.clamp.test", "certChain": {"certificates": tsa_chain},
        "validFor": {"start": "2025-01-01T00:00:00Z"}}])
    root = parse_trusted_root(_line(_root_doc(pki)) + b"\n" + _line(github_doc))
    assert [(ca.instance_tlogs, ca.instance_ctlogs) for ca in root.certificate_authorities] == [
        (True, True), (False, False)]
    assert len(root.tlogs) == 1 and len(root.timestamp_authorities) == 1


def test_trusted_root_json_lines_one_bad_line_refused(pki: TestSigstore) -> None:
    """A root among the lines that cannot be trusted refuses them all, as a malformed
    entry does in a single root."""
    bad = _root_doc(TestSigstore(), mediaType="application/vnd.dev.sigstore.trustedroot.v9+json")
    with pytest.raises(TrustInputError):
        parse_trusted_root(_line(_root_doc(pki)) + b"\n" + _line(bad) + b"\n")


# --- hashedrekord 0.0.1 with a SHA-384/SHA-512 artifact hash ---------------------------------

HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha384": hashes.SHA384, "sha512": hashes.SHA512}


def hashedrekord_with(hash_name: str, signature: bytes, data: bytes, pem: bytes
                      ) -> dict[str, Any]:
    """The project's hashedrekord body, with the artifact hash a P-384/P-521 signer logs."""
    body = hashedrekord(signature, data, pem)
    body["spec"]["data"]["hash"] = {"algorithm": hash_name,
                                    "value": hashlib.new(hash_name, data).hexdigest()}
    return body


@pytest.mark.parametrize(("curve", "hash_name"), [
    pytest.param(ec.SECP384R1(), "sha384", id="p384-sha384"),
    pytest.param(ec.SECP521R1(), "sha512", id="p521-sha512"),
])
def test_hashedrekord_larger_hash(pki: TestSigstore, curve: ec.EllipticCurve,
                                  hash_name: str) -> None:
    key = ec.generate_private_key(curve)
    public = PublicKey(key.public_key())
    data = simplesigning_payload(DIGEST, REFERENCE)
    signature = key.sign(data, ec.ECDSA(HASHES[hash_name]()))
    sha256 = hashlib.sha256(data).digest()
    good = canonical_json(hashedrekord_with(hash_name, signature, data, public.pem))
    other = canonical_json(hashedrekord_with(hash_name, signature, b"other bytes", public.pem))

    assert check_message_body(good, signature=signature, digest=sha256, signer=public,
                              data=data) == "hashedrekord/0.0.1"
    with pytest.raises(InvalidSignatureError) as info:
        check_message_body(other, signature=signature, digest=sha256, signer=public, data=data)
    assert info.value.check == "tlog-body"
    with pytest.raises(InvalidSignatureError):  # the SHA-256 digest alone cannot vouch for it
        check_message_body(good, signature=signature, digest=sha256, signer=public)

    # The same entry as the Rekor bundle of a legacy `.sig` layer (the layer's bytes known).
    policy = Policy.with_root(pki.trusted_root(), keys=(public,), require_tlog=True)

    def layer(body: dict[str, Any]) -> LegacyLayer:
        return LegacyLayer(data, {ANN_SIGNATURE: b64(signature),
                                  ANN_BUNDLE: pki.rekor_bundle(body)})

    result = verify_legacy_layer(layer(hashedrekord_with(hash_name, signature, data,
                                                         public.pem)), DIGEST, policy)
    assert result.ok and result.time_source == "set"
    with pytest.raises(TrustError) as failed:
        verify_legacy_layer(layer(hashedrekord_with(hash_name, signature, b"other bytes",
                                                    public.pem)), DIGEST, policy)
    assert failed.value.check == "tlog-body", str(failed.value)


# --- GitHub's own instance: attestations of private repositories ----------------------------

def _github_like_bundle(github: TestSigstore, tsa: OpensslTsa | None) -> bytes:
    """What attest-build-provenance writes in a private repository: a certificate from
    GitHub's Fulcio, an RFC 3161 timestamp from GitHub's TSA over the DSSE signature, and no
    transparency-log entry at all."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = github.issue_leaf(key, identity=IDENTITY, issuer=ISSUER)
    statement = image_statement(DIGEST, REFERENCE, predicate_type=SLSA)
    signature = sign_bytes(key, Envelope(INTOTO_PAYLOAD_TYPE, statement, ()).pae())
    material: dict[str, Any] = {
        "certificate": {"rawBytes": b64(cert.public_bytes(serialization.Encoding.DER))},
        "tlogEntries": []}
    if tsa is not None:
        material["timestampVerificationData"] = {
            "rfc3161Timestamps": [{"signedTimestamp": b64(tsa.timestamp(signature))}]}
    return json.dumps({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": material,
        "dsseEnvelope": {"payload": b64(statement), "payloadType": INTOTO_PAYLOAD_TYPE,
                         "signatures": [{"sig": b64(signature)}]}}).encode()


def _github_root(github: TestSigstore, tsa: OpensslTsa, *, logs: bool) -> TrustedRoot:
    """GitHub's trusted root has a Fulcio CA and a TSA but no tlogs or ctlogs; `logs=True` is
    the same instance as if it ran them (as public-good does)."""
    doc = _root_doc(github, timestampAuthorities=[tsa.authority_json()])
    if not logs:
        doc.update(tlogs=[], ctlogs=[])
    return parse_trusted_root(json.dumps(doc).encode(), source="github-like")


def test_github_instance_bundle_verifies_by_its_timestamp(tsa: OpensslTsa) -> None:
    """`gh attestation verify` accepts these with one signed timestamp and no log entry or SCT
    (cli/cli: newGitHubVerifier). clamp does the same, and only for a CA whose own trusted root
    runs no transparency log; without a verified timestamp it is still refused."""
    github = TestSigstore()
    identity = (Identity(subject=IDENTITY, issuer=ISSUER),)
    # No log entry: like cosign, clamp requires one unless the policy opts out.
    policy = Policy.with_root(_github_root(github, tsa, logs=False), identities=identity,
                              require_tlog=False)
    result = verify_bundle(_github_like_bundle(github, tsa), Artifact.from_digest(DIGEST),
                           policy, predicate_types=(SLSA,))
    assert result.verdict == "verified" and result.time_source == "tsa"
    assert result.signer is not None and result.signer.identity == IDENTITY

    with pytest.raises(InvalidSignatureError) as no_stamp:
        verify_bundle(_github_like_bundle(github, None), Artifact.from_digest(DIGEST), policy,
                      predicate_types=(SLSA,))
    assert no_stamp.value.check == "tlog"

    logged = Policy.with_root(_github_root(github, tsa, logs=True), identities=identity,
                              require_tlog=False)
    with pytest.raises(InvalidSignatureError) as needs_log:
        verify_bundle(_github_like_bundle(github, tsa), Artifact.from_digest(DIGEST), logged,
                      predicate_types=(SLSA,))
    assert needs_log.value.check == "tlog"
    # Merged with a root that does run logs (gh's JSON lines), the rule stays per instance.
    public = TestSigstore()
    merged = parse_trusted_root(
        _line(_root_doc(public)) + b"\n"
        + _line(_root_doc(github, tlogs=[], ctlogs=[],
                          timestampAuthorities=[tsa.authority_json()])))
    result = verify_bundle(_github_like_bundle(github, tsa), Artifact.from_digest(DIGEST),
                           Policy.with_root(merged, identities=identity, require_tlog=False),
                           predicate_types=(SLSA,))
    assert result.verdict == "verified"
    with pytest.raises(InvalidSignatureError) as public_needs_log:
        verify_bundle(_github_like_bundle(public, tsa), Artifact.from_digest(DIGEST),
                      Policy.with_root(merged, identities=identity, require_tlog=False),
                      predicate_types=(SLSA,))
    assert public_needs_log.value.check == "tlog"
