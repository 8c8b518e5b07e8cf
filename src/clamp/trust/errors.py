"""Typed verification failures, each naming the check that failed.

A verification error is a `ClampError`, so the CLI prints it on one line and exits with the code
the face gives its `kind`: nothing to verify (`unsigned`), a signature or its evidence is wrong
(`invalid_signature`), a good signature from someone the policy does not trust
(`identity_mismatch`), or unreadable input (`bad_input`). `check` is a short stable name ("set",
"sct", "chain", "san"...) that callers record in the result model and tests assert on.
"""

from __future__ import annotations

from typing import ClassVar

from clamp.errors import ClampError, ErrorKind


class TrustError(ClampError):
    """Base of every verification failure; `check` names the failed check."""

    kind: ClassVar[ErrorKind] = "invalid_signature"
    verdict = "invalid"

    def __init__(self, check: str, reason: str, *, where: str | None = None) -> None:
        self.check = check
        self.reason = " ".join(reason.split())
        super().__init__(f"check {check} failed: {self.reason}", where=where)


class InvalidSignatureError(TrustError):
    """A signature, digest, log proof, timestamp or certificate does not verify."""


class MalformedError(InvalidSignatureError):
    """Signature material that is not the format it claims (a bundle with a list where an object
    belongs, bad base64, an unknown media type). Found beside an image it is an invalid
    signature like any other; handed over by the user (`verify-blob --bundle`) it is bad input."""

    kind = "bad_input"


class IdentityMismatchError(TrustError):
    """The evidence is sound but the signer is not one the policy trusts."""

    kind = "identity_mismatch"
    verdict = "identity_mismatch"


class UnsignedError(TrustError):
    """There is nothing to verify: no signature layer, no bundle."""

    kind = "unsigned"
    verdict = "unsigned"


class TrustInputError(TrustError):
    """Input we cannot even parse as the format it claims (key file, trust root, bundle JSON)."""

    kind = "bad_input"
    verdict = "error"
