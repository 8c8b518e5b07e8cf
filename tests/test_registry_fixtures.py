"""The test infrastructure itself: real registries, the token issuer, pushing, the latency proxy.

If these fail, every registry-backed test downstream is suspect, so they check the properties the
others rely on: bytes round-trip exactly, auth is really enforced, the token signature is really
checked, and the proxy adds its delay per request without serialising concurrent ones.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from tests.support.latency_proxy import LatencyProxy
from tests.support.pushing import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    PushError,
    RegistryPusher,
    canonical_json,
    delete_tag,
    push_image,
    push_index,
    push_raw_manifest,
    sha256_digest,
)
from tests.support.registry import RegistryHandle, registry_available, run_registry
from tests.support.token_issuer import SigningMaterial, libtrust_key_id

pytestmark = [
    pytest.mark.registry,
    pytest.mark.skipif(not registry_available(), reason="docker-registry is not installed"),
]

MakePusher = Callable[..., RegistryPusher]
VARIANTS = ["registry", "basic_registry", "token_registry"]
DELAY = 0.020


@pytest.fixture
def proxy(registry: RegistryHandle) -> Iterator[LatencyProxy]:
    with LatencyProxy(registry.host, DELAY) as p:
        yield p


# -- round trips on all three variants ---------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
def test_image_round_trips_exactly(
    variant: str, request: pytest.FixtureRequest, make_pusher: MakePusher, repo_name: str
) -> None:
    handle: RegistryHandle = request.getfixturevalue(variant)
    pusher = make_pusher(handle)
    image = push_image(pusher, repo_name, "v1", layers=2)
    fetched = pusher.get_manifest(repo_name, "v1")
    assert fetched.data == image.manifest
    assert fetched.media_type == OCI_MANIFEST
    assert fetched.digest == image.digest == sha256_digest(image.manifest)
    config = json.loads(pusher.get_blob(repo_name, image.config_digest))
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert pusher.get_manifest(repo_name, image.digest).data == image.manifest


@pytest.mark.parametrize("docker", [False, True])
def test_multi_arch_index(docker: bool, registry: RegistryHandle, make_pusher: MakePusher,
                          repo_name: str) -> None:
    pusher = make_pusher(registry)
    index = push_index(pusher, repo_name, "multi", docker=docker)
    fetched = pusher.get_manifest(repo_name, "multi")
    assert fetched.digest == index.digest
    assert fetched.media_type == (DOCKER_LIST if docker else OCI_INDEX)
    body = json.loads(fetched.data)
    platforms = {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
                 for m in body["manifests"]}
    assert platforms == {p: c.digest for p, c in index.children.items()}
    assert set(platforms) == {"linux/amd64", "linux/arm64"}
    child = pusher.get_manifest(repo_name, platforms["linux/arm64"])
    assert child.media_type == (DOCKER_MANIFEST if docker else OCI_MANIFEST)


def test_raw_manifest_and_delete(registry: RegistryHandle, make_pusher: MakePusher,
                                 repo_name: str) -> None:
    pusher = make_pusher(registry)
    image = push_image(pusher, repo_name, "v1")
    payload = canonical_json({"critical": {"image": {"docker-manifest-digest": image.digest}}})
    config = b"{}"
    sig = canonical_json({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": pusher.push_blob(repo_name, config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": pusher.push_blob(repo_name, payload), "size": len(payload),
                    "annotations": {"dev.cosignproject.cosign/signature": "MEUC"}}],
    })
    sig_tag = image.digest.replace(":", "-") + ".sig"
    assert push_raw_manifest(pusher, repo_name, sig_tag, sig, OCI_MANIFEST) == sha256_digest(sig)
    assert pusher.get_manifest(repo_name, sig_tag).data == sig
    assert set(pusher.list_tags(repo_name)) == {"v1", sig_tag}

    assert delete_tag(pusher, repo_name, "v1") == image.digest
    assert pusher.list_tags(repo_name) == [sig_tag]
    with pytest.raises(PushError) as err:
        pusher.get_manifest(repo_name, image.digest)
    assert err.value.status_code == 404


# -- auth is really enforced ------------------------------------------------------------------
def test_basic_auth_rejects_missing_and_wrong_credentials(
    basic_registry: RegistryHandle, make_pusher: MakePusher, repo_name: str
) -> None:
    resp = httpx.get(f"{basic_registry.url}/v2/")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic ")
    with pytest.raises(PushError) as err:
        push_image(make_pusher(basic_registry, anonymous=True), repo_name, "v1")
    assert err.value.status_code == 401
    assert basic_registry.username is not None
    wrong = RegistryPusher(basic_registry.url, (basic_registry.username, "not-the-password"))
    with wrong, pytest.raises(PushError) as err:
        push_image(wrong, repo_name, "v1")
    assert err.value.status_code == 401
    ok = httpx.get(f"{basic_registry.url}/v2/", auth=basic_registry.credentials)
    assert ok.status_code == 200


def test_token_flow_wrong_password_refused(token_registry: RegistryHandle,
                                           repo_name: str) -> None:
    issuer = token_registry.token_issuer
    assert issuer is not None and token_registry.username is not None
    issuer.clear()
    secret = "wrong-password-do-not-log"
    with RegistryPusher(token_registry.url, (token_registry.username, secret)) as wrong, \
            pytest.raises(PushError) as err:
        push_image(wrong, repo_name, "v1")
    assert err.value.status_code == 401
    seen = issuer.recorded()
    assert seen and all(r.status == 401 and not r.authenticated for r in seen)
    assert secret not in repr(seen)
    assert secret not in token_registry.log_tail(1000)


def test_token_anonymous_pull_but_no_anonymous_push(
    token_registry: RegistryHandle, make_pusher: MakePusher, repo_name: str
) -> None:
    issuer = token_registry.token_issuer
    assert issuer is not None
    image = push_image(make_pusher(token_registry), repo_name, "v1")
    issuer.clear()
    anonymous = make_pusher(token_registry, anonymous=True)
    assert anonymous.get_manifest(repo_name, "v1").digest == image.digest
    seen = issuer.recorded()
    assert [(r.scopes, r.username, r.granted) for r in seen] == [
        ((f"repository:{repo_name}:pull",), None, (f"repository:{repo_name}:pull",))
    ]
    with pytest.raises(PushError) as err:
        push_image(anonymous, repo_name, "v2")
    assert err.value.status_code == 401  # pull-only token: insufficient scope
    # distribution 2.8 names the actions in Go map order: "pull,push" or "push,pull".
    push_asks = [r for r in issuer.recorded() if len(r.scopes) == 1
                 and r.scopes[0].startswith(f"repository:{repo_name}:")
                 and set(r.scopes[0].rsplit(":", 1)[1].split(",")) == {"pull", "push"}]
    assert push_asks
    assert all(r.granted == (f"repository:{repo_name}:pull",) for r in push_asks)


def test_registry_checks_the_token_signature(token_registry: RegistryHandle,
                                             repo_name: str) -> None:
    """A token with the right kid and claims but another key must be refused: the registry
    really verifies what our issuer signs (so the accepted case above proves the kid format)."""
    issuer = token_registry.token_issuer
    assert issuer is not None
    access = [{"type": "repository", "name": repo_name, "actions": ["pull"]}]
    good = issuer.issue("", access)["token"]
    forged_key = SigningMaterial.generate()
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = jwt.encode(claims, forged_key.key, algorithm="ES256",
                        headers={"kid": issuer.signing.key_id, "typ": "JWT"})
    url = f"{token_registry.url}/v2/{repo_name}/tags/list"
    assert httpx.get(url, headers={"Authorization": f"Bearer {good}"}).status_code == 404
    assert httpx.get(url, headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    header = json.loads(base64.urlsafe_b64decode(good.split(".")[0] + "=="))
    assert header["kid"] == libtrust_key_id(issuer.signing.key.public_key())
    assert len(header["kid"].split(":")) == 12


def test_registry_stops_at_teardown(tmp_path: Path) -> None:
    with run_registry("open", workdir=tmp_path) as handle:
        assert httpx.get(f"{handle.url}/v2/").status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{handle.url}/v2/", timeout=2)
    assert "listening on 127.0.0.1:" in handle.log_path.read_text()


# -- the latency proxy ------------------------------------------------------------------------
def test_proxy_adds_delay_per_request(proxy: LatencyProxy) -> None:
    n = 10
    with httpx.Client() as client:
        started = time.monotonic()
        for _ in range(n):
            assert client.get(f"{proxy.url}/v2/").status_code == 200
        wall = time.monotonic() - started
    records = proxy.records()
    assert proxy.request_count == n
    assert all(r.elapsed >= DELAY for r in records), [r.elapsed for r in records]
    assert wall >= n * DELAY


def test_proxy_does_not_serialise_concurrent_requests(registry: RegistryHandle) -> None:
    # A long delay, so the signal (n * delay if serialised) dwarfs CPU noise on a loaded machine.
    n, delay = 16, 0.25

    async def burst(proxy: LatencyProxy) -> float:
        async with httpx.AsyncClient() as client:
            started = time.monotonic()
            answers = await asyncio.gather(*(client.get(f"{proxy.url}/v2/") for _ in range(n)))
            assert all(a.status_code == 200 for a in answers)
            return time.monotonic() - started

    with LatencyProxy(registry.host, delay) as proxy:
        wall = asyncio.run(burst(proxy))
        assert proxy.request_count == n
        assert all(r.elapsed >= delay for r in proxy.records())
    assert delay <= wall < n * delay / 2  # serialised would take at least n * delay


def test_push_through_proxy_with_chunked_body_and_head(
    registry: RegistryHandle, proxy: LatencyProxy, repo_name: str
) -> None:
    with RegistryPusher(proxy.url) as pusher:
        image = push_image(pusher, repo_name, "v1")  # POST + PUT to the upload Location
        data = b"chunked-body " * 1000
        start = pusher.request("POST", f"/v2/{repo_name}/blobs/uploads/", repo=repo_name)
        assert start.headers["Location"].startswith(proxy.url)
        put = httpx.put(
            httpx.URL(start.headers["Location"]).copy_add_param("digest", sha256_digest(data)),
            content=iter([data[:5000], data[5000:]]),  # a generator body is sent chunked
        )
        assert put.status_code == 201, put.text
    with httpx.Client() as client:  # HEAD then GET on the same keep-alive connection
        head = client.head(f"{proxy.url}/v2/{repo_name}/manifests/v1",
                           headers={"Accept": OCI_MANIFEST})
        assert head.status_code == 200 and head.content == b""
        got = client.get(f"{proxy.url}/v2/{repo_name}/blobs/{sha256_digest(data)}")
        assert got.content == data
    assert {r.method for r in proxy.records()} >= {"POST", "PUT", "HEAD", "GET"}
    assert image.digest == RegistryPusher(registry.url).resolve(repo_name, "v1")


def test_proxy_rewrites_upstream_location(registry: RegistryHandle, proxy: LatencyProxy,
                                          repo_name: str) -> None:
    resp = httpx.post(f"{proxy.url}/v2/{repo_name}/blobs/uploads/",
                      headers={"Host": registry.host})  # registry now answers with its own host
    assert resp.status_code == 202
    assert resp.headers["Location"].startswith(f"{proxy.url}/v2/{repo_name}/blobs/uploads/")


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
@pytest.mark.parametrize("variant", ["registry", "token_registry"])
def test_skopeo_inspect_through_proxy(variant: str, request: pytest.FixtureRequest,
                                      make_pusher: MakePusher, repo_name: str) -> None:
    handle: RegistryHandle = request.getfixturevalue(variant)
    image = push_image(make_pusher(handle), repo_name, "v1")
    index = push_index(make_pusher(handle), repo_name, "multi")
    creds = ["--creds", ":".join(handle.credentials)] if handle.credentials else []
    with LatencyProxy(handle.host, DELAY) as proxy:
        out = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", *creds, "--format", "{{.Digest}}",
             f"docker://{proxy.host}/{repo_name}:v1"],
            capture_output=True, text=True, timeout=60, check=True,
        )
        assert out.stdout.strip() == image.digest
        raw = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", *creds, "--raw",
             f"docker://{proxy.host}/{repo_name}:multi"],
            capture_output=True, timeout=60, check=True,
        )
        assert sha256_digest(raw.stdout) == index.digest
        assert proxy.request_count >= 3
