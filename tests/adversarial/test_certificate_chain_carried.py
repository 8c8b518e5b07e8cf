"""Red team 13: intermediates a signature carries are never part of the path.

cosign with a trusted root (`ValidateAndUnpackCertWithIntermediates`: `VerifyLeafCertificate`
over `co.TrustedMaterial`) and sigstore-go (`FulcioCertificateAuthority.Verify`: roots and
intermediates from the trusted root's CA entry) verify a leaf against the trusted root's CA
chains only; a `.sig` chain annotation and a v0.1/v0.2 bundle's `x509CertificateChain` beyond
its leaf are not read for the path. clamp added every non-self-signed certificate of them to
the path, so a leaf under an intermediate the trusted root does not list — one its curators
retired, or never listed, but that a listed root once signed — verified (exit 0) where both
refuse it. The attacker here holds such an intermediate's key (a retired CA's leaked key).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.cosign_legacy import verify_legacy_layer
from clamp.trust.errors import TrustError
from clamp.trust.keys import sign_bytes
from clamp.trust.mediatypes import COSIGN_SIGN_PREDICATE, INTOTO_PAYLOAD_TYPE
from clamp.trust.pki import TestSigstore, keyless_sign_image, make_ca
from clamp.trust.policy import Identity, Policy
from clamp.trust.rekor_body import Envelope
from clamp.trust.result import VerificationResult
from clamp.trust.root import TrustedRoot, parse_trusted_root
from clamp.trust.sign import image_statement
from tests.trust.test_other_tools_formats import b64, rekor_v1_entry

DIGEST = "sha256:" + "ab" * 32
REFERENCE = "registry.test/rocm/dev"
IDENTITY = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1"
ISSUER = "https://token.actions.githubusercontent.com"
V02 = "application/vnd.dev.sigstore.bundle+json;version=0.2"

Signer = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


@pytest.fixture(scope="module")
def pki() -> TestSigstore:
    return TestSigstore()


@pytest.fixture(scope="module")
def retired(pki: TestSigstore) -> Signer:
    """An intermediate the trusted root's Fulcio root signed (pathLen 0, as Fulcio's) that
    the trusted root does not list."""
    key = ec.generate_private_key(ec.SECP384R1())
    return make_ca("clamp-test-intermediate-retired", key, pki.root_cert, pki.root_key,
                   pki.start), key


def _der(cert: x509.Certificate) -> str:
    return b64(cert.public_bytes(serialization.Encoding.DER))


def _root(pki: TestSigstore, *listed: x509.Certificate) -> TrustedRoot:
    """The test sigstore's root, plus a CA entry `[intermediate, root]` per `listed`."""
    doc = json.loads(pki.trusted_root_json())
    for cert in listed:
        entry = json.loads(json.dumps(doc["certificateAuthorities"][0]))
        entry["certChain"]["certificates"] = [{"rawBytes": _der(c)} for c in (cert,
                                                                              pki.root_cert)]
        doc["certificateAuthorities"].append(entry)
    return parse_trusted_root(json.dumps(doc).encode(), source="chain-carried")


def _policy(root: TrustedRoot) -> Policy:
    return Policy.with_root(root, identities=(Identity(subject=IDENTITY, issuer=ISSUER),))


def _layer_result(pki: TestSigstore, root: TrustedRoot, signer: Signer | None,
                  chain: list[x509.Certificate]) -> VerificationResult:
    layer = keyless_sign_image(pki, DIGEST, REFERENCE, identity=IDENTITY, issuer=ISSUER,
                               chain=chain, **({"signer": signer} if signer else {}))
    return verify_legacy_layer(layer, DIGEST, _policy(root))


def _v02_bundle(pki: TestSigstore, signer: Signer | None,
                carried: list[x509.Certificate]) -> bytes:
    """A keyless v0.2 bundle as sigstore-js writes it (`x509CertificateChain`, dsse 0.0.1
    entry with SET and proof), its chain the leaf then `carried`."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_leaf(key, identity=IDENTITY, issuer=ISSUER, signer=signer)
    statement = image_statement(DIGEST, REFERENCE, predicate_type=COSIGN_SIGN_PREDICATE)
    signature = sign_bytes(key, Envelope(INTOTO_PAYLOAD_TYPE, statement, ()).pae())
    body: dict[str, Any] = {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(statement).hexdigest()},
        "signatures": [{"signature": b64(signature),
                        "verifier": b64(cert.public_bytes(serialization.Encoding.PEM))}]}}
    return json.dumps({"mediaType": V02, "verificationMaterial": {
        "x509CertificateChain": {"certificates": [{"rawBytes": _der(c)}
                                                  for c in (cert, *carried)]},
        "tlogEntries": [rekor_v1_entry(pki, body)]},
        "dsseEnvelope": {"payload": base64.b64encode(statement).decode(),
                         "payloadType": INTOTO_PAYLOAD_TYPE,
                         "signatures": [{"sig": b64(signature)}]}}).encode()


def _bundle_result(pki: TestSigstore, root: TrustedRoot, signer: Signer | None,
                   carried: list[x509.Certificate]) -> VerificationResult:
    return verify_bundle(_v02_bundle(pki, signer, carried), Artifact.from_digest(DIGEST),
                         _policy(root), subject_digest=DIGEST)


def test_a_leaf_under_an_intermediate_the_root_does_not_list_is_refused(
        pki: TestSigstore, retired: Signer) -> None:
    root = _root(pki)
    with pytest.raises(TrustError) as legacy:
        _layer_result(pki, root, retired, [retired[0], pki.root_cert])
    assert legacy.value.check == "chain", str(legacy.value)
    with pytest.raises(TrustError) as bundle:
        _bundle_result(pki, root, retired, [retired[0]])
    assert bundle.value.check == "chain", str(bundle.value)


def test_a_leaf_under_an_intermediate_the_root_lists_passes(pki: TestSigstore,
                                                            retired: Signer) -> None:
    """The same leaves once the trusted root lists the intermediate; and the listed one's
    leaves whatever the signature carries: the whole chain, the intermediate alone, the root
    alone, or an attacker's root after the intermediate (cosign drops the chain's
    last certificate; clamp reads none of it)."""
    listed = _root(pki, retired[0])
    assert _layer_result(pki, listed, retired, [retired[0], pki.root_cert]).ok
    assert _bundle_result(pki, listed, retired, [retired[0]]).ok
    rogue = make_ca("clamp-test-root", ec.generate_private_key(ec.SECP384R1()), None, None,
                    pki.start)
    root = _root(pki)
    for chain in ([pki.intermediate_cert, pki.root_cert], [pki.intermediate_cert],
                  [pki.root_cert], [pki.intermediate_cert, rogue]):
        assert _layer_result(pki, root, None, chain).ok
    for carried in ([], [pki.intermediate_cert]):  # sigstore-js writes the leaf alone
        assert _bundle_result(pki, root, None, carried).ok
