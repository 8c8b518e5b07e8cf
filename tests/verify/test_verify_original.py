"""`clamp verify` on the original layout (`ci/rocm_matrix.yml` + `ci/rocm_policy.yml`): the
policy file's mode and require_signature apply, per-entry key_path is the entry's key, and a
placeholder digest is skipped. Registry traffic for ghcr.io goes to the real test registry."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest

from clamp.exitcodes import for_matrix
from clamp.matrix import load
from clamp.oci.pool import ClientOptions
from clamp.oci.store import Stores
from clamp.trust.pki import TestSigstore
from clamp.verify.run import MatrixRun, run_matrix
from tests.support.redirect import ToTestRegistry
from tests.support.registry import RegistryHandle
from tests.update.helpers import new_signer, push, use_as_default_root

RECENT = (date.today() - timedelta(days=1)).isoformat()


def write_original(root: Path, signed: str, unsigned: str, mode: str) -> Path:
    matrix = root / "ci" / "rocm_matrix.yml"
    matrix.write_text(f"""rocm:
  images:
    - version: "6.4.4"
      os: ubuntu-22.04
      digest: {signed}
      added: {RECENT}
      provenance:
        key_path: ci/keys/rocm-release.pub
    - version: "6.3.4"
      os: ubuntu-22.04
      digest: {unsigned}
      added: {RECENT}
      provenance:
        key_path: ci/keys/rocm-release.pub
    - version: "7.0.0"
      os: ubuntu-24.04
      digest: sha256:TODO_NEXT_RELEASE
  policy:
    default: ["6.4.4", ubuntu-22.04]
    prefer_os: [ubuntu-24.04, ubuntu-22.04]
""")
    (root / "ci" / "rocm_policy.yml").write_text(f"""policy:
  mode: {mode}
  digest_ttl: 30d
  require_signature: true
""")
    return matrix


@pytest.mark.parametrize(("mode", "code", "decision"), [("strict", 3, "fail"),
                                                       ("warn", 0, "warn")])
def test_original_layout_verifies_with_its_policy_file(
        registry: RegistryHandle, repo_name: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, mode: str, code: int, decision: str) -> None:
    pki = TestSigstore()
    use_as_default_root(monkeypatch, pki, tmp_path)
    signer = new_signer(tmp_path / "ci" / "keys", "rocm-release")
    signed = push(registry.host, repo_name, "6.4.4-ubuntu-22.04", signer=signer, rekor=pki)
    unsigned = push(registry.host, repo_name, "6.3.4-ubuntu-22.04", signer=None,
                    version="6.3.4")
    matrix = write_original(tmp_path, str(signed.digest), str(unsigned.digest), mode)
    loaded = load(matrix)
    assert loaded.layout == "original"

    async def go() -> MatrixRun:
        options = ClientOptions(transport=ToTestRegistry(registry, repo_name))
        async with Stores(options) as stores:
            return await run_matrix(loaded, stores, exit_code_of=for_matrix)

    run = asyncio.run(go())
    records = {r.entry: r for r in run.document.records}
    assert records["6.4.4/ubuntu-22.04"].trustStatus == "valid"
    assert records["6.4.4/ubuntu-22.04"].keyFingerprint
    assert records["6.4.4/ubuntu-22.04"].logIndex is not None
    assert records["6.4.4/ubuntu-22.04"].image.startswith("ghcr.io/rocm/dev:6.4.4-ubuntu-22.04@")
    assert records["6.3.4/ubuntu-22.04"].trustStatus == "unsigned"
    assert records["6.3.4/ubuntu-22.04"].policyDecision == decision
    assert records["6.3.4/ubuntu-22.04"].policyMode == mode
    assert run.document.skipped == ["7.0.0/ubuntu-24.04"]
    assert run.document.matrix.layout == "original"
    assert run.document.matrix.policySha256
    assert int(run.exit_code) == code


@pytest.mark.parametrize(("tlog", "status"), [("", "invalid"), ("  tlog: optional\n", "valid")])
def test_original_layout_requires_the_log_unless_its_policy_opts_out(
        registry: RegistryHandle, repo_name: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, tlog: str, status: str) -> None:
    """A key signature without a log entry (as `clamp sign` makes): refused by default, as
    cosign refuses it; `tlog: optional` in ci/rocm_policy.yml accepts it."""
    use_as_default_root(monkeypatch, TestSigstore(), tmp_path)
    signer = new_signer(tmp_path / "ci" / "keys", "rocm-release")
    signed = push(registry.host, repo_name, "6.4.4-ubuntu-22.04", signer=signer)
    other = push(registry.host, repo_name, "6.3.4-ubuntu-22.04", signer=signer, version="6.3.4")
    matrix = write_original(tmp_path, str(signed.digest), str(other.digest), "strict")
    policy = tmp_path / "ci" / "rocm_policy.yml"
    policy.write_text(policy.read_text() + tlog)
    loaded = load(matrix)

    async def go() -> MatrixRun:
        options = ClientOptions(transport=ToTestRegistry(registry, repo_name))
        async with Stores(options) as stores:
            return await run_matrix(loaded, stores, exit_code_of=for_matrix)

    run = asyncio.run(go())
    assert {r.trustStatus for r in run.document.records} == {status}
    assert int(run.exit_code) == (0 if status == "valid" else 3)
