"""Thresholds counted by copies: an attacker who holds ONE honest signature (the trusted signer
signed once) and wants a `threshold: 2` policy met without a second signer.

The attacker cannot sign, but can copy: store the one signature twice in the `.sig` manifest,
again as a cosign signature referrer, or mauled into a second valid encoding (ECDSA's (r, n-s)).
Each copy verifies on its own; counted per signature they look like two. A threshold counts
signers (`clamp.trust.rules`): a key is one signer however many signatures it made, a
certificate identity (issuer and SAN) is one signer however many certificates it was issued.
The honest twin, two signers each signing once, passes.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from clamp.trust.cosign_legacy import verify_legacy_layers
from clamp.trust.keys import PublicKey
from clamp.trust.mediatypes import ANN_BUNDLE, ANN_CERTIFICATE, ANN_CHAIN, ANN_SIGNATURE
from clamp.trust.pki import TestSigstore, keyless_sign_image
from clamp.trust.policy import AllOf, AnyOf, Identity, Key, Policy
from clamp.trust.rules import PolicyUnmetError, satisfy
from tests.adversarial.conftest import (
    COSIGN_SIG_ARTIFACT,
    ISSUER,
    Attack,
    Layer,
    Signer,
    simple_payload,
)

REPO_WORKFLOW = "https://github.com/ROCm/rocm-images/.github/workflows/{}.yml@refs/tags/v6.4.4"
RELEASE, BUILD = REPO_WORKFLOW.format("release"), REPO_WORKFLOW.format("build")
# Overlapping members: "the release workflow, and any workflow of the repository".
TRUST = """    threshold: 2
    keyless:
      - issuer: {issuer}
        subject: {release}
      - issuer: {issuer}
        subject_regexp: ^https://github\\.com/ROCm/rocm-images/\\.github/workflows/.+$
    trusted_root: {root}"""
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.fixture(scope="module")
def pki() -> TestSigstore:
    return TestSigstore()


@pytest.fixture
def root(pki: TestSigstore, tmp_path: Path) -> Path:
    path = tmp_path / "root.json"
    path.write_bytes(pki.trusted_root_json())
    return path


def _layer(pki: TestSigstore, attack: Attack, identity: str) -> Layer:
    signed = keyless_sign_image(pki, attack.digest, attack.name, identity=identity, issuer=ISSUER)
    return Layer(signed.media_type, signed.payload, dict(signed.annotations))


def _trust(root: Path) -> str:
    return TRUST.format(issuer=ISSUER, release=RELEASE, root=root)


@pytest.mark.parametrize("how", ["the layer twice", "sig tag and cosign referrer",
                                 "the signer signed twice"])
def test_one_signer_never_meets_a_threshold_of_two(how: str, attack: Attack, pki: TestSigstore,
                                                   root: Path) -> None:
    one = _layer(pki, attack, RELEASE)
    if how == "the layer twice":
        attack.push_tag(".sig", [one, one])
    elif how == "sig tag and cosign referrer":
        attack.push_tag(".sig", [one])
        attack.push_referrer(COSIGN_SIG_ARTIFACT, [one])
    else:  # two certificates, one identity: still one signer
        attack.push_tag(".sig", [one, _layer(pki, attack, RELEASE)])
    code, record = attack.verify_matrix(_trust(root))
    assert code == 3, record
    assert record["trustStatus"] == "identity_mismatch", record
    assert "2 of 2 signers needed" in record["verification"]["reason"], record


def test_two_signers_meet_the_threshold(attack: Attack, pki: TestSigstore, root: Path) -> None:
    attack.push_tag(".sig", [_layer(pki, attack, RELEASE), _layer(pki, attack, BUILD)])
    code, record = attack.verify_matrix(_trust(root))
    assert code == 0, record
    assert record["trustStatus"] == "valid", record


def _mauled(layer: Layer) -> Layer:
    """The same ECDSA signature as (r, n-s): another valid signature, made without the key."""
    r, s = decode_dss_signature(base64.b64decode(layer.annotations[ANN_SIGNATURE]))
    other = encode_dss_signature(r, P256_ORDER - s)
    return Layer(layer.media_type, layer.payload,
                 {**layer.annotations, ANN_SIGNATURE: base64.b64encode(other).decode()})


def test_a_mauled_copy_of_a_key_signature_is_the_same_signer(signer: Signer) -> None:
    """The library lets members overlap for keys too: "the release key, and one of the release
    or the mirror key". One signature and its malleated twin must not be two signers."""
    digest = "sha256:" + "ab" * 32
    mirror = Key(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()))
    release = Key(PublicKey(signer.key.public_key()))
    policy = Policy(rule=AllOf((release, AnyOf((release, mirror)))), require_tlog=False)
    honest = signer.simple(simple_payload(digest))
    copies = [honest, _mauled(honest)]
    from clamp.trust.cosign_legacy import LegacyLayer

    results = [verify_legacy_layers([LegacyLayer(c.payload, c.annotations, c.media_type)],
                                    digest, policy) for c in copies]
    assert all(r.ok for r in results)  # each copy verifies alone: the malleation is valid
    with pytest.raises(PolicyUnmetError, match="1 met"):
        satisfy(policy.rule, results)  # type: ignore[arg-type]


def test_distinct_identities_count_once_each(pki: TestSigstore) -> None:
    digest = "sha256:" + "ab" * 32
    broad = Identity(subject_regexp=r"^https://github\.com/ROCm/", issuer=ISSUER)
    policy = Policy.with_root(pki.trusted_root(), rule=AllOf((broad, Identity(
        subject=RELEASE, issuer=ISSUER))), require_tlog=False)
    layers = [keyless_sign_image(pki, digest, "r/x", identity=i, issuer=ISSUER)
              for i in (RELEASE, BUILD)]
    results = [verify_legacy_layers([layer], digest, policy) for layer in layers]
    assert len(satisfy(policy.rule, results)) == 2  # type: ignore[arg-type]


@pytest.mark.parametrize("where", ["one on the index, one on the platform child",
                                   "both on the index"])
def test_a_threshold_is_met_on_one_digest_not_across_two(where: str, attack: Attack,
                                                         signer: Signer,
                                                         tmp_path: Path) -> None:
    """Signatures on the index and on its platform child are judged per digest: two signers
    split across the two never make two signers of either (each signed different bytes)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from clamp.trust.keys import PublicKey
    from tests.support.pushing import OCI_INDEX, OCI_MANIFEST, canonical_json, push_image

    second_key = ec.generate_private_key(ec.SECP256R1())
    second_pub = tmp_path / "second.pub"
    second_pub.write_bytes(PublicKey(second_key.public_key()).pem)
    second = Signer(second_key, second_pub)
    child = push_image(attack.pusher, attack.repo, None, platform="linux/amd64")
    index = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{
        "mediaType": OCI_MANIFEST, "digest": child.digest, "size": len(child.manifest),
        "platform": {"architecture": "amd64", "os": "linux"}}]})
    attack.digest = attack.pusher.push_manifest(attack.repo, "6.4.4-ubuntu-22.04", index,
                                                OCI_INDEX)
    index_digest = attack.digest
    if where == "both on the index":
        attack.push_tag(".sig", [signer.simple(simple_payload(index_digest)),
                                 second.simple(simple_payload(index_digest))])
    else:
        attack.push_tag(".sig", [signer.simple(simple_payload(index_digest))])
        attack.digest = child.digest
        attack.push_tag(".sig", [second.simple(simple_payload(child.digest))])
        attack.digest = index_digest
    matrix = attack.write_matrix("\n".join([
        "    threshold: 2", "    keys:", f"      - path: {signer.pub}",
        f"      - path: {second.pub}", "    tlog: optional"]), digest=index_digest, name="two",
        entry="    platform: linux/amd64\n")
    from tests.adversarial.conftest import run_clamp

    out = attack.folder / "p.json"
    code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
    if where == "both on the index":
        assert code == 0, err
    else:
        assert code == 3, err
        assert "2 of 2 signers needed" in err or "signers needed" in out.read_text(), err


def _key_and_identity_trust(signer: Signer, root: Path) -> str:
    """"The release key AND the release workflow": two members, the log required."""
    return "\n".join(["    threshold: 2", "    keys:", f"      - path: {signer.pub}",
                      "    keyless:", f"      - issuer: {ISSUER}", f"        subject: {RELEASE}",
                      f"    trusted_root: {root}"])


def _without_certificate(layer: Layer) -> Layer:
    """The layer as a key-signed one: its certificate and chain annotations dropped, the
    signature and the Rekor bundle (whose entry names the certificate, of the same key) kept."""
    kept = {k: v for k, v in layer.annotations.items()
            if k not in (ANN_CERTIFICATE, ANN_CHAIN)}
    return Layer(layer.media_type, layer.payload, kept)


@pytest.mark.parametrize("how", ["the layer twice, once without its certificate",
                                 "sig tag without it, cosign referrer with it"])
def test_one_key_under_a_certificate_is_not_two_signers(how: str, attack: Attack,
                                                        pki: TestSigstore, signer: Signer,
                                                        root: Path) -> None:
    """Session 14: the key K the policy trusts signed ONCE, under a Fulcio certificate for the
    identity the policy also trusts (`cosign sign --key K --issue-certificate`). Copied without
    its certificate annotation the same signature verifies as K alone (its log entry names a
    certificate of K, which cosign and clamp accept for a key), and "K and the release workflow"
    was met by one signature (exit 0). A key is one signer whether it signed alone or under a
    certificate."""
    signed = keyless_sign_image(pki, attack.digest, attack.name, identity=RELEASE,
                                issuer=ISSUER, key=signer.key)
    full = Layer(signed.media_type, signed.payload, dict(signed.annotations))
    if how.startswith("the layer twice"):
        attack.push_tag(".sig", [full, _without_certificate(full)])
    else:
        attack.push_tag(".sig", [_without_certificate(full)])
        attack.push_referrer(COSIGN_SIG_ARTIFACT, [full])
    code, record = attack.verify_matrix(_key_and_identity_trust(signer, root))
    assert code == 3, record
    assert record["trustStatus"] == "identity_mismatch", record
    assert "its signer already counts for another member" in record["verification"]["reason"]


def test_a_key_and_another_identity_each_signing_meet_the_threshold(
        attack: Attack, pki: TestSigstore, signer: Signer, root: Path) -> None:
    """The honest twin: K signs alone (`cosign sign --key`, logged with the public key), the
    release workflow signs keylessly with its own ephemeral key; two signers."""
    from clamp.trust.pki import hashedrekord

    keyless = keyless_sign_image(pki, attack.digest, attack.name, identity=RELEASE,
                                 issuer=ISSUER)
    payload = simple_payload(attack.digest, attack.name)
    key_signed = signer.simple(payload)
    signature = base64.b64decode(key_signed.annotations[ANN_SIGNATURE])
    logged = pki.rekor_bundle(hashedrekord(signature, payload, signer.pub.read_bytes()))
    attack.push_tag(".sig", [Layer(keyless.media_type, keyless.payload,
                                   dict(keyless.annotations)),
                             Layer(key_signed.media_type, payload,
                                   {**key_signed.annotations, ANN_BUNDLE: logged})])
    code, record = attack.verify_matrix(_key_and_identity_trust(signer, root))
    assert code == 0, record
    assert record["trustStatus"] == "valid", record


def _certified_bundles(pki: TestSigstore, key: ec.EllipticCurvePrivateKey,
                       identity: str, digest: str) -> tuple[bytes, bytes]:
    """One DSSE signature by `key` under a certificate for `identity`, as a v0.3 bundle with
    its certificate, and the same envelope and log entry as a public-key bundle."""
    import hashlib
    import json

    from cryptography.hazmat.primitives import serialization

    from clamp.trust.keys import sign_bytes
    from clamp.trust.mediatypes import COSIGN_SIGN_PREDICATE, INTOTO_PAYLOAD_TYPE
    from clamp.trust.rekor_body import Envelope
    from clamp.trust.sign import image_statement
    from tests.adversarial.conftest import BUNDLE_V03, b64
    from tests.trust.test_other_tools_formats import rekor_v1_entry

    cert = pki.issue_leaf(key, identity=identity, issuer=ISSUER)
    statement = image_statement(digest, "registry.test/rocm/dev",
                                predicate_type=COSIGN_SIGN_PREDICATE)
    signature = sign_bytes(key, Envelope(INTOTO_PAYLOAD_TYPE, statement, ()).pae())
    body = {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(statement).hexdigest()},
        "signatures": [{"signature": b64(signature),
                        "verifier": b64(cert.public_bytes(serialization.Encoding.PEM))}]}}
    entry = rekor_v1_entry(pki, body)
    envelope = {"payload": b64(statement), "payloadType": INTOTO_PAYLOAD_TYPE,
                "signatures": [{"sig": b64(signature)}]}

    def bundle(material: dict[str, object]) -> bytes:
        return json.dumps({"mediaType": BUNDLE_V03, "verificationMaterial": {
            **material, "tlogEntries": [entry]}, "dsseEnvelope": envelope}).encode()

    return (bundle({"certificate": {"rawBytes": b64(cert.public_bytes(
        serialization.Encoding.DER))}}), bundle({"publicKey": {"hint": ""}}))


def test_one_key_under_a_certificate_is_one_signer_in_bundles(pki: TestSigstore,
                                                              signer: Signer) -> None:
    """Session 14, the bundle form: the certificate bundle re-wrapped as a public-key bundle
    verifies as the key alone (its log entry names a certificate of the key), and the two
    must count as one signer of "K and the release workflow"."""
    from clamp.trust.bundle import Artifact, verify_bundle

    digest = "sha256:" + "cd" * 32
    policy = Policy.with_root(pki.trusted_root(), rule=AllOf((
        Key(PublicKey(signer.key.public_key())), Identity(subject=RELEASE, issuer=ISSUER))))
    results = [verify_bundle(raw, Artifact.from_digest(digest), policy, subject_digest=digest)
               for raw in _certified_bundles(pki, signer.key, RELEASE, digest)]
    assert all(r.ok for r in results)  # each form verifies alone
    with pytest.raises(PolicyUnmetError, match="1 met"):
        satisfy(policy.rule, results)  # type: ignore[arg-type]
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    honest = [results[1], verify_bundle(_certified_bundles(pki, ephemeral, RELEASE, digest)[0],
                                        Artifact.from_digest(digest), policy,
                                        subject_digest=digest)]
    assert len(satisfy(policy.rule, honest)) == 2  # type: ignore[arg-type]
