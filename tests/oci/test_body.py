"""clamp.oci.body.BoundedDecoder: exact bodies under any split, never more than its bound."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.oci.body import BodyError, BoundedDecoder, codings_of


def decode(header: str | None, pieces: list[bytes], limit: int) -> tuple[bytes, bool]:
    decoder = BoundedDecoder(header, limit)
    out = b"".join(decoder.feed(p) for p in pieces)
    decoder.finish()
    return out, decoder.exceeded


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


@given(st.binary(max_size=4096), st.lists(st.integers(0, 5000), max_size=8),
       st.sampled_from(["gzip", "x-gzip", "deflate", None, "identity"]))
def test_any_split_of_a_coded_body_decodes_to_the_body(data: bytes, cuts: list[int],
                                                       coding: str | None) -> None:
    packed = {"gzip": gzip.compress, "x-gzip": gzip.compress, "deflate": zlib.compress}.get(
        coding or "", lambda d: d)(data)
    out, exceeded = decode(coding, split(packed, cuts), 4096)
    assert out == data and not exceeded


@given(st.binary(min_size=1, max_size=2048), st.integers(0, 1024),
       st.sampled_from(["gzip", "deflate", None]))
def test_output_never_passes_the_limit(data: bytes, limit: int, coding: str | None) -> None:
    packed = {"gzip": gzip.compress, "deflate": zlib.compress}.get(coding or "",
                                                                  lambda d: d)(data)
    out, exceeded = decode(coding, [packed], limit)
    assert len(out) <= limit
    assert exceeded == (len(data) > limit)
    assert out == data[:limit]


@given(st.binary(max_size=512), st.sampled_from(["gzip", "deflate"]))
def test_garbage_under_a_coding_is_a_body_error_or_bytes(data: bytes, coding: str) -> None:
    decoder = BoundedDecoder(coding, 1024)
    try:
        out = decoder.feed(data)
        decoder.finish()
    except BodyError:
        return
    assert len(out) <= 1024


@given(st.text(max_size=300))
def test_coding_header_parsing_never_crashes(header: str) -> None:
    with contextlib.suppress(BodyError):
        BoundedDecoder(header, 10)


def test_a_bomb_is_inflated_no_further_than_the_bound() -> None:
    packed = gzip.compress(bytes(64 * 1024 * 1024))
    decoder = BoundedDecoder("gzip", 1000)
    out = decoder.feed(packed)
    assert len(out) == 1000 and decoder.exceeded and decoder.produced == 1000


def test_empty_deflate_blocks_are_bounded_as_encoded_bytes() -> None:
    """Stored blocks of length 0 decode to nothing: only the encoded-bytes bound ends them."""
    decoder = BoundedDecoder("deflate", 100)
    empty_block = b"\x00\x00\x00\xff\xff"  # a non-final stored block of 0 bytes (raw deflate)
    for _ in range(2000):
        decoder.feed(empty_block)
        if decoder.exceeded:
            break
    assert decoder.exceeded and decoder.produced == 0


@pytest.mark.parametrize(("header", "codings"), [
    (None, []), ("", []), ("identity", []), ("GZIP", ["gzip"]), ("gzip, identity", ["gzip"]),
    ("gzip,gzip", ["gzip", "gzip"]), (" br ", ["br"])])
def test_codings_of(header: str | None, codings: list[str]) -> None:
    assert codings_of(header) == codings


@pytest.mark.parametrize("header", ["gzip, gzip", "deflate, gzip", "br", "zstd", "compress"])
def test_stacked_and_unknown_codings_are_refused(header: str) -> None:
    with pytest.raises(BodyError):
        BoundedDecoder(header, 10)
