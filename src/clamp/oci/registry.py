"""The distribution API client: manifests, blobs, tags, referrers, uploads; auth and retries.

One `RegistryClient` per registry host, all sharing the connections of one `RegistryPool`
(clamp.oci.pool). Every response body is read through a size bound; every request attempt runs
under a deadline; every digest is computed from the bytes that arrived.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import httpx

if TYPE_CHECKING:
    from clamp.oci.pool import RegistryPool

from clamp.digest import Digest, digest_of, is_digest, parse_digest, verify_bytes
from clamp.errors import AuthError, DigestMismatchError, NotFoundError, RegistryError
from clamp.oci.auth import (
    Challenge,
    Credentials,
    Origin,
    TokenKey,
    origin_of,
    parse_challenge,
    redact,
)
from clamp.oci.body import BodyError, BoundedDecoder
from clamp.oci.manifest import (
    MANIFEST_ACCEPT,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    Descriptor,
    Manifest,
    encode_json,
)
from clamp.oci.reference import DOCKER_HUB, DOCKER_HUB_API, is_loopback_host
from clamp.oci.retry import (
    RETRYABLE_STATUS,
    RetryableError,
    parse_retry_after,
    retrying,
)

MAX_BLOB_BYTES = 16 * 1024 * 1024  # signatures, bundles and configs; never image layers
MAX_SMALL_BYTES = 1024 * 1024  # token answers, error bodies, tag pages
MAX_TAG_PAGES = 100
MAX_REFERRER_PAGES = 10  # of up to 4 MiB each: far more signatures than any image carries
MAX_REDIRECTS = 5
MAX_CHALLENGE_BYTES = 8 * 1024  # a WWW-Authenticate value; real ones are ~200 characters
MAX_TOKEN_CHARS = 16 * 1024  # a bearer token; GHCR's and Docker Hub's JWTs are ~1-2 KB
MAX_TOKEN_LIFETIME = 24 * 3600.0  # an `expires_in` of years (or inf) is cached for a day
_TOKEN_CHARS = re.compile(rf"[\x21-\x7e]{{1,{MAX_TOKEN_CHARS}}}")


class _Budget:
    """The network time one registry call may still spend: every attempt, redirect and token
    request it makes draws on it (time waiting for a free slot does not). The attempt deadline
    alone bounds one exchange; this bounds their sum, so a server that answers each attempt
    slowly (or a token service that does) cannot stretch one call over many minutes."""

    def __init__(self, seconds: float) -> None:
        self.total = seconds
        self.remaining = seconds

    def spent_message(self) -> str:
        return (f"no answer within the request's {self.total:g} s of network time "
                "(attempts, redirects and token requests together)")


_BUDGET: ContextVar[_Budget | None] = ContextVar("clamp_registry_budget", default=None)


@dataclass
class _Response:
    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL


class RegistryClient:
    """The /v2/ API of one registry host."""

    def __init__(self, registry: str, pool: RegistryPool, credentials: Credentials | None) -> None:
        self.registry = registry
        self.host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
        self.pool = pool
        self.credentials = credentials
        self.base = f"{pool.scheme_for(self.host)}://{self.host}"
        self.origin: Origin = origin_of(self.base)
        self._challenge: Challenge | None = None
        self._token_locks: dict[TokenKey, asyncio.Lock] = {}
        #: Scopes asked anonymously since the credentials were refused for them (a GITHUB_TOKEN
        #: without packages:read, for a public image that needs none).
        self._anonymous: set[str] = set()
        self._referrers_api: bool | None = None  # learnt on first use; saves a round trip
        self._referrers_probe = asyncio.Lock()  # one probe per host, not one per image

    def __repr__(self) -> str:
        return f"RegistryClient({self.registry!r})"

    # ---- high-level calls -------------------------------------------------------------------

    async def get_manifest(self, repo: str, ref: str,
                           accept: Iterable[str] = MANIFEST_ACCEPT) -> Manifest:
        """GET a manifest by tag or digest; the digest is always that of the bytes received."""
        sep = "@" if is_digest(ref) else ":"
        where = f"{self.registry}/{repo}{sep}{ref}"
        resp = await self._call("GET", repo, f"/manifests/{ref}", where=where,
                                headers={"Accept": ", ".join(accept)},
                                max_bytes=MAX_MANIFEST_BYTES)
        algorithm = ref.split(":", 1)[0] if is_digest(ref) else "sha256"
        manifest = Manifest.parse(resp.body, content_type=resp.headers.get("content-type"),
                                  where=where, algorithm=algorithm)
        if is_digest(ref):
            verify_bytes(resp.body, ref, what=where)
        announced = resp.headers.get("docker-content-digest")
        if announced and is_digest(announced) and (
                digest_of(resp.body, announced.split(":", 1)[0]) != parse_digest(announced)):
            raise DigestMismatchError(
                f"registry announced {announced} but the bytes hash to {manifest.digest}",
                where=where)
        return manifest

    async def head_manifest(self, repo: str, ref: str) -> Descriptor | None:
        """HEAD a manifest: its announced digest, NOT verified (re-check with a GET before use)."""
        where = f"{self.registry}/{repo}:{ref}"
        try:
            resp = await self._call("HEAD", repo, f"/manifests/{ref}", where=where,
                                    headers={"Accept": ", ".join(MANIFEST_ACCEPT)}, max_bytes=0)
        except NotFoundError:
            return None
        announced = resp.headers.get("docker-content-digest", "")
        if not is_digest(announced):
            return None  # registry did not say; caller falls back to GET
        size = int(resp.headers.get("content-length") or 0)
        media_type = resp.headers.get("content-type", "").split(";")[0].strip()
        return Descriptor(media_type=media_type, digest=parse_digest(announced), size=size)

    async def get_blob(self, repo: str, digest: Digest | str, *,
                       max_bytes: int = MAX_BLOB_BYTES) -> bytes:
        want = parse_digest(digest) if isinstance(digest, str) else digest
        where = f"{self.registry}/{repo}@{want} (blob)"
        resp = await self._call("GET", repo, f"/blobs/{want}", where=where, max_bytes=max_bytes)
        verify_bytes(resp.body, want, what=where)
        return resp.body

    async def list_tags(self, repo: str) -> list[str]:
        where = f"{self.registry}/{repo} (tags)"
        tags: list[str] = []
        path: str | None = "/tags/list?n=1000"
        for _ in range(MAX_TAG_PAGES):
            if path is None:
                return tags
            resp = await self._call("GET", repo, path, where=where, max_bytes=MAX_SMALL_BYTES * 4)
            body = _json_object(resp.body, where)
            page = body.get("tags") or []
            if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                raise RegistryError("tag list is not a list of strings", where=where)
            tags.extend(page)
            path = self._next_page(resp, where)
        raise RegistryError(f"more than {MAX_TAG_PAGES} pages of tags", where=where)

    def _next_page(self, resp: _Response, where: str) -> str | None:
        """The absolute URL of the `Link: <…>; rel="next"` page, resolved against the answer's
        URL; only on the registry's own origin, since the request carries its credentials."""
        target = next_link(resp.headers.get("link"))
        if target is None:
            return None
        try:
            url = resp.url.join(target)
        except (httpx.InvalidURL, ValueError):
            raise RegistryError("next page link is not a usable URL", where=where) from None
        if (url.scheme, url.host, url.port) != (resp.url.scheme, resp.url.host, resp.url.port):
            raise RegistryError(f"next page is on another host ({url.host})", where=where)
        return str(url)

    async def referrers(self, repo: str, digest: Digest,
                        artifact_type: str | None = None) -> list[Descriptor]:
        """Referrers of `digest`: the OCI 1.1 API, else the `sha256-<hex>` tag-schema fallback."""
        where = f"{self.registry}/{repo}@{digest} (referrers)"
        query = f"?artifactType={artifact_type}" if artifact_type else ""
        index: Manifest | None = None
        if self._referrers_api is None:
            async with self._referrers_probe:  # the others wait for the first answer
                if self._referrers_api is None:
                    index = await self._referrers_api_call(repo, f"{digest}{query}", where)
        if index is None and self._referrers_api:
            index = await self._referrers_api_call(repo, f"{digest}{query}", where)
        if index is None:
            try:
                index = await self.get_manifest(repo, digest.referrers_tag, accept=(OCI_INDEX,))
            except NotFoundError:
                return []
            # Some registries (GitLab) resolve `sha256-<hex>` to the manifest `sha256:<hex>`
            # itself: a multi-arch index is then no list of its own referrers.
            if not index.is_index or index.digest == digest:
                return []
        found = index.manifests
        if artifact_type:
            found = [d for d in found if d.artifact_type == artifact_type]
        return found

    async def _referrers_api_call(self, repo: str, target: str, where: str) -> Manifest | None:
        """GET /referrers/<digest>; learns whether the registry has the API. The spec's answer
        for "no API" is 404; registries in the field also answer 400 or 406, or 200 with
        something that is not an OCI index (go-containerregistry falls back on the same set).
        Anything else is an error, not a reason to look elsewhere."""
        try:
            resp = await self._call("GET", repo, f"/referrers/{target}", where=where,
                                    headers={"Accept": OCI_INDEX}, max_bytes=MAX_MANIFEST_BYTES,
                                    expect=(200, 400, 406))
        except NotFoundError:
            self._referrers_api = False
            return None
        ctype = resp.headers.get("content-type", "").split(";")[0].strip()
        if resp.status != 200 or ctype != OCI_INDEX:
            self._referrers_api = False
            return None
        self._referrers_api = True
        index = Manifest.parse(resp.body, content_type=None, where=where)
        # A registry that cannot list every referrer in one answer links the next page.
        entries = list(index.body.get("manifests") or [])
        page: _Response = resp
        for _ in range(MAX_REFERRER_PAGES - 1):
            url = self._next_page(page, where)
            if url is None:
                break
            page = await self._call("GET", repo, url, where=where, headers={"Accept": OCI_INDEX},
                                    max_bytes=MAX_MANIFEST_BYTES)
            entries += _json_object(page.body, where).get("manifests") or []
        else:
            if self._next_page(page, where) is not None:
                raise RegistryError(f"more than {MAX_REFERRER_PAGES} pages of referrers",
                                    where=where)
        if page is resp:
            return index
        merged = {**index.body, "manifests": entries}
        return Manifest.parse(encode_json(merged), content_type=None, where=where)

    async def blob_exists(self, repo: str, digest: Digest) -> bool:
        try:
            await self._call("HEAD", repo, f"/blobs/{digest}", where=f"{repo}@{digest}",
                             max_bytes=0, actions="pull,push")
        except NotFoundError:
            return False
        return True

    async def put_blob(self, repo: str, data: bytes) -> Digest:
        digest = digest_of(data)
        if await self.blob_exists(repo, digest):
            return digest
        where = f"{self.registry}/{repo} (upload)"
        resp = await self._call("POST", repo, "/blobs/uploads/", where=where,
                                max_bytes=MAX_SMALL_BYTES, expect=(202,), actions="pull,push")
        location = resp.headers.get("location")
        if not location:
            raise RegistryError("upload started without a Location", where=where)
        try:
            url = urljoin(str(resp.url), location)
        except ValueError:
            raise RegistryError("upload Location is not a usable URL", where=where) from None
        sep = "&" if "?" in url else "?"
        await self._call("PUT", repo, f"{url}{sep}digest={digest}", where=where, content=data,
                         headers={"Content-Type": "application/octet-stream"},
                         max_bytes=MAX_SMALL_BYTES, expect=(201,), actions="pull,push")
        return digest

    async def put_manifest(self, repo: str, ref: str, raw: bytes, media_type: str) -> Digest:
        where = f"{self.registry}/{repo}:{ref} (push)"
        resp = await self._call("PUT", repo, f"/manifests/{ref}", where=where, content=raw,
                                headers={"Content-Type": media_type}, max_bytes=MAX_SMALL_BYTES,
                                expect=(201,), actions="pull,push")
        digest = digest_of(raw)
        announced = resp.headers.get("docker-content-digest")
        if announced and announced != str(digest):
            raise DigestMismatchError(f"registry stored {announced}, we sent {digest}", where=where)
        return digest

    # ---- transport --------------------------------------------------------------------------

    async def _call(self, method: str, repo: str, path: str, *, where: str, max_bytes: int,
                    headers: dict[str, str] | None = None, content: bytes | None = None,
                    expect: tuple[int, ...] = (200,), actions: str = "pull") -> _Response:
        url = path if path.startswith(("http://", "https://")) else f"{self.base}/v2/{repo}{path}"
        check_scheme(url, self.pool, where)
        if origin_of(url) != self.origin:
            # An upload Location or a page link on another host: the request would carry this
            # registry's credentials there.
            raise RegistryError(f"refusing to send a request for {self.registry} to another "
                                f"host ({urlsplit(url).netloc.rsplit('@', 1)[-1][:100]})",
                                where=where)
        reset = _BUDGET.set(_Budget(self.pool.options.request_budget))
        try:
            async for attempt in retrying(self.pool.options.retry):
                with attempt:
                    return await self._attempt(method, url, repo, where=where, headers=headers,
                                               content=content, max_bytes=max_bytes,
                                               expect=expect, actions=actions)
        except RetryableError as exc:
            raise RegistryError(f"{exc} (gave up after retries)", where=where) from None
        finally:
            _BUDGET.reset(reset)
        raise RegistryError("no attempt was made", where=where)  # pragma: no cover

    async def _attempt(self, method: str, url: str, repo: str, *, where: str,
                       headers: dict[str, str] | None, content: bytes | None, max_bytes: int,
                       expect: tuple[int, ...], actions: str) -> _Response:
        scope = f"repository:{repo}:{actions}"
        refreshed = False
        # A fresh challenge, once a fresh token for a refused one, once anonymously.
        for _ in range(4):
            auth = await self._auth_header(scope, where)
            send_headers = dict(headers or {})
            if auth:
                send_headers["Authorization"] = auth
            resp = await self._send(method, url, send_headers, content, max_bytes, where)
            if resp.status == 401:
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
                if auth and _same_challenge(self._challenge, challenge):
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
            return self._check_status(resp, expect, where)
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

    def _secrets(self) -> list[str]:
        """What an error message from this registry must never repeat: its credentials in
        every form it was sent, and the tokens bound to it."""
        held = self.credentials.secrets() if self.credentials else []
        return held + self.pool.tokens.held_for(self.origin)

    def _check_status(self, resp: _Response, expect: tuple[int, ...], where: str) -> _Response:
        if resp.status in expect:
            return resp
        detail = _error_detail(resp.body, self._secrets())
        if resp.status in RETRYABLE_STATUS:
            # The registry's own words matter here: Docker Hub's 429 says it is the pull
            # rate limit and how to lift it.
            raise RetryableError(f"registry answered {resp.status}{detail}",
                                 parse_retry_after(resp.headers.get("retry-after")))
        if resp.status == 404:
            raise NotFoundError(f"not found (404){detail}", where=where)
        if resp.status == 403:
            raise AuthError(f"access denied (403){detail}", where=where)
        raise RegistryError(f"unexpected status {resp.status}{detail}", where=where)

    async def _send(self, method: str, url: str, headers: dict[str, str], content: bytes | None,
                    max_bytes: int, where: str) -> _Response:
        options = self.pool.options
        budget = _BUDGET.get()
        try:
            async with self.pool.semaphore:
                allowed = options.attempt_deadline if budget is None else \
                    min(options.attempt_deadline, budget.remaining)
                if allowed <= 0:
                    raise RegistryError(budget.spent_message(), where=where) if budget else \
                        RegistryError("no time left for the request", where=where)
                started = time.monotonic()
                try:
                    async with asyncio.timeout(allowed):
                        response, body = await self._exchange(method, url, headers, content,
                                                              max_bytes, where)
                except TimeoutError:
                    if budget is not None and allowed < options.attempt_deadline:
                        raise RegistryError(budget.spent_message(), where=where) from None
                    raise
                finally:
                    if budget is not None:
                        budget.remaining -= time.monotonic() - started
        except TimeoutError:
            raise RetryableError(f"no complete answer within {options.attempt_deadline:g} s") \
                from None
        except httpx.TransportError as exc:
            reason = redact(str(exc), self._secrets(), 300)
            raise RetryableError(f"connection failed ({type(exc).__name__}: {reason})") from None
        return _Response(response.status_code, response.headers, body, response.url)

    async def _exchange(self, method: str, url: str, headers: dict[str, str],
                        content: bytes | None, max_bytes: int,
                        where: str) -> tuple[httpx.Response, bytes]:
        """One request, its redirects followed under clamp's rule, and its body read."""
        http = self.pool.http()
        request = http.build_request(method, url, headers=headers, content=content)
        first = origin_of(url)
        for _ in range(MAX_REDIRECTS + 1):
            response = await http.send(request, stream=True)
            if response.next_request is None:
                break
            await _discard(response)
            request = _redirected(response.next_request, first, where)
        else:
            raise RegistryError(f"more than {MAX_REDIRECTS} redirects", where=where)
        try:
            body = await _read_bounded(response, max_bytes, where)
        finally:
            await response.aclose()
        return response, body

    async def _auth_header(self, scope: str, where: str) -> str | None:
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
                    return await self._auth_header(scope, where)
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
                        resp = await self._send(
                            "POST", str(httpx.URL(realm)), {
                                "Content-Type": "application/x-www-form-urlencoded"},
                            str(form).encode(), MAX_SMALL_BYTES, where)
                        if resp.status == 404:
                            refresh = None
                    if not refresh:
                        resp = await self._send("GET", url, headers, None, MAX_SMALL_BYTES, where)
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
        body = _json_object(resp.body, f"{where} (token)")
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError("token service answered without a token", where=where)
        if not _TOKEN_CHARS.fullmatch(token):
            # It goes into a header line: CR/LF or spaces would be an injection, not a token.
            raise AuthError("token service answered a token that is no header value "
                            f"(visible ASCII, at most {MAX_TOKEN_CHARS} characters)", where=where)
        expires = body.get("expires_in")
        seconds = float(expires) if isinstance(expires, int | float) and expires > 0 else 60.0
        return token, min(seconds, MAX_TOKEN_LIFETIME)


class _CredentialsRefused(AuthError):
    """The token service refused the credentials (401/403): maybe worth asking anonymously."""


async def _read_bounded(response: httpx.Response, max_bytes: int, where: str) -> bytes:
    """The body, decoded by clamp.oci.body's bounded decoder (never httpx's: it inflates
    without a limit). A success answer past `max_bytes` is an error; an error page is cut at
    1 MiB (enough for its message) and one that cannot be decoded reads as empty."""
    error_page = response.status_code >= 300
    limit = MAX_SMALL_BYTES if error_page else max_bytes
    try:
        decoder = BoundedDecoder(response.headers.get("content-encoding"), limit)
    except BodyError as exc:
        if error_page:
            return b""
        raise RegistryError(str(exc), where=where) from None
    declared = response.headers.get("content-length")
    is_head = response.request.method == "HEAD"
    if (declared and declared.isdigit() and int(declared) > decoder.raw_limit and not is_head
            and not error_page):
        raise RegistryError(f"response of {declared} bytes exceeds the {max_bytes}-byte bound",
                            where=where)
    chunks: list[bytes] = []
    try:
        async for raw in response.aiter_raw():
            chunks.append(decoder.feed(raw))
            if decoder.exceeded:
                if error_page:
                    break  # keep what the message needs
                raise RegistryError(f"response exceeds the {max_bytes}-byte bound", where=where)
        decoder.finish()
    except BodyError as exc:
        if error_page:
            return b"".join(chunks)
        raise RegistryError(str(exc), where=where) from None
    return b"".join(chunks)


MAX_REDIRECT_BODY = 64 * 1024


async def _discard(response: httpx.Response) -> None:
    """Skip a redirect's body, still encoded (it is never decoded or kept): a short one is read
    out so the connection can serve the next request (GHCR and Docker Hub redirect every blob);
    past 64 KiB the connection is dropped instead."""
    seen = 0
    try:
        async for raw in response.aiter_raw():
            seen += len(raw)
            if seen > MAX_REDIRECT_BODY:
                break
    finally:
        await response.aclose()


def _redirected(request: httpx.Request, first: Origin, where: str) -> httpx.Request:
    """The next hop of a redirect, under clamp's rule rather than httpx's: nothing that
    authenticates (Authorization) and no request body goes on to another origin, not even the
    same host on another scheme or port. httpx would keep Authorization on an http->https hop
    and re-send a 307's body (a refresh token) anywhere."""
    if origin_of(str(request.url)) != first:
        request.headers.pop("authorization", None)
        if request.method not in ("GET", "HEAD"):
            raise RegistryError(f"refusing to re-send a {request.method} request to another host "
                                f"({request.url.host}) on a redirect", where=where)
    return request


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


def check_scheme(url: str, pool: RegistryPool, where: str, what: str = "registry URL") -> None:
    """HTTPS, or plain HTTP to a loopback or --insecure-registry host; anything else is
    refused before it is sent. Every URL a server names (a realm, a redirect, an upload
    Location, a next page) passes here, so one that no connection could use (a bracketed host
    that is no IPv6 address, a port past 65535, a label IDNA refuses) is a registry error, not
    a crash further down."""
    try:
        parts = urlsplit(url)
        port = parts.port
        httpx.URL(url)  # what httpx will make of it: IDNA labels, IPv6 literals
    except (ValueError, httpx.InvalidURL):  # UnicodeError (IDNA) is a ValueError
        raise RegistryError(f"{what} is not a usable http(s) URL", where=where) from None
    host = parts.netloc.rsplit("@", 1)[-1]
    name = parts.hostname or ""
    if not name or port == 0 or len(name) > 253 or any(
            len(label) > 63 for label in name.split(".")):  # DNS refuses these, and so idna
        raise RegistryError(f"{what} is not a usable http(s) URL ({host[:100]})", where=where)
    if "@" in parts.netloc:
        # httpx would turn user:password@ into Basic credentials of the server's choosing.
        raise RegistryError(f"refusing a {what} with user information ({host[:100]})",
                            where=where)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and pool.scheme_for(host) == "http":
        return
    raise RegistryError(f"refusing plain-HTTP {what} {parts.scheme}://{host}: only loopback "
                        "and --insecure-registry hosts may use HTTP", where=where)


def _same_challenge(old: Challenge | None, new: Challenge) -> bool:
    """The challenge answered already: the same scheme and parameters, whatever `error` it now
    gives (`invalid_token` on a refused token)."""
    if old is None:
        return False

    def core(c: Challenge) -> tuple[str, dict[str, str]]:
        return c.scheme, {k: v for k, v in c.params.items()
                          if k not in ("error", "error_description", "error_uri")}
    return core(old) == core(new)


def _json_object(body: bytes, where: str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise RegistryError("answer is not valid JSON", where=where) from None
    if not isinstance(value, dict):
        raise RegistryError("answer is not a JSON object", where=where)
    return value


def _error_detail(body: bytes, secrets: list[str]) -> str:
    """The registry's own first error (`code message`), with `secrets` masked before it is cut:
    a hostile registry may echo the Authorization header it was sent."""
    import json

    try:
        errors = json.loads(body).get("errors") or []
        first = errors[0]
        code = redact(str(first.get("code", "")), secrets, 40)
        message = redact(str(first.get("message", "")), secrets, 120)
        return f": {code} {message}".rstrip()
    except (ValueError, AttributeError, IndexError, TypeError, UnicodeDecodeError,
            RecursionError):
        return ""


_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*[^;,]+)*)')
_LINK_PARAM = re.compile(r'\s*;\s*([A-Za-z0-9_.*-]+)\s*=\s*(?:"([^"]*)"|([^\s;,"]+))')


def next_link(header: str | None) -> str | None:
    """The target of the RFC 8288 link whose `rel` includes `next` (quoted or not, among other
    links or relation types), or None."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        for param in _LINK_PARAM.finditer(match.group(2)):
            if param.group(1).lower() != "rel":
                continue
            rels = (param.group(2) if param.group(2) is not None else param.group(3)).split()
            if "next" in (r.lower() for r in rels):
                return match.group(1).strip()
    return None
