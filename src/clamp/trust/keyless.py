"""The keyless (Fulcio certificate) checks shared by legacy signatures and bundles.

Order matters for the error a user sees: first the evidence (chain at every verified signing
time, SCT, certificate profile), then the policy (issuer, SAN, claims) — so "identity mismatch"
is only ever reported for a certificate that is otherwise sound.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from clamp.trust.certs import (
    chain_authority,
    check_profile,
    oidc_issuer,
    san_identities,
    verify_embedded_sct,
)
from clamp.trust.claims import extensions_of
from clamp.trust.errors import InvalidSignatureError
from clamp.trust.keys import PublicKey
from clamp.trust.policy import Policy
from clamp.trust.result import Signer


def verify_certificate(leaf: x509.Certificate, times: Sequence[datetime], policy: Policy
                       ) -> Signer:
    """Check `leaf` against the trusted root at each verified time and against the policy.
    The path is the trusted root's alone: intermediates the signature carried are never part
    of it (`clamp.trust.certs`)."""
    if not times:
        raise InvalidSignatureError("tlog", "keyless verification needs a verified signing time "
                                    "(SET, inclusion proof with integrated time, or TSA)")
    extensions_of(leaf)  # one extension twice: refused before anything is read from it
    root = policy.trusted_root
    path: list[x509.Certificate] = []
    authority = None
    for when in times:
        path, authority = chain_authority(leaf, root, when)
    if authority is None or authority.instance_ctlogs:
        verify_embedded_sct(leaf, path[0], root)
    check_profile(leaf)
    sans = san_identities(leaf)
    issuer = oidc_issuer(leaf)
    matched = policy.match_certificate(leaf, sans, issuer)
    signer = Signer(identity=sans[0] if sans else None, issuer=issuer,
                    certificate_fingerprint=hashlib.sha256(
                        leaf.public_bytes(serialization.Encoding.DER)).hexdigest())
    signer._identities = matched
    signer._certificate_key = PublicKey(leaf.public_key()).fingerprint  # type: ignore[arg-type]
    return signer
