"""Signature attacks through `clamp verify --image` and `clamp verify --matrix` (strict), on the
real docker-registry, each beside its honest twin that must pass.

1. an attestation stored as the image's signature (`.sig` layer, sig referrer, bundle);
2. a signature stored as the attestation a policy requires (`.att` layer, att referrer);
3. JSON Go reads differently (keys differing only in case/spelling, at every level: payload,
   statement, envelope, bundle, Rekor body);
4. digest spellings cosign's byte-for-byte comparison refuses;
5. certificate paths a mis-issuing CA could build (sub-CA under pathLen=0, an issuer without
   keyCertSign or CA:FALSE) and OtherName SANs of another type;
6. a registry that appends layers to push a valid signature out of reach.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.trust.keys import sign_bytes
from clamp.trust.mediatypes import ANN_BUNDLE, ANN_SIGNATURE, SIMPLESIGNING_MEDIA_TYPE
from clamp.trust.pki import TestSigstore, _der_utf8, keyless_sign_image, make_ca
from tests.adversarial.conftest import (
    BUNDLE_V03,
    COSIGN_ATT_ARTIFACT,
    COSIGN_SIG_ARTIFACT,
    COSIGN_SIGN,
    IDENTITY,
    ISSUER,
    SLSA,
    VULN,
    Attack,
    Layer,
    Signer,
    b64,
    key_trust,
    keyless_trust,
    simple_payload,
    statement,
)

OTHER = "sha256:" + "e" * 64  # the image cosign would read the payload as naming

Setup = Callable[[Attack, Signer], None]


def refused(attack: Attack, flags: list[str], trust: str, *, attest_mode: str = "off",
            image_codes: tuple[int, ...] = (3, 4)) -> tuple[str, dict[str, object]]:
    """Both front doors refuse: --image with one of `image_codes`, the strict matrix with 3 (a
    signature finding) and a record that is not valid."""
    code, err = attack.verify_image(*flags)
    assert code in image_codes, err
    mcode, record = attack.verify_matrix(trust, attest_mode=attest_mode)
    assert mcode == 3, record
    assert record["policyDecision"] == "fail"
    assert record["trustStatus"] != "valid" or record["attestation"]["verdict"] != "verified"
    return err, record


def passes(attack: Attack, flags: list[str], trust: str, *, attest_mode: str = "off") -> None:
    code, err = attack.verify_image(*flags)
    assert code == 0, err
    mcode, record = attack.verify_matrix(trust, attest_mode=attest_mode)
    assert mcode == 0, record
    assert record["trustStatus"] == "valid" and record["policyDecision"] == "pass"


def key_flags(signer: Signer, *extra: str) -> list[str]:
    # These signatures carry no log entry (as `clamp sign` writes them): opt out of the log,
    # which clamp requires by default, unless the test asks for it.
    no_log = [] if "--require-tlog" in extra else ["--insecure-ignore-tlog"]
    return ["--key", str(signer.pub), *no_log, *extra]


def honest_sig(attack: Attack, signer: Signer) -> None:
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])


# -- 1. an attestation is not a signature -------------------------------------------------------

def _dsse_in_sig(predicate: str) -> Setup:
    return lambda a, s: a.push_tag(".sig", [s.dsse(statement(a.digest, predicate))])


def _dsse_bytes_as_simple(a: Attack, s: Signer) -> None:
    envelope = s.envelope(statement(a.digest, SLSA))  # signed again over its bytes (sign-blob)
    a.push_tag(".sig", [Layer(SIMPLESIGNING_MEDIA_TYPE, envelope,
                              {ANN_SIGNATURE: b64(sign_bytes(s.key, envelope))})])


ATTESTATION_AS_SIGNATURE: dict[str, Setup] = {
    "slsa-provenance-in-sig": _dsse_in_sig(SLSA),
    "vuln-scan-in-sig": _dsse_in_sig(VULN),
    "cosign-sign-predicate-dsse-in-sig": _dsse_in_sig(COSIGN_SIGN),
    "envelope-under-simplesigning-media-type": _dsse_bytes_as_simple,
    "slsa-as-sig-referrer": lambda a, s: a.push_referrer(
        COSIGN_SIG_ARTIFACT, [s.dsse(statement(a.digest, SLSA))]),
    "slsa-bundle-referrer": lambda a, s: a.push_bundle(s.bundle(statement(a.digest, SLSA))),
}
HONEST_SIGNATURES: dict[str, Setup] = {
    "simple-signing-in-sig": honest_sig,
    "simple-signing-as-sig-referrer": lambda a, s: a.push_referrer(
        COSIGN_SIG_ARTIFACT, [s.simple(simple_payload(a.digest))]),
    "cosign-sign-bundle-referrer": lambda a, s: a.push_bundle(
        s.bundle(statement(a.digest, COSIGN_SIGN))),
}


@pytest.mark.parametrize("how", sorted(ATTESTATION_AS_SIGNATURE))
def test_attestation_is_not_the_images_signature(how: str, attack: Attack,
                                                 signer: Signer) -> None:
    ATTESTATION_AS_SIGNATURE[how](attack, signer)
    _err, record = refused(attack, key_flags(signer), key_trust(signer))
    assert record["trustStatus"] in ("unsigned", "invalid")


@pytest.mark.parametrize("how", sorted(HONEST_SIGNATURES))
def test_honest_signature_passes(how: str, attack: Attack, signer: Signer) -> None:
    HONEST_SIGNATURES[how](attack, signer)
    passes(attack, key_flags(signer), key_trust(signer))


# -- 2. a signature is not an attestation -------------------------------------------------------

SIGNATURE_AS_ATTESTATION: dict[str, Setup] = {
    "simple-signing-copied-under-att": lambda a, s: a.push_tag(
        ".att", [s.simple(simple_payload(a.digest))]),
    "simple-signing-as-att-referrer": lambda a, s: a.push_referrer(
        COSIGN_ATT_ARTIFACT, [s.simple(simple_payload(a.digest))]),
    "cosign-sign-dsse-under-att": lambda a, s: a.push_tag(
        ".att", [s.dsse(statement(a.digest, COSIGN_SIGN))]),
    "other-predicate-under-att": lambda a, s: a.push_tag(
        ".att", [s.dsse(statement(a.digest, VULN))]),
    "cosign-sign-bundle-as-attestation": lambda a, s: a.push_bundle(
        s.bundle(statement(a.digest, COSIGN_SIGN))),
}


@pytest.mark.parametrize("how", sorted(SIGNATURE_AS_ATTESTATION))
def test_signature_does_not_satisfy_a_required_attestation(how: str, attack: Attack,
                                                           signer: Signer) -> None:
    honest_sig(attack, signer)
    SIGNATURE_AS_ATTESTATION[how](attack, signer)
    code, err = attack.verify_image(*key_flags(signer, "--attestation-type", SLSA))
    assert code in (3, 4), err
    for types in ([SLSA], []):  # the predicate named, or any attestation at all
        if how == "other-predicate-under-att" and not types:
            continue  # any predicate will do then: the honest case of "any attestation"
        mcode, record = attack.verify_matrix(key_trust(signer, types), attest_mode="required")
        assert mcode == 3, record
        assert record["attestation"]["verdict"] != "verified"


@pytest.mark.parametrize("types", [[SLSA], []])
def test_honest_attestation_passes(types: list[str], attack: Attack, signer: Signer) -> None:
    honest_sig(attack, signer)
    attack.push_tag(".att", [signer.dsse(statement(attack.digest, SLSA))])
    passes(attack, key_flags(signer, "--attestation-type", SLSA), key_trust(signer, types),
           attest_mode="required")


@pytest.mark.parametrize("attested", [[SLSA], [SLSA, VULN]])
def test_matrix_requires_each_listed_predicate_type(attested: list[str], attack: Attack,
                                                    signer: Signer) -> None:
    honest_sig(attack, signer)
    attack.push_tag(".att", [signer.dsse(statement(attack.digest, t)) for t in attested])
    mcode, record = attack.verify_matrix(key_trust(signer, [SLSA, VULN]), attest_mode="required")
    if len(attested) == 2:
        assert mcode == 0 and record["attestation"]["verdict"] == "verified", record
    else:
        assert mcode == 3 and VULN in record["attestation"]["reason"], record


# -- 3. JSON that Go reads differently ----------------------------------------------------------

def _payload(image: str, *, extra_image: str = "", extra_critical: str = "",
             extra_top: str = "") -> bytes:
    return ('{"critical":{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"'
            + image + '"' + extra_image + '},"type":"cosign container image signature"'
            + extra_critical + '},"optional":null' + extra_top + "}").encode()


PAYLOAD_VARIANTS = {
    "image-key-upper-camel": lambda d: _payload(
        d, extra_image=f',"Docker-Manifest-Digest":"{OTHER}"'),
    "image-key-kelvin-sign": lambda d: _payload(
        d, extra_image=',"doc\\u212aer-manifest-digest":"' + OTHER + '"'),
    "image-key-long-s": lambda d: _payload(
        d, extra_image=',"docker-manife\\u017ft-digest":"' + OTHER + '"'),
    "image-key-exact-duplicate": lambda d: _payload(
        d, extra_image=f',"docker-manifest-digest":"{OTHER}"'),
    "image-object-case": lambda d: _payload(
        d, extra_critical=f',"Image":{{"docker-manifest-digest":"{OTHER}"}}'),
    "type-key-case": lambda d: _payload(d, extra_critical=',"TYPE":"something else"'),
    "critical-object-case": lambda d: _payload(
        d, extra_top=',"CRITICAL":' + _payload(OTHER).decode().split('"critical":', 1)[1]
        .rsplit(',"optional"', 1)[0]),
}


@pytest.mark.parametrize("how", sorted(PAYLOAD_VARIANTS))
def test_payload_with_case_variant_keys_is_refused(how: str, attack: Attack,
                                                   signer: Signer) -> None:
    payload = PAYLOAD_VARIANTS[how](attack.digest)
    json.loads(payload)  # valid JSON: only the reading differs
    attack.push_tag(".sig", [signer.simple(payload)])
    err, record = refused(attack, key_flags(signer), key_trust(signer))
    assert record["trustStatus"] == "invalid"
    assert "spelling" in err or "duplicate" in err


def test_payload_twin_with_one_spelling_per_key_passes(attack: Attack, signer: Signer) -> None:
    # One key per field, in a spelling Go matches case-insensitively: read as Go reads it.
    payload = _payload(attack.digest).replace(b'"docker-manifest-digest"',
                                              b'"Docker-Manifest-Digest"')
    attack.push_tag(".sig", [signer.simple(payload)])
    passes(attack, key_flags(signer), key_trust(signer))


def _statement_text(digest: str, *, extra: str = "", extra_subject: str = "") -> bytes:
    hexdigest = digest.partition(":")[2]
    return ('{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"r","digest":'
            '{"sha256":"' + hexdigest + '"}' + extra_subject + '}],"predicateType":"' + SLSA
            + '","predicate":{}' + extra + "}").encode()


STATEMENT_VARIANTS = {
    "predicateType-upper": lambda d: _statement_text(d, extra=f',"PREDICATETYPE":"{VULN}"'),
    "predicate_type-proto-name": lambda d: _statement_text(d, extra=f',"predicate_type":"{VULN}"'),
    "subject-case": lambda d: _statement_text(
        d, extra=',"Subject":[{"name":"r","digest":{"sha256":"' + OTHER[7:] + '"}}]'),
    "digest-object-case": lambda d: _statement_text(
        d, extra_subject=',"Digest":{"sha256":"' + OTHER[7:] + '"}'),
    "type-case": lambda d: _statement_text(d, extra=',"_TYPE":"https://in-toto.io/Statement/v0"'),
    "nested-predicate-case": lambda d: _statement_text(d).replace(
        b'"predicate":{}', b'"predicate":{"builder":{"id":"a","ID":"b"}}'),
}


@pytest.mark.parametrize("how", sorted(STATEMENT_VARIANTS))
def test_statement_with_case_variant_keys_is_refused(how: str, attack: Attack,
                                                     signer: Signer) -> None:
    honest_sig(attack, signer)
    attack.push_tag(".att", [signer.dsse(STATEMENT_VARIANTS[how](attack.digest))])
    code, err = attack.verify_image(*key_flags(signer, "--attestation-type", SLSA))
    assert code == 3, err
    mcode, record = attack.verify_matrix(key_trust(signer, [SLSA]), attest_mode="required")
    assert mcode == 3 and record["attestation"]["verdict"] == "invalid", record


def test_statement_twin_passes(attack: Attack, signer: Signer) -> None:
    honest_sig(attack, signer)
    attack.push_tag(".att", [signer.dsse(_statement_text(attack.digest))])
    passes(attack, key_flags(signer, "--attestation-type", SLSA), key_trust(signer, [SLSA]),
           attest_mode="required")


def test_envelope_with_case_variant_keys_is_refused(attack: Attack, signer: Signer) -> None:
    honest_sig(attack, signer)
    envelope = json.loads(signer.envelope(statement(attack.digest, SLSA)))
    other = json.loads(signer.envelope(statement(attack.digest, VULN)))
    text = json.dumps(envelope)[:-1] + ', "PAYLOAD": ' + json.dumps(other["payload"]) + "}"
    attack.push_tag(".att", [Layer("application/vnd.dsse.envelope.v1+json", text.encode())])
    code, err = attack.verify_image(*key_flags(signer, "--attestation-type", SLSA))
    assert code == 3 and "spelling" in err, err
    mcode, record = attack.verify_matrix(key_trust(signer, [SLSA]), attest_mode="required")
    assert mcode == 3, record


BUNDLE_VARIANTS = {
    "top-level-mediaType": lambda b: b[:-1] + b',"MediaType":"application/x-other"}',
    "dsseEnvelope-case": lambda b: b[:-1] + b',"DSSEEnvelope":{}}',
    "verificationMaterial-inner-case": lambda b: b.replace(
        b'"publicKey":{"hint":""}', b'"publicKey":{"hint":""},"PublicKey":{"hint":"x"}'),
    "proto-name-alias": lambda b: b[:-1] + b',"dsse_envelope":{}}',
}


@pytest.mark.parametrize("how", sorted(BUNDLE_VARIANTS))
def test_bundle_with_case_variant_keys_is_refused(how: str, attack: Attack,
                                                  signer: Signer) -> None:
    bundle = BUNDLE_VARIANTS[how](signer.bundle(statement(attack.digest, COSIGN_SIGN)))
    json.loads(bundle)
    attack.push_bundle(bundle)
    err, record = refused(attack, key_flags(signer), key_trust(signer))
    assert record["trustStatus"] == "invalid" and "spelling" in err, err


def _rekor_layer(pki: TestSigstore, signer: Signer, digest: str,
                 tamper: Callable[[dict[str, object]], dict[str, object]]) -> Layer:
    from clamp.trust.keys import PublicKey
    from clamp.trust.pki import hashedrekord

    layer = signer.simple(simple_payload(digest))
    signature = __import__("base64").b64decode(layer.annotations[ANN_SIGNATURE])
    body = tamper(hashedrekord(signature, layer.payload, PublicKey(signer.key.public_key()).pem))
    return Layer(layer.media_type, layer.payload,
                 {**layer.annotations, ANN_BUNDLE: pki.rekor_bundle(body)})


def _with(key: str, value: object) -> Callable[[dict[str, object]], dict[str, object]]:
    return lambda body: {**body, key: value}


def _spec_with(key: str, value: object) -> Callable[[dict[str, object]], dict[str, object]]:
    return lambda body: {**body, "spec": {**body["spec"], key: value}}  # type: ignore[dict-item]


REKOR_VARIANTS = {
    "kind-case": _with("KIND", "rekord"),
    "spec-case": _with("Spec", {}),
    "nested-signature-case": _spec_with("Signature", {"content": "AAAA"}),
    "nested-data-case": _spec_with("DATA", {"hash": {"algorithm": "sha256", "value": "00"}}),
}


def test_rekor_set_annotation_with_case_variant_keys_is_refused(
        attack: Attack, signer: Signer, pki: TestSigstore, root_file: Path) -> None:
    layer = _rekor_layer(pki, signer, attack.digest, lambda body: body)
    doc = json.loads(layer.annotations[ANN_BUNDLE])
    text = json.dumps(doc)[:-1] + ', "payload": ' + json.dumps(doc["Payload"]) + "}"
    attack.push_tag(".sig", [Layer(layer.media_type, layer.payload,
                                   {**layer.annotations, ANN_BUNDLE: text})])
    flags = key_flags(signer, "--trusted-root", str(root_file), "--require-tlog")
    trust = key_trust(signer).replace("tlog: optional", "tlog: required") + (
        f"\n    trusted_root: {root_file}")
    err, _ = refused(attack, flags, trust)
    assert "spelling" in err, err


@pytest.mark.parametrize("how", sorted([*REKOR_VARIANTS, "honest"]))
def test_rekor_body_with_case_variant_keys_is_refused(how: str, attack: Attack, signer: Signer,
                                                      pki: TestSigstore,
                                                      root_file: Path) -> None:
    tamper = REKOR_VARIANTS.get(how, lambda body: body)
    attack.push_tag(".sig", [_rekor_layer(pki, signer, attack.digest, tamper)])
    flags = key_flags(signer, "--trusted-root", str(root_file), "--require-tlog")
    trust = key_trust(signer).replace("tlog: optional", "tlog: required") + (
        f"\n    trusted_root: {root_file}")
    if how == "honest":
        passes(attack, flags, trust)
        return
    err, _record = refused(attack, flags, trust)
    assert "spelling" in err, err


# -- 4. digest spelling -------------------------------------------------------------------------

SPELLINGS = {
    "upper-algorithm": lambda d: "SHA256:" + d[7:],
    "capitalised-algorithm": lambda d: "Sha256:" + d[7:],
    "upper-hex": lambda d: "sha256:" + d[7:].upper(),
    "one-upper-hex-digit": lambda d: d[:-1] + d[-1].upper() if d[-1].isalpha() else d[:-1] + "A",
    "leading-space": lambda d: " " + d,
    "trailing-newline": lambda d: d + "\\n",
    "space-after-colon": lambda d: "sha256: " + d[7:],
    "sha512-prefix": lambda d: "sha512:" + d[7:],
    "truncated": lambda d: d[:-1],
    "extended": lambda d: d + "00",
    "hex-only": lambda d: d[7:],
}


@pytest.mark.parametrize("how", sorted(SPELLINGS))
def test_payload_digest_spelling_is_exact(how: str, attack: Attack, signer: Signer) -> None:
    spelled = SPELLINGS[how](attack.digest)
    assert spelled != attack.digest
    attack.push_tag(".sig", [signer.simple(simple_payload(spelled))])
    _err, record = refused(attack, key_flags(signer), key_trust(signer))
    assert record["trustStatus"] == "invalid"


SUBJECT_SPELLINGS = {
    "upper-hex": lambda h: {"sha256": h.upper()},
    "upper-algorithm-key": lambda h: {"SHA256": h},
    "padded": lambda h: {"sha256": " " + h},
    "prefixed": lambda h: {"sha256": "sha256:" + h},
}


@pytest.mark.parametrize("how", sorted([*SUBJECT_SPELLINGS, "honest"]))
def test_statement_subject_spelling_is_exact(how: str, attack: Attack, signer: Signer) -> None:
    honest_sig(attack, signer)
    hexdigest = attack.digest[7:]
    raw = SUBJECT_SPELLINGS[how](hexdigest) if how != "honest" else {"sha256": hexdigest}
    attack.push_tag(".att", [signer.dsse(statement(attack.digest, SLSA, raw_digest=raw))])
    flags = key_flags(signer, "--attestation-type", SLSA)
    if how == "honest":
        passes(attack, flags, key_trust(signer, [SLSA]), attest_mode="required")
        return
    code, err = attack.verify_image(*flags)
    assert code == 3, err
    mcode, record = attack.verify_matrix(key_trust(signer, [SLSA]), attest_mode="required")
    assert mcode == 3 and record["attestation"]["verdict"] == "invalid", record


# -- 5. certificate paths -----------------------------------------------------------------------

def keyless_flags(root: Path) -> list[str]:
    return ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER,
            "--trusted-root", str(root)]


def _sub_ca(pki: TestSigstore, **options: object) -> tuple[x509.Certificate,
                                                           ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP384R1())
    cert = make_ca("rogue-sub-ca", key, pki.intermediate_cert, pki.intermediate_key, pki.start,
                   **options)  # type: ignore[arg-type]
    return cert, key


@pytest.mark.parametrize("how", ["sub-ca-under-pathlen-0", "sub-ca-without-pathlen",
                                 "leaf-certificate-as-issuer", "honest"])
def test_certificate_path_rules(how: str, attack: Attack, pki: TestSigstore,
                                root_file: Path) -> None:
    options: dict[str, object] = {}
    chain = None
    if how != "honest":
        sub, sub_key = _sub_ca(pki, **({"path_length": 0} if how == "sub-ca-under-pathlen-0"
                                       else {"path_length": None} if how.endswith("pathlen")
                                       else {"ca": False}))
        options = {"signer": (sub, sub_key)}
        chain = [sub, pki.intermediate_cert, pki.root_cert]
    layer = keyless_sign_image(pki, attack.digest, attack.name, identity=IDENTITY, issuer=ISSUER,
                               chain=chain, **options)
    attack.push_tag(".sig", [Layer(layer.media_type, layer.payload, dict(layer.annotations))])
    if how == "honest":
        passes(attack, keyless_flags(root_file), keyless_trust(root_file))
        return
    err, record = refused(attack, keyless_flags(root_file), keyless_trust(root_file))
    assert record["trustStatus"] == "invalid" and "chain" in err, err


@pytest.mark.parametrize("depth", [1, 2])
def test_a_path_within_path_length_passes_one_beyond_fails(depth: int, attack: Attack,
                                                           tmp_path: Path) -> None:
    """The honest twin of the sub-CA attack: an intermediate allowing one CA below it
    (pathLen=1) may have a sub-CA issue leaves; a sub-sub-CA is one too many. The sub-CAs are
    the trusted root's (its CA chain lists them): a path is built from the trusted root's
    chains alone, as cosign and sigstore-go build it, whatever the signature carries."""
    pki = TestSigstore()
    pki.intermediate_cert = make_ca("intermediate-pathlen-1", pki.intermediate_key,
                                    pki.root_cert, pki.root_key, pki.start, path_length=1)
    issuer, issuer_key, chain = pki.intermediate_cert, pki.intermediate_key, [
        pki.intermediate_cert, pki.root_cert]
    for level in range(depth):
        key = ec.generate_private_key(ec.SECP384R1())
        issuer = make_ca(f"sub-ca-{level}", key, issuer, issuer_key, pki.start, path_length=None)
        issuer_key = key
        chain = [issuer, *chain]
    doc = json.loads(pki.trusted_root_json())
    doc["certificateAuthorities"][0]["certChain"]["certificates"] = [
        {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}
        for c in chain]
    root = tmp_path / "root.json"
    root.write_text(json.dumps(doc))
    layer = keyless_sign_image(pki, attack.digest, attack.name, identity=IDENTITY, issuer=ISSUER,
                               signer=(issuer, issuer_key), chain=chain)
    attack.push_tag(".sig", [Layer(layer.media_type, layer.payload, dict(layer.annotations))])
    if depth == 1:
        passes(attack, keyless_flags(root), keyless_trust(root))
        return
    err, _ = refused(attack, keyless_flags(root), keyless_trust(root))
    assert "pathLenConstraint" in err, err


@pytest.mark.parametrize("key_cert_sign", [False, True])
def test_issuer_without_keycertsign_is_refused(key_cert_sign: bool, attack: Attack,
                                               tmp_path: Path) -> None:
    pki = TestSigstore()
    pki.intermediate_cert = make_ca("no-keycertsign", pki.intermediate_key, pki.root_cert,
                                    pki.root_key, pki.start, key_cert_sign=key_cert_sign)
    root = tmp_path / "root.json"
    root.write_bytes(pki.trusted_root_json())
    layer = keyless_sign_image(pki, attack.digest, attack.name, identity=IDENTITY, issuer=ISSUER)
    attack.push_tag(".sig", [Layer(layer.media_type, layer.payload, dict(layer.annotations))])
    if key_cert_sign:
        passes(attack, keyless_flags(root), keyless_trust(root))
        return
    err, _ = refused(attack, keyless_flags(root), keyless_trust(root))
    assert "keyCertSign" in err, err


@pytest.mark.parametrize(("type_id", "ok"), [("1.3.6.1.4.1.57264.1.7", True),
                                             ("1.3.6.1.4.1.57264.1.99", False),
                                             ("1.3.6.1.5.5.7.8.9", False)])
def test_only_fulcios_othername_is_an_identity(type_id: str, ok: bool, attack: Attack,
                                               pki: TestSigstore, root_file: Path) -> None:
    san = x509.OtherName(x509.ObjectIdentifier(type_id), _der_utf8(IDENTITY))
    layer = keyless_sign_image(pki, attack.digest, attack.name, identity=IDENTITY, issuer=ISSUER,
                               san=san)
    attack.push_tag(".sig", [Layer(layer.media_type, layer.payload, dict(layer.annotations))])
    if ok:
        passes(attack, keyless_flags(root_file), keyless_trust(root_file))
        return
    _err, record = refused(attack, keyless_flags(root_file), keyless_trust(root_file),
                          image_codes=(5,))
    assert record["trustStatus"] == "identity_mismatch"


# -- 6. appended layers -------------------------------------------------------------------------

def _junk(signer: Signer, digest: str) -> Layer:
    layer = signer.simple(simple_payload(digest))
    return Layer(layer.media_type, layer.payload, {ANN_SIGNATURE: b64(b"\x30" * 70)})


@pytest.mark.parametrize("how", ["999-bad-signatures-first", "missing-blob-first",
                                 "lying-size-first"])
def test_appended_layers_do_not_deny_a_valid_signature(how: str, attack: Attack,
                                                       signer: Signer) -> None:
    good = signer.simple(simple_payload(attack.digest))
    bad = {"999-bad-signatures-first": [_junk(signer, attack.digest)] * 999,
           "missing-blob-first": [Layer(good.media_type, good.payload + b"\n", good.annotations,
                                        gone=True)],
           "lying-size-first": [Layer(good.media_type, good.payload + b" ", good.annotations,
                                      size=len(good.payload))]}[how]
    attack.push_tag(".sig", [*bad, good])
    passes(attack, key_flags(signer), key_trust(signer))


@pytest.mark.parametrize("how", ["missing-blob-only", "bad-signatures-only", "1001-layers"])
def test_no_verifying_layer_fails_closed_and_says_why(how: str, attack: Attack,
                                                      signer: Signer) -> None:
    good = signer.simple(simple_payload(attack.digest))
    layers = {"missing-blob-only": [Layer(good.media_type, good.payload + b"\n",
                                          good.annotations, gone=True)],
              "bad-signatures-only": [_junk(signer, attack.digest)] * 3,
              "1001-layers": [_junk(signer, attack.digest)] * 1000 + [good]}[how]
    attack.push_tag(".sig", layers)
    code, err = attack.verify_image(*key_flags(signer))
    assert code != 0
    assert ("layer 0" in err or "layers (bound 1000)" in err), err
    mcode, record = attack.verify_matrix(key_trust(signer))
    assert mcode != 0 and record["policyDecision"] == "fail" and record["trustStatus"] != "valid"


@pytest.mark.parametrize("with_valid", [True, False])
def test_a_bundle_referrer_the_registry_cannot_serve_does_not_deny(with_valid: bool,
                                                                   attack: Attack,
                                                                   signer: Signer) -> None:
    bundle = signer.bundle(statement(attack.digest, COSIGN_SIGN))
    attack.push_referrer(BUNDLE_V03, [Layer(BUNDLE_V03, bundle, gone=True)])
    if with_valid:
        honest_sig(attack, signer)
        passes(attack, key_flags(signer), key_trust(signer))
        return
    code, err = attack.verify_image(*key_flags(signer))
    assert code == 69 and "referrer" in err, err
    mcode, record = attack.verify_matrix(key_trust(signer))
    assert mcode != 0 and record["policyDecision"] == "fail", record
