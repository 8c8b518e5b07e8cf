"""The registry client against Debian's real docker-registry: open, basic auth, Bearer tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clamp.errors import AuthError, NotFoundError
from clamp.oci.auth import Credentials
from clamp.oci.manifest import Platform
from clamp.oci.pool import ClientOptions, RegistryPool
from clamp.oci.reference import parse_reference
from clamp.oci.resolve import resolve
from clamp.oci.store import Stores
from tests.support.pushing import RegistryPusher, push_image, push_index
from tests.support.registry import RegistryHandle


def _options(handle: RegistryHandle, **kw: Any) -> ClientOptions:
    creds = {}
    if handle.credentials:
        creds[handle.host] = Credentials(*handle.credentials)
    return ClientOptions(credentials=creds, **kw)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


@pytest.mark.parametrize("variant", ["registry", "basic_registry", "token_registry"])
def test_tag_resolves_to_hash_of_received_bytes(variant: str, request: pytest.FixtureRequest,
                                                repo_name: str,
                                                make_pusher: Callable[..., RegistryPusher]) -> None:
    handle: RegistryHandle = request.getfixturevalue(variant)
    pushed = push_image(make_pusher(handle), repo_name, "6.4.4-ubuntu-22.04")

    async def go() -> tuple[str, list[str]]:
        async with Stores(_options(handle)) as stores:
            ref = parse_reference(f"{handle.host}/{repo_name}:6.4.4-ubuntu-22.04")
            image = await resolve(stores.open(ref), ref)
            tags = await stores.open(ref).list_tags(repo_name)
            return str(image.digest), tags

    digest, tags = run(go())
    assert digest == pushed.digest
    assert tags == ["6.4.4-ubuntu-22.04"]


def test_anonymous_pull_with_token_flow(token_registry: RegistryHandle, repo_name: str,
                                        make_pusher: Callable[..., RegistryPusher]) -> None:
    pushed = push_image(make_pusher(token_registry), repo_name, "t")
    token_registry.token_issuer.clear()  # type: ignore[union-attr]

    async def go() -> str:
        async with RegistryPool(ClientOptions()) as pool:
            return str((await pool.client(token_registry.host).get_manifest(repo_name, "t")).digest)

    assert run(go()) == pushed.digest
    requests = token_registry.token_issuer.recorded()  # type: ignore[union-attr]
    assert [r.scopes for r in requests] == [(f"repository:{repo_name}:pull",)]
    assert not any(r.username for r in requests)


def test_tokens_are_cached_per_scope(token_registry: RegistryHandle, repo_name: str,
                                     make_pusher: Callable[..., RegistryPusher]) -> None:
    pusher = make_pusher(token_registry)
    for tag in ("a", "b", "c"):
        push_image(pusher, repo_name, tag)
    issuer = token_registry.token_issuer
    issuer.clear()  # type: ignore[union-attr]

    async def go() -> None:
        async with RegistryPool(_options(token_registry)) as pool:
            client = pool.client(token_registry.host)
            await asyncio.gather(*(client.get_manifest(repo_name, t) for t in ("a", "b", "c")))

    run(go())
    assert len(issuer.recorded()) == 1  # type: ignore[union-attr]


def test_wrong_password_is_refused(basic_registry: RegistryHandle, repo_name: str) -> None:
    options = ClientOptions(credentials={basic_registry.host: Credentials("clamp", "s3cr3t-Pa55")})

    async def go() -> None:
        async with RegistryPool(options) as pool:
            await pool.client(basic_registry.host).get_manifest(repo_name, "x")

    with pytest.raises(AuthError) as info:
        run(go())
    assert "s3cr3t-Pa55" not in str(info.value)
    assert "credentials refused" in str(info.value)


def test_credentials_from_docker_config(basic_registry: RegistryHandle, repo_name: str,
                                        make_pusher: Callable[..., RegistryPusher],
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pushed = push_image(make_pusher(basic_registry), repo_name, "t")
    import base64

    user, password = basic_registry.credentials  # type: ignore[misc]
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {basic_registry.host:
                                                                {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))

    async def go() -> str:
        async with RegistryPool(ClientOptions()) as pool:
            return str((await pool.client(basic_registry.host).get_manifest(repo_name, "t")).digest)

    assert run(go()) == pushed.digest


@pytest.mark.parametrize("docker", [False, True])
def test_multi_arch_records_index_and_platform_digest(
        registry: RegistryHandle, repo_name: str, docker: bool,
        make_pusher: Callable[..., RegistryPusher]) -> None:
    pushed = push_index(make_pusher(registry), repo_name, "multi", docker=docker)

    async def go() -> tuple[str, str | None]:
        async with Stores() as stores:
            ref = parse_reference(f"{registry.host}/{repo_name}:multi")
            image = await resolve(stores.open(ref), ref, Platform.parse("linux/arm64"))
            return str(image.digest), str(image.platform_digest)

    index_digest, arm = run(go())
    assert index_digest == pushed.digest
    assert arm == pushed.children["linux/arm64"].digest


def test_missing_platform_is_named(registry: RegistryHandle, repo_name: str,
                                   make_pusher: Callable[..., RegistryPusher]) -> None:
    push_index(make_pusher(registry), repo_name, "multi")

    async def go() -> None:
        async with Stores() as stores:
            ref = parse_reference(f"{registry.host}/{repo_name}:multi")
            await resolve(stores.open(ref), ref, Platform.parse("linux/s390x"))

    with pytest.raises(NotFoundError, match="linux/s390x"):
        run(go())


@pytest.mark.parametrize("transport", ["h11", "httpcore"])
def test_both_transports_resolve_through_token_auth(transport: str, token_registry: RegistryHandle,
                                                   repo_name: str,
                                                   make_pusher: Callable[..., RegistryPusher],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """CLAMP_HTTP_TRANSPORT picks the transport; both give the digest of the received bytes."""
    monkeypatch.setenv("CLAMP_HTTP_TRANSPORT", transport)
    pushed = push_image(make_pusher(token_registry), repo_name, "t")

    async def go() -> str:
        async with Stores(_options(token_registry)) as stores:
            ref = parse_reference(f"{token_registry.host}/{repo_name}:t")
            return str((await resolve(stores.open(ref), ref)).digest)

    assert run(go()) == pushed.digest


def test_unknown_transport_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    from clamp.errors import BadInputError

    monkeypatch.setenv("CLAMP_HTTP_TRANSPORT", "curl")
    with pytest.raises(BadInputError, match="CLAMP_HTTP_TRANSPORT"):
        RegistryPool(ClientOptions())
