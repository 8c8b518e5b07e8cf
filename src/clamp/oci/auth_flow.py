"""The authentication flow of one registry host: challenges, tokens, basic credentials and the
anonymous retry, under clamp's rules for where a credential may go.

A 401 answer's `WWW-Authenticate` challenge is parsed (clamp.oci.auth), a token asked for from
the realm it names (the credentials go there only if `may_send_credentials` allows), cached per
(origin, realm, service, scope) in the pool's TokenStore, and the request sent again; a cached
token refused early is fetched afresh once; credentials refused for a pull are dropped and the
scope asked anonymously once (a public image needs none). Tokens are bound to the registry's
origin: a redirect target that asks for authentication gets nothing of this registry's.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from clamp.oci.pool import RegistryPool

from clamp.errors import AuthError
from clamp.oci.auth import (
    Challenge,
    Credentials,
    Origin,
    TokenKey,
    origin_of,
    parse_challenge,
)
from clamp.oci.exchange import MAX_SMALL_BYTES, Response, check_scheme, json_object, send
from clamp.oci.reference import is_loopback_host
from clamp.oci.retry import RETRYABLE_STATUS, RetryableError, parse_retry_after, retrying
from clamp.strictjson import case_fold

MAX_CHALLENGE_BYTES = 8 * 1024  # a WWW-Authenticate value; real ones are ~200 characters
MAX_TOKEN_CHARS = 16 * 1024  # a bearer token; GHCR's and Docker Hub's JWTs are ~1-2 KB
MAX_TOKEN_LIFETIME = 24 * 3600.0  # an `expires_in` of years (or inf) is cached for a day
_TOKEN_CHARS = re.compile(rf"[\x21-\x7e]{{1,{MAX_TOKEN_CHARS}}}")


class RegistryAuth:
    """What one registry host asked for and was given: its last challenge, the scopes asked
    anonymously, one lock per token being fetched (the others wait for it)."""

    def __init__(self, registry: str, base: str, pool: RegistryPool,
                 credentials: Credentials | None) -> None:
        self.registry = registry
        self.base = base
        self.origin: Origin = origin_of(base)
        self.pool = pool
        self.credentials = credentials
        self._challenge: Challenge | None = None
        self._token_locks: dict[TokenKey, asyncio.Lock] = {}
        #: Scopes asked anonymously since the credentials were refused for them (a GITHUB_TOKEN
        #: without packages:read, for a public image that needs none).
        self._anonymous: set[str] = set()

    async def exchange(self, method: str, url: str, scope: str, *, where: str,
                       headers: dict[str, str] | None, content: bytes | None,
                       max_bytes: int, elsewhere: bool = False) -> Response:
        """One attempt of a request, authenticated as the registry asks: the answer that is not
        an authentication step (its status is the caller's to judge). With `elsewhere`, an
        answer from another origin (a redirect's target) comes back as it is, a 401 too: the
        caller decides what it means (it is never answered with anything of this registry's)."""
        refreshed = False
        # A fresh challenge, once a fresh token for a refused one, once anonymously.
        for _ in range(4):
            auth = await self.header(scope, where)
            send_headers = dict(headers or {})
            if auth:
                send_headers["Authorization"] = auth
            resp = await send(self.pool, method, url, send_headers, content, max_bytes,
                              where, self.secrets)
            if resp.status == 401:
                if elsewhere and origin_of(str(resp.url)) != self.origin:
                    return resp
                if origin_of(str(resp.url)) != self.origin:
                    # A redirect target (blob storage, a CDN) that asks for credentials: its
                    # challenge is not this registry's, and its realm gets nothing of ours.
                    raise AuthError(f"{resp.url.host} (redirected to) asks for authentication; "
                                    f"{self.registry}'s credentials are not sent to another host",
                                    where=where)
                header = resp.headers.get("www-authenticate", "")
                if len(header) > MAX_CHALLENGE_BYTES:
                    raise AuthError(f"authentication challenge longer than "
                                    f"{MAX_CHALLENGE_BYTES} bytes", where=where)
                challenge = parse_challenge(header)
                if challenge is None or challenge.scheme not in ("bearer", "basic"):
                    raise AuthError("registry requires authentication it does not describe",
                                    where=where)
                if auth and same_challenge(self._challenge, challenge):
                    fetched = not (self.credentials and self.credentials.registry_token) or \
                        scope in self._anonymous
                    if auth.startswith("Bearer ") and fetched and not refreshed:
                        # A cached token revoked or expired early: ask for a new one, once.
                        refreshed = True
                        self.pool.tokens.drop(self._token_key(challenge, scope),
                                              auth.removeprefix("Bearer "))
                        continue
                    if self._try_anonymously(scope, challenge):
                        continue
                    raise AuthError(self._refusal(401, scope), where=where)
                self._challenge = challenge
                continue
            if resp.status == 403 and auth and self._try_anonymously(scope, self._challenge):
                continue
            return resp
        raise AuthError("authentication failed (401 after a fresh token)", where=where)

    def _token_key(self, challenge: Challenge, scope: str) -> TokenKey:
        return (self.origin, challenge.params.get("realm", ""),
                challenge.params.get("service", ""), scope, scope in self._anonymous)

    def _refusal(self, status: int, scope: str) -> str:
        if self.credentials is None:
            return f"authentication required ({status}); no credentials found"
        if scope in self._anonymous:
            return f"credentials refused, then anonymous access too ({status})"
        return f"credentials refused ({status})"

    def _try_anonymously(self, scope: str, challenge: Challenge | None) -> bool:
        """Whether to ask once more without credentials: they were refused (401/403) for a pull
        under the Bearer flow. A public image needs none, and a token lacking the right (GHCR's
        GITHUB_TOKEN without packages:read) must not make it unreadable, as it does not for
        docker. Anonymous asking sends less, never more, and only once per scope."""
        if (self.credentials is None or scope in self._anonymous or challenge is None
                or challenge.scheme != "bearer" or not scope.endswith(":pull")):
            return False
        self._anonymous.add(scope)
        return True

    def secrets(self) -> list[str]:
        """What an error message from this registry must never repeat: its credentials in
        every form it was sent, and the tokens bound to it."""
        held = self.credentials.secrets() if self.credentials else []
        return held + self.pool.tokens.held_for(self.origin)

    async def header(self, scope: str, where: str) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":  # sent to the registry's own origin only (_call)
            if self.credentials is None:
                raise AuthError("registry requires basic auth; no credentials found", where=where)
            return self.credentials.basic_header()
        creds = None if scope in self._anonymous else self.credentials
        if creds is not None and creds.registry_token:
            return f"Bearer {creds.registry_token}"  # cosign's --registry-token: no exchange
        key = self._token_key(challenge, scope)
        _, realm, service, _, _ = key
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:
            token = self.pool.tokens.get(key)
            if token is None:
                try:
                    token, expires_in = await self._fetch_token(realm, service, scope, where,
                                                                creds)
                except _CredentialsRefused as exc:
                    if not self._try_anonymously(scope, challenge):
                        raise AuthError(exc.message, where=where) from None
                    return await self.header(scope, where)
                self.pool.tokens.put(key, token, expires_in)
        return f"Bearer {token}"

    async def _fetch_token(self, realm: str, service: str, scope: str, where: str,
                           creds: Credentials | None) -> tuple[str, float]:
        if not realm:
            raise AuthError("bearer challenge without a realm", where=where)
        check_scheme(realm, self.pool, where, what="token realm")
        params = {"scope": scope}
        if service:
            params["service"] = service
        if creds is not None and not may_send_credentials(self.base, realm):
            raise AuthError(f"refusing to send {self.registry}'s credentials to the token realm "
                            f"{_origin_text(realm)}: {_REALM_RULE}", where=where)
        headers = {"Authorization": creds.basic_header()} if creds else {}
        url = str(httpx.URL(realm).copy_merge_params(params))  # keep the realm's own query
        refresh = creds.identity_token if creds else None
        try:
            async for attempt in retrying(self.pool.options.retry):
                with attempt:
                    if refresh:
                        # The OAuth2 flow of the token spec: the refresh token for an access
                        # token; a realm without it (404) gets the plain GET, as
                        # go-containerregistry falls back.
                        form = httpx.QueryParams({"grant_type": "refresh_token",
                                                  "refresh_token": refresh, "client_id": "clamp",
                                                  **params})
                        resp = await send(
                            self.pool, "POST", str(httpx.URL(realm)), {
                                "Content-Type": "application/x-www-form-urlencoded"},
                            str(form).encode(), MAX_SMALL_BYTES, where, self.secrets)
                        if resp.status == 404:
                            refresh = None
                    if not refresh:
                        resp = await send(self.pool, "GET", url, headers, None, MAX_SMALL_BYTES,
                                          where, self.secrets)
                    if resp.status in RETRYABLE_STATUS:
                        raise RetryableError(f"token service answered {resp.status}",
                                             parse_retry_after(resp.headers.get("retry-after")))
        except RetryableError as exc:
            raise AuthError(f"{exc} (gave up after retries)", where=where) from None
        if resp.status in (401, 403):
            if creds is not None:
                raise _CredentialsRefused(f"token service refused the credentials "
                                          f"({resp.status})", where=where)
            after = "the credentials, then " if scope in self._anonymous else ""
            raise AuthError(f"token service refused {after}anonymous access ({resp.status})",
                            where=where)
        if resp.status != 200:
            raise AuthError(f"token service answered {resp.status}", where=where)
        # As docker and go-containerregistry read the answer: keys matched as Go matches struct
        # fields (`Token` is `token`; the strict reader refused two spellings of one), and
        # `access_token`, when set, is the token (the spec leaves a disagreement undefined;
        # an OAuth2 server's `token` may be something else).
        body = {case_fold(k): v for k, v in json_object(resp.body, f"{where} (token)").items()}
        token = body.get("access_token") or body.get("token")
        if not isinstance(token, str) or not token:
            raise AuthError("token service answered without a token", where=where)
        if not _TOKEN_CHARS.fullmatch(token):
            # It goes into a header line: CR/LF or spaces would be an injection, not a token.
            raise AuthError("token service answered a token that is no header value "
                            f"(visible ASCII, at most {MAX_TOKEN_CHARS} characters)", where=where)
        return token, token_lifetime(body.get("expires_in"))


def token_lifetime(expires_in: object) -> float:
    """Seconds to cache a token for: the answer's `expires_in` when it is a positive number,
    else the spec's 60 s, and at most a day. Compared as a number before any conversion: an
    integer of hundreds of digits (JSON has no bound; Python reads it exactly) is past a day
    already, and converting it to a float raised OverflowError out of the token request, a
    crash of the whole run (session 12). A boolean is no number here (Go refuses it too)."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or \
            not expires_in > 0:  # `not >` refuses NaN as well
        return 60.0
    if expires_in >= MAX_TOKEN_LIFETIME:
        return MAX_TOKEN_LIFETIME
    return float(expires_in)


class _CredentialsRefused(AuthError):
    """The token service refused the credentials (401/403): maybe worth asking anonymously."""



_REALM_RULE = ("a registry's credentials go to a token realm on its own host, or from an "
               "HTTPS registry to an HTTPS realm; never over plain HTTP to another host")


def may_send_credentials(registry_base: str, realm: str) -> bool:
    """Whether the credentials for the registry at `registry_base` may go to the token realm its
    challenge named. Docker and containerd send them to any realm; clamp keeps that for an HTTPS
    registry naming an HTTPS realm (TLS vouches for the challenge and for the realm, as it does
    for ghcr.io -> ghcr.io/token and registry-1.docker.io -> auth.docker.io), and otherwise only
    to the registry's own host name (loopback counts as one host): a plain-HTTP challenge can be
    rewritten on the way, and an HTTPS registry's password must not travel in the clear."""
    reg, to = origin_of(registry_base), origin_of(realm)
    if reg[0] == "https":
        return to[0] == "https"
    return reg[1] == to[1] or (is_loopback_host(reg[1]) and is_loopback_host(to[1]))


def _origin_text(url: str) -> str:
    scheme, host, port = origin_of(url)
    return f"{scheme}://{host}:{port}"[:120]



def same_challenge(old: Challenge | None, new: Challenge) -> bool:
    """The challenge answered already: the same scheme and parameters, whatever `error` it now
    gives (`invalid_token` on a refused token)."""
    if old is None:
        return False

    def core(c: Challenge) -> tuple[str, dict[str, str]]:
        return c.scheme, {k: v for k, v in c.params.items()
                          if k not in ("error", "error_description", "error_uri")}
    return core(old) == core(new)

