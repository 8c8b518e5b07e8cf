"""A private RFC 3161 timestamp authority for tests: certificates from `cryptography`, replies
from `openssl ts` (a real TSA implementation, not clamp's code)."""

from __future__ import annotations

import base64
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

OPENSSL_TIMEOUT = 30  # seconds, per `openssl ts` call


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "clamp-test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class OpensslTsa:
    """A private RFC 3161 TSA: root + leaf from `cryptography`, replies from `openssl ts`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.start = datetime.now(UTC) - timedelta(days=1)
        root_key = ec.generate_private_key(ec.SECP384R1())
        leaf_key = ec.generate_private_key(ec.SECP384R1())
        end = self.start + timedelta(days=3650)
        self.root = (x509.CertificateBuilder().subject_name(_name("tsa-root"))
                     .issuer_name(_name("tsa-root")).public_key(root_key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(self.start).not_valid_after(end)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), True)
                     .sign(root_key, hashes.SHA384()))
        self.leaf = (x509.CertificateBuilder().subject_name(_name("tsa-leaf"))
                     .issuer_name(self.root.subject).public_key(leaf_key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(self.start).not_valid_after(end)
                     .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                     .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                                  False, False), True)
                     .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                                    True)
                     .sign(root_key, hashes.SHA384()))
        (folder / "tsa.pem").write_bytes(self.leaf.public_bytes(serialization.Encoding.PEM))
        (folder / "tsa.key").write_bytes(leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        (folder / "serial").write_text("01\n")
        (folder / "ts.cnf").write_text(f"""[ tsa ]
default_tsa = c1
[ c1 ]
serial = {folder}/serial
signer_cert = {folder}/tsa.pem
signer_key = {folder}/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.57264.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
""")
        self.calls = 0

    def timestamp(self, data: bytes) -> bytes:
        """A DER TimeStampResp over `data` (SHA-256 message imprint)."""
        self.calls += 1
        query = self.folder / f"req{self.calls}.tsq"
        reply = self.folder / f"resp{self.calls}.tsr"
        query.write_bytes(TimestampRequestBuilder().data(data)
                          .hash_algorithm(HashAlgorithm.SHA256).build().as_bytes())
        subprocess.run(["openssl", "ts", "-reply", "-config", str(self.folder / "ts.cnf"),
                        "-queryfile", str(query), "-out", str(reply)],
                       check=True, capture_output=True, timeout=OPENSSL_TIMEOUT)
        return reply.read_bytes()

    def authority_json(self) -> dict[str, Any]:
        """This TSA as a trusted root's `timestampAuthorities` entry."""
        return {"subject": {"organization": "clamp-test", "commonName": "tsa"},
                "uri": "https://tsa.clamp.test",
                "certChain": {"certificates": [
                    {"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))}
                    for c in (self.leaf, self.root)]},
                "validFor": {"start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ")}}
