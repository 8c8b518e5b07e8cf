"""Registry credentials and the auth challenge flow (Basic and the Docker Bearer token flow).

Credentials come from, in order: explicit ones, `GITHUB_TOKEN` for ghcr.io, and the `auths` of
`$DOCKER_CONFIG/config.json` (credential helpers are not run: clamp never executes programs named
in a config file). Secrets live only in objects whose repr hides them, so a log line or a
traceback can never print one.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from clamp.errors import BadInputError
from clamp.oci.reference import DOCKER_HUB

_DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io",
                    "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    #: A docker config `identitytoken`: an OAuth2 refresh token (Azure ACR's `az acr login`,
    #: `docker login` to registries that issue them), exchanged at the token realm.
    identity_token: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        token = ", identity_token=***" if self.identity_token else ""
        return f"Credentials(username={self.username!r}, password=***{token})"

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic"
    params: dict[str, str]


_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')


def parse_challenge(header: str) -> Challenge | None:
    """Parse one `WWW-Authenticate` value such as `Bearer realm="…",service="…"`."""
    scheme, _, rest = header.strip().partition(" ")
    if not scheme:
        return None
    params: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        match = _PARAM_RE.match(rest, pos)
        if not match or match.end() == pos:
            break
        quoted = match.group(2)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3)
        params[match.group(1).lower()] = value
        pos = match.end()
    return Challenge(scheme.lower(), params)


def credentials_for(registry: str, env: dict[str, str] | None = None) -> Credentials | None:
    """Find credentials for `registry` (a host[:port]) without running any helper program."""
    environ = os.environ if env is None else env
    if registry == "ghcr.io" and environ.get("GITHUB_TOKEN"):
        return Credentials(environ.get("GITHUB_ACTOR") or "clamp", environ["GITHUB_TOKEN"])
    config_dir = environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    config_path = Path(config_dir) / "config.json"
    if not config_path.is_file():
        return None
    try:
        if config_path.stat().st_size > 1024 * 1024:
            raise BadInputError("docker config larger than 1 MiB", where=str(config_path))
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BadInputError(f"unreadable docker config ({exc.__class__.__name__})",
                            where=str(config_path)) from None
    auths = config.get("auths") if isinstance(config, dict) else None
    if not isinstance(auths, dict):
        return None
    keys = _DOCKER_HUB_KEYS if registry == DOCKER_HUB else (registry,)
    for key, entry in auths.items():
        host = re.sub(r"^https?://", "", str(key)).split("/")[0]
        if key not in keys and host not in keys:
            continue
        if not isinstance(entry, dict):
            continue
        return _entry_credentials(entry, where=f"{config_path} auths[{key}]")
    return None


def _entry_credentials(entry: dict[str, object], *, where: str) -> Credentials | None:
    token = entry.get("identitytoken")
    identity = token if isinstance(token, str) and token else None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, sep, password = base64.b64decode(auth, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise BadInputError("auth is not base64 of user:password", where=where) from None
        if not sep:
            raise BadInputError("auth is not base64 of user:password", where=where)
        return Credentials(user, password, identity)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str):
        return Credentials(name, secret, identity)
    if identity:
        return Credentials("", "", identity)
    return None


@dataclass
class TokenCache:
    """Bearer tokens by (realm, service, scope), dropped a little before they expire."""

    _tokens: dict[tuple[str, str, str], tuple[str, float]] = field(default_factory=dict)

    def get(self, key: tuple[str, str, str]) -> str | None:
        item = self._tokens.get(key)
        if item is None:
            return None
        token, expires = item
        if time.monotonic() >= expires:
            del self._tokens[key]
            return None
        return token

    def drop(self, key: tuple[str, str, str], token: str) -> None:
        """Forget `token` (the registry refused it before it expired), unless another task
        already replaced it with a fresh one."""
        item = self._tokens.get(key)
        if item is not None and item[0] == token:
            del self._tokens[key]

    def put(self, key: tuple[str, str, str], token: str, expires_in: float) -> None:
        # Docker's spec: a missing expires_in means 60 s; keep a margin for clock skew.
        self._tokens[key] = (token, time.monotonic() + max(expires_in - 10, 1))

    def __repr__(self) -> str:
        return f"TokenCache({len(self._tokens)} tokens)"
