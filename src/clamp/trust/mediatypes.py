"""The one copy of every cosign, sigstore, in-toto and SLSA name clamp reads or writes.

Media types, artifact types, payload types, statement types, predicates and annotation keys are
protocol constants: a verifier and a signer that spelled one differently would disagree in
silence (a signer's push the verifier never finds, or a verifier accepting a type it should not).
So they live here once, below everything that uses them: `clamp.trust` reads them, and
`clamp.signed` (which stores signatures beside images) imports them from here, while `clamp.oci`
knows none of them (it moves bytes, whatever they are).
"""

from __future__ import annotations

# ---- legacy cosign: `.sig` / `.att` manifests --------------------------------------------------

#: The media type of a `.sig` layer: a simple-signing payload, signed over its bytes.
SIMPLESIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
#: The `critical.type` of a simple-signing payload.
SIMPLESIGNING_PAYLOAD_TYPE = "cosign container image signature"
#: The media type of an `.att` layer: a DSSE envelope holding an in-toto statement.
DSSE_MEDIA_TYPE = "application/vnd.dsse.envelope.v1+json"
#: `.sig` / `.att` manifests stored as OCI 1.1 referrers
#: (cosign's `--registry-referrers-mode=oci-1-1`) carry these artifact types.
COSIGN_SIG_ARTIFACT = "application/vnd.dev.cosign.artifact.sig.v1+json"
COSIGN_ATT_ARTIFACT = "application/vnd.dev.cosign.artifact.att.v1+json"
#: Layer annotations of a legacy signature layer.
ANN_SIGNATURE = "dev.cosignproject.cosign/signature"
ANN_CERTIFICATE = "dev.sigstore.cosign/certificate"
ANN_CHAIN = "dev.sigstore.cosign/chain"
ANN_BUNDLE = "dev.sigstore.cosign/bundle"
ANN_TIMESTAMP = "dev.sigstore.cosign/rfc3161timestamp"
#: cosign's bound on the layers of one signature manifest (ociremote, maxLayers).
MAX_SIGNATURE_LAYERS = 1000

# ---- sigstore bundles ---------------------------------------------------------------------------

#: What `cosign sign --new-bundle-format` and clamp write.
BUNDLE_V03_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
#: Every spelling of a sigstore bundle's media type (and so of a bundle referrer's artifactType),
#: with the bundle version it names: v0.3's own, and the `+json;version=0.N` form
#: (attest-build-provenance v1.0.x pushed v0.2 bundles this way).
BUNDLE_MEDIA_TYPES: dict[str, int] = {
    "application/vnd.dev.sigstore.bundle+json;version=0.1": 1,
    "application/vnd.dev.sigstore.bundle+json;version=0.2": 2,
    "application/vnd.dev.sigstore.bundle+json;version=0.3": 3,
    BUNDLE_V03_MEDIA_TYPE: 3,
}
BUNDLE_ARTIFACT_TYPES = frozenset(BUNDLE_MEDIA_TYPES)
#: Annotations cosign writes on a bundle referrer (informative: readers check the statement).
ANN_BUNDLE_CONTENT = "dev.sigstore.bundle.content"
ANN_BUNDLE_PREDICATE_TYPE = "dev.sigstore.bundle.predicateType"

# ---- trusted roots ------------------------------------------------------------------------------

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
#: Every spelling of the trusted-root media type in use (protobuf-specs and the clients).
TRUSTED_ROOT_MEDIA_TYPES = frozenset({
    TRUSTED_ROOT_MEDIA_TYPE, "application/vnd.dev.sigstore.trustedroot.v0.1+json",
    "application/vnd.dev.sigstore.trustedroot.v0.2+json",
    "application/vnd.dev.sigstore.trustedroot+json;version=0.2"})

# ---- in-toto statements and predicates ----------------------------------------------------------

#: The DSSE payloadType of an in-toto statement.
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
STATEMENT_TYPES = (STATEMENT_V1, "https://in-toto.io/Statement/v0.1")
#: The predicate of a new-format cosign *signature* (any other predicate is an attestation).
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
#: SLSA's Verification Summary Attestation, what `clamp verify --vsa` writes.
VSA_PREDICATE = "https://slsa.dev/verification_summary/v1"

__all__ = [
    "ANN_BUNDLE", "ANN_BUNDLE_CONTENT", "ANN_BUNDLE_PREDICATE_TYPE", "ANN_CERTIFICATE",
    "ANN_CHAIN", "ANN_SIGNATURE", "ANN_TIMESTAMP", "BUNDLE_ARTIFACT_TYPES", "BUNDLE_MEDIA_TYPES",
    "BUNDLE_V03_MEDIA_TYPE", "COSIGN_ATT_ARTIFACT", "COSIGN_SIGN_PREDICATE",
    "COSIGN_SIG_ARTIFACT", "DSSE_MEDIA_TYPE", "INTOTO_PAYLOAD_TYPE", "MAX_SIGNATURE_LAYERS",
    "SIMPLESIGNING_MEDIA_TYPE", "SIMPLESIGNING_PAYLOAD_TYPE", "STATEMENT_TYPES", "STATEMENT_V1",
    "TRUSTED_ROOT_MEDIA_TYPE", "TRUSTED_ROOT_MEDIA_TYPES", "VSA_PREDICATE",
]
