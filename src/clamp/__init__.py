"""clamp: keep CI container images pinned, signed and accounted for.

The public API is the names in `__all__`; every other module is internal and may change.

    import clamp

    policy = clamp.Policy(rule=clamp.AllOf((
        clamp.Identity(subject="https://github.com/org/repo/.github/workflows/release.yml"
                               "@refs/heads/main",
                       issuer="https://token.actions.githubusercontent.com",
                       claims=(("github_workflow_repository", "org/repo"),)),
        clamp.Key.from_pem(open("cosign.pub", "rb").read()),
    )))
    outcome = clamp.verify_image("ghcr.io/org/image:tag", policy)
    if not outcome.ok:
        print(outcome.result.verdict, outcome.result.check, outcome.result.reason)

    run = clamp.verify_matrix("ci/rocm_matrix.yml")

- Policies: `Identity` (issuer + SAN, exact or RE2 pattern, plus Fulcio build claims), `Key`,
  `AnyOf`, `AllOf` (a threshold, each member by its own signature), held by a `Policy` with
  the trusted root and the transparency-log rule.
- Verification: `verify_image` / `verify_matrix` (and `*_async` for a running event loop).
- Results: `ImageVerification` (one image), `VerificationResult` and `Signer` (one
  signature), `MatrixRun` (a matrix run: outcomes, decisions, provenance document, the run's
  `outcome` and the `exit_code` the CLI would exit with).
- Errors: `ClampError` (bad input, registry failure: `kind` says which; `exit_code_of(err)`
  is the code the CLI would exit with), `TrustError` (a verification failure raised by the lower
  layers), `PolicyUnmetError` (sound signatures whose signers do not satisfy a composed policy;
  `path` names the part that failed).

Importing `clamp` loads nothing but this file: each name is imported on first use, so the
CLI and `import clamp` stay cheap.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: Public name -> the internal module that defines it.
_WHERE = {
    "verify_image": "clamp.api", "verify_image_async": "clamp.api",
    "verify_matrix": "clamp.api", "verify_matrix_async": "clamp.api",
    "Policy": "clamp.trust.policy", "Identity": "clamp.trust.policy",
    "Key": "clamp.trust.policy", "AnyOf": "clamp.trust.policy", "AllOf": "clamp.trust.policy",
    "VerificationResult": "clamp.trust.result", "Signer": "clamp.trust.result",
    "ImageVerification": "clamp.signed.image", "MatrixRun": "clamp.verify.run",
    "ClampError": "clamp.errors", "TrustError": "clamp.trust.errors",
    "PolicyUnmetError": "clamp.trust.rules", "exit_code_of": "clamp.exitcodes",
}

__all__ = ["AllOf", "AnyOf", "ClampError", "Identity", "ImageVerification", "Key", "MatrixRun",
           "Policy", "PolicyUnmetError", "Signer", "TrustError", "VerificationResult",
           "__version__", "exit_code_of", "verify_image", "verify_image_async", "verify_matrix",
           "verify_matrix_async"]

TYPE_CHECKING = False  # not `typing`'s: importing typing would cost `import clamp` ~10 ms
if TYPE_CHECKING:
    from clamp.api import verify_image, verify_image_async, verify_matrix, verify_matrix_async
    from clamp.errors import ClampError
    from clamp.exitcodes import exit_code_of
    from clamp.signed.image import ImageVerification
    from clamp.trust.errors import TrustError
    from clamp.trust.policy import AllOf, AnyOf, Identity, Key, Policy
    from clamp.trust.result import Signer, VerificationResult
    from clamp.trust.rules import PolicyUnmetError
    from clamp.verify.run import MatrixRun


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:  # also how `from clamp import atomic` falls through to the submodule
        raise AttributeError(f"module 'clamp' has no attribute {name!r}")
    from importlib import import_module


    value = getattr(import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
