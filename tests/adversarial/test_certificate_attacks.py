"""Keyless certificates and key files read two ways (red team, session 10b).

Each attack is a certificate or key file that another verifier (sigstore-go, cosign) reads
differently from a naive reader, with its honest twin beside it. Real certificates, SCTs and
Rekor SETs from the private sigstore (`clamp.trust.pki`); nothing is faked at the crypto layer.
"""

from __future__ import annotations

import base64
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from clamp.exitcodes import ExitCode, for_error
from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.certs import OID_ISSUER_V1
from clamp.trust.cosign_legacy import LegacyLayer, verify_legacy_layer
from clamp.trust.errors import TrustError, TrustInputError
from clamp.trust.keys import load_public_key
from clamp.trust.mediatypes import ANN_BUNDLE, ANN_CERTIFICATE, ANN_CHAIN, ANN_SIGNATURE
from clamp.trust.pki import TestSigstore, hashedrekord, keyless_sign_image
from clamp.trust.policy import Identity, Policy
from clamp.trust.root import parse_trusted_root
from clamp.trust.sign import simplesigning_payload
from tests.support.tsa import OpensslTsa
from tests.trust.test_other_tools_formats import SLSA, _root_doc, keyless_attestation_bundle

IDENTITY = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1"
ISSUER = "https://token.actions.githubusercontent.com"
EVIL_ISSUER = "https://issuer.attacker.example"
DIGEST = "sha256:" + "ab" * 32
REFERENCE = "registry.test/rocm/dev"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def pki() -> TestSigstore:
    return TestSigstore()


def _policy(root_json: bytes) -> Policy:
    return Policy.with_root(parse_trusted_root(root_json),
                            identities=(Identity(subject=IDENTITY, issuer=ISSUER),))


def _sign(pki: TestSigstore, **options: object) -> LegacyLayer:
    return keyless_sign_image(pki, DIGEST, REFERENCE, identity=IDENTITY,
                              **{"issuer": ISSUER, **options})  # type: ignore[arg-type]


def _refused(layer: LegacyLayer, policy: Policy, check: str, match: str,
             code: ExitCode = ExitCode.SIGNATURE_FAILED) -> None:
    with pytest.raises(TrustError, match=match) as info:
        verify_legacy_layer(layer, DIGEST, policy)
    assert info.value.check == check
    assert for_error(info.value) == code


# --- the OIDC issuer, v1 and v2 extensions that disagree ----------------------------------

@pytest.mark.parametrize(("v2", "v1"), [(ISSUER, EVIL_ISSUER), (EVIL_ISSUER, ISSUER)])
def test_issuer_extensions_that_disagree_are_refused(pki: TestSigstore, v2: str,
                                                     v1: str) -> None:
    """sigstore-go reads the extensions in order, the last issuer winning: with the legacy
    .1.1 after .1.8 it matches the v1 value, a v2-first reader the other. Either reading
    admits someone, so the certificate is refused (it got through when v2 was trusted)."""
    layer = _sign(pki, issuer=v2, issuer_oid="v2", extensions=[(OID_ISSUER_V1.dotted_string,
                                                                v1.encode())])
    _refused(layer, _policy(pki.trusted_root_json()), "issuer", "issuer extensions disagree")


def test_issuer_extensions_that_agree_pass(pki: TestSigstore) -> None:
    layer = _sign(pki, issuer_oid="v2", extensions=[(OID_ISSUER_V1.dotted_string,
                                                     ISSUER.encode())])
    result = verify_legacy_layer(layer, DIGEST, _policy(pki.trusted_root_json()))
    assert result.ok and result.signer and result.signer.issuer == ISSUER


# --- an SCT from a CT log key outside its validity ----------------------------------------

def _root_with_ctlog_window(pki: TestSigstore, *, end: datetime | None) -> bytes:
    doc = json.loads(pki.trusted_root_json())
    if end is not None:
        doc["ctlogs"][0]["publicKey"]["validFor"]["end"] = end.strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(doc).encode()


def test_an_sct_from_a_retired_ct_log_key_is_refused(pki: TestSigstore) -> None:
    """The public-good root lists a retired CT log (`ctfe.sigstore.dev/test`, ended
    2022-10-31); sigstore-go skips an SCT dated outside its log key's validity. A certificate
    whose only SCT is from after the end got through."""
    ended = datetime.now(UTC) - timedelta(hours=2)
    layer = _sign(pki)  # issued a minute ago, SCT dated then: after the key's end
    _refused(layer, _policy(_root_with_ctlog_window(pki, end=ended)), "sct",
             "outside the validity of CT log")


def test_an_sct_within_the_ct_log_keys_validity_passes(pki: TestSigstore) -> None:
    still = datetime.now(UTC) + timedelta(days=1)
    layer = _sign(pki)
    assert verify_legacy_layer(layer, DIGEST,
                               _policy(_root_with_ctlog_window(pki, end=still))).ok


# --- a key file with two PEM blocks -------------------------------------------------------

def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def test_a_key_file_with_two_pem_blocks_is_refused(pki: TestSigstore) -> None:
    """cosign trusts the first PEM block of `--key`; clamp took a certificate's key wherever it
    sat, so `PUBLIC KEY` + `CERTIFICATE` trusted the certificate's (attacker's) key where
    cosign trusts the first. Two blocks are now bad input: which key is trusted is never a
    matter of the tool."""
    trusted = ec.generate_private_key(ec.SECP256R1())
    other = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_leaf(other, identity=IDENTITY, issuer=ISSUER)
    for text in (_pem(trusted) + cert.public_bytes(serialization.Encoding.PEM),
                 _pem(trusted) + _pem(other)):
        with pytest.raises(TrustInputError, match="more than one PEM block") as info:
            load_public_key(text, where="cosign.pub")
        assert for_error(info.value) == ExitCode.BAD_INPUT


def test_a_key_file_with_one_block_loads() -> None:
    trusted = ec.generate_private_key(ec.SECP256R1())
    assert load_public_key(_pem(trusted)).equals(trusted.public_key())
    # cosign also takes an `RSA PUBLIC KEY` (PKCS#1) block.
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pkcs1 = rsa_key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.PKCS1)
    assert pkcs1.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    assert load_public_key(pkcs1).equals(rsa_key.public_key())


def test_a_certificate_given_as_a_key_is_refused(pki: TestSigstore) -> None:
    """cosign's `--key` loader takes only public-key blocks; clamp took a certificate's key,
    its validity, chain and identity ignored (an expired or revoked signer's key trusted)."""
    trusted = ec.generate_private_key(ec.SECP256R1())
    cert = pki.issue_leaf(trusted, identity=IDENTITY, issuer=ISSUER)
    with pytest.raises(TrustInputError, match="a certificate is not a public key") as info:
        load_public_key(cert.public_bytes(serialization.Encoding.PEM), where="cosign.pub")
    assert for_error(info.value) == ExitCode.BAD_INPUT
    assert "\n" not in str(info.value)


# --- families probed and found held (no fix needed) ---------------------------------------

def test_a_dns_san_is_an_identity_only_when_named_exactly(pki: TestSigstore) -> None:
    """cosign's SAN list includes DNS names: one matches only the policy naming it."""
    layer = _sign(pki, san=x509.DNSName("github.com"))
    _refused(layer, _policy(pki.trusted_root_json()), "san", "is not",
             ExitCode.IDENTITY_MISMATCH)


@pytest.mark.parametrize("control", ["\x00", "\n", "\x7f"])
def test_a_san_with_a_control_character_is_refused(pki: TestSigstore, control: str) -> None:
    """Go's x509 parser refuses a certificate whose URI SAN holds a control character
    (url.Parse), so cosign never matches it; clamp matched it against a regexp policy
    (`^https://github\\.com/ROCm/` took `…/v1<NUL>.attacker.example`)."""
    policy = Policy.with_root(pki.trusted_root(), identities=(
        Identity(subject_regexp=r"^https://github\.com/ROCm/", issuer=ISSUER),))
    layer = _sign(pki, san=x509.UniformResourceIdentifier(f"{IDENTITY}{control}.attacker.example"))
    _refused(layer, policy, "san", "control or non-ASCII")


def test_a_san_of_printable_ascii_matches_the_regexp(pki: TestSigstore) -> None:
    policy = Policy.with_root(pki.trusted_root(), identities=(
        Identity(subject_regexp=r"^https://github\.com/ROCm/", issuer=ISSUER),))
    assert verify_legacy_layer(_sign(pki), DIGEST, policy).ok


# --- a bundle's log entry whose (unsigned) integratedTime is outside the certificate ------

@pytest.fixture
def tsa(tmp_path: Path) -> OpensslTsa:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    return OpensslTsa(tmp_path / "tsa")


def _bundle_logged_at(pki: TestSigstore, tsa: OpensslTsa, shift: timedelta) -> bytes:
    """A v0.3 keyless bundle whose Rekor v1 entry has an inclusion proof but no promise (so
    its integratedTime is signed by nobody) and a signed timestamp inside the certificate."""
    doc = json.loads(keyless_attestation_bundle(pki, DIGEST, BUNDLE_V03))
    entry = doc["verificationMaterial"]["tlogEntries"][0]
    del entry["inclusionPromise"]
    entry["integratedTime"] = str(int((datetime.now(UTC) + shift).timestamp()))
    signature = base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"])
    doc["verificationMaterial"]["timestampVerificationData"] = {
        "rfc3161Timestamps": [{"signedTimestamp": b64(tsa.timestamp(signature))}]}
    return json.dumps(doc).encode()


def _tsa_policy(pki: TestSigstore, tsa: OpensslTsa) -> Policy:
    return _policy(json.dumps(_root_doc(pki, timestampAuthorities=[tsa.authority_json()]))
                   .encode())


@pytest.mark.parametrize("shift", [timedelta(hours=-2), timedelta(days=30)])
def test_a_log_entry_outside_the_certificate_is_refused(pki: TestSigstore, tsa: OpensslTsa,
                                                        shift: timedelta) -> None:
    """sigstore-go checks every entry's integratedTime against the certificate, signed or
    not; clamp ignored the unsigned one, so a log saying it took the signature two hours
    before the certificate existed (or a month after it expired) got through on the TSA."""
    with pytest.raises(TrustError, match="outside the certificate's validity") as info:
        verify_bundle(_bundle_logged_at(pki, tsa, shift), Artifact.from_digest(DIGEST),
                      _tsa_policy(pki, tsa), predicate_types=(SLSA,))
    assert info.value.check == "cert-validity"


def test_a_log_entry_inside_the_certificate_passes(pki: TestSigstore, tsa: OpensslTsa) -> None:
    result = verify_bundle(_bundle_logged_at(pki, tsa, timedelta(0)),
                           Artifact.from_digest(DIGEST), _tsa_policy(pki, tsa),
                           predicate_types=(SLSA,))
    assert result.ok and result.time_source == "tsa"  # the unsigned time is never the time


# --- leaves outside Fulcio's profile (probed: held) ---------------------------------------

def _hand_made_leaf(pki: TestSigstore, key: ec.EllipticCurvePrivateKey, *, sct: bool = True,
                    ca: bool = False, digital_signature: bool = True,
                    sans: tuple[x509.GeneralName, ...] = ()) -> x509.Certificate:
    """A leaf issued by the trusted intermediate outside Fulcio's profile: no SCT, CA:TRUE, or
    a key usage without digitalSignature (with an SCT over it, when `sct`, from the CT log)."""
    if sct and not ca and digital_signature and not sans:
        return pki.issue_leaf(key, identity=IDENTITY, issuer=ISSUER)
    now = datetime.now(UTC) - timedelta(minutes=1)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([]))
               .issuer_name(pki.intermediate_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + timedelta(minutes=10))
               .add_extension(x509.KeyUsage(digital_signature, False, False, False, False,
                                            ca, False, False, False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.CODE_SIGNING]),
                              critical=False)
               .add_extension(x509.SubjectAlternativeName(
                   list(sans) or [x509.UniformResourceIdentifier(IDENTITY)]), critical=True)
               .add_extension(x509.UnrecognizedExtension(
                   OID_ISSUER_V1, ISSUER.encode()), critical=False))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None),
                                        critical=True)
    return builder.sign(pki.intermediate_key, hashes.SHA384())


def _layer(pki: TestSigstore, **profile: Any) -> LegacyLayer:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _hand_made_leaf(pki, key, **profile)
    payload = simplesigning_payload(DIGEST, REFERENCE)
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    chain = b"".join(c.public_bytes(serialization.Encoding.PEM)
                     for c in (pki.intermediate_cert, pki.root_cert))
    return LegacyLayer(payload=payload, annotations={
        ANN_SIGNATURE: b64(signature), ANN_CERTIFICATE: pem.decode(), ANN_CHAIN: chain.decode(),
        ANN_BUNDLE: pki.rekor_bundle(hashedrekord(signature, payload, pem))})


@pytest.mark.parametrize(("profile", "check", "match"), [
    ({"sct": False}, "sct", "no embedded SCT"),
    ({"ca": True}, "eku", "CA certificate cannot sign"),
    ({"digital_signature": False}, "eku", "lacks digitalSignature"),
])
def test_a_leaf_outside_fulcios_profile_is_refused(pki: TestSigstore, profile: dict[str, bool],
                                                   check: str, match: str) -> None:
    """cosign requires an embedded SCT (without --insecure-ignore-sct); a CA:TRUE leaf or one
    without digitalSignature is no Fulcio leaf (clamp is stricter than Go's x509 here). Those
    two are judged under a root without CT logs (as GitHub's), so the SCT rule is not what
    refuses them."""
    doc = json.loads(pki.trusted_root_json())
    if check != "sct":
        doc["ctlogs"] = []
    _refused(_layer(pki, **profile), _policy(json.dumps(doc).encode()), check, match)


def test_a_leaf_inside_fulcios_profile_passes(pki: TestSigstore) -> None:
    assert verify_legacy_layer(_layer(pki), DIGEST, _policy(pki.trusted_root_json())).ok
    doc = json.loads(pki.trusted_root_json())
    doc["ctlogs"] = []  # the hand-made leaf without an SCT, where no CT log is run
    assert verify_legacy_layer(_layer(pki, sct=False), DIGEST,
                               _policy(json.dumps(doc).encode())).ok


def _root_without_ctlogs(pki: TestSigstore) -> bytes:
    doc = json.loads(pki.trusted_root_json())
    doc["ctlogs"] = []  # hand-made leaves carry no SCT; the rule under test is another
    return json.dumps(doc).encode()


@pytest.mark.parametrize("sans", [
    (x509.UniformResourceIdentifier("https://github.com/attacker/repo/.github/workflows/x.yml"),
     x509.UniformResourceIdentifier(IDENTITY)),
    (x509.RFC822Name("attacker@example.com"), x509.UniformResourceIdentifier(IDENTITY)),
    (x509.UniformResourceIdentifier(IDENTITY), x509.DNSName("attacker.example")),
], ids=["uri-uri", "email-uri", "uri-dns"])
def test_a_leaf_with_several_identities_is_refused(pki: TestSigstore,
                                                   sans: tuple[x509.GeneralName, ...]) -> None:
    """Fulcio issues one SAN. With [another URI, the trusted URI], cosign matches any SAN,
    sigstore-go only the first URI (the other one: refused), and clamp matched the second
    while its record named the first as the signer's identity. Now refused."""
    _refused(_layer(pki, sans=sans), _policy(_root_without_ctlogs(pki)), "san",
             "carries 2 identities")


def test_a_leaf_with_one_identity_passes(pki: TestSigstore) -> None:
    result = verify_legacy_layer(_layer(pki, sans=(x509.UniformResourceIdentifier(IDENTITY),)),
                                 DIGEST, _policy(_root_without_ctlogs(pki)))
    assert result.ok and result.signer and result.signer.identity == IDENTITY
