"""The original layout (`ci/rocm_matrix.yml` + `ci/rocm_policy.yml`) is updated in its own layout.

The original layout always names `ghcr.io/rocm/dev`; these tests reach the real test registry
through an httpx transport that sends ghcr.io's requests to it (and `rocm/dev` to the test's own
repository). Everything else — bytes, digests, signatures — is real.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest

from clamp.errors import ConflictError
from clamp.exitcodes import for_update
from clamp.matrix import load
from clamp.oci.pool import ClientOptions
from clamp.oci.store import Stores
from clamp.trust.pki import TestSigstore
from clamp.update.run import UpdateRun, run_update
from tests.support.diffs import changed_lines
from tests.support.redirect import ToTestRegistry
from tests.support.registry import RegistryHandle
from tests.update.helpers import Signer, new_signer, push, use_as_default_root

RECENT = (date.today() - timedelta(days=1)).isoformat()


@pytest.fixture(scope="module")
def pki() -> TestSigstore:
    return TestSigstore()


@pytest.fixture
def world(registry: RegistryHandle, repo_name: str, tmp_path: Path, pki: TestSigstore,
          monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Signer, RegistryHandle, str]:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
    use_as_default_root(monkeypatch, pki, tmp_path)
    signer = new_signer(tmp_path / "ci" / "keys", "rocm-release")
    return tmp_path, signer, registry, repo_name


def _original(root: Path, pinned: str) -> Path:
    matrix = root / "ci" / "rocm_matrix.yml"
    matrix.write_text(f"""# ROCm images used by CI (original layout).
rocm:
  images:
    - version: "6.4.4"
      os: ubuntu-22.04
      digest: {pinned}
      added: {RECENT}
      provenance:
        key_path: ci/keys/rocm-release.pub   # relative to the repository root
    - version: "7.0.0"
      os: ubuntu-24.04
      digest: sha256:TODO_NEXT_RELEASE       # placeholder until the release
      provenance:
        key_path: ci/keys/rocm-release.pub
  policy:
    default: ["6.4.4", ubuntu-22.04]
    prefer_os: [ubuntu-24.04, ubuntu-22.04]
""")
    (root / "ci" / "rocm_policy.yml").write_text("""policy:
  mode: strict                 # strict | warn | auto_update
  digest_ttl: 30d
  require_signature: true
""")
    return matrix


def _run(registry: RegistryHandle, repo: str, matrix: Path, **kwargs: object) -> UpdateRun:
    loaded = load(matrix)

    async def go() -> UpdateRun:
        options = ClientOptions(transport=ToTestRegistry(registry, repo))
        async with Stores(options) as stores:
            return await run_update(loaded, stores, exit_code_of=for_update,
                                    **kwargs)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_original_layout_is_updated_in_its_own_layout(
        world: tuple[Path, Signer, RegistryHandle, str], pki: TestSigstore) -> None:
    root, signer, registry, repo = world
    first = push(registry.host, repo, "6.4.4-ubuntu-22.04", signer=signer, rekor=pki)
    matrix = _original(root, str(first.digest))
    policy = root / "ci" / "rocm_policy.yml"
    policy_bytes = policy.read_bytes()
    moved = push(registry.host, repo, "6.4.4-ubuntu-22.04", signer=signer, rekor=pki)
    released = push(registry.host, repo, "7.0.0-ubuntu-24.04", signer=signer, version="7.0.0",
                    os_name="ubuntu-24.04", rekor=pki)
    before = matrix.read_text()

    run = _run(registry, repo, matrix)
    assert int(run.exit_code) == 10, [(e.entry, e.check, e.reason) for e in run.report.entries]
    after = matrix.read_text()
    assert policy.read_bytes() == policy_bytes  # the policy file is never touched
    removed, added = changed_lines(before, after)
    assert removed == [f"      digest: {first.digest}", f"      added: {RECENT}",
                       "      digest: sha256:TODO_NEXT_RELEASE       # placeholder until the "
                       "release"]
    assert f"      digest: {released.digest}       # placeholder until the release" in added
    assert after.count("key_path: ci/keys/rocm-release.pub") == 2  # trust config kept
    assert "# relative to the repository root" in after
    reloaded = load(matrix)
    assert reloaded.layout == "original"
    entry = reloaded.model.entry("6.4.4/ubuntu-22.04")
    assert entry.digest == str(moved.digest)
    assert entry.provenance is not None and set(entry.provenance) == {
        "verified_at", "tag", "signature_kind", "key_fingerprint", "log_index"}
    assert reloaded.model.entry("7.0.0/ubuntu-24.04").digest == str(released.digest)
    assert reloaded.model.entry("7.0.0/ubuntu-24.04").trust == entry.trust

    again = _run(registry, repo, matrix)
    assert int(again.exit_code) == 0 and matrix.read_text() == after


def test_original_layout_discovery_adds_an_entry_in_that_layout(
        world: tuple[Path, Signer, RegistryHandle, str], pki: TestSigstore) -> None:
    root, signer, registry, repo = world
    first = push(registry.host, repo, "6.4.4-ubuntu-22.04", signer=signer, rekor=pki)
    matrix = _original(root, str(first.digest))
    newer = push(registry.host, repo, "6.4.10-ubuntu-22.04", signer=signer, version="6.4.10",
                 rekor=pki)
    before = matrix.read_text()
    run = _run(registry, repo, matrix, discover_newer=True)
    assert int(run.exit_code) == 10, run.report.entries
    after = matrix.read_text()
    block = after[after.index('    - version: "6.4.10"'):after.index("  policy:")]
    assert block.splitlines()[:4] == ['    - version: "6.4.10"', "      os: ubuntu-22.04",
                                      f"      digest: {newer.digest}",
                                      f"      added: {date.today().isoformat()}"]
    assert "key_path: ci/keys/rocm-release.pub" in block  # trusted the way it was verified
    assert after.replace(block, "") == before
    assert load(matrix).model.entry("6.4.10/ubuntu-22.04").digest == str(newer.digest)


def test_changed_policy_file_aborts_the_write(
        world: tuple[Path, Signer, RegistryHandle, str], pki: TestSigstore) -> None:
    root, signer, registry, repo = world
    first = push(registry.host, repo, "6.4.4-ubuntu-22.04", signer=signer, rekor=pki)
    matrix = _original(root, str(first.digest))
    push(registry.host, repo, "6.4.4-ubuntu-22.04", signer=signer, rekor=pki)
    before = matrix.read_bytes()
    policy = root / "ci" / "rocm_policy.yml"

    def loosen_policy(_: Path) -> None:
        policy.write_text(policy.read_text().replace("strict", "warn"))

    with pytest.raises(ConflictError, match="policy file"):
        _run(registry, repo, matrix, before_write=loosen_policy)
    assert matrix.read_bytes() == before
