"""Typed errors that carry their own exit code and a one-line message.

Every failure a user can cause or meet (bad file, hostile registry, bad signature) is raised as a
`ClampError`; the CLI prints `str(err)` on one line and exits with `err.exit_code`. Anything else
escaping to the top is a bug, and is reported as such rather than as the user's fault.
"""

from __future__ import annotations

from clamp.exitcodes import ExitCode


class ClampError(Exception):
    """Base of all expected failures."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.message = " ".join(message.split())  # always one line
        self.where = where
        super().__init__(f"{where}: {self.message}" if where else self.message)


class BadInputError(ClampError):
    """The user's input (file, flag, reference, digest) is malformed or inconsistent."""

    exit_code = ExitCode.BAD_INPUT


class RegistryError(ClampError):
    """The registry or network failed, answered with an error, or sent bytes we cannot trust."""

    exit_code = ExitCode.REGISTRY_ERROR


class NotFoundError(RegistryError):
    """The registry answered 404 for a manifest, tag or blob."""


class DigestMismatchError(RegistryError):
    """Bytes received do not hash to the digest they were asked for or announced with."""


class AuthError(RegistryError):
    """Credentials were refused or a token could not be obtained."""


class ConflictError(ClampError):
    """A file changed under us between read and write."""

    exit_code = ExitCode.CONFLICT


class DispatchError(ClampError):
    """GitHub's API refused or failed a workflow dispatch."""

    exit_code = ExitCode.DISPATCH_ERROR
