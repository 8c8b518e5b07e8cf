"""clamp.oci.transport.H11Transport against a raw loopback server that writes scripted bytes.

Every test runs a real asyncio server on 127.0.0.1 (port 0) whose per-connection handler reads
requests minimally and writes exact HTTP/1.1 bytes; the server counts the connections it accepted,
the requests it read and the connections that ended at a request boundary (EOF), so connection
reuse is observed from the server's side. Waiting is done on the server's state (a condition),
bounded by a timeout, never by sleeping.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
import time
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clamp.oci.transport import H11Transport
from tests.support.private_ca import Pki, make_pki

WAIT = 10.0  # upper bound for any wait on the server's state; reached only when a test fails


# -- the scripted server -------------------------------------------------------------------------
@dataclass
class Seen:
    """One request as the server read it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Conn:
    """One accepted connection, as given to a handler."""

    server: RawServer
    index: int  # 1 for the first connection the server accepted
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def read_request(self) -> Seen | None:
        """The next request (head, then Content-Length bytes), or None at a clean EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            await self.server.note(eof=True)
            return None
        request_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, _version = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        seen = Seen(method, target, headers, body)
        self.server.requests.append(seen)
        await self.server.note()
        return seen

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


Handler = Callable[[Conn], Awaitable[None]]


@dataclass
class RawServer:
    """Runs `handler` for each accepted connection; counts accepts, requests and EOFs."""

    handler: Handler
    tls: ssl.SSLContext | None = None
    accepts: int = 0
    eofs: int = 0
    requests: list[Seen] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _tasks: list[asyncio.Task[object]] = field(default_factory=list)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def __aenter__(self) -> RawServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
        assert not self.errors, f"the scripted server failed: {self.errors!r}"

    async def note(self, *, eof: bool = False) -> None:
        async with self._changed:
            self.eofs += eof
            self._changed.notify_all()

    async def until(self, predicate: Callable[[], bool]) -> None:
        """Wait (bounded) until the server's counters satisfy `predicate`."""
        async with asyncio.timeout(WAIT), self._changed:
            await self._changed.wait_for(predicate)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.append(task)
        self._writers.append(writer)
        self.accepts += 1
        conn = Conn(self, self.accepts, reader, writer)
        await self.note()
        try:
            await self.handler(conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-exchange: the test judges that from its side
        except asyncio.CancelledError:
            pass  # stop(): ends normally, as asyncio's stream callback logs cancelled tasks
        except Exception as exc:
            self.errors.append(exc)
        finally:
            writer.close()


def response(body: bytes = b"", *, status: int = 200,
             headers: Sequence[tuple[str, str]] = (), length: int | None = None) -> bytes:
    """An HTTP/1.1 response with a Content-Length (of `body` unless `length` is given)."""
    lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in headers),
             f"Content-Length: {len(body) if length is None else length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def answering(answer: Callable[[Seen], bytes]) -> Handler:
    """A keep-alive handler: answer each request with `answer(request)` until EOF."""
    async def handler(conn: Conn) -> None:
        while (seen := await conn.read_request()) is not None:
            await conn.send(answer(seen))
    return handler


def echo_path(seen: Seen) -> bytes:
    return response(f"body of {seen.method} {seen.target}".encode())


def client(transport: H11Transport | None = None,
           timeout: httpx.Timeout | float = 10.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport or H11Transport(), trust_env=False,
                             timeout=timeout)


def run(coro: Coroutine[object, object, None]) -> None:
    """Run a test's coroutine with an outer bound, so that a transport that waits forever fails
    the test instead of hanging it."""
    async def bounded() -> None:
        async with asyncio.timeout(3 * WAIT):
            await coro
    asyncio.run(bounded())


# -- keep-alive and framing ----------------------------------------------------------------------
def test_sequential_gets_share_one_connection() -> None:
    async def main() -> None:
        async with RawServer(answering(echo_path)) as srv, client() as c:
            for path in ("/a", "/b", "/c", "/a"):
                r = await c.get(srv.url(path))
                assert (r.status_code, r.content) == (200, f"body of GET {path}".encode())
            assert srv.accepts == 1
            assert [s.target for s in srv.requests] == ["/a", "/b", "/c", "/a"]
    run(main())


CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Check\r\n\r\n"
           b"5;name=value\r\nhello\r\n"
           b"1\r\n,\r\n"
           b"9\r\n world \r\n\r\n"
           b"3\r\n\x00\xff0\r\n"
           b"0\r\nX-Check: done\r\n\r\n")


def test_chunked_body_is_byte_exact_and_connection_reused() -> None:
    async def main() -> None:
        def answer(seen: Seen) -> bytes:
            return CHUNKED if seen.target == "/chunked" else echo_path(seen)

        async with RawServer(answering(answer)) as srv, client() as c:
            r = await c.get(srv.url("/chunked"))
            assert r.content == b"hello, world \r\n\x00\xff0"
            r = await c.get(srv.url("/next"))
            assert r.content == b"body of GET /next"
            assert srv.accepts == 1
    run(main())


def test_head_with_content_length_has_no_body_and_reuses() -> None:
    async def main() -> None:
        def answer(seen: Seen) -> bytes:
            if seen.method == "HEAD":
                return response(headers=[("X-Kind", "head")], length=1000)
            return echo_path(seen)

        async with RawServer(answering(answer)) as srv, client() as c:
            r = await c.head(srv.url("/blob"))
            assert (r.status_code, r.content) == (200, b"")
            assert r.headers["content-length"] == "1000"
            r = await c.get(srv.url("/blob"))
            assert r.content == b"body of GET /blob"
            assert srv.accepts == 1
            assert [s.method for s in srv.requests] == ["HEAD", "GET"]
    run(main())


def test_body_delimited_by_close_is_read_and_not_reused() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index > 1:
            await answering(echo_path)(conn)
            return
        assert await conn.read_request() is not None
        # no Content-Length, no chunking: the body ends with the connection
        await conn.send(b"HTTP/1.1 200 OK\r\n\r\nuntil the end")

    async def main() -> None:
        async with RawServer(handler) as srv, client() as c:
            assert (await c.get(srv.url("/1"))).content == b"until the end"
            assert (await c.get(srv.url("/2"))).content == b"body of GET /2"
            assert srv.accepts == 2
    run(main())


def test_informational_response_is_skipped() -> None:
    async def main() -> None:
        def answer(seen: Seen) -> bytes:
            return b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + echo_path(seen)

        async with RawServer(answering(answer)) as srv, client() as c:
            r = await c.get(srv.url("/x"))
            assert (r.status_code, r.content) == (200, b"body of GET /x")
            assert (await c.get(srv.url("/y"))).content == b"body of GET /y"
            assert srv.accepts == 1
    run(main())


# -- connections the server closes -----------------------------------------------------------------
def test_idle_connection_closed_by_server_is_replaced() -> None:
    async def one_answer_then_close(conn: Conn) -> None:
        seen = await conn.read_request()
        assert seen is not None
        await conn.send(echo_path(seen))  # keep-alive framing, but the server hangs up

    async def main() -> None:
        async with RawServer(one_answer_then_close) as srv, client() as c:
            assert (await c.get(srv.url("/1"))).content == b"body of GET /1"
            assert (await c.get(srv.url("/2"))).content == b"body of GET /2"
            assert srv.accepts == 2
            assert [s.target for s in srv.requests] == ["/1", "/2"]
    run(main())


def test_bytes_arriving_on_an_idle_connection_retire_it() -> None:
    """A server that sends something while the connection sits idle (an answer to nothing, a
    confused proxy's junk) has broken the exchange order: those bytes must never be read as
    the next request's answer. The transport sees them in its own buffer (not asyncio's)."""
    idle = asyncio.Event()  # set once the client holds the first connection idle

    async def answer_then_junk(conn: Conn) -> None:
        if conn.index > 1:
            await answering(echo_path)(conn)
            return
        seen = await conn.read_request()
        assert seen is not None
        await conn.send(echo_path(seen))
        await idle.wait()
        await conn.send(response(b"WRONG"))  # unasked; the connection stays open
        await conn.server.note(eof=True)  # (counts "junk sent")
        await conn.read_request()  # held open until the client gives up on it

    async def main() -> None:
        async with RawServer(answer_then_junk) as srv, client() as c:
            assert (await c.get(srv.url("/1"))).content == b"body of GET /1"
            idle.set()
            await srv.until(lambda: srv.eofs == 1)
            for _ in range(200):  # let the loop deliver the bytes already on the socket
                await asyncio.sleep(0)
            assert (await c.get(srv.url("/2"))).content == b"body of GET /2"
            assert srv.accepts == 2
    run(main())


def _answer_once_then_hang_up(last_words: bytes = b"") -> Callable[[Conn], Awaitable[None]]:
    """First connection: answer one request, read the next one, send `last_words` (nothing, or
    the start of an answer) and hang up. Later connections answer normally."""
    async def handler(conn: Conn) -> None:
        if conn.index > 1:
            await answering(echo_path)(conn)
            return
        seen = await conn.read_request()
        assert seen is not None
        await conn.send(echo_path(seen))
        assert await conn.read_request() is not None
        if last_words:
            await conn.send(last_words)
    return handler


_answer_once_then_drop_next = _answer_once_then_hang_up()


def test_get_dropped_on_reused_connection_is_resent_once() -> None:
    async def main() -> None:
        async with RawServer(_answer_once_then_drop_next) as srv, client() as c:
            assert (await c.get(srv.url("/1"))).content == b"body of GET /1"
            assert (await c.get(srv.url("/2"))).content == b"body of GET /2"
            assert srv.accepts == 2
            assert [s.target for s in srv.requests] == ["/1", "/2", "/2"]
    run(main())


def test_post_dropped_on_reused_connection_is_not_resent() -> None:
    async def main() -> None:
        async with RawServer(_answer_once_then_drop_next) as srv, client() as c:
            assert (await c.get(srv.url("/1"))).content == b"body of GET /1"
            with pytest.raises(httpx.RemoteProtocolError):
                await c.post(srv.url("/p"), content=b"once")
            assert srv.accepts == 1
            assert [(s.method, s.body) for s in srv.requests] == [("GET", b""), ("POST", b"once")]
    run(main())


def test_get_cut_mid_answer_on_reused_connection_is_not_resent() -> None:
    """Part of an answer arrived: the server did take the request, so it is not sent again."""
    handler = _answer_once_then_hang_up(b"HTTP/1.1 200 OK\r\nContent-Le")  # hang up mid-head

    async def main() -> None:
        async with RawServer(handler) as srv, client() as c:
            assert (await c.get(srv.url("/1"))).content == b"body of GET /1"
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(srv.url("/2"))
            assert [s.target for s in srv.requests] == ["/1", "/2"]
    run(main())


def test_get_dropped_on_fresh_connection_is_not_resent() -> None:
    async def hang_up(conn: Conn) -> None:
        await conn.read_request()

    async def main() -> None:
        async with RawServer(hang_up) as srv, client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(srv.url("/x"))
            assert (srv.accepts, len(srv.requests)) == (1, 1)
    run(main())


def test_resend_after_stale_connection_uses_a_fresh_connection() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index > 2:
            await answering(echo_path)(conn)
            return
        seen = await conn.read_request()
        assert seen is not None
        await conn.server.until(lambda: len(conn.server.requests) >= 2)  # both were opened
        await conn.send(echo_path(seen))
        assert await conn.read_request() is not None  # then hang up without answering

    async def main() -> None:
        async with RawServer(handler) as srv, client() as c:
            first = await asyncio.gather(c.get(srv.url("/a")), c.get(srv.url("/b")))
            assert [r.status_code for r in first] == [200, 200]
            assert srv.accepts == 2
            r = await c.get(srv.url("/c"))
            assert r.content == b"body of GET /c"
            assert srv.accepts == 3
    run(main())


def test_connection_close_response_is_not_reused() -> None:
    async def main() -> None:
        def answer(seen: Seen) -> bytes:  # asks to close, yet keeps the socket open and serving
            return response(seen.target.encode(), headers=[("Connection", "close")])

        async with RawServer(answering(answer)) as srv, client() as c:
            assert (await c.get(srv.url("/1"))).content == b"/1"
            assert (await c.get(srv.url("/2"))).content == b"/2"
            assert srv.accepts == 2
            await srv.until(lambda: srv.eofs >= 1)  # the client closed the first connection
    run(main())


def test_bytes_after_a_response_in_the_same_read_are_not_taken_as_the_next_answer() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 1:
            seen = await conn.read_request()
            assert seen is not None
            await conn.send(response(b"first") + response(b"WRONG"))  # one write, one read
        await answering(echo_path)(conn)

    async def main() -> None:
        async with RawServer(handler) as srv, client() as c:
            assert (await c.get(srv.url("/1"))).content == b"first"
            r = await c.get(srv.url("/2"))
            assert r.content == b"body of GET /2"
            assert srv.accepts == 2  # the first connection was not reused
    run(main())


# -- early exit, timeouts, limits, refused ---------------------------------------------------------
@pytest.mark.parametrize("withheld", [False, True], ids=["all-sent", "rest-withheld"])
def test_response_left_unread_closes_its_connection(withheld: bool) -> None:
    """With the rest withheld nothing is left buffered on the socket, so only the transport's
    own bookkeeping can tell that the connection is mid-body."""
    big = random.Random(6).randbytes(1 << 20)

    async def handler(conn: Conn) -> None:
        if conn.index > 1:
            await answering(echo_path)(conn)
            return
        seen = await conn.read_request()
        assert seen is not None and seen.target == "/big"
        await conn.send(response(big[:10_000], length=len(big)) if withheld else response(big))
        await answering(echo_path)(conn)  # only EOF is expected now

    async def main() -> None:
        async with RawServer(handler) as srv, client() as c:
            async with c.stream("GET", srv.url("/big")) as r:
                async for chunk in r.aiter_raw():
                    assert 0 < len(chunk) < len(big)
                    assert big.startswith(chunk)
                    break
            if withheld:
                await srv.until(lambda: srv.eofs == 1)  # the client closed it
            r2 = await c.get(srv.url("/after"))
            assert r2.content == b"body of GET /after"
            assert srv.accepts == 2
            assert [s.target for s in srv.requests] == ["/big", "/after"]
    run(main())


def test_server_that_never_answers_gives_read_timeout() -> None:
    async def silent(conn: Conn) -> None:
        await conn.read_request()
        assert await conn.reader.read() == b""  # nothing more until the client gives up
        await conn.server.note(eof=True)

    async def main() -> None:
        async with RawServer(silent) as srv, client(timeout=httpx.Timeout(0.2)) as c:
            started = time.monotonic()
            with pytest.raises(httpx.ReadTimeout):
                await c.get(srv.url("/slow"))
            assert time.monotonic() - started < 5
            assert len(srv.requests) == 1
            await srv.until(lambda: srv.eofs == 1)  # the timed-out connection was closed
    run(main())


def _huge_head_handler(size: int) -> Handler:
    def answer(seen: Seen) -> bytes:
        return response(b"x", headers=[("X-Huge", "a" * size)])
    return answering(answer)


def test_response_head_far_over_64k_is_refused() -> None:
    async def main() -> None:
        async with RawServer(_huge_head_handler(200_000)) as srv, client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(srv.url("/"))
    run(main())


def test_response_head_over_64k_is_refused() -> None:
    async def main() -> None:
        async with RawServer(_huge_head_handler(70_000)) as srv, client() as c:
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(srv.url("/"))
    run(main())


def test_connection_refused_is_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    async def main() -> None:
        async with client() as c:
            with pytest.raises(httpx.ConnectError):
                await c.get(f"http://127.0.0.1:{port}/")
    run(main())


# -- request bodies --------------------------------------------------------------------------------
def test_put_body_arrives_byte_exact() -> None:
    payload = random.Random(11).randbytes(300_001)

    async def main() -> None:
        async with RawServer(answering(echo_path)) as srv, client() as c:
            r = await c.put(srv.url("/upload"), content=payload)
            assert r.content == b"body of PUT /upload"
            r = await c.put(srv.url("/empty"), content=b"")
            assert r.status_code == 200
            (put, empty) = srv.requests
            assert put.headers["content-length"] == str(len(payload))
            assert put.body == payload
            assert (empty.headers.get("content-length"), empty.body) == ("0", b"")
            assert srv.accepts == 1
    run(main())


# -- pool lifetime ---------------------------------------------------------------------------------
def _answer_when_all_arrived(count: int) -> Handler:
    """Hold every answer until `count` requests arrived, so that the client opens `count`
    connections; then keep serving."""
    async def handler(conn: Conn) -> None:
        seen = await conn.read_request()
        assert seen is not None
        await conn.server.until(lambda: len(conn.server.requests) >= count)
        await conn.send(echo_path(seen))
        await answering(echo_path)(conn)
    return handler


def test_aclose_closes_idle_connections() -> None:
    async def main() -> None:
        async with RawServer(_answer_when_all_arrived(3)) as srv:
            c = client()
            rs = await asyncio.gather(*(c.get(srv.url(f"/{i}")) for i in range(3)))
            assert sorted(r.content for r in rs) == [f"body of GET /{i}".encode()
                                                    for i in range(3)]
            assert (srv.accepts, srv.eofs) == (3, 0)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", ResourceWarning)
                await c.aclose()  # closed by the pool, not by garbage collection ("unclosed")
            assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
            await srv.until(lambda: srv.eofs == 3)
    run(main())


def test_transport_refuses_requests_after_aclose() -> None:
    async def main() -> None:
        transport = H11Transport()
        await transport.aclose()
        with pytest.raises(RuntimeError):
            await transport.handle_async_request(httpx.Request("GET", "http://127.0.0.1:9/"))
    run(main())


def test_idle_connections_beyond_the_limit_are_closed() -> None:
    async def main() -> None:
        async with RawServer(_answer_when_all_arrived(3)) as srv, \
                client(H11Transport(max_idle_per_origin=1)) as c:
            await asyncio.gather(*(c.get(srv.url(f"/{i}")) for i in range(3)))
            await srv.until(lambda: srv.eofs == 2)
            assert (await c.get(srv.url("/again"))).content == b"body of GET /again"
            assert srv.accepts == 3
    run(main())


def test_connection_idle_past_expiry_is_not_reused() -> None:
    async def main() -> None:
        async with RawServer(answering(echo_path)) as srv, \
                client(H11Transport(keepalive_expiry=0.0)) as c:
            assert (await c.get(srv.url("/1"))).content == b"body of GET /1"
            assert (await c.get(srv.url("/2"))).content == b"body of GET /2"
            assert srv.accepts == 2
            await srv.until(lambda: srv.eofs >= 1)
    run(main())


# -- TLS -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A self-signed CA and a leaf for IP 127.0.0.1 signed by it."""
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def no_ssl_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return monkeypatch


async def _tls_get_twice(pki: Pki, transport: H11Transport) -> None:
    async with RawServer(answering(echo_path), tls=pki.server_context()) as srv, \
            client(transport) as c:
        assert (await c.get(srv.url("/1"))).content == b"body of GET /1"
        assert (await c.get(srv.url("/2"))).content == b"body of GET /2"
        assert srv.accepts == 1


def test_tls_with_the_private_ca_context(pki: Pki, no_ssl_env: pytest.MonkeyPatch) -> None:
    run(_tls_get_twice(pki, H11Transport(verify=ssl.create_default_context(cafile=pki.ca))))


def test_tls_default_bundle_refuses_the_private_ca(pki: Pki,
                                                   no_ssl_env: pytest.MonkeyPatch) -> None:
    async def main() -> None:
        async with RawServer(answering(echo_path), tls=pki.server_context()) as srv, \
                client(H11Transport()) as c:
            with pytest.raises(httpx.ConnectError):
                await c.get(srv.url("/"))
            assert srv.requests == []
    run(main())


def test_tls_default_context_honours_ssl_cert_file(pki: Pki,
                                                   no_ssl_env: pytest.MonkeyPatch) -> None:
    no_ssl_env.setenv("SSL_CERT_FILE", str(pki.ca))
    run(_tls_get_twice(pki, H11Transport()))


def test_tls_verify_false_accepts_any_certificate(pki: Pki,
                                                  no_ssl_env: pytest.MonkeyPatch) -> None:
    run(_tls_get_twice(pki, H11Transport(verify=False)))


# -- property: any framing, any split, exact body, connection still usable ------------------------
@dataclass(frozen=True)
class Plan:
    body: bytes
    chunks: tuple[int, ...] | None  # None: Content-Length; else chunk sizes, used in turn
    extensions: bool
    trailer: bool
    splits: tuple[int, ...]  # the server writes the response in pieces of these sizes, in turn

    def wire(self) -> bytes:
        if self.chunks is None:
            return response(self.body)
        out = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"]
        pos, turn = 0, 0
        while pos < len(self.body):
            size = self.chunks[turn % len(self.chunks)] if turn < 1000 else len(self.body)
            piece = self.body[pos:pos + size]
            ext = f";n={turn}" if self.extensions else ""
            out.append(f"{len(piece):x}{ext}\r\n".encode() + piece + b"\r\n")
            pos, turn = pos + len(piece), turn + 1
        out.append(b"0\r\nX-Sum: 1\r\n\r\n" if self.trailer else b"0\r\n\r\n")
        return b"".join(out)

    def pieces(self) -> list[bytes]:
        wire, pos = self.wire(), 0
        out: list[bytes] = []
        while pos < len(wire):
            size = self.splits[len(out) % len(self.splits)] if len(out) < 200 else len(wire)
            out.append(wire[pos:pos + size])
            pos += size
        return out


def _random_bytes(low: int, high: int) -> st.SearchStrategy[bytes]:
    return st.builds(lambda n, seed: random.Random(seed).randbytes(n),
                     st.integers(low, high), st.integers(0, 2**32))


bodies = st.one_of(
    st.binary(max_size=64),
    _random_bytes(0, 200 * 1024),
    _random_bytes(60 * 1024, 200 * 1024),  # past one 64 KiB read, which small draws rarely are
    st.sampled_from([b"0\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n", b"\r\n" * 100]),
)
plans = st.builds(
    Plan, body=bodies,
    chunks=st.none() | st.lists(st.integers(1, 70_000), min_size=1, max_size=6).map(tuple),
    extensions=st.booleans(), trailer=st.booleans(),
    splits=st.lists(st.integers(1, 100_000), min_size=1, max_size=6).map(tuple))


def test_any_framing_and_split_gives_the_exact_body_and_a_reusable_connection() -> None:
    current: list[Plan] = []

    async def handler(conn: Conn) -> None:
        assert await conn.read_request() is not None
        for piece in current[-1].pieces():
            await conn.send(piece)
        await answering(echo_path)(conn)

    srv = RawServer(handler)
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(srv.start())

        async def example(plan: Plan) -> None:
            before = srv.accepts
            async with client() as c:
                r = await c.get(srv.url("/planned"))
                assert r.content == plan.body
                assert (await c.get(srv.url("/next"))).content == b"body of GET /next"
            assert srv.accepts == before + 1

        @settings(max_examples=40, deadline=None)
        @given(plan=plans)
        def prop(plan: Plan) -> None:
            current.append(plan)
            loop.run_until_complete(asyncio.wait_for(example(plan), 3 * WAIT))

        prop()
    finally:
        loop.run_until_complete(srv.stop())
        loop.close()
    assert not srv.errors
