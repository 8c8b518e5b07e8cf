"""The registry client against a registry that lies, stalls, truncates or rate-limits."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from clamp.errors import AuthError, DigestMismatchError, NotFoundError, RegistryError
from clamp.oci.manifest import OCI_MANIFEST
from clamp.oci.pool import ClientOptions, RegistryPool
from clamp.oci.retry import RetryPolicy
from tests.support.hostile_registry import Answer, hostile_registry

MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + "0" * 64, "size": 2},
                       "layers": []}).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
FAST = ClientOptions(retry=RetryPolicy(attempts=3, max_wait=0.05, total=5, initial=0.01),
                     attempt_deadline=5)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _get(host: str, ref: str, options: ClientOptions = FAST):  # type: ignore[no-untyped-def]
    async with RegistryPool(options) as pool:
        return await pool.client(host).get_manifest("r/x", ref)


def ok_manifest(method: str, path: str) -> Answer:
    return Answer(200, MANIFEST, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": DIGEST})


def test_digest_is_of_the_bytes_received() -> None:
    with hostile_registry(ok_manifest) as srv:
        manifest = run(_get(srv.host, "tag"))
    assert str(manifest.digest) == DIGEST
    assert manifest.raw == MANIFEST


def test_wrong_bytes_for_requested_digest_fail_closed() -> None:
    other = "sha256:" + "1" * 64
    with hostile_registry(ok_manifest) as srv, pytest.raises(DigestMismatchError) as info:
        run(_get(srv.host, other))
    assert other in str(info.value)


def test_announced_digest_that_does_not_match_bytes_is_refused() -> None:
    def lie(method: str, path: str) -> Answer:
        return Answer(200, MANIFEST, {"Content-Type": OCI_MANIFEST,
                                      "Docker-Content-Digest": "sha256:" + "2" * 64})

    with hostile_registry(lie) as srv, pytest.raises(DigestMismatchError):
        run(_get(srv.host, "tag"))


def test_oversized_manifest_is_refused_by_declared_length() -> None:
    def huge(method: str, path: str) -> Answer:
        return Answer(200, b"{" + b" " * (5 * 1024 * 1024) + b"}", {"Content-Type": OCI_MANIFEST})

    with hostile_registry(huge) as srv, pytest.raises(RegistryError, match="byte bound"):
        run(_get(srv.host, "tag"))


def test_truncated_body_is_an_error_not_a_short_manifest() -> None:
    def truncated(method: str, path: str) -> Answer:
        return Answer(200, MANIFEST[:20], {"Content-Type": OCI_MANIFEST},
                      declared_length=len(MANIFEST))

    with hostile_registry(truncated) as srv, pytest.raises(RegistryError) as info:
        run(_get(srv.host, "tag"))
    assert "gave up after retries" in str(info.value)
    assert len(srv.requests) == FAST.retry.attempts


def test_endless_429_gives_up_after_bounded_attempts() -> None:
    def storm(method: str, path: str) -> Answer:
        return Answer(429, b"", {"Retry-After": "0"})

    with hostile_registry(storm) as srv, pytest.raises(RegistryError, match="429"):
        run(_get(srv.host, "tag"))
    assert len(srv.requests) == FAST.retry.attempts


def test_retry_after_longer_than_bound_stops_at_once() -> None:
    with hostile_registry(lambda m, p: Answer(429, b"", {"Retry-After": "3600"})) as srv, \
            pytest.raises(RegistryError, match="429"):
        run(_get(srv.host, "tag"))
    assert len(srv.requests) == 1


def test_transient_5xx_and_reset_then_success() -> None:
    answers = iter([Answer(503), Answer(reset=True)])

    def flaky(method: str, path: str) -> Answer:
        return next(answers, None) or ok_manifest(method, path)

    with hostile_registry(flaky) as srv:
        manifest = run(_get(srv.host, "tag"))
    assert str(manifest.digest) == DIGEST
    assert len(srv.requests) == 3


def test_404_is_not_found() -> None:
    body = json.dumps({"errors": [{"code": "MANIFEST_UNKNOWN", "message": "nope"}]}).encode()
    with hostile_registry(lambda m, p: Answer(404, body)) as srv, \
            pytest.raises(NotFoundError, match="MANIFEST_UNKNOWN"):
        run(_get(srv.host, "tag"))


def test_non_json_manifest_is_an_error() -> None:
    with hostile_registry(lambda m, p: Answer(200, b"<html>", {"Content-Type": OCI_MANIFEST})) \
            as srv, pytest.raises(RegistryError, match="not valid JSON"):
        run(_get(srv.host, "tag"))


def test_401_without_credentials_is_an_auth_error() -> None:
    def needs_basic(method: str, path: str) -> Answer:
        return Answer(401, b"", {"WWW-Authenticate": 'Basic realm="r"'})

    with hostile_registry(needs_basic) as srv, pytest.raises(AuthError, match="no credentials"):
        run(_get(srv.host, "tag"))


def test_plain_http_realm_off_loopback_is_refused() -> None:
    def challenge(method: str, path: str) -> Answer:
        return Answer(401, b"", {"WWW-Authenticate":
                                 'Bearer realm="http://auth.example.com/token",service="s"'})

    with hostile_registry(challenge) as srv, pytest.raises(RegistryError, match="plain-HTTP"):
        run(_get(srv.host, "tag"))


def test_non_loopback_registry_uses_https() -> None:
    pool = RegistryPool(FAST)
    try:
        assert pool.client("ghcr.io").base == "https://ghcr.io"
        assert pool.client("docker.io").base == "https://registry-1.docker.io"
        assert pool.client("127.0.0.1:5000").base == "http://127.0.0.1:5000"
    finally:
        run(pool.aclose())
    insecure = RegistryPool(ClientOptions(insecure_registries=frozenset({"reg.lan:5000"})))
    try:
        assert insecure.client("reg.lan:5000").base == "http://reg.lan:5000"
    finally:
        run(insecure.aclose())


def test_stalled_answer_is_bounded_by_the_attempt_deadline() -> None:
    import threading

    release = threading.Event()

    def stall(method: str, path: str) -> Answer:
        release.wait(10)
        return ok_manifest(method, path)

    options = ClientOptions(retry=RetryPolicy(attempts=1, max_wait=0.01, total=1),
                            attempt_deadline=0.5)
    try:
        with hostile_registry(stall) as srv, pytest.raises(RegistryError, match="within"):
            run(_get(srv.host, "tag", options))
    finally:
        release.set()


def test_body_media_type_wins_over_a_relabelled_content_type() -> None:
    def relabelled(method: str, path: str) -> Answer:
        return Answer(200, MANIFEST, {"Content-Type":
                                      "application/vnd.docker.distribution.manifest.v2+json"})

    with hostile_registry(relabelled) as srv:
        manifest = run(_get(srv.host, DIGEST))
    assert manifest.media_type == OCI_MANIFEST
    assert str(manifest.digest) == DIGEST


@pytest.mark.parametrize("transport", ["h11", "httpcore"])
def test_redirect_to_plain_http_elsewhere_is_refused(transport: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A registry (or the CDN it sends blobs to) must not move clamp onto plain HTTP: the
    redirect is refused before anything is sent to the new host."""
    monkeypatch.setenv("CLAMP_HTTP_TRANSPORT", transport)

    def redirect(method: str, path: str) -> Answer:
        return Answer(307, b"", {"Location": "http://registry.test/v2/r/x/manifests/tag"})

    with hostile_registry(redirect) as srv, pytest.raises(RegistryError) as info:
        run(_get(srv.host, "tag"))
    assert "refusing plain-HTTP redirect to http://registry.test" in str(info.value)
    assert len(srv.requests) == 1  # one request, no retry of a refusal


def test_redirect_to_plain_http_on_an_allowed_host_is_followed() -> None:
    """Loopback (and --insecure-registry hosts) may use HTTP, after a redirect too."""
    def script(method: str, path: str) -> Answer:
        if path.endswith("/manifests/tag"):
            return Answer(307, b"", {"Location": "/v2/r/x/manifests/moved"})
        return ok_manifest(method, path)

    with hostile_registry(script) as srv:
        manifest = run(_get(srv.host, "tag"))
    assert str(manifest.digest) == DIGEST


ARTIFACT = "application/vnd.dev.sigstore.bundle.v0.3+json"
REFERRER = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "3" * 64, "size": 321,
            "artifactType": ARTIFACT}


@pytest.mark.parametrize("status", [400, 404, 406])
def test_referrers_fall_back_to_the_tag_schema(status: int) -> None:
    """A registry without the referrers API answers 404 by the spec, 400 or 406 in the field:
    each sends clamp to the `sha256-<hex>` tag, once per registry."""
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [REFERRER]}).encode()

    def script(method: str, path: str) -> Answer:
        if "/referrers/" in path:
            return Answer(status, b'{"errors":[{"code":"UNSUPPORTED"}]}')
        if path.endswith("/manifests/" + DIGEST.replace(":", "-")):
            return Answer(200, index,
                          {"Content-Type": "application/vnd.oci.image.index.v1+json"})
        return Answer(404, b"")

    async def go(host: str) -> list[list[str]]:
        from clamp.digest import parse_digest

        async with RegistryPool(FAST) as pool:
            client = pool.client(host)
            return [[str(d.digest) for d in await client.referrers("r/x", parse_digest(DIGEST))]
                    for _ in range(2)]

    with hostile_registry(script) as srv:
        found = run(go(srv.host))
    assert found == [[REFERRER["digest"]]] * 2
    assert sum("/referrers/" in path for _, path in srv.requests) == 1  # learnt once


def test_referrers_api_error_is_not_a_fallback() -> None:
    def script(method: str, path: str) -> Answer:
        if "/referrers/" in path:
            return Answer(403, b'{"errors":[{"code":"DENIED","message":"no"}]}')
        return Answer(404, b"")

    async def go(host: str) -> None:
        from clamp.digest import parse_digest

        async with RegistryPool(FAST) as pool:
            await pool.client(host).referrers("r/x", parse_digest(DIGEST))

    with hostile_registry(script) as srv, pytest.raises(AuthError):
        run(go(srv.host))


def test_deeply_nested_answers_are_registry_errors_not_crashes() -> None:
    """A manifest, tag list or token answer of 100,000 nested arrays (well under the size
    bounds) would exhaust the JSON parser's recursion: a registry error (exit 69), not a bug."""
    deep = b"[" * 100_000 + b"]" * 100_000

    def script(method: str, path: str) -> Answer:
        return Answer(200, deep, {"Content-Type": OCI_MANIFEST})

    with hostile_registry(script) as srv, pytest.raises(RegistryError, match="not valid JSON"):
        run(_get(srv.host, "tag"))

    async def tags(host: str) -> list[str]:
        async with RegistryPool(FAST) as pool:
            return await pool.client(host).list_tags("r/x")

    with hostile_registry(script) as srv, pytest.raises(RegistryError, match="not valid JSON"):
        run(tags(srv.host))
