"""Registry behaviours seen in the field that the spec allows or that real registries have:
absolute and multi-valued `Link` headers, realms with their own query, tokens refused before
they expire, paged referrers, sha512 subjects, fallback tags that resolve to the subject itself,
rate-limit messages, and platform spellings of multi-arch indexes."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from clamp.digest import parse_digest
from clamp.errors import BadInputError, RegistryError
from clamp.oci.manifest import OCI_INDEX, OCI_MANIFEST, Manifest, Platform
from clamp.oci.pool import ClientOptions, RegistryPool
from clamp.oci.reference import parse_reference
from clamp.oci.registry import next_link
from clamp.oci.retry import RetryPolicy
from tests.support.hostile_registry import Answer, hostile_registry

FAST = ClientOptions(retry=RetryPolicy(attempts=2, max_wait=0.05, total=5, initial=0.01),
                     attempt_deadline=5)
TAGS = [f"6.{i}.0" for i in range(7)]


def run(coro: Any) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, 20)
    return asyncio.run(bounded())


async def _tags(host: str) -> list[str]:
    async with RegistryPool(FAST) as pool:
        return await pool.client(host).list_tags("r/x")


def _paged_tags(link_for: Any) -> Any:
    """Tags three to a page, each page linking the next with `link_for(host, next_path)`."""
    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        last = parse_qs(urlsplit(path).query).get("last", [None])[0]
        start = TAGS.index(last) + 1 if last else 0
        page = TAGS[start:start + 3]
        out = {"Content-Type": "application/json"}
        if start + 3 < len(TAGS):
            out["Link"] = link_for(headers["Host"], f"/v2/r/x/tags/list?n=3&last={page[-1]}")
        return Answer(200, json.dumps({"name": "r/x", "tags": page}).encode(), out)
    return script


@pytest.mark.parametrize("style", ["relative", "absolute", "unquoted", "first-then-next"])
def test_tag_pages_follow_every_spelling_of_the_next_link(style: str) -> None:
    links = {
        "relative": lambda host, nxt: f'<{nxt}>; rel="next"',
        # The distribution spec's own example is an absolute URL.
        "absolute": lambda host, nxt: f'<http://{host}{nxt}>; rel="next"',
        "unquoted": lambda host, nxt: f"<{nxt}>; rel=next",  # RFC 8288 allows a token
        "first-then-next": lambda host, nxt: f'</v2/r/x/tags/list?n=3>; rel="first", '
                                             f'<{nxt}>; rel="next"'}
    with hostile_registry(with_headers=_paged_tags(links[style])) as srv:
        assert run(_tags(srv.host)) == TAGS
        assert len(srv.requests) == 3


def test_next_page_on_another_host_is_refused() -> None:
    """The request would carry the registry's credentials to a host that is not the registry."""
    script = _paged_tags(lambda host, nxt: f'<http://127.0.0.2:1{nxt}>; rel="next"')
    with hostile_registry(with_headers=script) as srv, \
            pytest.raises(RegistryError, match="another host"):
        run(_tags(srv.host))
    assert len(srv.requests) == 1


@pytest.mark.parametrize(("header", "target"), [
    ('</a?n=1>; rel="next"', "/a?n=1"),
    ('</p>; rel="prev", </n>; rel="next"', "/n"),
    ('</n>; rel="prefetch next"; title="x, y"', "/n"),
    ("</n>; REL=Next", "/n"),
    ('</p>; rel="previous"', None),
    ("", None),
    ("garbage", None),
])
def test_next_link_parsing(header: str, target: str | None) -> None:
    assert next_link(header) == target


def _token_registry(realm_path: str, tokens: list[str], revoke_first: bool) -> Any:
    """A Bearer-token registry; records token requests; may revoke the first token it issued."""
    issued: list[str] = []

    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        host = headers["Host"]
        if path.startswith("/token"):
            tokens.append(path)
            issued.append(f"tok{len(issued) + 1}")
            return Answer(200, json.dumps({"token": issued[-1], "expires_in": 300}).encode(),
                          {"Content-Type": "application/json"})
        auth = headers.get("Authorization", "")
        refused = revoke_first and auth == "Bearer tok1"
        if not auth.startswith("Bearer ") or refused:
            realm = f"http://{host}{realm_path}"
            error = ',error="invalid_token"' if refused else ""
            return Answer(401, b"", {"WWW-Authenticate":
                                     f'Bearer realm="{realm}",service="reg"{error}'})
        return Answer(200, json.dumps({"name": "r/x", "tags": ["a"]}).encode(),
                      {"Content-Type": "application/json"})
    return script


def test_realm_keeps_its_own_query() -> None:
    """Artifactory-style realms carry a query of their own; scope and service are added to it."""
    tokens: list[str] = []
    with hostile_registry(with_headers=_token_registry("/token?repo=docker-remote", tokens,
                                                       False)) as srv:
        assert run(_tags(srv.host)) == ["a"]
    query = parse_qs(urlsplit(tokens[0]).query)
    assert query["repo"] == ["docker-remote"] and query["service"] == ["reg"]
    assert query["scope"] == ["repository:r/x:pull"]


def test_a_refused_token_is_replaced_once() -> None:
    """A token revoked (or expired early) before its expires_in is dropped and a new one asked
    for, instead of being resent until the attempts run out."""
    tokens: list[str] = []
    with hostile_registry(with_headers=_token_registry("/token", tokens, True)) as srv:
        assert run(_tags(srv.host)) == ["a"]
    assert len(tokens) == 2


def test_a_token_refused_again_is_an_auth_error() -> None:
    tokens: list[str] = []

    def always_refused(method: str, path: str, headers: dict[str, str]) -> Answer:
        if path.startswith("/token"):
            tokens.append(path)
            return Answer(200, b'{"token": "t"}', {"Content-Type": "application/json"})
        return Answer(401, b"", {"WWW-Authenticate":
                                 f'Bearer realm="http://{headers["Host"]}/token",service="s"'})

    from clamp.errors import AuthError

    with hostile_registry(with_headers=always_refused) as srv, pytest.raises(AuthError):
        run(_tags(srv.host))
    assert 2 <= len(tokens) <= 4  # one refresh per attempt, bounded


def test_rate_limit_message_reaches_the_user() -> None:
    body = json.dumps({"errors": [{"code": "TOOMANYREQUESTS", "message": "You have reached "
                                   "your pull rate limit."}]}).encode()
    with hostile_registry(lambda m, p: Answer(429, body, {"Retry-After": "0"})) as srv, \
            pytest.raises(RegistryError, match="TOOMANYREQUESTS You have reached your pull"):
        run(_tags(srv.host))


def _index(entries: list[dict[str, Any]]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()


def _referrer(i: int) -> dict[str, Any]:
    return {"mediaType": OCI_MANIFEST, "digest": "sha256:" + f"{i:x}" * 64, "size": 10,
            "artifactType": "application/vnd.dev.sigstore.bundle.v0.3+json"}


def test_referrers_follow_their_pages() -> None:
    subject = parse_digest("sha256:" + "a" * 64)

    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        page2 = "page=2" in path
        body = _index([_referrer(3)] if page2 else [_referrer(1), _referrer(2)])
        out = {"Content-Type": OCI_INDEX}
        if not page2:
            out["Link"] = f'</v2/r/x/referrers/{subject}?page=2>; rel="next"'
        return Answer(200, body, out)

    async def go(host: str) -> list[str]:
        async with RegistryPool(FAST) as pool:
            return [str(d.digest) for d in await pool.client(host).referrers("r/x", subject)]

    with hostile_registry(with_headers=script) as srv:
        got = run(go(srv.host))
    assert got == [str(_referrer(i)["digest"]) for i in (1, 2, 3)]


def _fallback_only(tags: dict[str, bytes]) -> Any:
    """No referrers API (404); manifests by tag from `tags`."""
    def script(method: str, path: str) -> Answer:
        if "/referrers/" in path:
            return Answer(404, b"")
        ref = path.rsplit("/manifests/", 1)[-1]
        if ref in tags:
            raw = tags[ref]
            return Answer(200, raw, {"Content-Type": OCI_INDEX, "Docker-Content-Digest":
                                     "sha256:" + hashlib.sha256(raw).hexdigest()})
        return Answer(404, b"")
    return script


async def _referrers(host: str, digest: str) -> list[str]:
    async with RegistryPool(FAST) as pool:
        found = await pool.client(host).referrers("r/x", parse_digest(digest))
        return [str(d.digest) for d in found]


def test_sha512_subject_uses_the_64_character_fallback_tag() -> None:
    subject = "sha512:" + "b" * 128
    tag = "sha512-" + "b" * 64  # the tag schema's <alg>-<ref>, ref cut to 64 characters
    with hostile_registry(_fallback_only({tag: _index([_referrer(5)])})) as srv:
        assert run(_referrers(srv.host, subject)) == [str(_referrer(5)["digest"])]
    assert parse_digest(subject).referrers_tag == tag
    assert parse_digest(subject).tag_form == "sha512-" + "b" * 128  # cosign's .sig tags


def test_fallback_tag_that_resolves_to_the_subject_is_no_referrer_list() -> None:
    """GitLab resolves `sha256-<hex>` to the manifest `sha256:<hex>`: a multi-arch index's own
    platform children must not be taken for its referrers."""
    index = _index([{"mediaType": OCI_MANIFEST, "digest": "sha256:" + "c" * 64, "size": 1,
                     "platform": {"os": "linux", "architecture": "amd64"}}])
    subject = "sha256:" + hashlib.sha256(index).hexdigest()
    with hostile_registry(_fallback_only({"sha256-" + subject[7:]: index})) as srv:
        assert run(_referrers(srv.host, subject)) == []


@pytest.mark.parametrize("tag", ["tâg", "６.4", "v1\u00a0"])
def test_non_ascii_tags_are_bad_references(tag: str) -> None:
    with pytest.raises(BadInputError):
        parse_reference(f"ghcr.io/rocm/dev:{tag}")


def _platform_index(*platforms: dict[str, str] | None) -> Manifest:
    entries = []
    for i, plat in enumerate(platforms):
        entry: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + f"{i}" * 64,
                                 "size": 1}
        if plat is not None:
            entry["platform"] = plat
        entries.append(entry)
    return Manifest.parse(_index(entries), content_type=None, where="test")


def _picked(index: Manifest, wanted: str) -> int | None:
    child = index.platform_child(Platform.parse(wanted))
    return None if child is None else int(str(child.digest)[7])


def test_platforms_match_as_a_container_runtime_matches_them() -> None:
    buildkit = _platform_index({"os": "linux", "architecture": "amd64"},
                               {"os": "linux", "architecture": "arm64"})
    assert _picked(buildkit, "linux/arm64/v8") == 1  # v8 is arm64's default
    official = _platform_index({"os": "linux", "architecture": "arm", "variant": "v6"},
                               {"os": "linux", "architecture": "arm", "variant": "v7"},
                               {"os": "linux", "architecture": "arm64", "variant": "v8"})
    assert _picked(official, "linux/arm") == 1  # plain arm means arm/v7, not the first arm
    assert _picked(official, "linux/arm/v6") == 0
    assert _picked(official, "linux/arm64") == 2
    assert _picked(official, "linux/aarch64") == 2 and _picked(official, "linux/amd64") is None
    bare = _platform_index(None)
    assert _picked(bare, "linux/amd64") == 0 and _picked(bare, "linux/arm64") is None
    attestations = _platform_index({"os": "unknown", "architecture": "unknown"},
                                   {"os": "linux", "architecture": "x86_64"})
    assert _picked(attestations, "linux/amd64") == 1
    assert _picked(_platform_index({"os": "linux", "architecture": "arm64",
                                    "variant": "v9"}), "linux/arm64/v8") is None


def test_identity_token_is_exchanged_by_the_oauth2_flow(tmp_path: Any) -> None:
    """`az acr login` leaves a docker config entry whose `auth` is a placeholder user with no
    password and whose `identitytoken` is an OAuth2 refresh token: it is POSTed to the realm
    (grant_type=refresh_token) for the access token, never sent as Basic credentials."""
    import base64

    from clamp.oci.credentials import credentials_for

    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        if path.startswith("/oauth2/token"):
            if method != "POST":
                return Answer(401, b"")  # the placeholder user has no password
            return Answer(200, b'{"access_token": "acc", "expires_in": 300}',
                          {"Content-Type": "application/json"})
        if headers.get("Authorization") != "Bearer acc":
            return Answer(401, b"", {"WWW-Authenticate": f'Bearer realm="http://'
                                     f'{headers["Host"]}/oauth2/token",service="acr.test"'})
        return Answer(200, b'{"name": "r/x", "tags": ["a"]}', {"Content-Type": "application/json"})

    with hostile_registry(with_headers=script) as srv:
        placeholder = base64.b64encode(b"00000000-0000-0000-0000-000000000000:").decode()
        (tmp_path / "config.json").write_text(json.dumps({"auths": {srv.host: {
            "auth": placeholder, "identitytoken": "refresh-secret"}}}))
        creds = credentials_for(srv.host, {"DOCKER_CONFIG": str(tmp_path)})
        assert creds is not None and creds.identity_token == "refresh-secret"
        assert "refresh-secret" not in repr(creds)

        async def go() -> list[str]:
            from dataclasses import replace

            async with RegistryPool(replace(FAST, credentials={srv.host: creds})) as pool:
                return await pool.client(srv.host).list_tags("r/x")

        assert run(go()) == ["a"]
    posts = [i for i, (m, _) in enumerate(srv.requests) if m == "POST"]
    assert len(posts) == 1
    form = parse_qs(srv.bodies[posts[0]].decode())
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["refresh-secret"]
    assert form["service"] == ["acr.test"] and form["scope"] == ["repository:r/x:pull"]


def _pushing(status: int, announce: str | None = None) -> Any:
    """A registry taking pushes (blob upload, then the manifest), answering the manifest PUT
    with `status` and, when given, announcing `announce` as the digest it stored."""
    def script(method: str, path: str) -> Answer:
        if method == "HEAD":
            return Answer(404)
        if method == "POST":
            return Answer(202, headers={"Location": "/v2/r/x/blobs/uploads/1"})
        if "/blobs/uploads/" in path:
            return Answer(201)
        return Answer(status, headers={"Docker-Content-Digest": announce} if announce else {})
    return script


async def _push(host: str) -> str:
    async with RegistryPool(FAST) as pool:
        client = pool.client(host)
        config = await client.put_blob("r/x", b"{}")
        raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
            "mediaType": "application/vnd.oci.empty.v1+json", "digest": str(config), "size": 2},
            "layers": []}).encode()
        return str(await client.put_manifest("r/x", "t", raw, OCI_MANIFEST))


@pytest.mark.parametrize("status", [200, 201, 202])
def test_a_manifest_push_answered_200_or_202_has_landed(status: int) -> None:
    """Session 13: Quay answered a manifest PUT with 202 Accepted (containers/image #381);
    go-containerregistry, cosign's pusher, takes 200, 201 and 202. clamp sign took only 201
    and reported a push that had landed as an error."""
    with hostile_registry(_pushing(status)) as srv:
        assert run(_push(srv.host)).startswith("sha256:")
    assert ("PUT", "/v2/r/x/manifests/t") in srv.requests


@pytest.mark.parametrize("status", [202, 204, 301])
def test_a_manifest_push_answered_otherwise_is_refused(status: int) -> None:
    """The twin: a 202 announcing other bytes than those sent is refused as a 201 would be,
    and a status go-containerregistry refuses (204, a redirect that is no success) stays an
    error."""
    from clamp.errors import DigestMismatchError

    other = "sha256:" + "0" * 64
    with hostile_registry(_pushing(status, other if status == 202 else None)) as srv:
        expected = DigestMismatchError if status == 202 else RegistryError
        with pytest.raises(expected):
            run(_push(srv.host))
