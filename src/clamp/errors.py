"""Typed errors that carry their kind and a one-line message.

Every failure a user can cause or meet (bad file, hostile registry, bad signature) is raised as a
`ClampError`; the CLI prints `str(err)` on one line and exits with the code the face gives its
`kind` (`clamp.exitcodes.for_error`). A lower room says what went wrong, never which number the
process exits with: that table belongs to the face alone. Anything else escaping to the top is a
bug, and is reported as such rather than as the user's fault.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal

#: What kind of failure an error is: the face maps each to one exit code. The trust kinds
#: (`invalid_signature`, `unsigned`, `identity_mismatch`) are raised by `clamp.trust.errors`;
#: `missing_extra` by the face itself (an optional dependency is not installed).
ErrorKind = Literal["failed", "bad_input", "registry", "conflict", "dispatch",
                    "invalid_signature", "unsigned", "identity_mismatch", "missing_extra"]

#: `user:password@` (after an optional `scheme://`) where a registry host or reference begins;
#: not `name:tag@sha256:…`, which is a reference's tag and digest. The user part stops at the
#: first `:` (one reading of each character: Python's `re` backtracks, and a user part that
#: could hold `:` took quadratic time on `a:a:a:…`).
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^\s/@:]*:[^\s/@]*@(?!sha256:|sha512:)")


def without_userinfo(text: str) -> str:
    """`text` (a registry host or image reference someone typed) with any URL user information
    masked, for an error line that repeats it: `https://bob:pw@ghcr.io/x` is refused as a
    reference, and its message must not carry the password into a CI log."""
    return _USERINFO.sub(lambda m: f"{m.group(1) or ''}***@", text, count=1)


class ClampError(Exception):
    """Base of all expected failures."""

    kind: ClassVar[ErrorKind] = "failed"

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = " ".join(message.split())  # always one line
        self.where = where
        super().__init__(f"{where}: {self.message}" if where else self.message)


class BadInputError(ClampError):
    """The user's input (file, flag, reference, digest) is malformed or inconsistent."""

    kind = "bad_input"


class RegistryError(ClampError):
    """The registry or network failed, answered with an error, or sent bytes we cannot trust."""

    kind = "registry"


class NotFoundError(RegistryError):
    """The registry answered 404 for a manifest, tag or blob."""


class DigestMismatchError(RegistryError):
    """Bytes received do not hash to the digest they were asked for or announced with."""


class AuthError(RegistryError):
    """Credentials were refused or a token could not be obtained."""


class ConflictError(ClampError):
    """A file changed under us between read and write."""

    kind = "conflict"


class DispatchError(ClampError):
    """GitHub's API refused or failed a workflow dispatch."""

    kind = "dispatch"
