"""Red team, session 11: signature formats from other producers, and where clamp accepted what
cosign / sigstore-go refuse. Each attack is stored in the real docker-registry and judged
through `clamp verify --image` and the strict matrix, beside its honest twin that must pass.

1. key schemes: an RSA-PSS signature by the trusted RSA key, on a `.sig` layer and in a v0.3
   bundle. cosign's key loader (sigstore `LoadVerifier`) gives an RSA key a PKCS#1 v1.5
   verifier only, and sigstore-go's default verifier for a certificate's RSA key is PKCS#1 v1.5
   too, so neither tool ever accepts PSS from a PEM key; clamp did (session 11: got through).
2. the simple-signing payload as Go reads it: trailing data after the JSON, a byte-order mark,
   `critical.type` spelt otherwise, the digest of another algorithm (held; kept as tests).
3. the `.sig` layer's annotations: the signature in URL-safe or unpadded base64, with a space,
   under a case variant of the key (Go's map lookup is exact), beside empty certificate and
   bundle annotations (held).
4. statement subjects with several digests: the artifact's sha256 beside another artifact's
   sha512/sha384, or beside a digest Go's hex decoder refuses (session 11: got through).
5. DSSE keyids: a bundle signature whose keyid names another key (sigstore-go skips it: got
   through); a legacy `.att` keyid, which cosign does not read (kept).
6. a message-signature bundle over the image digest without its messageDigest (sigstore-go
   compares it with the image digest: got through).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from clamp.trust.keys import PublicKey
from clamp.trust.mediatypes import (
    ANN_BUNDLE,
    ANN_CERTIFICATE,
    ANN_SIGNATURE,
    INTOTO_PAYLOAD_TYPE,
    SIMPLESIGNING_MEDIA_TYPE,
)
from clamp.trust.rekor_body import Envelope
from tests.adversarial.conftest import (
    BUNDLE_V03,
    COSIGN_SIGN,
    Attack,
    Layer,
    Signer,
    b64,
    key_trust,
    simple_payload,
    statement,
)
from tests.adversarial.test_signature_attacks import key_flags, passes, refused

PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


@pytest.fixture(scope="module")
def rsa_signer(tmp_path_factory: pytest.TempPathFactory) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(65537, 2048)
    pub = tmp_path_factory.mktemp("rsa") / "rsa.pub"
    pub.write_bytes(PublicKey(key.public_key()).pem)
    return key, pub


def _rsa_sign(key: rsa.RSAPrivateKey, data: bytes, scheme: str) -> bytes:
    return key.sign(data, PSS if scheme == "pss" else padding.PKCS1v15(), hashes.SHA256())


def _rsa_bundle(key: rsa.RSAPrivateKey, digest: str, scheme: str) -> bytes:
    import json

    body = statement(digest, COSIGN_SIGN)
    sig = _rsa_sign(key, Envelope(INTOTO_PAYLOAD_TYPE, body, ()).pae(), scheme)
    return json.dumps({"mediaType": BUNDLE_V03,
                       "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": []},
                       "dsseEnvelope": {"payloadType": INTOTO_PAYLOAD_TYPE, "payload": b64(body),
                                        "signatures": [{"keyid": "", "sig": b64(sig)}]}},
                      separators=(",", ":")).encode()


def _store(attack: Attack, key: rsa.RSAPrivateKey, how: str, scheme: str) -> None:
    if how == "sig":
        payload = simple_payload(attack.digest)
        attack.push_tag(".sig", [Layer(SIMPLESIGNING_MEDIA_TYPE, payload,
                                       {ANN_SIGNATURE: b64(_rsa_sign(key, payload, scheme))})])
    else:
        attack.push_bundle(_rsa_bundle(key, attack.digest, scheme))


def _rsa_trust(pub: Path) -> str:
    return "\n".join(["    keys:", f"      - path: {pub}", "    tlog: optional"])


@pytest.mark.parametrize("how", ["sig", "bundle"])
def test_rsa_pss_by_the_trusted_key_is_refused(how: str, attack: Attack,
                                               rsa_signer: tuple[rsa.RSAPrivateKey, Path]) -> None:
    key, pub = rsa_signer
    _store(attack, key, how, "pss")
    err, record = refused(attack, ["--key", str(pub), "--insecure-ignore-tlog"],
                          _rsa_trust(pub))
    assert "does not verify" in err and "\n" not in err.strip()
    assert record["trustStatus"] == "invalid"


@pytest.mark.parametrize("how", ["sig", "bundle"])
def test_rsa_pkcs1v15_by_the_trusted_key_passes(how: str, attack: Attack,
                                                rsa_signer: tuple[rsa.RSAPrivateKey, Path]
                                                ) -> None:
    key, pub = rsa_signer
    _store(attack, key, how, "pkcs1")
    passes(attack, ["--key", str(pub), "--insecure-ignore-tlog"], _rsa_trust(pub))


# -- 2. the payload as Go reads it --------------------------------------------------------------

def _payload(digest: str, variant: str) -> bytes:
    honest = simple_payload(digest)
    return {
        "trailing data": honest + b'{"critical":{}}',
        "byte-order mark": b"\xef\xbb\xbf" + honest,
        "type spelt otherwise": honest.replace(b"cosign container image signature",
                                               b"Cosign Container Image Signature"),
        "sha512 digest": simple_payload("sha512:" + digest.partition(":")[2] * 2),
        "digest with whitespace": simple_payload(" " + digest),
    }[variant]


@pytest.mark.parametrize("variant", ["trailing data", "byte-order mark", "type spelt otherwise",
                                     "sha512 digest", "digest with whitespace"])
def test_payload_go_would_not_read_as_this_image_is_refused(variant: str, attack: Attack,
                                                            signer: Signer) -> None:
    attack.push_tag(".sig", [signer.simple(_payload(attack.digest, variant))])
    refused(attack, key_flags(signer), key_trust(signer))


def test_payload_with_trailing_newline_passes(attack: Attack, signer: Signer) -> None:
    """Go's json.Unmarshal takes trailing whitespace, and so does clamp (cosign's own payloads
    have none; `cosign generate | cosign attach` ones may end with a newline)."""
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest) + b"\n")])
    passes(attack, key_flags(signer), key_trust(signer))



def _typed_payload(digest: str, variant: str) -> bytes:
    honest = simple_payload(digest)
    return {
        "optional a string": honest.replace(b'"optional":null', b'"optional":"v1"'),
        "optional a list": honest.replace(b'"optional":null', b'"optional":[]'),
        "identity a string": honest.replace(b'{"docker-reference":"registry/repo"}',
                                            b'"registry/repo"'),
        "docker-reference a number": honest.replace(b'"registry/repo"', b"5"),
        "optional null, identity null": honest.replace(
            b'{"docker-reference":"registry/repo"}', b"null"),
        "optional an object, reference null": honest.replace(
            b'"optional":null', b'"optional":{"sig":"v1","n":1}').replace(
            b'"registry/repo"', b"null"),
    }[variant]


@pytest.mark.parametrize("variant", ["optional a string", "optional a list",
                                     "identity a string", "docker-reference a number"])
def test_payload_with_a_field_of_the_wrong_type_is_refused(variant: str, attack: Attack,
                                                           signer: Signer) -> None:
    """cosign unmarshals the payload into sigstore's SimpleContainerImage: a field of the
    wrong JSON type is an unmarshalling error, and the signature is refused even though the
    digest is the image's. clamp read only the digest and verified (session 12)."""
    attack.push_tag(".sig", [signer.simple(_typed_payload(attack.digest, variant))])
    refused(attack, key_flags(signer), key_trust(signer))


@pytest.mark.parametrize("variant", ["optional null, identity null",
                                     "optional an object, reference null"])
def test_payload_with_null_or_typed_fields_passes(variant: str, attack: Attack,
                                                  signer: Signer) -> None:
    """`null` leaves a Go field as it was, and `optional` holds any object (cosign -a)."""
    attack.push_tag(".sig", [signer.simple(_typed_payload(attack.digest, variant))])
    passes(attack, key_flags(signer), key_trust(signer))

# -- 3. annotations -------------------------------------------------------------------------------

def _annotations(signature: str, variant: str) -> dict[str, str]:
    import base64

    raw = base64.b64decode(signature)
    return {
        "url-safe base64": {ANN_SIGNATURE: base64.urlsafe_b64encode(raw).decode()},
        "unpadded base64": {ANN_SIGNATURE: signature.rstrip("=")},
        "a space inside": {ANN_SIGNATURE: signature[:8] + " " + signature[8:]},
        "key in another case": {"Dev.Cosignproject.Cosign/Signature": signature},
    }[variant]


_NEEDS = {"url-safe base64": lambda text: "+" in text or "/" in text,
          "unpadded base64": lambda text: text.endswith("="),
          "a space inside": lambda text: True, "key in another case": lambda text: True}


@pytest.mark.parametrize("variant", sorted(_NEEDS))
def test_signature_annotation_go_would_not_read_is_refused(variant: str, attack: Attack,
                                                           signer: Signer) -> None:
    # ECDSA signatures are randomised: sign until the base64 has what the variant changes
    # (a '+' or '/' for the URL-safe alphabet, padding to strip), so the attack differs.
    honest = signer.simple(simple_payload(attack.digest))
    for _ in range(64):
        if _NEEDS[variant](honest.annotations[ANN_SIGNATURE]):
            break
        honest = signer.simple(simple_payload(attack.digest))
    signature = honest.annotations[ANN_SIGNATURE]
    assert _NEEDS[variant](signature)
    layer = Layer(honest.media_type, honest.payload, _annotations(signature, variant))
    assert layer.annotations != honest.annotations
    attack.push_tag(".sig", [layer])
    refused(attack, key_flags(signer), key_trust(signer))


def test_empty_certificate_and_bundle_annotations_are_absent(attack: Attack,
                                                             signer: Signer) -> None:
    """cosign reads an empty annotation as no certificate / no bundle, and so does clamp: the
    key signature beside them verifies (and the log stays required without the opt-out)."""
    honest = signer.simple(simple_payload(attack.digest))
    attack.push_tag(".sig", [Layer(honest.media_type, honest.payload,
                                   {**honest.annotations, ANN_CERTIFICATE: "", ANN_BUNDLE: ""})])
    passes(attack, key_flags(signer), key_trust(signer))
    code, err = attack.verify_image("--key", str(signer.pub))
    assert code == 3 and "tlog" in err


# -- 4. statement subjects with several digests --------------------------------------------------

def _blob_bundle(signer: Signer, digests: dict[str, str]) -> bytes:
    import json

    body = json.dumps({"_type": "https://in-toto.io/Statement/v1",
                       "subject": [{"name": "blob", "digest": digests}],
                       "predicateType": "https://slsa.dev/provenance/v1", "predicate": {}},
                      separators=(",", ":")).encode()
    return signer.bundle(body)


BLOB = b"a release tarball\n"


def _digests(variant: str) -> dict[str, str]:
    import hashlib

    sha256, sha512 = hashlib.sha256(BLOB).hexdigest(), hashlib.sha512(BLOB).hexdigest()
    return {
        "sha512 of another artifact": {"sha256": sha256, "sha512": "0" * 128},
        "sha384 of another artifact": {"sha256": sha256, "sha384": "0" * 96},
        "a digest Go cannot decode": {"sha256": sha256, "gitCommit": "not-hex"},
        "an odd-length digest": {"sha256": sha256, "sha1": "abc"},
        "sha512 in capitals": {"sha256": sha256, "sha512": sha512.upper()},
        "both right": {"sha256": sha256, "sha512": sha512},
        "sha512 alone": {"sha512": sha512},
        "another algorithm beside": {"sha256": sha256, "gitCommit": "ab" * 20},
    }[variant]


def _verify_blob(tmp_path: Path, signer: Signer, variant: str) -> tuple[int, str]:
    from tests.adversarial.conftest import run_clamp

    blob, bundle = tmp_path / "blob.tar", tmp_path / "blob.sigstore.json"
    blob.write_bytes(BLOB)
    bundle.write_bytes(_blob_bundle(signer, _digests(variant)))
    return run_clamp("verify-blob", "--bundle", str(bundle), "--key", str(signer.pub),
                     "--insecure-ignore-tlog", str(blob))


@pytest.mark.parametrize("variant", ["sha512 of another artifact", "sha384 of another artifact",
                                     "a digest Go cannot decode", "an odd-length digest",
                                     "sha512 in capitals"])
def test_a_subject_naming_another_artifact_by_one_digest_is_refused(
        variant: str, tmp_path: Path, signer: Signer) -> None:
    """sigstore-go, given the artifact, hashes each subject with its strongest algorithm
    (sha512, then sha384, then sha256), and refuses a statement whose subject digests Go's hex
    decoder cannot read; clamp took the sha256 alone (red team 11: got through). A sha512 in
    capitals decodes to the right bytes for Go; clamp refuses it as it refuses a sha256 in
    capitals (one spelling per digest, stricter than sigstore-go)."""
    code, err = _verify_blob(tmp_path, signer, variant)
    assert code == 3, err
    assert "check subject" in err and err.count("\n") == 1


@pytest.mark.parametrize("variant", ["both right", "sha512 alone", "another algorithm beside"])
def test_a_subject_whose_digests_all_name_the_artifact_passes(variant: str, tmp_path: Path,
                                                              signer: Signer) -> None:
    """The honest twins, and a subject named by sha512 alone (npm's provenance does so), which
    sigstore-go verifies against the artifact's bytes and clamp refused before."""
    code, err = _verify_blob(tmp_path, signer, variant)
    assert code == 0, err


@pytest.mark.parametrize("value", ["not-hex", "abc"])
def test_an_image_statement_with_a_digest_go_cannot_decode_is_refused(
        value: str, attack: Attack, signer: Signer) -> None:
    """For an image (a digest, no bytes) sigstore-go decodes every subject digest and refuses
    the statement when one is not hex; clamp read the sha256 alone (red team 11)."""
    raw = {"sha256": attack.digest.partition(":")[2], "gitCommit": value}
    attack.push_tag(".att", [signer.dsse(statement(attack.digest, raw_digest=raw))])
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])
    code, err = attack.verify_image(*key_flags(signer, "--attestation-type",
                                                "https://slsa.dev/provenance/v1"))
    assert code == 3 and "subject" in err, err


def test_an_image_statement_with_another_hex_digest_passes(attack: Attack,
                                                           signer: Signer) -> None:
    raw = {"sha256": attack.digest.partition(":")[2], "gitCommit": "ab" * 20}
    attack.push_tag(".att", [signer.dsse(statement(attack.digest, raw_digest=raw))])
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])
    code, err = attack.verify_image(*key_flags(signer, "--attestation-type",
                                                "https://slsa.dev/provenance/v1"))
    assert code == 0, err


# -- 5. DSSE keyids ------------------------------------------------------------------------------

def _with_keyid(raw: bytes, keyid: str, *, bundle: bool) -> bytes:
    import json

    doc = json.loads(raw)
    envelope = doc["dsseEnvelope"] if bundle else doc
    envelope["signatures"][0]["keyid"] = keyid
    return json.dumps(doc, separators=(",", ":")).encode()


def _ssh_keygen_fingerprint(pub: Path, tmp_path: Path) -> str:
    """The key's SHA256 fingerprint as OpenSSH itself prints it (an oracle independent of
    clamp's `PublicKey.ssh_key_id`)."""
    import shutil
    import subprocess

    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed")
    converted = subprocess.run(["ssh-keygen", "-i", "-m", "PKCS8", "-f", str(pub)], check=True,
                               capture_output=True, timeout=30).stdout
    (tmp_path / "key.ssh").write_bytes(converted)
    listed = subprocess.run(["ssh-keygen", "-l", "-f", str(tmp_path / "key.ssh")], check=True,
                            capture_output=True, text=True, timeout=30).stdout
    return listed.split()[1]


def test_a_bundle_signature_naming_another_keyid_is_refused(attack: Attack, signer: Signer,
                                                            tmp_path: Path) -> None:
    """sigstore-go skips a DSSE signature whose non-empty keyid is not the verifying key's
    OpenSSH fingerprint (go-securesystemslib), so the bundle has no signature for it; clamp
    ignored keyids (red team 11: got through)."""
    other = "SHA256:" + "A" * 43
    attack.push_bundle(_with_keyid(signer.bundle(statement(attack.digest, COSIGN_SIGN)), other,
                                   bundle=True))
    err, _ = refused(attack, key_flags(signer), key_trust(signer))
    assert "keyid" in err


@pytest.mark.parametrize("keyid", ["", "fingerprint"])
def test_a_bundle_signature_with_no_keyid_or_the_keys_passes(keyid: str, attack: Attack,
                                                             signer: Signer,
                                                             tmp_path: Path) -> None:
    if keyid:
        keyid = _ssh_keygen_fingerprint(signer.pub, tmp_path)
        assert keyid == PublicKey(signer.key.public_key()).ssh_key_id
    attack.push_bundle(_with_keyid(signer.bundle(statement(attack.digest, COSIGN_SIGN)), keyid,
                                   bundle=True))
    passes(attack, key_flags(signer), key_trust(signer))


def test_a_legacy_attestation_keyid_is_not_read(attack: Attack, signer: Signer) -> None:
    """cosign's `.att` check gives go-securesystemslib no public key, so any keyid passes there;
    clamp keeps that (the signature, not the label, is what verifies)."""
    layer = signer.dsse(statement(attack.digest))
    attack.push_tag(".att", [Layer(layer.media_type,
                                   _with_keyid(layer.payload, "some-other-key", bundle=False),
                                   layer.annotations)])
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])
    code, err = attack.verify_image(*key_flags(signer, "--attestation-type",
                                                "https://slsa.dev/provenance/v1"))
    assert code == 0, err


# -- 6. message signatures over the image digest ------------------------------------------------

def _message_bundle(signer: Signer, digest: str, *, with_digest: bool) -> bytes:
    import json

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    raw = bytes.fromhex(digest.partition(":")[2])
    signature: dict[str, object] = {
        "signature": b64(signer.key.sign(raw, ec.ECDSA(Prehashed(hashes.SHA256()))))}
    if with_digest:
        signature["messageDigest"] = {"algorithm": "SHA2_256", "digest": b64(raw)}
    return json.dumps({"mediaType": BUNDLE_V03,
                       "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": []},
                       "messageSignature": signature}, separators=(",", ":")).encode()


def test_a_message_signature_without_its_digest_is_refused(attack: Attack,
                                                           signer: Signer) -> None:
    """A blob signature over the manifest, stored as a bundle referrer, with no messageDigest:
    sigstore-go, given the image's digest, compares it with the bundle's messageDigest and an
    absent one matches nothing; clamp checked only a digest that was there (red team 11)."""
    attack.push_bundle(_message_bundle(signer, attack.digest, with_digest=False))
    err, _ = refused(attack, key_flags(signer), key_trust(signer))
    assert "messageDigest" in err


def test_a_message_signature_with_its_digest_passes(attack: Attack, signer: Signer) -> None:
    attack.push_bundle(_message_bundle(signer, attack.digest, with_digest=True))
    passes(attack, key_flags(signer), key_trust(signer))


# -- 7. bundle fields protojson does not know (session 12) ------------------------------------

def _with_field(raw: bytes, variant: str) -> bytes:
    import json

    doc = json.loads(raw)
    if variant == "unknown top-level field":
        doc["signedAt"] = "2026-12-04T00:00:00Z"
    elif variant == "proto name beside publicKey":
        doc["verificationMaterial"]["x509_certificate_chain"] = {"certificates": []}
    elif variant == "unknown field in the envelope":
        doc["dsseEnvelope"]["note"] = "x"
    elif variant == "unknown field in a signature":
        doc["dsseEnvelope"]["signatures"][0]["cert"] = ""
    return json.dumps(doc, separators=(",", ":")).encode()


@pytest.mark.parametrize("variant", ["unknown top-level field", "proto name beside publicKey",
                                     "unknown field in the envelope",
                                     "unknown field in a signature"])
def test_a_bundle_with_a_field_protojson_refuses_is_refused(variant: str, attack: Attack,
                                                            signer: Signer) -> None:
    """sigstore-go reads a bundle with protojson's defaults: a field the schema does not name
    is an error, and a proto name (`x509_certificate_chain`) is the field itself, here a
    second member of the verification material's oneof. clamp skipped what it did not know
    and verified every one (session 12)."""
    attack.push_bundle(_with_field(signer.bundle(statement(attack.digest, COSIGN_SIGN)),
                                   variant))
    err, _ = refused(attack, key_flags(signer), key_trust(signer))
    assert "schema does not name" in err


def test_a_bundle_with_the_schemas_fields_only_passes(attack: Attack, signer: Signer) -> None:
    attack.push_bundle(_with_field(signer.bundle(statement(attack.digest, COSIGN_SIGN)),
                                   "none"))
    passes(attack, key_flags(signer), key_trust(signer))


def _statement_with(digest: str, variant: str) -> bytes:
    import json

    doc = json.loads(statement(digest, COSIGN_SIGN))
    if variant == "unknown statement field":
        doc["signedFor"] = "registry/repo"
    elif variant == "unknown subject field":
        doc["subject"][0]["tag"] = "latest"
    elif variant == "subject fields of in-toto v1":
        doc["subject"][0].update({"uri": "oci://registry/repo", "annotations": {"a": "b"},
                                  "mediaType": "application/vnd.oci.image.manifest.v1+json"})
        doc["predicate"] = {"anything": {"goes": [1, "here"]}}
    return json.dumps(doc, separators=(",", ":")).encode()


@pytest.mark.parametrize("variant", ["unknown statement field", "unknown subject field"])
def test_a_bundle_statement_with_a_field_protojson_refuses_is_refused(
        variant: str, attack: Attack, signer: Signer) -> None:
    """sigstore-go reads a bundle's statement with protojson into in-toto's v1 Statement:
    an unknown field there or in a subject is an error (the predicate, a Struct, holds
    anything). clamp verified both (session 12)."""
    attack.push_bundle(signer.bundle(_statement_with(attack.digest, variant)))
    err, _ = refused(attack, key_flags(signer), key_trust(signer))
    assert "schema does not name" in err


def test_a_bundle_statement_with_in_toto_v1_fields_passes(attack: Attack,
                                                         signer: Signer) -> None:
    attack.push_bundle(signer.bundle(_statement_with(attack.digest,
                                                     "subject fields of in-toto v1")))
    passes(attack, key_flags(signer), key_trust(signer))
