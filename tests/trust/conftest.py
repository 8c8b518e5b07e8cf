"""Test PKI fixtures: a private sigstore (clamp.trust.pki) and signing keys."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.trust.keys import PublicKey
from clamp.trust.pki import TestSigstore
from clamp.trust.policy import Identity, Policy

IDENTITY = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1"
ISSUER = "https://token.actions.githubusercontent.com"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
REFERENCE = "registry.test/rocm/dev"


@pytest.fixture(scope="session")
def pki() -> TestSigstore:
    return TestSigstore()


@pytest.fixture(scope="session")
def signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture()
def key_policy(signing_key: ec.EllipticCurvePrivateKey, pki: TestSigstore) -> Policy:
    # These signatures carry no log entry (as `clamp sign` writes them): the policy opts out.
    return Policy.with_root(pki.trusted_root(), keys=(PublicKey(signing_key.public_key()),),
                            require_tlog=False)


@pytest.fixture()
def keyless_policy(pki: TestSigstore) -> Policy:
    return Policy.with_root(pki.trusted_root(),
                            identities=(Identity(subject=IDENTITY, issuer=ISSUER),))
