"""HTTP response bodies decoded under a bound on the bytes they produce.

Why not httpx's own decoders: they inflate each received chunk in one call with no output limit,
so `Content-Encoding: gzip, gzip` over a 3.5 KB body makes 4 GB before any size bound can look
at it. clamp asks every server for `Accept-Encoding: identity`; a server that encodes anyway may
use one coding clamp knows (`gzip`, `x-gzip`, `deflate`), never a stack of them, and every call
to zlib is capped at the bytes still allowed, so a bomb stops at its bound plus one byte. The
encoded bytes are bounded too: a deflate stream of empty blocks decodes to nothing forever.

One decoder for every body clamp reads over the network: registry manifests, blobs, token
answers and error pages (both HTTP transports, with or without a proxy), and GitHub's answers to
the dispatch.
"""

from __future__ import annotations

import zlib

#: What clamp sends as Accept-Encoding: registries' blobs are compressed already, and manifests
#: are small; a coded answer only adds a decoder an attacker can aim at.
ACCEPT_ENCODING = "identity"

_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
MAX_CODING_HEADER = 256  # a Content-Encoding longer than this is not one coding


class BodyError(Exception):
    """A body that cannot be decoded safely (stacked, unknown or corrupt coding). The message
    is one line and names no secret; callers raise it as their own error class."""


def codings_of(header: str | None) -> list[str]:
    """The content codings a `Content-Encoding` header lists, in order, `identity` left out."""
    if not header:
        return []
    if len(header) > MAX_CODING_HEADER:
        raise BodyError(f"Content-Encoding header longer than {MAX_CODING_HEADER} characters")
    return [c for c in (part.strip().lower() for part in header.split(",")) if c and
            c != "identity"]


class BoundedDecoder:
    """Decode one body; never more than `limit` bytes out (plus the one that shows the excess).

    `exceeded` turns true when the decoded body (or the encoded one, past `raw_limit`) is larger
    than allowed; what was returned up to then is the body's first `limit` bytes, enough for an
    error page's message. The caller decides whether that is an error.
    """

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        codings = codings_of(content_encoding)
        if len(codings) > 1:
            raise BodyError(f"stacked content codings ({', '.join(codings)[:80]}) are refused")
        self.coding = codings[0] if codings else None
        if self.coding is not None and self.coding not in _WBITS:
            raise BodyError(f"unknown content coding {self.coding[:40]!r}")
        self.limit = max(limit, 0)
        # Deflate adds at most ~0.03% plus a few bytes per block to incompressible data.
        self.raw_limit = self.limit if self.coding is None else \
            self.limit + self.limit // 64 + 4096
        self.exceeded = False
        self.produced = 0
        self._raw = 0
        self._z: zlib._Decompress | None = None
        self._started = False

    def feed(self, data: bytes) -> bytes:
        if self.exceeded or not data:
            return b""
        allowed = self.raw_limit - self._raw
        over_raw = len(data) > allowed
        if over_raw:
            data = data[:allowed]
        self._raw += len(data)
        out = data if self.coding is None else self._inflate(data) if data else b""
        self.produced += len(out)
        if self.produced > self.limit:
            over_raw = True
            out = out[:len(out) - (self.produced - self.limit)]
            self.produced = self.limit
        self.exceeded = over_raw
        return out

    def _inflate(self, data: bytes) -> bytes:
        assert self.coding is not None
        room = self.limit - self.produced + 1  # one byte past the bound shows the excess
        if self._z is not None and self._z.eof:
            raise BodyError("bytes after the end of the compressed body")
        try:
            if not self._started:
                self._started = True
                self._z = zlib.decompressobj(_WBITS[self.coding])
                try:
                    out = self._z.decompress(data, room)
                except zlib.error:
                    if self.coding != "deflate":
                        raise
                    # Some servers send raw deflate where HTTP means the zlib format.
                    self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                    out = self._z.decompress(data, room)
            else:
                assert self._z is not None
                out = self._z.decompress(data, room)
        except zlib.error:
            raise BodyError(f"corrupt {self.coding} body") from None
        if self._z.eof and self._z.unused_data:
            raise BodyError("bytes after the end of the compressed body")
        return out

    def finish(self) -> None:
        """The body ended: a compressed one must have reached its own end."""
        if self.exceeded or self.coding is None or self._raw == 0:
            return  # an empty body is empty under any coding (a HEAD answer, a 204)
        if self._z is None or not self._z.eof:
            raise BodyError(f"{self.coding} body ends before its compressed stream does")
