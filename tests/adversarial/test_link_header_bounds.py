"""A registry's `Link` header, the one header every page of a listing is parsed for, the pages
it leads to, and how much a listing may hold.

Red team, session 10: the next-page parser was quadratic in the header (an unclosed `<` rescanned
the rest of the header from every `<`; a run of spaces between parameters was rescanned from
every space), and nothing bounded the header below the 64 KiB response head. A hostile registry
could hand clamp seconds of CPU per page on the event loop, where no attempt deadline can
interrupt it: 100 pages of tags (`clamp update`'s listing) cost minutes. Now a Link value past
8 KiB is refused (as an oversized `WWW-Authenticate` is) and the parser is linear, so what
passes the bound costs nothing. Each case has its honest twin: a long Link under the bound is
followed, page by page.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from clamp.digest import parse_digest
from clamp.errors import RegistryError
from clamp.exitcodes import ExitCode, for_error
from clamp.oci.exchange import MAX_LINK_BYTES, next_link
from clamp.oci.manifest import OCI_INDEX, OCI_MANIFEST
from clamp.oci.pool import ClientOptions, RegistryPool
from clamp.oci.registry import MAX_MANIFEST_BYTES, MAX_TAGS
from clamp.oci.retry import RetryPolicy
from tests.support.hostile_registry import Answer, hostile_registry

FAST = ClientOptions(retry=RetryPolicy(attempts=2, max_wait=0.05, total=5, initial=0.01),
                     attempt_deadline=5)
PAGES = 3
SUBJECT = parse_digest("sha256:" + "a" * 64)


def run(coro: Any) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, 30)
    return asyncio.run(bounded())


def padded(target: str, pad: int) -> str:
    """A next link with `pad` spaces between two parameters: the shape that was quadratic."""
    return f"<{target}>; x" + " " * pad + 'y; rel="next"'


def _tag_pages(pad: int) -> Any:
    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        page = int(parse_qs(urlsplit(path).query).get("page", ["0"])[0])
        out = {"Content-Type": "application/json"}
        if page + 1 < PAGES:
            out["Link"] = padded(f"/v2/r/x/tags/list?page={page + 1}", pad)
        return Answer(200, json.dumps({"name": "r/x", "tags": [f"t{page}"]}).encode(), out)
    return script


def _referrer(i: int) -> dict[str, Any]:
    return {"mediaType": OCI_MANIFEST, "digest": "sha256:" + f"{i:x}" * 64, "size": 10,
            "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}


def _referrer_pages(pad: int) -> Any:
    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        page = int(parse_qs(urlsplit(path).query).get("page", ["0"])[0])
        out = {"Content-Type": OCI_INDEX}
        if page + 1 < PAGES:
            out["Link"] = padded(f"/v2/r/x/referrers/{SUBJECT}?page={page + 1}", pad)
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [_referrer(page + 1)]}
        return Answer(200, json.dumps(body).encode(), out)
    return script


async def _tags(host: str) -> list[str]:
    async with RegistryPool(FAST) as pool:
        return await pool.client(host).list_tags("r/x")


async def _referrers(host: str) -> list[str]:
    async with RegistryPool(FAST) as pool:
        return [str(d.digest) for d in await pool.client(host).referrers("r/x", SUBJECT)]


def test_an_oversized_link_header_on_a_tag_page_is_refused() -> None:
    with hostile_registry(with_headers=_tag_pages(60000)) as srv, \
            pytest.raises(RegistryError, match=f"Link header longer than {MAX_LINK_BYTES}") as info:
        run(_tags(srv.host))
    assert len(srv.requests) == 1  # refused on the first page, not retried
    assert for_error(info.value) == ExitCode.REGISTRY_ERROR
    assert "\n" not in str(info.value)


def test_a_long_link_header_within_the_bound_is_followed() -> None:
    with hostile_registry(with_headers=_tag_pages(MAX_LINK_BYTES - 200)) as srv:
        assert run(_tags(srv.host)) == [f"t{i}" for i in range(PAGES)]
    assert len(srv.requests) == PAGES


def test_an_oversized_link_header_on_a_referrers_page_is_refused() -> None:
    """The referrers listing's pages are the other place a Link is read."""
    with hostile_registry(with_headers=_referrer_pages(60000)) as srv, \
            pytest.raises(RegistryError, match="Link header longer than"):
        run(_referrers(srv.host))


def test_referrer_pages_with_a_long_link_within_the_bound_are_followed() -> None:
    with hostile_registry(with_headers=_referrer_pages(MAX_LINK_BYTES - 200)) as srv:
        got = run(_referrers(srv.host))
    assert got == [_referrer(i)["digest"] for i in range(1, PAGES + 1)]


@pytest.mark.parametrize(("header", "target"), [
    # The shapes that were quadratic, within the bound: the same answer as a short header.
    (padded("/n", MAX_LINK_BYTES - 50), "/n"),
    ("<" * (MAX_LINK_BYTES - 50), None),
    ("<" * 1000 + '</n>; rel="next"', "/n"),  # was "<<<…</n": a URI holds no "<"
    ('</a>; rel="prev"' + "; " * 3000 + ', </n>; rel="next"', "/n"),
    ('</n>; title="a;b"; rel="next"', "/n"),
    ('</n>; rel = "next"', "/n"),
    ("</n>; rel", None),
    ("</n>; =next", None),
])
def test_next_link_reads_hostile_shapes_as_short_ones(header: str, target: str | None) -> None:
    assert next_link(header) == target


# -- the pages a Link leads to: each one read as Go reads it ------------------------------------
# Session 10: the first page of referrers went through the strict reader, the pages after it
# through Python's json (last duplicate wins, `"Manifests"` not the field): a page Go reads one
# way was read another. Now each page is read as the first is.
def _second_page(body: bytes) -> Any:
    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        out = {"Content-Type": OCI_INDEX}
        if "page=1" in path:
            return Answer(200, body, out)
        out["Link"] = f'</v2/r/x/referrers/{SUBJECT}?page=1>; rel="next"'
        first = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [_referrer(1)]}
        return Answer(200, json.dumps(first).encode(), out)
    return script


def _page(entries: str) -> bytes:
    return ('{"schemaVersion":2,"mediaType":"' + OCI_INDEX + '",' + entries + "}").encode()


@pytest.mark.parametrize("entries", [
    f'"manifests":[{json.dumps(_referrer(2))}],"Manifests":[{json.dumps(_referrer(3))}]',
    f'"manifests":[{json.dumps(_referrer(2))}],"manifests":[{json.dumps(_referrer(3))}]',
    '"manifests":{"a":1}',
])
def test_a_later_referrers_page_read_two_ways_is_refused(entries: str) -> None:
    with hostile_registry(with_headers=_second_page(_page(entries))) as srv, \
            pytest.raises(RegistryError, match="referrers page"):
        run(_referrers(srv.host))


def test_a_later_referrers_page_is_read_as_go_reads_it() -> None:
    """A lone `"Manifests"` is the field to Go (and so to cosign): its referrers are listed."""
    page = _page(f'"Manifests":[{json.dumps(_referrer(3))}]')
    with hostile_registry(with_headers=_second_page(page)) as srv:
        assert run(_referrers(srv.host)) == [_referrer(1)["digest"], _referrer(3)["digest"]]


# -- how much a listing may hold -----------------------------------------------------------------
# Session 10: 100 pages of 4 MiB each were allowed, and a page of short distinct tags holds ~28
# MiB of Python strings: gigabytes for one `clamp update` discovery. Now at most MAX_TAGS tags
# are kept from all pages together.
def _many_tags(per_page: int, pages: int) -> Any:
    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        page = int(parse_qs(urlsplit(path).query).get("page", ["0"])[0])
        out = {"Content-Type": "application/json"}
        if page + 1 < pages:
            out["Link"] = f'</v2/r/x/tags/list?page={page + 1}>; rel="next"'
        tags = [f"{page}-{i:x}" for i in range(per_page)]
        return Answer(200, json.dumps({"name": "r/x", "tags": tags}).encode(), out)
    return script


def test_a_listing_past_the_tag_bound_is_refused() -> None:
    per_page = MAX_TAGS // 2 + 1
    with hostile_registry(with_headers=_many_tags(per_page, 5)) as srv, \
            pytest.raises(RegistryError, match=f"more than {MAX_TAGS} tags"):
        run(_tags(srv.host))
    assert len(srv.requests) == 2  # stopped at the page that passed the bound


def test_a_listing_within_the_tag_bound_is_read_whole() -> None:
    per_page = MAX_TAGS // 4
    with hostile_registry(with_headers=_many_tags(per_page, 4)) as srv:
        tags = run(_tags(srv.host))
    assert len(tags) == MAX_TAGS and tags[-1] == f"3-{per_page - 1:x}"


# Session 10: ten referrers pages of up to 4 MiB each were all parsed and merged (300-400 MB of
# Python objects at the peak) before the merged index was refused for its size. Now the pages
# are bounded together as one index is, counted as they arrive.
def _big_referrer_pages(per_page: int, pages: int) -> Any:
    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        page = int(parse_qs(urlsplit(path).query).get("page", ["0"])[0])
        out = {"Content-Type": OCI_INDEX}
        if page + 1 < pages:
            out["Link"] = f'</v2/r/x/referrers/{SUBJECT}?page={page + 1}>; rel="next"'
        entries = [_referrer(1 + (page * per_page + i) % 15) for i in range(per_page)]
        body = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        return Answer(200, json.dumps(body).encode(), out)
    return script


def test_referrers_pages_past_one_index_together_are_refused_as_they_arrive() -> None:
    per_page = 2 * MAX_MANIFEST_BYTES // 3 // len(json.dumps(_referrer(1)))  # 2/3 of the bound
    with hostile_registry(with_headers=_big_referrer_pages(per_page, 10)) as srv, \
            pytest.raises(RegistryError, match="referrers pages exceed") as info:
        run(_referrers(srv.host))
    assert for_error(info.value) == ExitCode.REGISTRY_ERROR
    assert sum("/referrers/" in path for _, path in srv.requests) == 2  # not all ten pages


def test_referrers_pages_within_one_index_together_are_merged() -> None:
    per_page = MAX_MANIFEST_BYTES // 4 // len(json.dumps(_referrer(1)))
    with hostile_registry(with_headers=_big_referrer_pages(per_page, 3)) as srv:
        got = run(_referrers(srv.host))
    assert len(got) == 3 * per_page
