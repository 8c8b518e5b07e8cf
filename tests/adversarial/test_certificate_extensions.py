"""Certificate extensions Go's verifier enforces (red team, session 12).

cosign and sigstore-go verify a Fulcio certificate with Go's `x509.Certificate.Verify` (asking
for the codeSigning usage), which refuses a certificate on the path with a critical extension
it does not handle, and a CA whose extended key usage does not allow code signing; it also
enforces name and policy constraints, which clamp does not evaluate and so refuses. Each
attack is a path a CA of the trusted root could issue, with its honest twin. Real
certificates, SCTs and Rekor SETs from the private sigstore (`clamp.trust.pki`).
"""

from __future__ import annotations

import base64
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from clamp.exitcodes import ExitCode, for_error
from clamp.trust.certs import OID_ISSUER_V1, OID_ISSUER_V2
from clamp.trust.cosign_legacy import LegacyLayer, verify_legacy_layer
from clamp.trust.errors import TrustError
from clamp.trust.mediatypes import ANN_BUNDLE, ANN_CERTIFICATE, ANN_CHAIN, ANN_SIGNATURE
from clamp.trust.pki import TestSigstore, hashedrekord
from clamp.trust.policy import Identity, Policy
from clamp.trust.root import parse_trusted_root
from clamp.trust.sign import simplesigning_payload

IDENTITY = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1"
ISSUER = "https://token.actions.githubusercontent.com"
DIGEST = "sha256:" + "cd" * 32
REFERENCE = "registry.test/rocm/dev"
PRIVATE_OID = x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")


@pytest.fixture(scope="module")
def pki() -> TestSigstore:
    return TestSigstore()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _root_json(pki: TestSigstore, chain: list[x509.Certificate] | None = None, *,
               ctlogs: bool = True) -> bytes:
    doc = json.loads(pki.trusted_root_json())
    if chain is not None:
        doc["certificateAuthorities"][0]["certChain"]["certificates"] = [
            {"rawBytes": _b64(c.public_bytes(serialization.Encoding.DER))} for c in chain]
    if not ctlogs:
        doc["ctlogs"] = []  # a hand-made leaf carries no SCT; the rule under test is another
    return json.dumps(doc).encode()


def _policy(root_json: bytes) -> Policy:
    return Policy.with_root(parse_trusted_root(root_json),
                            identities=(Identity(subject=IDENTITY, issuer=ISSUER),))


def _layer(pki: TestSigstore, leaf: x509.Certificate, key: ec.EllipticCurvePrivateKey,
           chain: list[x509.Certificate]) -> LegacyLayer:
    payload = simplesigning_payload(DIGEST, REFERENCE)
    signature = key.sign(payload, ec.ECDSA(hashes.SHA256()))
    pem = leaf.public_bytes(serialization.Encoding.PEM)
    return LegacyLayer(payload=payload, annotations={
        ANN_SIGNATURE: _b64(signature), ANN_CERTIFICATE: pem.decode(),
        ANN_CHAIN: b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain).decode(),
        ANN_BUNDLE: pki.rekor_bundle(hashedrekord(signature, payload, pem))})


def _refused(layer: LegacyLayer, policy: Policy, check: str, match: str) -> None:
    with pytest.raises(TrustError, match=match) as info:
        verify_legacy_layer(layer, DIGEST, policy)
    assert info.value.check == check
    assert for_error(info.value) == ExitCode.SIGNATURE_FAILED


# --- a leaf with a critical extension Go does not handle ---------------------------------

def _leaf(pki: TestSigstore, key: ec.EllipticCurvePrivateKey, *,
          extra: tuple[x509.ObjectIdentifier, bytes, bool] | None) -> x509.Certificate:
    """A Fulcio-profile leaf from the trusted intermediate, plus `extra` (OID, value,
    critical). No SCT: the root it is judged under runs no CT log."""
    now = datetime.now(UTC) - timedelta(minutes=1)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([]))
               .issuer_name(pki.intermediate_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(now)
               .not_valid_after(now + timedelta(minutes=10))
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                            False, False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                              critical=False)
               .add_extension(x509.SubjectAlternativeName(
                   [x509.UniformResourceIdentifier(IDENTITY)]), critical=True))
    if extra is None or extra[0] != OID_ISSUER_V1:
        builder = builder.add_extension(
            x509.UnrecognizedExtension(OID_ISSUER_V1, ISSUER.encode()), critical=False)
    if extra is not None:
        builder = builder.add_extension(x509.UnrecognizedExtension(extra[0], extra[1]),
                                        critical=extra[2])
    return builder.sign(pki.intermediate_key, hashes.SHA384())


_UTF8_ISSUER = b"\x0c" + bytes([len(ISSUER)]) + ISSUER.encode()


@pytest.mark.parametrize(("oid", "value"), [
    (OID_ISSUER_V1, ISSUER.encode()), (OID_ISSUER_V2, _UTF8_ISSUER), (PRIVATE_OID, b"\x05\x00"),
], ids=["issuer-v1", "issuer-v2", "private"])
def test_a_leaf_with_an_unhandled_critical_extension_is_refused(
        pki: TestSigstore, oid: x509.ObjectIdentifier, value: bytes) -> None:
    """Go's Verify refuses a certificate with a critical extension its parser does not
    handle (UnhandledCriticalExtension; sigstore-go exempts only a critical SAN), so cosign
    and sigstore-go refuse this leaf. clamp verified it (session 12)."""
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf(pki, key, extra=(oid, value, True))
    layer = _layer(pki, leaf, key, [pki.intermediate_cert, pki.root_cert])
    _refused(layer, _policy(_root_json(pki, ctlogs=False)), "extensions",
             f"critical extension {oid.dotted_string}")


@pytest.mark.parametrize(("oid", "value"), [
    (OID_ISSUER_V2, _UTF8_ISSUER), (PRIVATE_OID, b"\x05\x00"),
], ids=["issuer-v2", "private"])
def test_a_leaf_with_the_same_extension_not_critical_passes(
        pki: TestSigstore, oid: x509.ObjectIdentifier, value: bytes) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _leaf(pki, key, extra=(oid, value, False))
    layer = _layer(pki, leaf, key, [pki.intermediate_cert, pki.root_cert])
    result = verify_legacy_layer(layer, DIGEST, _policy(_root_json(pki, ctlogs=False)))
    assert result.ok and result.signer and result.signer.identity == IDENTITY


# --- an intermediate that constrains what it issues ---------------------------------------

def _intermediate(pki: TestSigstore, key: ec.EllipticCurvePrivateKey,
                  *extensions: tuple[x509.ExtensionType, bool]) -> x509.Certificate:
    """An intermediate under the trusted root as Fulcio's (pathLen=0, keyCertSign), plus
    `extensions`."""
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "clamp-test"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "constrained-intermediate")])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(pki.root_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(pki.start)
               .not_valid_after(pki.start + timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                            False, False), critical=True))
    for ext, critical in extensions:
        builder = builder.add_extension(ext, critical=critical)
    return builder.sign(pki.root_key, hashes.SHA384())


def _issued_by(pki: TestSigstore,
               *extensions: tuple[x509.ExtensionType, bool]) -> tuple[LegacyLayer, bytes]:
    """A keyless layer whose leaf (with an SCT) comes from an intermediate carrying
    `extensions`, and a trusted root listing that intermediate as its Fulcio CA."""
    ca_key = ec.generate_private_key(ec.SECP384R1())
    ca = _intermediate(pki, ca_key, *extensions)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = pki.issue_leaf(key, identity=IDENTITY, issuer=ISSUER, signer=(ca, ca_key))
    return _layer(pki, leaf, key, [ca, pki.root_cert]), _root_json(pki, [ca, pki.root_cert])


_SERVER_AUTH = (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
_NAMES = (x509.NameConstraints(permitted_subtrees=[x509.UniformResourceIdentifier(
    ".rocm.example")], excluded_subtrees=None), True)
_POLICY = (x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None), True)
_PRIVATE = (x509.UnrecognizedExtension(PRIVATE_OID, b"\x05\x00"), True)


@pytest.mark.parametrize(("extension", "match"), [
    (_SERVER_AUTH, "extended key usage without codeSigning"),
    (_NAMES, "nameConstraints"),
    (_POLICY, "policyConstraints"),
    (_PRIVATE, "critical extension 1.3.6.1.4.1.99999.1"),
], ids=["eku-server-auth", "name-constraints", "policy-constraints", "critical-private"])
def test_a_leaf_under_a_constrained_intermediate_is_refused(
        pki: TestSigstore, extension: tuple[x509.ExtensionType, bool], match: str) -> None:
    """Go's Verify (asked for codeSigning, as cosign and sigstore-go ask) refuses a leaf
    whose CA's EKU is serverAuth only, whose CA permits only other URIs, or whose CA
    carries a critical extension it does not handle; Go 1.24 enforces a
    requireExplicitPolicy the leaf does not meet. clamp verified every one (session 12)."""
    layer, root = _issued_by(pki, extension)
    _refused(layer, _policy(root), "chain", match)


@pytest.mark.parametrize("extensions", [
    (), ((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False),),
    ((x509.ExtendedKeyUsage([ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]), False),),
    ((x509.UnrecognizedExtension(PRIVATE_OID, b"\x05\x00"), False),),
], ids=["no-eku", "eku-code-signing", "eku-any", "private-not-critical"])
def test_a_leaf_under_an_intermediate_allowing_code_signing_passes(
        pki: TestSigstore, extensions: tuple[tuple[x509.ExtensionType, bool], ...]) -> None:
    layer, root = _issued_by(pki, *extensions)
    result = verify_legacy_layer(layer, DIGEST, _policy(root))
    assert result.ok and result.signer and result.signer.identity == IDENTITY


# --- a certificate signed with a hash Go refuses ------------------------------------------

def _openssl_leaf(pki: TestSigstore, key: ec.EllipticCurvePrivateKey, digest: str,
                  tmp_path: Path) -> x509.Certificate:
    """A Fulcio-profile leaf the trusted intermediate signs with `digest` (openssl: the
    `cryptography` builder refuses SHA-1)."""
    def pem(name: str, data: bytes) -> str:
        (tmp_path / name).write_bytes(data)
        return str(tmp_path / name)

    no_crypt = serialization.NoEncryption()
    fmt = serialization.PrivateFormat.PKCS8
    leaf_key = pem("leaf.key", key.private_bytes(serialization.Encoding.PEM, fmt, no_crypt))
    ca_key = pem("ca.key", pki.intermediate_key.private_bytes(serialization.Encoding.PEM, fmt,
                                                              no_crypt))
    ca = pem("ca.pem", pki.intermediate_cert.public_bytes(serialization.Encoding.PEM))
    ext = pem("ext.cnf", (
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n"
        f"subjectAltName=critical,URI:{IDENTITY}\n"
        f"{OID_ISSUER_V1.dotted_string}=DER:{ISSUER.encode().hex()}\n").encode())
    csr, out = str(tmp_path / "leaf.csr"), str(tmp_path / "leaf.pem")
    subprocess.run(["openssl", "req", "-new", "-key", leaf_key, "-subj", "/CN=leaf",
                    "-out", csr], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                    "-set_serial", "7", "-days", "1", f"-{digest}", "-extfile", ext,
                    "-out", out], check=True, capture_output=True)
    return x509.load_pem_x509_certificate((tmp_path / "leaf.pem").read_bytes())


@pytest.mark.parametrize(("digest", "match"), [
    ("sha1", "does not chain"), ("sha224", "signed with SHA224")])
def test_a_leaf_signed_with_a_hash_go_refuses_is_refused(pki: TestSigstore, digest: str,
                                                         match: str, tmp_path: Path) -> None:
    """Go's x509 refuses SHA-1 certificate signatures (insecure; `cryptography` does not
    verify them either: held) and has no ECDSA-SHA224, so cosign and sigstore-go refuse
    the leaf. clamp verified the SHA-224 one (session 12)."""
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _openssl_leaf(pki, key, digest, tmp_path)
    layer = _layer(pki, leaf, key, [pki.intermediate_cert, pki.root_cert])
    _refused(layer, _policy(_root_json(pki, ctlogs=False)), "chain", match)


@pytest.mark.parametrize("digest", ["sha256", "sha512"])
def test_a_leaf_signed_with_a_hash_go_takes_passes(pki: TestSigstore, digest: str,
                                                   tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _openssl_leaf(pki, key, digest, tmp_path)
    layer = _layer(pki, leaf, key, [pki.intermediate_cert, pki.root_cert])
    result = verify_legacy_layer(layer, DIGEST, _policy(_root_json(pki, ctlogs=False)))
    assert result.ok and result.signer and result.signer.identity == IDENTITY
