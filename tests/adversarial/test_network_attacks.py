"""Network attacks on the registry client and the workflow dispatch, each with its honest twin.

The attacker is a loopback server that writes exactly what it wants (tests/support/hostile_http),
alone or beside Debian's real token registry. Credential cases assert on what the attacker's host
received; resource cases on the error and on the memory the client allocated while refusing.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gzip
import hashlib
import json
import tracemalloc
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import jwt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.errors import AuthError, BadInputError, DispatchError, NotFoundError, RegistryError
from clamp.exitcodes import for_error
from clamp.oci.auth import Credentials, redact
from clamp.oci.manifest import OCI_MANIFEST
from clamp.oci.pool import ClientOptions, RegistryPool
from clamp.oci.registry import RegistryClient, may_send_credentials
from clamp.oci.retry import RetryPolicy
from clamp.verify.dispatch import DispatchRequest, dispatch
from tests.support.hostile_http import (
    Close,
    Pause,
    Reply,
    Request,
    chunk,
    gzip_layers,
    head,
    hostile_http,
    response,
    zeros_gzip,
)
from tests.support.private_ca import Pki, make_pki
from tests.support.pushing import RegistryPusher, push_image
from tests.support.registry import RegistryHandle

T = TypeVar("T")
MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + "0" * 64, "size": 2},
                       "layers": []}).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
BLOB = b'{"critical": {}}' * 100
BLOB_DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
SIG_TAG = "sha256-" + "a" * 64 + ".sig"
FAST = ClientOptions(retry=RetryPolicy(attempts=2, max_wait=0.01, total=5, initial=0.01),
                     attempt_deadline=10)
BOMB_BYTES = 256 * 1024 * 1024  # what the bombs decode to: 64x the manifest bound
MEMORY_CEILING = 48 * 1024 * 1024  # what refusing one may allocate, at most


def run(client_call: Callable[[RegistryClient], Awaitable[T]], host: str,
        options: ClientOptions = FAST) -> T:
    async def go() -> T:
        async with RegistryPool(options) as pool:
            return await client_call(pool.client(host))
    return asyncio.run(go())


def peak_memory(call: Callable[[], object]) -> tuple[int, BaseException | None]:
    """The most memory Python allocated while `call` ran, and what it raised."""
    tracemalloc.start()
    raised: BaseException | None = None
    try:
        call()
    except Exception as exc:
        raised = exc
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak, raised


@functools.cache
def bomb() -> bytes:
    """BOMB_BYTES of zeros, gzipped once (~260 KB)."""
    return zeros_gzip(BOMB_BYTES)


@pytest.fixture(params=["h11", "httpcore"])
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every resource case runs on both HTTP transports."""
    monkeypatch.setenv("CLAMP_HTTP_TRANSPORT", request.param)
    return str(request.param)


def get_manifest(ref: str = "tag") -> Callable[[RegistryClient], Awaitable[Any]]:
    return lambda client: client.get_manifest("r/x", ref)


def serving(body: bytes, headers: dict[str, str] | None = None,
            status: int = 200) -> Callable[[Request], Reply]:
    def script(req: Request) -> Reply:
        yield response(status, b"" if req.method == "HEAD" else body,
                       {"Content-Type": OCI_MANIFEST, **(headers or {})})
    return script


# -- 8. Content-Encoding: one bounded decoder ---------------------------------------------------
@pytest.mark.parametrize("ref", ["tag", SIG_TAG])
def test_stacked_gzip_bomb_is_refused_before_it_is_inflated(transport: str, ref: str) -> None:
    body = gzip_layers(bomb(), 1)  # gzip, gzip: ~1 KB on the wire, 256 MiB decoded
    with hostile_http(serving(body, {"Content-Encoding": "gzip, gzip"})) as srv:
        peak, raised = peak_memory(lambda: run(get_manifest(ref), srv.host))
    assert isinstance(raised, RegistryError) and "stacked content codings" in str(raised)
    assert peak < MEMORY_CEILING
    assert srv.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate"])
def test_one_coding_of_a_normal_manifest_is_decoded(transport: str, coding: str) -> None:
    body = zlib.compress(MANIFEST) if coding == "deflate" else gzip.compress(MANIFEST)
    with hostile_http(serving(body, {"Content-Encoding": coding,
                                     "Docker-Content-Digest": MANIFEST_DIGEST})) as srv:
        manifest = run(get_manifest(MANIFEST_DIGEST), srv.host)
    assert manifest.raw == MANIFEST and str(manifest.digest) == MANIFEST_DIGEST


def test_raw_deflate_is_decoded_too() -> None:
    z = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = z.compress(MANIFEST) + z.flush()
    with hostile_http(serving(body, {"Content-Encoding": "deflate"})) as srv:
        assert run(get_manifest(), srv.host).raw == MANIFEST


def test_single_gzip_bomb_stops_at_the_bound(transport: str) -> None:
    with hostile_http(serving(bomb(), {"Content-Encoding": "gzip"})) as srv:
        peak, raised = peak_memory(lambda: run(get_manifest(), srv.host))
    assert isinstance(raised, RegistryError)
    assert "exceeds the 4194304-byte bound" in str(raised)
    assert peak < MEMORY_CEILING


def test_blob_bomb_stops_at_the_blob_bound(transport: str) -> None:
    with hostile_http(serving(bomb(), {"Content-Encoding": "gzip"})) as srv:
        peak, raised = peak_memory(lambda: run(lambda c: c.get_blob("r/x", BLOB_DIGEST),
                                               srv.host))
    assert isinstance(raised, RegistryError) and "16777216-byte bound" in str(raised)
    assert peak < MEMORY_CEILING


def test_gzipped_blob_of_normal_size_verifies(transport: str) -> None:
    with hostile_http(serving(gzip.compress(BLOB), {"Content-Encoding": "gzip"})) as srv:
        assert run(lambda c: c.get_blob("r/x", BLOB_DIGEST), srv.host) == BLOB


def test_error_page_bomb_is_cut_and_the_status_still_reported(transport: str) -> None:
    with hostile_http(serving(bomb(), {"Content-Encoding": "gzip"}, status=404)) as srv:
        peak, raised = peak_memory(lambda: run(get_manifest(), srv.host))
    assert isinstance(raised, NotFoundError)
    assert peak < MEMORY_CEILING


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "gzip;q=1", "x" * 300])
def test_unknown_codings_are_refused(coding: str) -> None:
    with hostile_http(serving(MANIFEST, {"Content-Encoding": coding})) as srv, \
            pytest.raises(RegistryError, match=r"content coding|Content-Encoding"):
        run(get_manifest(), srv.host)


def test_identity_coding_is_the_body_itself() -> None:
    with hostile_http(serving(MANIFEST, {"Content-Encoding": "identity"})) as srv:
        assert run(get_manifest(), srv.host).raw == MANIFEST


@pytest.mark.parametrize("damage", ["truncated", "trailing"])
def test_damaged_gzip_is_refused(damage: str) -> None:
    packed = gzip.compress(MANIFEST)
    body = packed[:-12] if damage == "truncated" else packed + b"junk"
    with hostile_http(serving(body, {"Content-Encoding": "gzip"})) as srv, \
            pytest.raises(RegistryError, match=r"gzip body|compressed body"):
        run(get_manifest(), srv.host)


def _token_server(token_body: bytes, token_headers: dict[str, str]) -> Callable[[Request], Reply]:
    """A registry whose own /token realm answers with `token_body`."""
    state: dict[str, str] = {}

    def script(req: Request) -> Reply:
        if req.target.startswith("/token"):
            yield response(200, token_body, {"Content-Type": "application/json",
                                             **token_headers})
        elif req.headers.get("authorization") == "Bearer good-token":
            yield response(200, MANIFEST, {"Content-Type": OCI_MANIFEST})
        else:
            realm = state.setdefault("realm", f"http://{req.headers['host']}/token")
            yield response(401, b"", {"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})
    return script


def test_token_answer_bomb_is_refused(transport: str) -> None:
    with hostile_http(_token_server(bomb(), {"Content-Encoding": "gzip"})) as srv:
        peak, raised = peak_memory(lambda: run(get_manifest(), srv.host))
    assert isinstance(raised, RegistryError) and "1048576-byte bound" in str(raised)
    assert peak < MEMORY_CEILING


@pytest.mark.parametrize("token", ["good-token\r\nX-Injected: 1", "two words", "x" * 20000,
                                   "t\u00e9l\u00e9"])
def test_a_token_that_is_no_header_value_is_refused(token: str) -> None:
    body = json.dumps({"token": token}).encode()
    with hostile_http(_token_server(body, {})) as srv, \
            pytest.raises(AuthError, match="no header value"):
        run(get_manifest(), srv.host)
    assert all("x-injected" not in r.headers for r in srv.requests)


def test_gzipped_token_answer_of_normal_size_is_used(transport: str) -> None:
    body = gzip.compress(json.dumps({"token": "good-token"}).encode())
    with hostile_http(_token_server(body, {"Content-Encoding": "gzip"})) as srv:
        assert run(get_manifest(), srv.host).raw == MANIFEST


def test_endless_token_answer_is_bounded(transport: str) -> None:
    def endless(req: Request) -> Reply:
        if not req.target.startswith("/token"):
            yield response(401, b"", {"WWW-Authenticate":
                                      f'Bearer realm="http://{req.headers["host"]}/token"'})
            return
        yield head(200, {"Transfer-Encoding": "chunked"}) + chunk(b'{"token": "')
        while True:
            yield chunk(b"A" * 65536)

    with hostile_http(endless) as srv, pytest.raises(RegistryError, match="1048576-byte bound"):
        run(get_manifest(), srv.host)
    assert max(srv.written) < 64 * 1024 * 1024  # the client hung up, not the server's cap


def test_stacked_codings_through_the_proxy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a proxy in the environment httpx's proxy transports carry the request; the body
    still goes through the one decoder. The proxy is the hostile server itself (it answers
    the absolute-form request a proxy gets), and the registry a name only it knows."""
    body = gzip_layers(bomb(), 1)
    with hostile_http(serving(body, {"Content-Encoding": "gzip, gzip"})) as srv:
        monkeypatch.setenv("HTTP_PROXY", srv.url)
        options = replace(FAST, insecure_registries=frozenset({"registry.test"}))
        peak, raised = peak_memory(lambda: run(get_manifest(), "registry.test", options))
    assert isinstance(raised, RegistryError) and "stacked" in str(raised)
    assert srv.requests[0].target.startswith("http://registry.test/v2/")
    assert peak < MEMORY_CEILING


def test_gzip_once_through_the_proxy_path(monkeypatch: pytest.MonkeyPatch) -> None:
    with hostile_http(serving(gzip.compress(MANIFEST), {"Content-Encoding": "gzip"})) as srv:
        monkeypatch.setenv("HTTP_PROXY", srv.url)
        options = replace(FAST, insecure_registries=frozenset({"registry.test"}))
        assert run(get_manifest(), "registry.test", options).raw == MANIFEST


# -- the family: slow, endless, huge, looping, lying ----------------------------------------------
def test_trickling_answer_is_bounded_by_the_attempt_deadline(transport: str) -> None:
    """One byte every 50 ms never trips the 30 s read timeout; the whole-attempt deadline
    ends it."""
    def trickle(req: Request) -> Reply:
        yield head(200, {"Content-Type": OCI_MANIFEST, "Content-Length": "100000"})
        for _ in range(100000):
            yield b" "
            yield Pause(0.05)

    options = replace(FAST, attempt_deadline=1.0)
    with hostile_http(trickle) as srv, pytest.raises(RegistryError) as info:
        run(get_manifest(), srv.host, options)
    assert "no complete answer within 1 s" in str(info.value)
    assert len(srv.requests) == FAST.retry.attempts


def test_trickling_attempts_draw_on_one_budget_per_request(transport: str) -> None:
    """Five attempts of 1 s each would be 5 s; the request's network-time budget (here 2.5 s)
    ends it after the third, whatever the retry policy still allows."""
    def trickle(req: Request) -> Reply:
        yield head(200, {"Content-Type": OCI_MANIFEST, "Content-Length": "100000"})
        for _ in range(100000):
            yield b" "
            yield Pause(0.05)

    options = replace(FAST, attempt_deadline=1.0, request_budget=2.5,
                      retry=RetryPolicy(attempts=5, max_wait=0.01, total=60, initial=0.01))
    with hostile_http(trickle) as srv, pytest.raises(RegistryError) as info:
        run(get_manifest(), srv.host, options)
    assert "2.5 s of network time" in str(info.value)
    assert len(srv.requests) < 5  # the budget ended it, not the retry policy


def test_slow_but_complete_answer_is_read(transport: str) -> None:
    def slow(req: Request) -> Reply:
        yield head(200, {"Content-Type": OCI_MANIFEST, "Content-Length": str(len(MANIFEST))})
        for i in range(0, len(MANIFEST), 64):
            yield MANIFEST[i:i + 64]
            yield Pause(0.005)

    with hostile_http(slow) as srv:
        assert run(get_manifest(), srv.host).raw == MANIFEST


def test_endless_chunked_manifest_is_cut_at_the_bound(transport: str) -> None:
    def endless(req: Request) -> Reply:
        yield head(200, {"Content-Type": OCI_MANIFEST, "Transfer-Encoding": "chunked"})
        while True:
            yield chunk(b" " * 65536)

    with hostile_http(endless) as srv, pytest.raises(RegistryError, match="4194304-byte bound"):
        run(get_manifest(), srv.host)
    assert max(srv.written) < 64 * 1024 * 1024


def test_chunked_manifest_that_ends_is_read(transport: str) -> None:
    def chunked(req: Request) -> Reply:
        yield head(200, {"Content-Type": OCI_MANIFEST, "Transfer-Encoding": "chunked"})
        yield chunk(MANIFEST[:50]) + chunk(MANIFEST[50:]) + b"0\r\n\r\n"

    with hostile_http(chunked) as srv:
        assert run(get_manifest(), srv.host).raw == MANIFEST


def _one_byte_chunks(body: bytes) -> bytes:
    return b"".join(b"1\r\n" + body[i:i + 1] + b"\r\n" for i in range(len(body))) + b"0\r\n\r\n"


PADDED = MANIFEST[:-1] + b" " * (64 * 1024) + b"}"  # 64 KiB of a manifest, still valid JSON


def test_a_body_in_one_byte_chunks_is_held_as_one_buffer(transport: str) -> None:
    """Session 12: every chunk of a body was kept as its own bytes object until the end, ~120
    bytes of memory per byte received: a 4 MiB manifest (16 MiB config) sent a byte per chunk
    held hundreds of MiB per request, times the 32 requests in flight."""
    wire = _one_byte_chunks(PADDED)

    def tiny(req: Request) -> Reply:
        yield head(200, {"Content-Type": OCI_MANIFEST, "Transfer-Encoding": "chunked"})
        for i in range(0, len(wire), 65536):
            yield wire[i:i + 65536]

    got: list[Any] = []
    with hostile_http(tiny) as srv:
        peak, raised = peak_memory(lambda: got.append(run(get_manifest(), srv.host)))
    assert raised is None and got[0].raw == PADDED
    assert peak < 2 * 1024 * 1024  # 64 KiB received; 8 MiB as a list of pieces


def test_the_same_body_in_one_chunk_reads_the_same(transport: str) -> None:
    with hostile_http(serving(PADDED)) as whole:
        once = run(get_manifest(), whole.host)
    assert once.raw == PADDED


def test_huge_response_head_is_refused(transport: str) -> None:
    def huge(req: Request) -> Reply:
        yield b"HTTP/1.1 200 OK\r\n"
        for i in range(4096):  # 4096 headers of 1 KiB: 4 MiB of head
            yield f"X-Pad-{i}: {'p' * 1024}\r\n".encode()
        yield b"\r\n"

    with hostile_http(huge) as srv, pytest.raises(RegistryError, match="connection failed"):
        run(get_manifest(), srv.host)
    assert max(srv.written) < 64 * 1024 * 1024


def _informational_flood(req: Request) -> Reply:
    while True:
        yield b"HTTP/1.1 100 Continue\r\n\r\n" * 1000


def test_endless_informational_answers_are_refused_at_the_sixth(transport: str) -> None:
    """Session 12: `100 Continue` heads sent forever, each within the head bound, kept clamp
    parsing until the attempt's deadline (60 s of CPU, then again on every retry). Go's client
    refuses the sixth (net/http max1xxResponses); so does clamp's transport, and since session
    13 httpx's own (httpcore) too, which read them until the deadline."""
    patient = replace(FAST, attempt_deadline=5)
    with hostile_http(_informational_flood) as srv, \
            pytest.raises(RegistryError, match=r"more than 5 informational \(1xx\) responses"):
        run(get_manifest(), srv.host, patient)


def test_endless_informational_answers_through_the_proxy_path_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy path (httpx's proxy transports, built from the environment) is bounded the
    same way; the proxy is the hostile server itself."""
    with hostile_http(_informational_flood) as srv:
        monkeypatch.setenv("HTTP_PROXY", srv.url)
        options = replace(FAST, insecure_registries=frozenset({"registry.test"}),
                          attempt_deadline=5)
        with pytest.raises(RegistryError, match=r"more than 5 informational \(1xx\)"):
            run(get_manifest(), "registry.test", options)


def test_informational_answers_through_the_proxy_path_are_skipped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin: five 1xx heads (in pieces, one split inside its blank line) and the answer,
    through the proxy, then a second request on the same connection."""
    def hints(req: Request) -> Reply:
        yield b"HTTP/1.1 100 Continue\r\n\r"
        yield b"\n" + b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n" * 4
        yield response(200, MANIFEST, {"Content-Type": OCI_MANIFEST})

    with hostile_http(hints) as srv:
        monkeypatch.setenv("HTTP_PROXY", srv.url)
        options = replace(FAST, insecure_registries=frozenset({"registry.test"}))

        async def twice() -> list[bytes]:
            async with RegistryPool(options) as pool:
                client = pool.client("registry.test")
                return [(await client.get_manifest("r/x", "t")).raw for _ in range(2)]
        assert asyncio.run(twice()) == [MANIFEST, MANIFEST]


def test_a_few_informational_answers_before_the_answer_are_skipped(transport: str) -> None:
    def hints(req: Request) -> Reply:
        yield b"HTTP/1.1 100 Continue\r\n\r\n" * 2
        yield b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" * 3
        yield response(200, MANIFEST, {"Content-Type": OCI_MANIFEST})

    with hostile_http(hints) as srv:
        assert run(get_manifest(), srv.host).raw == MANIFEST


def test_huge_www_authenticate_is_refused() -> None:
    challenge = 'Bearer realm="http://127.0.0.1:1/token",service="' + "s" * 40000 + '"'
    with hostile_http(serving(b"", {"WWW-Authenticate": challenge}, status=401)) as srv, \
            pytest.raises(AuthError, match="longer than 8192 bytes"):
        run(get_manifest(), srv.host)
    assert len(srv.requests) == 1  # no realm was asked


def test_endless_redirects_stop(transport: str) -> None:
    def loop(req: Request) -> Reply:
        yield response(302, b"", {"Location": req.target + "x"})

    with hostile_http(loop) as srv, pytest.raises(RegistryError, match="more than 5 redirects"):
        run(get_manifest(), srv.host)
    assert len(srv.requests) == 6  # the first request and five redirects, not retried


def test_a_redirect_with_an_endless_bomb_body_is_skipped_unread(transport: str) -> None:
    def bombing(req: Request) -> Reply:
        if req.target.endswith("/there"):
            yield response(200, MANIFEST, {"Content-Type": OCI_MANIFEST})
            return
        yield head(307, {"Location": "/v2/r/x/manifests/there", "Content-Encoding": "gzip",
                         "Transfer-Encoding": "chunked"})
        while True:
            yield chunk(bomb()[:65536])

    with hostile_http(bombing) as srv:
        peak, raised = peak_memory(lambda: run(get_manifest(), srv.host))
    assert raised is None and peak < MEMORY_CEILING
    assert max(srv.written) < 64 * 1024 * 1024  # the client hung up on the redirect's body


def test_few_redirects_are_followed(transport: str) -> None:
    def hop(req: Request) -> Reply:
        if req.target.count("x") < 3:
            yield response(307, b"", {"Location": req.target + "x"})
        else:
            yield response(200, MANIFEST, {"Content-Type": OCI_MANIFEST})

    with hostile_http(hop) as srv:
        assert run(get_manifest(), srv.host).raw == MANIFEST


def test_content_length_far_past_the_bound_is_refused_unread(transport: str) -> None:
    def lie(req: Request) -> Reply:
        yield head(200, {"Content-Type": OCI_MANIFEST, "Content-Length": str(10 ** 12)})
        while True:
            yield b" " * 65536

    with hostile_http(lie) as srv, pytest.raises(RegistryError, match="exceeds"):
        run(get_manifest(), srv.host)
    assert max(srv.written) < 64 * 1024 * 1024


@pytest.mark.parametrize("lie", ["longer", "shorter"])
def test_content_length_lies_fail_closed(transport: str, lie: str) -> None:
    def answer(req: Request) -> Reply:
        declared = len(MANIFEST) + (100 if lie == "longer" else -10)
        yield head(200, {"Content-Type": OCI_MANIFEST, "Content-Length": str(declared)})
        yield MANIFEST
        yield Close()

    with hostile_http(answer) as srv, pytest.raises(RegistryError):
        run(get_manifest(MANIFEST_DIGEST), srv.host)


# -- 6. credentials and tokens bound to their host ------------------------------------------------
def _docker_config(tmp_path: Path, handle: RegistryHandle,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert handle.username and handle.password
    auth = base64.b64encode(f"{handle.username}:{handle.password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {handle.host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))


def _impostor(realm: str, service: str) -> Callable[[Request], Reply]:
    """A registry that sends its callers to another registry's token service."""
    def script(req: Request) -> Reply:
        if "authorization" in req.headers:
            yield response(404, b"{}")
        else:
            yield response(401, b"", {"WWW-Authenticate":
                                      f'Bearer realm="{realm}",service="{service}"'})
    return script


def test_a_token_bought_with_one_registrys_credentials_never_reaches_another(
        token_registry: RegistryHandle, repo_name: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, make_pusher: Callable[..., RegistryPusher]) -> None:
    """The victim reads an image from the real token registry with its docker-config
    credentials, then (same run, same token cache) one from an impostor that names the real
    registry's realm and service and the same repository. The impostor must get, at most, the
    anonymous token anyone could ask for: never the victim's."""
    pushed = push_image(make_pusher(token_registry), repo_name, "t")
    _docker_config(tmp_path, token_registry, monkeypatch)
    issuer = token_registry.token_issuer
    assert issuer is not None
    with hostile_http(_impostor(issuer.realm, issuer.policy.service)) as impostor:
        async def both() -> None:
            async with RegistryPool(FAST) as pool:
                real = await pool.client(token_registry.host).get_manifest(repo_name, "t")
                assert str(real.digest) == pushed.digest
                with pytest.raises(NotFoundError):
                    await pool.client(impostor.host).get_manifest(repo_name, "t")
        asyncio.run(both())
    sent = impostor.authorizations()
    assert sent, "the impostor was asked with a token of its own"
    for header in sent:
        assert header.startswith("Bearer ")
        claims = jwt.decode(header.removeprefix("Bearer "), options={"verify_signature": False})
        assert claims["sub"] != token_registry.username  # not the victim's token
    assert token_registry.password not in json.dumps([r.headers for r in impostor.requests])


def test_the_registrys_own_token_is_reused_for_it(
        token_registry: RegistryHandle, repo_name: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, make_pusher: Callable[..., RegistryPusher]) -> None:
    """Honest twin: the same registry asked twice uses its cached, authenticated token."""
    push_image(make_pusher(token_registry), repo_name, "t")
    _docker_config(tmp_path, token_registry, monkeypatch)
    issuer = token_registry.token_issuer
    assert issuer is not None
    issuer.clear()

    async def twice() -> None:
        async with RegistryPool(FAST) as pool:
            client = pool.client(token_registry.host)
            await client.get_manifest(repo_name, "t")
            await client.get_manifest(repo_name, "t")
    asyncio.run(twice())
    asked = [r for r in issuer.recorded() if r.scopes == (f"repository:{repo_name}:pull",)]
    assert len(asked) == 1 and asked[0].authenticated


@pytest.mark.parametrize(("registry", "realm", "allowed"), [
    ("https://ghcr.io", "https://ghcr.io/token", True),
    ("https://registry-1.docker.io", "https://auth.docker.io/token", True),
    ("https://ghcr.io", "http://127.0.0.1:5001/token", False),  # downgrade to plain HTTP
    ("http://127.0.0.1:5000", "http://127.0.0.1:5001/token", True),
    ("http://localhost:5000", "http://[::1]:5001/token", True),
    ("http://registry.lan:5000", "http://registry.lan:5001/token", True),
    ("http://registry.lan:5000", "http://tokens.lan/token", False),
    ("http://registry.lan:5000", "https://tokens.example/token", False),
    ("http://127.0.0.1:5000", "https://tokens.example/token", False),
])
def test_where_a_registrys_credentials_may_go(registry: str, realm: str, allowed: bool) -> None:
    assert may_send_credentials(registry, realm) is allowed


def test_credentials_are_not_sent_to_a_plain_http_realm_on_another_host() -> None:
    """A plain-HTTP registry (anyone on the path can rewrite its challenge) names a realm on
    another host: its credentials are refused there, before anything is sent."""
    with hostile_http(_impostor("http://tokens.test/token", "s")) as srv:
        options = replace(FAST, credentials={srv.host: Credentials("u", "pw-secret")},
                          insecure_registries=frozenset({"tokens.test"}))
        with pytest.raises(AuthError, match=r"refusing to send .* credentials to the token"):
            run(get_manifest(), srv.host, options)
    assert srv.authorizations() == []


def test_credentials_go_to_the_realm_on_the_registrys_own_host(
        token_registry: RegistryHandle, repo_name: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, make_pusher: Callable[..., RegistryPusher]) -> None:
    """Honest twin: the token registry's realm is another port of the same host."""
    push_image(make_pusher(token_registry), repo_name, "t")
    _docker_config(tmp_path, token_registry, monkeypatch)
    issuer = token_registry.token_issuer
    assert issuer is not None
    issuer.clear()
    run(lambda c: c.get_manifest(repo_name, "t"), token_registry.host)
    assert any(r.authenticated for r in issuer.recorded())


def _storage(seen: list[Request]) -> Callable[[Request], Reply]:
    def script(req: Request) -> Reply:
        seen.append(req)
        yield response(200, BLOB, {"Content-Type": "application/octet-stream"})
    return script


def test_a_redirect_to_another_host_carries_no_authorization() -> None:
    """A registry sends the blob request on to storage on another origin (another port of
    the same host is another origin): the storage gets the request, never the credentials."""
    with hostile_http(_storage([])) as storage:
        def registry(req: Request) -> Reply:
            if "authorization" not in req.headers:
                yield response(401, b"", {"WWW-Authenticate": 'Basic realm="r"'})
            else:
                yield response(307, b"", {"Location": f"{storage.url}/blob?sig=x"})
        with hostile_http(registry) as reg:
            options = replace(FAST, credentials={reg.host: Credentials("u", "pw-secret")})
            data = run(lambda c: c.get_blob("r/x", BLOB_DIGEST), reg.host, options)
    assert data == BLOB  # honest half: the redirect was followed
    assert reg.authorizations()  # the registry itself got the credentials
    assert storage.requests and storage.authorizations() == []


SIGNED_URL = ("/ghcr1/blobs/sha256:abc?se=2026-12-04T02%3A30%3A00Z&sig=ab%2Bcd%2F%3D"
              "&X-Amz-Credential=AKIA%2F2026%2Fus-east-1&x=a+b&y=%7E&z=caf%C3%A9&empty=&flag")


def test_a_signed_storage_url_is_followed_byte_for_byte(transport: str) -> None:
    """Session 13, tried and already so: GHCR and Docker Hub send blobs on to storage URLs
    whose signature covers the query as written (percent-escapes, `+`, empty values); the
    storage gets exactly that target (no re-encoding that would break the signature)."""
    seen: list[Request] = []
    with hostile_http(_storage(seen)) as storage:
        def registry(req: Request) -> Reply:
            yield response(307, b"", {"Location": f"{storage.url}{SIGNED_URL}"})
        with hostile_http(registry) as reg:
            assert run(lambda c: c.get_blob("r/x", BLOB_DIGEST), reg.host) == BLOB
    assert [r.target for r in seen] == [SIGNED_URL]


def test_a_redirect_target_that_asks_for_credentials_gets_none() -> None:
    """Storage that answers 401 with a challenge of its own would, if believed, become the
    registry's challenge: its realm would be sent the registry's credentials."""
    with hostile_http(_impostor("http://127.0.0.1:9/never", "s")) as storage:
        def registry(req: Request) -> Reply:
            yield response(307, b"", {"Location": f"{storage.url}/blob"})
        with hostile_http(registry) as reg:
            options = replace(FAST, credentials={reg.host: Credentials("u", "pw-secret")})
            with pytest.raises(AuthError, match="redirected to"):
                run(lambda c: c.get_blob("r/x", BLOB_DIGEST), reg.host, options)
    assert storage.authorizations() == [] and len(storage.requests) == 1


def test_a_redirected_post_is_not_replayed_to_another_host() -> None:
    """An identity token's POST to the realm, 307-redirected elsewhere, would carry the refresh
    token in its body: it is refused, and the other host is sent nothing."""
    with hostile_http(_storage([])) as elsewhere:
        def registry(req: Request) -> Reply:
            if req.target.startswith("/token"):
                yield response(307, b"", {"Location": f"{elsewhere.url}/token"})
            else:
                yield response(401, b"", {"WWW-Authenticate":
                                          f'Bearer realm="http://{req.headers["host"]}/token"'})
        with hostile_http(registry) as reg:
            creds = Credentials("", "", identity_token="refresh-secret")
            options = replace(FAST, credentials={reg.host: creds})
            with pytest.raises(RegistryError, match="refusing to re-send a POST"):
                run(get_manifest(), reg.host, options)
    assert elsewhere.requests == []


def test_an_upload_location_on_another_host_is_refused() -> None:
    with hostile_http(_storage([])) as elsewhere:
        def registry(req: Request) -> Reply:
            if req.method == "HEAD":
                yield response(404, b"")
            else:
                yield response(202, b"", {"Location": f"{elsewhere.url}/upload/1"})
        with hostile_http(registry) as reg, pytest.raises(RegistryError, match="another host"):
            run(lambda c: c.put_blob("r/x", BLOB), reg.host)
    assert elsewhere.requests == []


def test_a_next_page_on_another_host_is_never_asked() -> None:
    with hostile_http(_storage([])) as elsewhere:
        def registry(req: Request) -> Reply:
            yield response(200, json.dumps({"tags": ["a"]}).encode(), {
                "Content-Type": "application/json",
                "Link": f'<{elsewhere.url}/v2/r/x/tags/list?last=a>; rel="next"'})
        with hostile_http(registry) as reg, pytest.raises(RegistryError, match="another host"):
            run(lambda c: c.list_tags("r/x"), reg.host)
    assert elsewhere.requests == []


UNUSABLE_URLS = ["http://[::1", "http://[zz]/t", "http://127.0.0.1:99999/t",
                 "http://127.0.0.1:x/t", "http://127.0.0.1:0/t", "https://" + "a" * 300 + "/t",
                 "http:///t"]


@pytest.mark.parametrize("url", UNUSABLE_URLS)
@pytest.mark.parametrize("where", ["realm", "redirect", "link", "location"])
def test_urls_no_connection_could_use_are_registry_errors(url: str, where: str) -> None:
    """A realm, redirect, next page or upload Location a hostile server names is refused as
    a registry error (69): it was an internal error (exit 70) from deep in urllib or httpx."""
    def script(req: Request) -> Reply:
        if where == "realm":
            yield response(401, b"", {"WWW-Authenticate": f'Bearer realm="{url}"'})
        elif where == "redirect":
            yield response(307, b"", {"Location": url})
        elif where == "link":
            yield response(200, json.dumps({"tags": ["a"]}).encode(), {
                "Content-Type": "application/json", "Link": f'<{url}>; rel="next"'})
        elif req.method == "POST":
            yield response(202, b"", {"Location": url})
        else:
            yield response(404, b"")

    call: Callable[[RegistryClient], Awaitable[Any]] = {
        "link": lambda c: c.list_tags("r/x"),
        "location": lambda c: c.put_blob("r/x", BLOB)}.get(where, get_manifest())
    with hostile_http(script) as srv, pytest.raises(RegistryError):
        run(call, srv.host)


def test_realm_with_user_information_is_refused() -> None:
    with hostile_http(_impostor("http://user:pw@127.0.0.1:9/token", "s")) as srv, \
            pytest.raises(RegistryError, match="user information"):
        run(get_manifest(), srv.host)


# -- 7. masking before cutting ---------------------------------------------------------------------
def test_a_registry_echoing_the_credentials_gets_them_masked_before_the_cut() -> None:
    password = "pw-" + "S3cret" * 8
    creds = Credentials("user", password)
    b64 = creds.basic_header().removeprefix("Basic ")
    # The echo starts so that a cut at 120 characters falls inside the secret.
    message = "x" * 100 + f"you sent {b64} and {password}"

    def echo(req: Request) -> Reply:
        if "authorization" not in req.headers:
            yield response(401, b"", {"WWW-Authenticate": 'Basic realm="r"'})
        else:
            yield response(400, json.dumps({"errors": [{"code": "DENIED",
                                                        "message": message}]}).encode())

    with hostile_http(echo) as srv:
        options = replace(FAST, credentials={srv.host: creds})
        with pytest.raises(RegistryError) as info:
            run(get_manifest(), srv.host, options)
    text = str(info.value)
    assert "DENIED" in text
    for secret in (b64, password):
        assert secret[:8] not in text


def test_redact_masks_before_cutting() -> None:
    assert redact("abc SECRETTOKEN", ["SECRETTOKEN"], 8) == "abc ***"
    assert redact("short ab", ["ab"]) == "short ab"  # too short to be worth masking


# -- 7. the dispatch ------------------------------------------------------------------------------
TOKEN = "ghs_" + "D1spatchT0ken" * 3
REQUEST = DispatchRequest("rocm/clamp-ci", "update-rocm.yml", "main", ("a",), "drift")


@pytest.mark.parametrize("url", ["http://api.github.invalid", "http://ghe.invalid:8080/api/v3",
                                 "ftp://127.0.0.1/", "https://user:pw@github.invalid/api",
                                 "http://127.0.0.1:notaport",
                                 # DNS names that merely start like a loopback address
                                 "http://127.0.0.1.nip.invalid", "http://127.attacker.invalid:80"])
def test_dispatch_refuses_plain_http_off_loopback(url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", url)
    with pytest.raises(DispatchError) as info:
        dispatch(REQUEST)
    assert for_error(info.value) == 71
    assert "unreachable" not in str(info.value)  # refused before anything was sent
    assert TOKEN not in str(info.value) and "pw" not in str(info.value)


def _github(status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> Callable[[Request], Reply]:
    def script(req: Request) -> Reply:
        yield response(status, body, {"Content-Type": "application/json", **(headers or {})})
    return script


def test_dispatch_over_loopback_http_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    with hostile_http(_github(204, b"")) as gh:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        dispatch(REQUEST)
    assert gh.authorizations() == [f"Bearer {TOKEN}"]
    assert gh.requests[0].headers["accept-encoding"] == "identity"


def test_dispatch_masks_an_echoed_token_before_cutting(monkeypatch: pytest.MonkeyPatch) -> None:
    message = "m" * 185 + f" token {TOKEN} refused"  # a cut at 200 falls inside the token
    with hostile_http(_github(401, json.dumps({"message": message}).encode())) as gh:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        with pytest.raises(DispatchError) as info:
            dispatch(REQUEST)
    assert "401" in str(info.value) and TOKEN[:6] not in str(info.value)


def test_dispatch_answer_bomb_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    with hostile_http(_github(500, bomb(), {"Content-Encoding": "gzip"})) as gh:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        peak, raised = peak_memory(lambda: dispatch(REQUEST))
    assert isinstance(raised, DispatchError) and "500" in str(raised)
    assert peak < MEMORY_CEILING


def test_dispatch_does_not_follow_a_redirect(monkeypatch: pytest.MonkeyPatch) -> None:
    with hostile_http(_github(204, b"")) as elsewhere, \
            hostile_http(_github(307, b"", {"Location": f"{elsewhere.url}/x"})) as gh:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        with pytest.raises(DispatchError, match="307"):
            dispatch(REQUEST)
    assert elsewhere.requests == []


# -- bad input: an unusable proxy -----------------------------------------------------------------
@pytest.mark.parametrize("value", ["::::", "http://proxy:99999", "http://",
                                   "ftp://user:pr0xy-pw@proxy:21", "user:pr0xy-pw@proxy:99999"])
def test_unusable_proxy_is_bad_input(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", value)
    with pytest.raises(BadInputError, match="unusable proxy") as info:
        RegistryPool(FAST)
    assert for_error(info.value) == 64 and "HTTPS_PROXY" in str(info.value)
    assert "pr0xy-pw" not in str(info.value)  # the proxy's password is never printed


def test_unusable_proxy_is_exit_64_on_the_command_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from clamp.cli.main import app, invoke

    key = tmp_path / "key.pub"
    key.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    monkeypatch.setenv("HTTPS_PROXY", "::::")
    code = invoke(app, ["verify", "--image", "127.0.0.1:1/x:y", "--key", str(key)],
                  prog_name="clamp")
    err = capsys.readouterr().err
    assert code == 64
    assert "HTTPS_PROXY" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


# -- the dispatch reaches GitHub as the registry client reaches a registry ---------------------
@pytest.fixture(scope="module")
def ghe_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A GitHub Enterprise behind a private CA, at 127.0.0.1 and at a name only a proxy knows."""
    return make_pki(tmp_path_factory.mktemp("ghe-pki"), dns_names=("ghe.test",))


def test_dispatch_trusts_the_ca_ssl_cert_file_names(ghe_pki: Pki,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with hostile_http(_github(204, b""), tls=ghe_pki.server_context()) as gh:
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", f"{gh.url}/api/v3")
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        with pytest.raises(DispatchError, match="unreachable"):  # twin: certifi's bundle
            dispatch(REQUEST)
        assert gh.requests == []  # the handshake failed: the token was never sent
        monkeypatch.setenv("SSL_CERT_FILE", str(ghe_pki.ca))
        dispatch(REQUEST)
    assert gh.authorizations() == [f"Bearer {TOKEN}"]


def test_dispatch_with_an_unusable_ca_bundle_is_a_failed_dispatch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry client loads the bundle on its first HTTPS use, so a run on loopback
    registries meets a bad SSL_CERT_FILE only here: a failed dispatch (71, recorded with the
    run's findings), not bad input that would end the run before its provenance is written."""
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    monkeypatch.setenv("GITHUB_API_URL", "https://127.0.0.1:9/api/v3")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(DispatchError, match="SSL_CERT_FILE") as info:
        dispatch(REQUEST)
    assert for_error(info.value) == 71


def test_dispatch_goes_through_the_environments_proxy(ghe_pki: Pki,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """`ghe.test` resolves nowhere: a dispatch that arrives went through the proxy's tunnel."""
    with hostile_http(_github(204, b""), tunnel=ghe_pki.server_context()) as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("SSL_CERT_FILE", str(ghe_pki.ca))
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_API_URL", "https://ghe.test/api/v3")
        dispatch(REQUEST)
    connect, post = proxy.requests
    assert connect.method == "CONNECT" and connect.target == "ghe.test:443"
    assert "authorization" not in connect.headers  # the token travels inside the tunnel only
    assert post.target.startswith("/api/v3/repos/rocm/clamp-ci/actions/workflows/")
    assert post.headers["authorization"] == f"Bearer {TOKEN}"


@given(st.one_of(st.text(max_size=80),
                 st.builds(lambda a, b: f"{a}://{b}", st.sampled_from(["http", "https", "ftp"]),
                           st.text(max_size=60))))
def test_the_url_gate_passes_only_urls_a_connection_can_use(url: str) -> None:
    """Whatever text a server puts where a URL belongs: refused as a registry error, or a URL
    whose origin, port and httpx form are all well defined."""
    import httpx

    from clamp.oci.auth import origin_of
    from clamp.oci.registry import check_scheme

    pool = RegistryPool(FAST)
    try:
        check_scheme(url, pool, "test", what="URL")
    except RegistryError:
        return
    finally:
        asyncio.run(pool.aclose())
    scheme, host, port = origin_of(url)
    assert scheme in ("http", "https") and host and 0 < port <= 65535
    httpx.URL(url)


def _challenger(header: str) -> Callable[[Request], Reply]:
    def script(req: Request) -> Reply:
        if "authorization" in req.headers:
            yield response(404, b"{}")
        else:
            yield response(401, b"", {"WWW-Authenticate": header})
    return script


@pytest.mark.parametrize("header", [
    # the realm named twice: one reading (the last) feeds both the rule and the request
    'Bearer realm="http://127.0.0.1:9/token",realm="http://tokens.test/token",service="s"',
    # odd spacing and an escaped quote around the other host
    'Bearer  realm = "http://tokens.test/tok\\"en" , service="s"',
    # unquoted
    "Bearer realm=http://tokens.test/token,service=s",
    # the scheme in capitals, parameters in capitals
    'BEARER REALM="http://tokens.test/token",SERVICE="s"',
])
def test_odd_challenges_never_send_credentials_to_another_plain_http_host(header: str) -> None:
    """However the challenge is spelt, the realm clamp would ask is the realm the rule checks:
    another host over plain HTTP is refused before anything is sent."""
    with hostile_http(_challenger(header)) as srv:
        options = replace(FAST, credentials={srv.host: Credentials("u", "pw-secret")},
                          insecure_registries=frozenset({"tokens.test"}))
        with pytest.raises(AuthError, match=r"refusing to send .* credentials to the token"):
            run(get_manifest(), srv.host, options)
    assert srv.authorizations() == []


@pytest.mark.parametrize("host", ["127.0.0.1.nip.invalid", "127.attacker.invalid:5000"])
def test_a_name_that_starts_like_127_is_no_loopback(host: str) -> None:
    """`127.0.0.1.nip.io` is a DNS name, resolved anywhere: plain HTTP to it (a redirect, a
    realm, the registry itself) needs --insecure-registry like any other host."""
    from clamp.oci.exchange import check_scheme
    from clamp.oci.pool import RegistryPool

    async def go() -> None:
        async with RegistryPool(FAST) as pool:
            check_scheme(f"http://{host}/v2/", pool, "test", "redirect")

    with pytest.raises(RegistryError, match="refusing plain-HTTP"):
        asyncio.run(go())
