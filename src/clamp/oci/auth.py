"""Registry credentials, challenges, and the tokens they buy (Basic and the Docker Bearer flow).

Where credentials are found is clamp.oci.credentials; where they may be sent, the registry
client's rule (clamp.oci.auth_flow). Secrets live only in objects whose repr hides them, so a log
line or a traceback can never print one, and `redact` masks them in any text built from a
server's words.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from clamp.errors import ClampError


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)
    #: A docker config `identitytoken`: an OAuth2 refresh token (Azure ACR's `az acr login`,
    #: `docker login` to registries that issue them), exchanged at the token realm.
    identity_token: str | None = field(default=None, repr=False)
    #: cosign's `--registry-token`: a bearer token sent to the registry as it is, no exchange.
    registry_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # cosign's --registry-token goes into a header line as it is: a character outside
        # visible ASCII (an `ä`, a byte that is no UTF-8) crashed the request (exit 70, session
        # 13), and CR/LF or a space would be a header injection rather than a token. The
        # same rule as for the tokens a token service hands out (clamp.oci.auth_flow).
        if self.registry_token is not None and not _HEADER_TOKEN.fullmatch(self.registry_token):
            from clamp.errors import BadInputError

            raise BadInputError("--registry-token is no bearer token: visible ASCII, at most "
                                f"{MAX_HEADER_TOKEN} characters")

    def __repr__(self) -> str:
        token = ", identity_token=***" if self.identity_token else ""
        token += ", registry_token=***" if self.registry_token else ""
        return f"Credentials(username={self.username!r}, password=***{token})"

    def basic_header(self) -> str:
        """`Basic base64(user:password)` of the bytes given. A name or password read from the
        command line or the environment that is no UTF-8 holds surrogate escapes, the bytes
        as given: they go as those bytes, as docker and cosign (Go) send them, where encoding
        them strictly crashed the run (exit 70, session 13)."""
        raw = f"{self.username}:{self.password}".encode("utf-8", "surrogateescape")
        return "Basic " + base64.b64encode(raw).decode()

    def secrets(self) -> list[str]:
        """Every form of these credentials a server could echo into an error message."""
        found = [self.password, self.basic_header().removeprefix("Basic ")]
        return found + [t for t in (self.identity_token, self.registry_token) if t]


MAX_HEADER_TOKEN = 16 * 1024
_HEADER_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{MAX_HEADER_TOKEN}}}")


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic"
    params: dict[str, str]


_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?')
#: An auth-scheme (RFC 9110 token) where a challenge starts, after the comma of the one before.
_SCHEME_RE = re.compile(r"[\s,]*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?=[\s,]|$)")
#: A token68 (`Negotiate YII…=`) in place of parameters: skipped, it is no parameter.
_TOKEN68_RE = re.compile(r"\s+[A-Za-z0-9._~+/-]+=*\s*(?=,|$)")
MAX_CHALLENGES = 16


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge of a `WWW-Authenticate` value, in order: one header per scheme arrives
    joined as `Negotiate, Bearer realm="…"`, and a quoted parameter may hold commas."""
    found: list[Challenge] = []
    pos = 0
    while pos < len(header) and len(found) < MAX_CHALLENGES:
        scheme = _SCHEME_RE.match(header, pos)
        if scheme is None:
            break
        pos = scheme.end()
        token68 = _TOKEN68_RE.match(header, pos)
        if token68 is not None:
            pos = token68.end()
        params: dict[str, str] = {}
        while token68 is None and pos < len(header):
            match = _PARAM_RE.match(header, pos)
            if not match or match.end() == pos:
                break
            quoted = match.group(2)
            value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match.group(3)
            params[match.group(1).lower()] = value
            pos = match.end()
        found.append(Challenge(scheme.group(1).lower(), params))
    return found


def parse_challenge(header: str) -> Challenge | None:
    """The challenge clamp answers among those of a `WWW-Authenticate` value such as
    `Bearer realm="…",service="…"`: Bearer before Basic, whatever their order, as docker's
    authorizer tries its token handler first; else the first one (an unsupported scheme,
    for the error to name)."""
    found = parse_challenges(header)
    for scheme in ("bearer", "basic"):
        for challenge in found:
            if challenge.scheme == scheme:
                return challenge
    return found[0] if found else None


#: (scheme, host, port) of a URL: what a credential or token is bound to.
Origin = tuple[str, str, int]
#: The registry origin that challenged, the realm, service and scope it named, and whether the
#: token was asked anonymously (credentials refused for that scope).
TokenKey = tuple[Origin, str, str, str, bool]


def origin_of(url: str) -> Origin:
    """The origin of `url`, host lower-cased and the port made explicit (`https://h` is port
    443), so two spellings of one server compare equal and two ports of one host do not."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = (parts.hostname or "").lower()
    except ValueError:
        return "", "", -1  # no server listens there; it equals no real origin
    scheme = parts.scheme.lower()
    return scheme, host, port if port is not None else {"https": 443, "http": 80}.get(scheme, -1)


@dataclass
class TokenStore:
    """Bearer tokens by the registry origin that challenged for them and the realm, service and
    scope its challenge named; dropped a little before they expire.

    The origin is part of the key because the challenge is the registry's word: a hostile
    registry that names another registry's token service (realm, service) and an image name
    that registry serves must get a token of its own asking, never one that the other
    registry's credentials bought. A token is only ever sent to the origin in its key.
    """

    _tokens: dict[TokenKey, tuple[str, float]] = field(default_factory=dict)

    def get(self, key: TokenKey) -> str | None:
        item = self._tokens.get(key)
        if item is None:
            return None
        token, expires = item
        if time.monotonic() >= expires:
            del self._tokens[key]
            return None
        return token

    def drop(self, key: TokenKey, token: str) -> None:
        """Forget `token` (the registry refused it before it expired), unless another task
        already replaced it with a fresh one."""
        item = self._tokens.get(key)
        if item is not None and item[0] == token:
            del self._tokens[key]

    def put(self, key: TokenKey, token: str, expires_in: float) -> None:
        # Docker's spec: a missing expires_in means 60 s; keep a margin for clock skew.
        self._tokens[key] = (token, time.monotonic() + max(expires_in - 10, 1))

    def held_for(self, origin: Origin) -> list[str]:
        """The tokens bound to `origin`: the secrets its error messages must not echo."""
        return [token for key, (token, _) in self._tokens.items() if key[0] == origin]

    def __repr__(self) -> str:
        return f"TokenStore({len(self._tokens)} tokens)"


MASK = "***"
_MIN_SECRET = 3  # shorter strings are masked nowhere: they would garble every message


def redact(text: str, secrets: list[str], limit: int | None = None) -> str:
    """`text` with every secret replaced by `***`, then cut to `limit` characters: masking
    first, so a cut never leaves a secret's prefix standing where the whole would be masked.
    Longest first, so a secret that contains another is masked whole; in any case, since a
    server may echo one into a host name, which URL parsers lower-case."""
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SECRET}, key=len, reverse=True):
        text = re.sub(re.escape(secret), MASK, text, flags=re.IGNORECASE)
    return text if limit is None else text[:limit]


def masked(exc: ClampError, secrets: list[str]) -> ClampError:
    """`exc` with `secrets` masked in its message and its `where` (a redirect's host may be
    the one named): every error a registry call raises passes here, whatever built its text
    from the server's words (a Location, a host, an error body)."""
    message = redact(exc.message, secrets)
    where = redact(exc.where, secrets) if exc.where else exc.where
    if (message, where) == (exc.message, exc.where):
        return exc
    return type(exc)(message, where=where)
