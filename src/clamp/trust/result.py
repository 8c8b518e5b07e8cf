"""The one verification result model every caller (CLI, verify pipeline, provenance) records.

`verdict` is the summary; on failure `check` and `reason` say which check failed and why, so a
provenance record or a `--json` consumer never has to parse an error message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from clamp.factories import empty_list

Verdict = Literal["verified", "unsigned", "invalid", "identity_mismatch", "error"]
TimeSource = Literal["set", "inclusion_proof", "tsa", "none"]
SignatureKind = Literal[
    "cosign-simplesigning",  # legacy `.sig` layer
    "cosign-attestation",  # legacy `.att` layer (DSSE envelope)
    "bundle-message-signature",
    "bundle-dsse",
]


class Signer(BaseModel):
    """Who signed: a key fingerprint (key mode) or a certificate identity + issuer (keyless)."""

    model_config = ConfigDict(extra="forbid")

    key_fingerprint: str | None = Field(None, description="sha256 of the DER SPKI, hex")
    identity: str | None = Field(None, description="certificate SAN (URI or email)")
    issuer: str | None = Field(None, description="OIDC issuer from the Fulcio extension")
    certificate_fingerprint: str | None = Field(None, description="sha256 of the leaf DER, hex")
    #: The policy identities the certificate was found to be (`Policy.match_certificate`), kept
    #: for composed policies (`clamp.trust.rules`); never serialised.
    _identities: frozenset[Any] = PrivateAttr(default_factory=frozenset)
    #: A certificate's public key (sha256 of its DER SPKI), kept so a threshold knows one key
    #: as one signer whether it signed under a certificate or alone; never serialised.
    _certificate_key: str | None = PrivateAttr(default=None)

    @property
    def matched_identities(self) -> frozenset[Any]:
        return self._identities

    @property
    def signing_key(self) -> str | None:
        """The fingerprint of the key that made the signature: the policy key's, or the
        certificate's."""
        return self.key_fingerprint or self._certificate_key


class VerificationResult(BaseModel):
    """Outcome of verifying one signature (or the best of several) against one policy."""

    model_config = ConfigDict(extra="forbid")

    verdict: Verdict
    check: str | None = Field(None, description="name of the failed check, when not verified")
    reason: str | None = None
    signer: Signer | None = None
    integrated_time: datetime | None = Field(None, description="verified signing time (UTC)")
    time_source: TimeSource = "none"
    log_index: int | None = None
    log_id: str | None = Field(None, description="transparency log ID, hex")
    signature_kind: SignatureKind | None = None
    media_type: str | None = Field(None, description="layer or bundle media type")
    layer_index: int | None = Field(None, description="which layer/bundle verified (0-based)")
    manifest_digest: str | None = Field(None, description="image manifest digest verified")
    artifact_digest: str | None = Field(None, description="sha256:<hex> of a verified blob")
    predicate_types: list[str] = Field(default_factory=empty_list)

    @property
    def ok(self) -> bool:
        return self.verdict == "verified"


def failure(exc: Exception, **extra: object) -> VerificationResult:
    """Turn a typed verification error into a result (for callers that record, not raise)."""
    from clamp.trust.errors import TrustError

    if isinstance(exc, TrustError):
        return VerificationResult.model_validate(
            {"verdict": exc.verdict, "check": exc.check, "reason": exc.reason, **extra})
    return VerificationResult.model_validate(
        {"verdict": "error", "check": "internal", "reason": str(exc), **extra})
