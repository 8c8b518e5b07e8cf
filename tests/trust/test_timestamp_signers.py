"""Who signed an RFC 3161 timestamp, and under which EKU (red team 13, second pass).

sigstore-go verifies a timestamp with timestamp-authority's `VerifyTimestampResponse`: the
trusted root's TSA leaf is the `TSACertificate`, its intermediates and root the chain. A
response that embeds no certificate is checked as if it embedded that leaf
(`p7Message.Certificates = [TSACertificate]`), so digitorus/pkcs7 finds the signer only there:
a SignerInfo naming another certificate has "no certificate for signer". rfc3161-client runs
its EKU checks on the trusted leaf in that case too, but hands every certificate of the chain
to OpenSSL as a trust anchor and lets the SignerInfo pick any of them: a CA certificate of the
chain that OpenSSL's timestamp-signing purpose accepts (no KeyUsage, a critical timeStamping
EKU) could sign timestamps clamp took as the TSA's.

Certificates come from `cryptography`, the tokens from `openssl ts` (honest) or `openssl cms`
(every other signer) over the TSTInfo an honest reply carried; nothing is mocked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from clamp.trust.pki import TestSigstore
from clamp.trust.root import TrustedRoot, parse_trusted_root
from clamp.trust.tsa import verified_timestamps
from tests.support.tsa import OPENSSL_TIMEOUT, OpensslTsa, _name, b64

SIGNATURE = b"the signature a timestamp vouches for"
TST_INFO_OID = "1.2.840.113549.1.9.16.1.4"
UNKNOWN_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.57264.3.99")

Key = ec.EllipticCurvePrivateKey


def _cert(subject: str, issuer: str, public: ec.EllipticCurvePublicKey, signer: Key,
          tsa: OpensslTsa, *, ca: bool, key_usage: bool = True,
          eku: list[x509.ObjectIdentifier] | None = None,
          eku_critical: bool = True) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(public).serial_number(x509.random_serial_number())
               .not_valid_before(tsa.start).not_valid_after(tsa.start + timedelta(days=90))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True))
    if key_usage:
        builder = builder.add_extension(x509.KeyUsage(not ca, False, False, False, False, ca, ca,
                                                      False, False), True)
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), eku_critical)
    return builder.sign(signer, hashes.SHA384())


class Chain:
    """A TSA chain root -> intermediate -> leaf whose keys the test holds; the leaf is
    `OpensslTsa`'s key, so `openssl ts` still answers as the honest TSA."""

    def __init__(self, folder: Path, *, ca_signs: bool = False,
                 leaf_eku: list[x509.ObjectIdentifier] | None = None,
                 leaf_eku_critical: bool = True,
                 intermediate_eku: list[x509.ObjectIdentifier] | None = None) -> None:
        self.tsa = OpensslTsa(folder / "tsa")
        self.source = OpensslTsa(folder / "source")  # TSTInfos, whatever the leaf's EKU
        self.folder = folder
        ts = [ExtendedKeyUsageOID.TIME_STAMPING]
        self.root_key, self.mid_key = (ec.generate_private_key(ec.SECP384R1()) for _ in "rm")
        # `ca_signs`: CA certificates OpenSSL lets sign timestamps (no KeyUsage, critical
        # timeStamping EKU), as a TSA chain's CAs may be issued ("EKU chaining").
        self.root = _cert("tsa-root", "tsa-root", self.root_key.public_key(), self.root_key,
                          self.tsa, ca=True, key_usage=not ca_signs, eku=ts if ca_signs else None)
        self.mid = _cert("tsa-mid", "tsa-root", self.mid_key.public_key(), self.root_key,
                         self.tsa, ca=True, key_usage=not ca_signs,
                         eku=ts if ca_signs else intermediate_eku)
        leaf_key = serialization.load_pem_private_key((folder / "tsa" / "tsa.key").read_bytes(),
                                                      None)
        assert isinstance(leaf_key, ec.EllipticCurvePrivateKey)
        self.leaf_key = leaf_key
        self.leaf = _cert("tsa-leaf", "tsa-mid", leaf_key.public_key(), self.mid_key, self.tsa,
                          ca=False, eku=ts if leaf_eku is None else leaf_eku,
                          eku_critical=leaf_eku_critical)
        self.tsa.leaf, self.tsa.root = self.leaf, self.root
        (folder / "tsa" / "tsa.pem").write_bytes(
            self.leaf.public_bytes(serialization.Encoding.PEM))

    def root_json(self, pki: TestSigstore) -> TrustedRoot:
        authority: dict[str, Any] = self.tsa.authority_json()
        authority["certChain"]["certificates"] = [
            {"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))}
            for c in (self.leaf, self.mid, self.root)]
        doc = json.loads(pki.trusted_root_json())
        doc["timestampAuthorities"] = [authority]
        return parse_trusted_root(json.dumps(doc).encode(), source="tsa-chain")

    def honest(self) -> bytes:
        """What the TSA answers (`openssl ts`, the leaf certificate embedded)."""
        return self.tsa.timestamp(SIGNATURE)

    def token(self, signers: list[tuple[x509.Certificate, Key]], *, embed: bool = False,
              extra: tuple[x509.Certificate, ...] = ()) -> bytes:
        """A TimeStampResp over an honest reply's TSTInfo, signed by `signers` (each a
        SignerInfo), embedding the signers' certificates and `extra` if `embed`."""
        (self.folder / "reply.tsr").write_bytes(self.source.timestamp(SIGNATURE))
        for step in (["ts", "-reply", "-in", "reply.tsr", "-token_out", "-out", "reply.tok"],
                     ["cms", "-verify", "-noverify", "-binary", "-inform", "DER",
                      "-in", "reply.tok", "-out", "tst.der"]):  # the token's TSTInfo
            subprocess.run(["openssl", *step], check=True, capture_output=True,
                           cwd=self.folder, timeout=OPENSSL_TIMEOUT)
        command = ["openssl", "cms", "-sign", "-binary", "-nodetach", "-nosmimecap",
                   "-econtent_type", TST_INFO_OID, "-md", "sha256", "-outform", "DER",
                   "-in", str(self.folder / "tst.der"), "-out", str(self.folder / "tok.der")]
        for number, (cert, key) in enumerate(signers):
            pem, key_pem = self.folder / f"s{number}.pem", self.folder / f"s{number}.key"
            pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            key_pem.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
            command += ["-signer", str(pem), "-inkey", str(key_pem)]
        if extra:
            more = self.folder / "extra.pem"
            more.write_bytes(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in extra))
            command += ["-certfile", str(more)]
        if not embed:
            command.append("-nocerts")
        subprocess.run(command, check=True, capture_output=True, timeout=OPENSSL_TIMEOUT)
        body = bytes.fromhex("3003020100") + (self.folder / "tok.der").read_bytes()
        return b"\x30\x82" + len(body).to_bytes(2, "big") + body


@pytest.fixture(autouse=True)
def _openssl() -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")


def _verifies(chain: Chain, pki: TestSigstore, response: bytes) -> tuple[bool, list[str]]:
    times, skipped = verified_timestamps([response], SIGNATURE, chain.root_json(pki))
    assert bool(times) != bool(skipped)
    return bool(times), skipped


@pytest.mark.parametrize("signer", ["root", "intermediate"])
def test_a_timestamp_signed_by_another_key_of_the_tsa_chain_is_refused(
        pki: TestSigstore, tmp_path: Path, signer: str) -> None:
    """The attack: no certificate embedded, the SignerInfo names the chain's root (or
    intermediate), signed with its key. rfc3161-client took it (its EKU checks ran on the
    trusted leaf); sigstore-go finds no certificate for that signer."""
    chain = Chain(tmp_path, ca_signs=True)
    cert, key = ((chain.root, chain.root_key) if signer == "root"
                 else (chain.mid, chain.mid_key))
    ok, skipped = _verifies(chain, pki, chain.token([(cert, key)]))
    assert not ok and "not the TSA's certificate" in skipped[0], skipped


def test_a_timestamp_the_tsa_leaf_signed_passes_with_or_without_its_certificate(
        pki: TestSigstore, tmp_path: Path) -> None:
    """The honest twins, under the same chain: the leaf's reply as `openssl ts` writes it
    (the leaf embedded), and re-signed by the leaf with no certificate embedded (a request
    with `certReq` false; sigstore-go then verifies against the trusted leaf)."""
    chain = Chain(tmp_path, ca_signs=True)
    assert _verifies(chain, pki, chain.honest())[0]
    assert _verifies(chain, pki, chain.token([(chain.leaf, chain.leaf_key)]))[0]
    assert _verifies(chain, pki, chain.token([(chain.leaf, chain.leaf_key)], embed=True,
                                             extra=(chain.mid,)))[0]


@pytest.mark.parametrize("embed", [False, True], ids=["no-certificates", "leaf-embedded"])
def test_a_timestamp_with_two_signer_infos_is_refused(
        pki: TestSigstore, tmp_path: Path, embed: bool) -> None:
    """Two SignerInfos, the leaf's and the root's (or the leaf's twice). rfc3161-client
    refuses anything but one when certificates are embedded; with none it let OpenSSL verify
    them all. One is what a TSA writes (RFC 3161 2.4.2: the TSA signs the token); clamp
    refuses more either way (sigstore-go would take two by the leaf alone: deliberate)."""
    chain = Chain(tmp_path, ca_signs=True)
    leaf = (chain.leaf, chain.leaf_key)
    # The leaf twice can only go unembedded (`openssl cms` embeds a certificate once).
    for second in [(chain.root, chain.root_key)] + ([] if embed else [leaf]):
        ok, skipped = _verifies(chain, pki, chain.token([leaf, second], embed=embed))
        assert not ok and "SignerInfo" in skipped[0], skipped


@pytest.mark.parametrize(("eku", "critical", "verifies"), [
    ([ExtendedKeyUsageOID.TIME_STAMPING], True, True),
    ([ExtendedKeyUsageOID.TIME_STAMPING, UNKNOWN_EKU], True, True),
    ([ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.SERVER_AUTH], True, False),
    ([ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.CODE_SIGNING], True, False),
    ([ExtendedKeyUsageOID.TIME_STAMPING], False, False),
    ([ExtendedKeyUsageOID.CODE_SIGNING], True, False),
], ids=["timestamping", "plus-unknown", "plus-server-auth", "plus-code-signing",
        "not-critical", "code-signing-only"])
@pytest.mark.parametrize("embed", [False, True], ids=["no-certificates", "leaf-embedded"])
def test_a_tsa_leaf_eku_is_read_as_timestamp_authority_reads_it(
        pki: TestSigstore, tmp_path: Path, eku: list[x509.ObjectIdentifier], critical: bool,
        verifies: bool, embed: bool) -> None:
    """timestamp-authority wants the leaf's EKU critical and exactly timeStamping among the
    usages Go knows (an unknown OID is kept aside, `UnknownExtKeyUsage`); OpenSSL's
    timestamp-signing purpose, which rfc3161-client applies to the signer, reads it the same.
    Tried, already right."""
    chain = Chain(tmp_path, leaf_eku=eku, leaf_eku_critical=critical)
    ok, skipped = _verifies(chain, pki, chain.token([(chain.leaf, chain.leaf_key)],
                                                    embed=embed))
    assert ok == verifies, skipped


@pytest.mark.parametrize(("eku", "verifies"), [
    (None, True),
    ([ExtendedKeyUsageOID.TIME_STAMPING, ExtendedKeyUsageOID.SERVER_AUTH], True),
    ([x509.ObjectIdentifier("2.5.29.37.0")], True),
    ([ExtendedKeyUsageOID.SERVER_AUTH], False),
], ids=["none", "with-timestamping", "any", "server-auth-only"])
def test_a_tsa_intermediate_eku_must_allow_timestamping(
        pki: TestSigstore, tmp_path: Path, eku: list[x509.ObjectIdentifier] | None,
        verifies: bool) -> None:
    """timestamp-authority's EKU chaining: an intermediate with no EKU is unrestricted, one
    with EKUs must list timeStamping or anyExtendedKeyUsage. OpenSSL checks no EKU on a CA
    for this purpose, so rfc3161-client took a serverAuth-only intermediate."""
    chain = Chain(tmp_path, intermediate_eku=eku)
    ok, skipped = _verifies(chain, pki, chain.honest())
    assert ok == verifies, skipped
