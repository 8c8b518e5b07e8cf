"""cosign's registry credential flags, on every command that talks to registries, in one place.

`--registry-username` with `--registry-password` (Basic credentials, exchanged for a token
where the registry asks for one) or `--registry-token` (a bearer token sent as it is), as on
`cosign verify`. They are added to a command by wrapping it (`with_registry_flags`), so the
commands' own signatures stay as they are; the values wait in a context variable until
`client_options` binds them.

Bound to one registry: the flags are for the registry of the images the command names (the
`--image`, or every entry of the matrix). A run whose images are on more than one registry is
bad input with the flags given, since one registry's secret must never reach another (cosign
sends them wherever it goes; clamp keeps its rule that credentials belong to one host).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from clamp.location import Location
    from clamp.oci.auth import Credentials

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RegistryFlags:
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.username, self.password, self.token))


_FLAGS: ContextVar[RegistryFlags | None] = ContextVar("clamp_registry_flags", default=None)

_OPTIONS: list[tuple[str, Any]] = [
    ("registry_username", typer.Option(
        None, "--registry-username", metavar="USER", show_default=False,
        help="Registry user name (with --registry-password), as cosign's flag.")),
    ("registry_password", typer.Option(
        None, "--registry-password", metavar="PASSWORD", show_default=False,
        help="Registry password or access token for --registry-username.")),
    ("registry_token", typer.Option(
        None, "--registry-token", metavar="TOKEN", show_default=False,
        help="A bearer token sent to the registry as it is (no token exchange).")),
]


def with_registry_flags(command: F) -> F:
    """`command` with the three flags added to what typer sees; they are taken out of the
    call and kept for `flag_credentials` while the command runs."""
    signature = inspect.signature(command, eval_str=True)
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                               annotation=str | None) for name, default in _OPTIONS]
    params = [*signature.parameters.values(), *added]

    @functools.wraps(command)
    def wrapper(*args: Any, registry_username: str | None = None,
                registry_password: str | None = None, registry_token: str | None = None,
                **kwargs: Any) -> Any:
        reset = _FLAGS.set(RegistryFlags(registry_username, registry_password, registry_token))
        try:
            return command(*args, **kwargs)
        finally:
            _FLAGS.reset(reset)

    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    wrapper.__annotations__["return"] = signature.return_annotation
    return wrapper  # type: ignore[return-value]


def flag_credentials(locations: Iterable[Location]) -> dict[str, Credentials]:
    """The flags' credentials, bound to the one registry among `locations` (a layout is a
    folder: it needs none and never gets any); {} without flags."""
    from clamp.errors import BadInputError
    from clamp.location import Registry
    from clamp.oci.auth import Credentials

    flags = _FLAGS.get() or RegistryFlags()
    if not flags.given:
        return {}
    if flags.token is not None and (flags.username is not None or flags.password is not None):
        raise BadInputError("--registry-token is used alone, not with --registry-username/"
                            "--registry-password")
    if flags.token is None and (flags.username is None or flags.password is None):
        raise BadInputError("--registry-username and --registry-password go together")
    hosts = sorted({loc.host for loc in locations if isinstance(loc, Registry)})
    if len(hosts) > 1:
        raise BadInputError(f"--registry-* credentials are for one registry; these images are "
                            f"on {', '.join(h[:80] for h in hosts[:5])}")
    if not hosts:
        return {}
    if flags.token is not None:
        if not flags.token:
            raise BadInputError("--registry-token is empty")
        return {hosts[0]: Credentials("", "", registry_token=flags.token)}
    assert flags.username is not None and flags.password is not None
    return {hosts[0]: Credentials(flags.username, flags.password)}
