"""Shared pytest fixtures. Keep this file thin: the logic lives in `tests/support/`.

Registry fixtures start Debian's real `docker-registry` once per session (open, htpasswd basic
auth, Bearer token auth with the test's own issuer). Tests share a registry, so each test should
push to its own repository: use the `repo_name` fixture. Tests that use a registry fixture get the
`registry` marker automatically (`pytest -m "not registry"` skips them).
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings

# `tests.support` must import the same way under `pytest` and `python -m pytest`.
if (_root := str(Path(__file__).resolve().parent.parent)) not in sys.path:
    sys.path.insert(0, _root)

from clamp.trust.pki import TestSigstore
from tests.support.pushing import RegistryPusher
from tests.support.registry import (
    REGISTRY_BIN,
    RegistryHandle,
    Variant,
    registry_available,
    run_registry,
)

# The tests talk only to loopback servers they start; a proxy the machine's environment names
# (a CI runner's) must not sit between them. tests/oci/test_proxy.py sets its own.
for _name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
    os.environ.pop(_name, None)
    os.environ.pop(_name.lower(), None)

# Property tests judge results, not speed: on a loaded 2-core CI machine a per-example deadline
# only makes them flaky. Speed is measured in benchmarks/.
settings.register_profile("clamp", deadline=None)
settings.load_profile("clamp")

REGISTRY_FIXTURES = frozenset({"registry", "basic_registry", "token_registry"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if REGISTRY_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.registry)


def _start(variant: Variant, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryHandle]:
    if not registry_available():
        pytest.skip(f"Debian's docker-registry is not installed ({REGISTRY_BIN})")
    with run_registry(variant, workdir=tmp_path_factory.mktemp(f"registry-{variant}")) as handle:
        yield handle


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryHandle]:
    """An open registry (no auth)."""
    yield from _start("open", tmp_path_factory)


@pytest.fixture(scope="session")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryHandle]:
    """A registry behind htpasswd basic auth; credentials in `.username`/`.password`."""
    yield from _start("basic", tmp_path_factory)


@pytest.fixture(scope="session")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryHandle]:
    """A registry with Bearer token auth; `.token_issuer` records the token requests.

    Anonymous callers get pull-only tokens; pushes need `.username`/`.password`.
    """
    yield from _start("token", tmp_path_factory)


@pytest.fixture
def repo_name(request: pytest.FixtureRequest) -> str:
    """A repository name unique to this test, valid in the distribution grammar."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40] or "test"
    return f"clamp-test/{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def make_pusher() -> Iterator[Callable[..., RegistryPusher]]:
    """`make_pusher(handle, anonymous=False)` -> a `RegistryPusher` closed after the test."""
    made: list[RegistryPusher] = []

    def make(handle: RegistryHandle, *, anonymous: bool = False) -> RegistryPusher:
        made.append(RegistryPusher.for_registry(handle, anonymous=anonymous))
        return made[-1]

    yield make
    for pusher in made:
        pusher.close()


@pytest.fixture(scope="module")
def pki() -> TestSigstore:
    """A test Fulcio, Rekor, CT log and TSA with their trusted root: one per test module."""
    return TestSigstore()


@pytest.fixture(scope="module")
def root_file(pki: TestSigstore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("root") / "trusted_root.json"
    path.write_bytes(pki.trusted_root_json())
    return path
