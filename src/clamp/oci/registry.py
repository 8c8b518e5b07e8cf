"""The distribution API client: manifests, blobs, tags, referrers, uploads.

One `RegistryClient` per registry host, all sharing the connections of one `RegistryPool`
(clamp.oci.pool). Every call keeps the raw bytes beside what is parsed from them: a manifest's
digest is always computed from the bytes that arrived. How one request is sent (scheme rule,
deadlines, redirects, bounded bodies) is clamp.oci.exchange; how it is authenticated
(challenges, tokens, the anonymous retry) is clamp.oci.auth_flow.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote, urljoin, urlsplit

if TYPE_CHECKING:
    from clamp.oci.pool import RegistryPool

from clamp.digest import Digest, digest_of, is_digest, parse_digest, verify_bytes
from clamp.errors import (
    AuthError,
    ClampError,
    DigestMismatchError,
    NotFoundError,
    RegistryError,
)
from clamp.oci.auth import Credentials, Origin, masked, origin_of
from clamp.oci.auth_flow import RegistryAuth, may_send_credentials
from clamp.oci.exchange import (
    BUDGET,
    MAX_SMALL_BYTES,
    Budget,
    Response,
    check_scheme,
    error_detail,
    json_object,
    next_link,
    next_page,
)
from clamp.oci.fallback import completed
from clamp.oci.manifest import (
    MANIFEST_ACCEPT,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    Descriptor,
    Manifest,
    encode_json,
    read_document,
)
from clamp.oci.reference import DOCKER_HUB, DOCKER_HUB_API
from clamp.oci.retry import RETRYABLE_STATUS, RetryableError, parse_retry_after, retrying

# Names other modules and the tests import from here.
__all__ = ["MAX_BLOB_BYTES", "RegistryClient", "check_scheme", "may_send_credentials",
           "next_link"]

MAX_BLOB_BYTES = 16 * 1024 * 1024  # signatures, bundles and configs; never image layers
MAX_TAG_PAGES = 100
#: Tags kept from all pages together: 100 pages of 4 MiB of short tags would hold gigabytes of
#: Python strings (~28 MiB a page); real repositories list thousands.
MAX_TAGS = 100_000
MAX_REFERRER_PAGES = 10  # 4 MiB for all of them together: far more signatures than any image has


class RegistryClient:
    """The /v2/ API of one registry host."""

    def __init__(self, registry: str, pool: RegistryPool, credentials: Credentials | None) -> None:
        self.registry = registry
        self.host = DOCKER_HUB_API if registry == DOCKER_HUB else registry
        self.pool = pool
        self.credentials = credentials
        self.base = f"{pool.scheme_for(self.host)}://{self.host}"
        self.origin: Origin = origin_of(self.base)
        self.auth = RegistryAuth(registry, self.base, pool, credentials)
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
        # The bytes were hashed once, by Manifest.parse (with the asked digest's algorithm):
        # the checks below compare that digest, hashing again only for another algorithm.
        if is_digest(ref) and manifest.digest != parse_digest(ref):
            raise DigestMismatchError(f"bytes received hash to {manifest.digest}, not {ref}",
                                      where=where)
        announced = resp.headers.get("docker-content-digest")
        if announced and is_digest(announced):
            said = parse_digest(announced)
            got = manifest.digest if said.algorithm == manifest.digest.algorithm else \
                digest_of(resp.body, said.algorithm)
            if got != said:
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
            body = json_object(resp.body, where)
            page = body.get("tags") or []
            if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                raise RegistryError("tag list is not a list of strings", where=where)
            tags.extend(page)
            if len(tags) > MAX_TAGS:
                raise RegistryError(f"more than {MAX_TAGS} tags", where=where)
            path = next_page(resp, where)
        raise RegistryError(f"more than {MAX_TAG_PAGES} pages of tags", where=where)

    async def referrers(self, repo: str, digest: Digest,
                        artifact_type: str | None = None) -> list[Descriptor]:
        """Referrers of `digest`: the OCI 1.1 API, else the `sha256-<hex>` tag-schema fallback."""
        where = f"{self.registry}/{repo}@{digest} (referrers)"
        # Encoded: a query's `+` is a space to the registry (Go's url.ParseQuery), and
        # `…bundle.v0.3+json` unencoded filtered every referrer out. What comes back is
        # filtered here again all the same (a registry may ignore the filter).
        query = f"?artifactType={quote(artifact_type, safe='')}" if artifact_type else ""
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
        # Listed by cosign (go-containerregistry) in the fallback index, and by registries that
        # copy the config's media type, a bundle says it is an empty artifact.
        found = await completed(index.manifests, lambda d: self.get_manifest(repo, d))
        if artifact_type:
            found = [d for d in found if d.artifact_type == artifact_type]
        return found

    async def _referrers_api_call(self, repo: str, target: str, where: str) -> Manifest | None:
        """GET /referrers/<digest>; learns whether the registry has the API. The spec's answer
        for "no API" is 404; registries in the field also answer 400 or 406 (go-containerregistry
        falls back on those), 405 or 501 for a route they do not have, or 200 with something
        that is not an OCI index. Anything else is an error, not a reason to look elsewhere. The
        answer's media type is compared as media types are, case-insensitively and without its
        parameters (RFC 6838; oras-go reads it so): an API answer spelt in capitals is no sign
        that the registry lacks the API. Where referrers are listed never decides whether they
        are trusted: each is verified the same way from either place."""
        # A redirect to another origin is no answer of the registry's API: GHCR has sent the
        # endpoint on (303) to github.com's web API, which rate-limits (429) or refuses (401);
        # retried and then reported, that made every GHCR image a registry error (session 13).
        # Whatever that host says, unless it is an OCI index, the fallback tag is read.
        try:
            resp = await self._call("GET", repo, f"/referrers/{target}", where=where,
                                    headers={"Accept": OCI_INDEX}, max_bytes=MAX_MANIFEST_BYTES,
                                    expect=(200, 400, 405, 406, 501), elsewhere=True)
        except NotFoundError:
            self._referrers_api = False
            return None
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if resp.status != 200 or ctype != OCI_INDEX:
            self._referrers_api = False
            return None
        self._referrers_api = True
        index = Manifest.parse(resp.body, content_type=None, where=where)
        # A registry that cannot list every referrer in one answer links the next page.
        entries = list(index.body.get("manifests") or [])
        page: Response = resp
        received = len(resp.body)
        for _ in range(MAX_REFERRER_PAGES - 1):
            url = next_page(page, where)
            if url is None:
                break
            page = await self._call("GET", repo, url, where=where, headers={"Accept": OCI_INDEX},
                                    max_bytes=MAX_MANIFEST_BYTES)
            # The merged index is bounded as one manifest is: the pages together, counted as
            # they arrive, so ten full pages never sit parsed in memory (hundreds of MB of
            # Python objects) only to be refused once merged.
            received += len(page.body)
            if received > MAX_MANIFEST_BYTES:
                raise RegistryError(f"referrers pages exceed {MAX_MANIFEST_BYTES} bytes together",
                                    where=where)
            # Each page is an index too: read as Go reads it (the strict reader), as the first.
            more = read_document(page.body, what="referrers page", where=where).get("manifests")
            if not isinstance(more, list):
                raise RegistryError("referrers page has no manifests list", where=where)
            entries += more
        else:
            if next_page(page, where) is not None:
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
        """PUT a manifest. Success is 201 by the spec, and 200 or 202 as go-containerregistry
        (cosign's pusher) and containers/image accept it: Quay answered 202 (containers/image
        #381), and clamp sign refused a push that had landed (session 13). What the registry
        says it stored is still checked against the bytes sent."""
        where = f"{self.registry}/{repo}:{ref} (push)"
        resp = await self._call("PUT", repo, f"/manifests/{ref}", where=where, content=raw,
                                headers={"Content-Type": media_type}, max_bytes=MAX_SMALL_BYTES,
                                expect=(200, 201, 202), actions="pull,push")
        digest = digest_of(raw)
        announced = resp.headers.get("docker-content-digest")
        if announced and announced != str(digest):
            raise DigestMismatchError(f"registry stored {announced}, we sent {digest}", where=where)
        return digest

    # ---- transport --------------------------------------------------------------------------

    async def _call(self, method: str, repo: str, path: str, *, where: str, max_bytes: int,
                    headers: dict[str, str] | None = None, content: bytes | None = None,
                    expect: tuple[int, ...] = (200,), actions: str = "pull",
                    elsewhere: bool = False) -> Response:
        """One registry call: retried, within its budget, secrets masked in its errors. With
        `elsewhere`, an answer from another origin (where a redirect led) is returned whatever
        its status, never retried: the caller judges it."""
        url = path if path.startswith(("http://", "https://")) else f"{self.base}/v2/{repo}{path}"
        check_scheme(url, self.pool, where)
        if origin_of(url) != self.origin:
            # An upload Location or a page link on another host: the request would carry this
            # registry's credentials there.
            raise RegistryError(f"refusing to send a request for {self.registry} to another "
                                f"host ({urlsplit(url).netloc.rsplit('@', 1)[-1][:100]})",
                                where=where)
        reset = BUDGET.set(Budget(self.pool.options.request_budget))
        try:
            async for attempt in retrying(self.pool.options.retry):
                with attempt:
                    return await self._attempt(method, url, repo, where=where, headers=headers,
                                               content=content, max_bytes=max_bytes,
                                               expect=expect, actions=actions,
                                               elsewhere=elsewhere)
        except RetryableError as exc:
            raise RegistryError(f"{exc} (gave up after retries)", where=where) from None
        except ClampError as exc:
            clean = masked(exc, self._secrets())
            if clean is exc:
                raise
            raise clean from None
        finally:
            BUDGET.reset(reset)
        raise RegistryError("no attempt was made", where=where)  # pragma: no cover

    async def _attempt(self, method: str, url: str, repo: str, *, where: str,
                       headers: dict[str, str] | None, content: bytes | None, max_bytes: int,
                       expect: tuple[int, ...], actions: str, elsewhere: bool) -> Response:
        resp = await self.auth.exchange(method, url, f"repository:{repo}:{actions}", where=where,
                                        headers=headers, content=content, max_bytes=max_bytes,
                                        elsewhere=elsewhere)
        if elsewhere and origin_of(str(resp.url)) != self.origin:
            return resp
        return self._check_status(resp, expect, where)

    def _secrets(self) -> list[str]:
        return self.auth.secrets()

    def _check_status(self, resp: Response, expect: tuple[int, ...], where: str) -> Response:
        if resp.status in expect:
            return resp
        detail = error_detail(resp.body, self._secrets())
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
