"""clamp.trust: in-process, offline, cosign-compatible signature verification.

Entry points for callers (the image glue, `clamp verify-blob`, the verify pipeline):

- `keys.load_public_key(pem) -> PublicKey` (`.verify(sig, data)`, `.fingerprint`);
  `keyfile.encrypt_private_key / decrypt_private_key / generate_key_pair` (cosign.key format).
- `root.load_trusted_root(path=None) -> TrustedRoot` (None = shipped public-good root).
- `policy.Policy(keys=…, identities=(Identity(…),), require_tlog=…, trusted_root_path=…)`.
- `cosign_legacy.verify_legacy_layers([LegacyLayer(payload, annotations, media_type)], digest,
  policy, predicate_types=()) -> VerificationResult` (one `.sig`/`.att` manifest's layers).
- `bundle.verify_bundle(bundle_bytes, Artifact.from_bytes(b) | Artifact.from_digest(d), policy,
  subject_digest=None, predicate_types=()) -> VerificationResult`.
- `sign.sign_image_legacy / sign_image_bundle / sign_image` (what `cosign sign --key` makes).
- `pki.TestSigstore`, `pki.keyless_sign_image` (a private sigstore for tests and the demo).

Failures raise `errors.TrustError` subclasses carrying `check` and an exit code;
`result.failure(exc)` turns one into a `VerificationResult` for recording.
"""
