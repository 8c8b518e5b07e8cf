"""A `.sig` layer's certificate and chain annotations read as cosign reads them (red team,
session 12).

cosign reads both with sigstore's `cryptoutils.UnmarshalCertificatesFromPEM`: the text trimmed,
then Go's `pem.Decode` block after block until nothing is left, every block's bytes parsed as a
certificate whatever its type, the first being the signer's. `cryptography` skips blocks of
other types and text after the last block, so the same annotation named another signer, or
was accepted where cosign refuses it. Real certificates and SETs (`clamp.trust.pki`).
"""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.exitcodes import ExitCode, for_error
from clamp.trust.cosign_legacy import LegacyLayer, verify_legacy_layer
from clamp.trust.errors import TrustError
from clamp.trust.mediatypes import ANN_CERTIFICATE, ANN_CHAIN
from clamp.trust.pki import TestSigstore, keyless_sign_image
from clamp.trust.policy import Identity, Policy

IDENTITY = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1"
OTHER = "https://github.com/attacker/repo/.github/workflows/x.yml@refs/heads/main"
ISSUER = "https://token.actions.githubusercontent.com"
DIGEST = "sha256:" + "ef" * 32


@pytest.fixture(scope="module")
def pki() -> TestSigstore:
    return TestSigstore()


def _policy(pki: TestSigstore) -> Policy:
    return Policy.with_root(pki.trusted_root(),
                            identities=(Identity(subject=IDENTITY, issuer=ISSUER),))


def _layer(pki: TestSigstore) -> LegacyLayer:
    return keyless_sign_image(pki, DIGEST, "registry.test/rocm/dev", identity=IDENTITY,
                              issuer=ISSUER)


def _edited(layer: LegacyLayer, key: str, text: str) -> LegacyLayer:
    return LegacyLayer(payload=layer.payload, media_type=layer.media_type,
                       annotations={**layer.annotations, key: text})


def _other_leaf_pem(pki: TestSigstore, label: str) -> str:
    """Another signer's certificate (the attacker's own Fulcio identity) under `label`."""
    cert = pki.issue_leaf(ec.generate_private_key(ec.SECP256R1()), identity=OTHER,
                          issuer=ISSUER)
    return cert.public_bytes(serialization.Encoding.PEM).decode().replace(
        "CERTIFICATE", label)


def _pem_block(label: str) -> str:
    return f"-----BEGIN {label}-----\nAAAA\n-----END {label}-----\n"


@pytest.mark.parametrize(("edit", "match"), [
    (lambda pem, pki: pem + "junk", "text after the last PEM block"),
    (lambda pem, pki: pem + _pem_block("FOO"), "not a CERTIFICATE"),
    (lambda pem, pki: _other_leaf_pem(pki, "PUBLIC KEY") + pem, "not a CERTIFICATE"),
    (lambda pem, pki: pem.replace("-----END CERTIFICATE-----", "-----END CERTIFICATE-----x"),
     "text after a PEM END line"),
], ids=["trailing-text", "trailing-other-block", "other-type-first", "end-line-junk"])
def test_a_certificate_annotation_cosign_reads_otherwise_is_refused(
        pki: TestSigstore, edit: object, match: str) -> None:
    """Trailing text or a trailing block of another type: cosign's reader fails (clamp
    verified). A `PUBLIC KEY` block holding the attacker's own certificate before the
    trusted signer's: cosign reads the attacker's as the signer (its type is not looked
    at), clamp skipped it and judged the second. All verified before session 12."""
    layer = _layer(pki)
    pem = layer.annotations[ANN_CERTIFICATE]
    bad = _edited(layer, ANN_CERTIFICATE, edit(pem, pki))  # type: ignore[operator]
    with pytest.raises(TrustError, match=match) as info:
        verify_legacy_layer(bad, DIGEST, _policy(pki))
    assert info.value.check == "chain"
    assert for_error(info.value) == ExitCode.SIGNATURE_FAILED


def test_a_chain_annotation_with_trailing_text_is_refused(pki: TestSigstore) -> None:
    layer = _layer(pki)
    bad = _edited(layer, ANN_CHAIN, layer.annotations[ANN_CHAIN] + "-----END CERTIFICATE-----")
    with pytest.raises(TrustError, match="text after the last PEM block") as info:
        verify_legacy_layer(bad, DIGEST, _policy(pki))
    assert info.value.check == "chain"


@pytest.mark.parametrize("edit", [
    lambda pem: pem,
    lambda pem: "subject=CN=leaf\nissuer=CN=clamp-test-intermediate\n" + pem,
    lambda pem: pem.replace("\n", "\r\n"),
    lambda pem: "\n\n  " + pem + "\n\n",
], ids=["as-cosign-writes", "openssl-text-before", "crlf", "surrounding-space"])
def test_a_certificate_annotation_cosign_reads_so_passes(pki: TestSigstore,
                                                         edit: object) -> None:
    """What Go's `pem.Decode` takes: text before the block (openssl's `subject=` lines),
    CRLF line ends, whitespace around."""
    layer = _layer(pki)
    good = _edited(layer, ANN_CERTIFICATE, edit(layer.annotations[ANN_CERTIFICATE]))  # type: ignore[operator]
    chain = layer.annotations[ANN_CHAIN]
    good = _edited(good, ANN_CHAIN, "subject=CN=clamp-test-intermediate\n" + chain)
    result = verify_legacy_layer(good, DIGEST, _policy(pki))
    assert result.ok and result.signer and result.signer.identity == IDENTITY


def test_the_reader_keeps_every_block_in_order(pki: TestSigstore) -> None:
    from clamp.trust.certs import load_pem_certs

    chain = [pki.intermediate_cert, pki.root_cert]
    pem = b"\n".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    got = load_pem_certs(pem, check="chain")
    assert [c.subject for c in got] == [c.subject for c in chain]
    assert isinstance(got[0], x509.Certificate)
