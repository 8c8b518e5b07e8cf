"""One exchange with a registry (or the realm and storage it names) under clamp's rules.

What every request the registry client makes goes through, whatever it asks for: the scheme rule
(HTTPS, or HTTP to loopback and --insecure-registry hosts only), the call's network-time budget
and each attempt's deadline, redirects followed by clamp (nothing that authenticates goes on to
another origin), and the body read through clamp.oci.body's bounded decoder. The answer comes back
as raw bytes beside its status and headers; parsing is the caller's.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from clamp.oci.pool import RegistryPool

from clamp.errors import RegistryError
from clamp.oci.auth import Origin, origin_of, redact
from clamp.oci.body import BodyError, BoundedDecoder
from clamp.oci.retry import RetryableError
from clamp.strictjson import StrictJSONError, go_text, loads_lenient, loads_strict

MAX_SMALL_BYTES = 1024 * 1024  # token answers, error bodies, tag pages
MAX_REDIRECTS = 5
MAX_REDIRECT_BODY = 64 * 1024
MAX_PASSED_URLS = 4096  # URLs remembered as having passed check_scheme, per pool


class Budget:
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


BUDGET: ContextVar[Budget | None] = ContextVar("clamp_registry_budget", default=None)


@dataclass
class Response:
    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL


async def send(pool: RegistryPool, method: str, url: str, headers: dict[str, str],
               content: bytes | None, max_bytes: int, where: str,
               secrets: Callable[[], list[str]]) -> Response:
    """One attempt: a slot among the requests in flight, the attempt's deadline (cut to what the
    call's budget has left), the exchange; a dropped connection or a deadline passed is worth
    retrying. `secrets()` names what a connection error's text must not repeat."""
    options = pool.options
    budget = BUDGET.get()
    try:
        async with pool.semaphore:
            allowed = options.attempt_deadline if budget is None else \
                min(options.attempt_deadline, budget.remaining)
            if allowed <= 0:
                raise RegistryError(budget.spent_message(), where=where) if budget else \
                    RegistryError("no time left for the request", where=where)
            started = time.monotonic()
            try:
                async with asyncio.timeout(allowed):
                    response, body = await exchange(pool, method, url, headers, content,
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
        reason = redact(str(exc), secrets(), 300)
        raise RetryableError(f"connection failed ({type(exc).__name__}: {reason})") from None
    return Response(response.status_code, response.headers, body, response.url)


async def exchange(pool: RegistryPool, method: str, url: str, headers: dict[str, str],
                   content: bytes | None, max_bytes: int,
                   where: str) -> tuple[httpx.Response, bytes]:
    """One request, its redirects followed under clamp's rule, and its body read."""
    http = pool.http()
    request = http.build_request(method, url, headers=headers, content=content)
    first = origin_of(url)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = await http.send(request, stream=True)
        except (httpx.InvalidURL, UnicodeError) as exc:
            # httpx builds the next hop of a redirect from its Location while sending: a
            # Location no URL parser takes (`mailto:x`, an `xn--` label IDNA refuses) raises
            # here, not as a transport error. Our own URLs passed check_scheme already.
            raise RegistryError(f"redirect to no usable URL ({type(exc).__name__}: "
                                f"{str(exc)[:100]})", where=where) from None
        if response.next_request is None:
            break
        await discard(response)
        request = redirected(response.next_request, first, where)
    else:
        raise RegistryError(f"more than {MAX_REDIRECTS} redirects", where=where)
    try:
        body = await read_bounded(response, max_bytes, where)
    finally:
        await response.aclose()
    return response, body


async def read_bounded(response: httpx.Response, max_bytes: int, where: str) -> bytes:
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
    # One buffer, not a list of the pieces: a body sent as one-byte chunks arrives as millions
    # of pieces, and a list of them held ~130 bytes per byte (session 12: 540 MiB for one
    # 4 MiB manifest, times the requests in flight).
    body = bytearray()
    try:
        async for raw in response.aiter_raw():
            body += decoder.feed(raw)
            if decoder.exceeded:
                if error_page:
                    break  # keep what the message needs
                raise RegistryError(f"response exceeds the {max_bytes}-byte bound", where=where)
        decoder.finish()
    except BodyError as exc:
        if error_page:
            return bytes(body)
        raise RegistryError(str(exc), where=where) from None
    return bytes(body)


async def discard(response: httpx.Response) -> None:
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


def redirected(request: httpx.Request, first: Origin, where: str) -> httpx.Request:
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


def check_scheme(url: str, pool: RegistryPool, where: str, what: str = "registry URL") -> None:
    """HTTPS, or plain HTTP to a loopback or --insecure-registry host; anything else is
    refused before it is sent. Every URL a server names (a realm, a redirect, an upload
    Location, a next page) passes here, so one that no connection could use (a bracketed host
    that is no IPv6 address, a port past 65535, a label IDNA refuses) is a registry error, not
    a crash further down. A URL that passed once on this pool passes again without the parse
    (each request's URL is checked here and again by the pool's hook on what httpx sends)."""
    if url in pool.passed_urls:
        return
    try:
        parts = urlsplit(url)
        port = parts.port
        # What httpx will make of it: IPv6 literals, and IDNA labels, decoded only when the
        # host is read (as building the request does: an `xn--` label IDNA refuses raised there).
        httpx.URL(url).host  # noqa: B018
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
    if parts.scheme == "https" or (parts.scheme == "http" and pool.scheme_for(host) == "http"):
        if len(pool.passed_urls) >= MAX_PASSED_URLS:
            pool.passed_urls.clear()
        pool.passed_urls.add(url)
        return
    raise RegistryError(f"refusing plain-HTTP {what} {parts.scheme}://{host}: only loopback "
                        "and --insecure-registry hosts may use HTTP", where=where)


def json_object(body: bytes, where: str) -> dict[str, Any]:
    """A token answer or a page of tags, through the strict reader (as Go reads it: no key
    spelt two ways, lone surrogates as U+FFFD) like every other document from the registry."""
    try:
        value = loads_strict(body, limit=max(len(body), 1))
    except StrictJSONError:
        raise RegistryError("answer is not valid JSON", where=where) from None
    if not isinstance(value, dict):
        raise RegistryError("answer is not a JSON object", where=where)
    return value


def error_detail(body: bytes, secrets: list[str]) -> str:
    """The registry's own first error (`code message`), with `secrets` masked before it is cut:
    a hostile registry may echo the Authorization header it was sent."""
    try:
        # As Go reads them: a lone surrogate escape is U+FFFD, not a str no writer can write.
        errors = loads_lenient(body).get("errors") or []
        first = errors[0]
        code = redact(go_text(str(first.get("code", ""))), secrets, 40)
        message = redact(go_text(str(first.get("message", ""))), secrets, 120)
        return f": {code} {message}".rstrip()
    except (ValueError, AttributeError, IndexError, TypeError, UnicodeDecodeError,
            RecursionError):
        return ""


MAX_LINK_BYTES = 8 * 1024  # a Link value; real ones (a next page) are ~100 characters
# Linear on any input: a URI reference holds no `<` or `>` (RFC 3986), so an unclosed `<` ends
# at the next one instead of rescanning the rest of the header from every `<`; the parameters
# are split on `;` and each matched once from its start (a scan for `\s*;` from every position
# of a run of spaces was quadratic: 64 KiB of them cost seconds of CPU on the event loop).
_LINK = re.compile(r'<([^<>]*)>((?:\s*;\s*[^;,]+)*)')
_LINK_PARAM = re.compile(r'\s*([A-Za-z0-9_.*-]+)\s*=\s*(?:"([^"]*)"|([^\s;,"]+))')


def next_link(header: str | None) -> str | None:
    """The target of the RFC 8288 link whose `rel` includes `next` (quoted or not, among other
    links or relation types), or None."""
    if not header:
        return None
    for match in _LINK.finditer(header):
        for segment in match.group(2).split(";")[1:]:
            param = _LINK_PARAM.match(segment)
            if param is None or param.group(1).lower() != "rel":
                continue
            rels = (param.group(2) if param.group(2) is not None else param.group(3)).split()
            if "next" in (r.lower() for r in rels):
                return match.group(1).strip()
    return None


def next_page(resp: Response, where: str) -> str | None:
    """The absolute URL of the `Link: <…>; rel="next"` page, resolved against the answer's
    URL; only on the registry's own origin, since the request carries its credentials. A Link
    value past `MAX_LINK_BYTES` is refused, as an oversized `WWW-Authenticate` is: no page
    needs one, and every page of a listing would be parsed with it."""
    header = resp.headers.get("link")
    if header is not None and len(header) > MAX_LINK_BYTES:
        raise RegistryError(f"Link header longer than {MAX_LINK_BYTES} bytes", where=where)
    target = next_link(header)
    if target is None:
        return None
    try:
        url = resp.url.join(target)
        origin = (url.scheme, url.host, url.port)  # the host read decodes IDNA labels
    except (httpx.InvalidURL, ValueError):  # UnicodeError (IDNA) is a ValueError
        raise RegistryError("next page link is not a usable URL", where=where) from None
    if origin != (resp.url.scheme, resp.url.host, resp.url.port):
        raise RegistryError(f"next page is on another host ({url.host})", where=where)
    return str(url)
