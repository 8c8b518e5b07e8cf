"""An update writes the same bytes whether its YAML goes through the fast paths or ruamel alone.

`clamp.matrix.house_style` writes the provenance blocks an update inserts itself and leaves
anything else to ruamel's dumper (for speed: one dump per entry was most of a rewrite's time).
Here the same update (real registry, real signatures: moved, current, stale, unpinned and
keyless entries, comments everywhere) runs twice, once with the direct renderer switched off,
and every output must be identical: the matrix text, the provenance document, the PR body, the
JSON report, the status and the exit code.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clamp.exitcodes import for_update
from clamp.matrix import house_style, load
from clamp.oci.store import Stores
from clamp.trust.pki import TestSigstore, keyless_sign_image
from clamp.update import evidence, prbody
from clamp.update.run import run_update
from tests.support.registry import RegistryHandle
from tests.update.helpers import (
    in_store,
    native_matrix,
    new_signer,
    push,
    push_legacy_signature_for,
)

NOW = datetime(2026, 12, 3, 14, 54, 19, tzinfo=UTC)
TODAY = NOW.date()


def _outputs(matrix: Path) -> tuple[str, str, str, str, str, int]:
    loaded = load(matrix)

    async def go() -> Any:
        async with Stores() as stores:
            return await run_update(loaded, stores, exit_code_of=for_update, dry_run=True,
                                    today=TODAY, now=NOW)

    run = asyncio.run(go())
    return (run.text, evidence.render(run), prbody.render(run.report),
            run.report.model_dump_json(indent=2), run.status, run.exit_code)


def test_update_outputs_are_the_same_with_and_without_the_direct_renderer(
        registry: RegistryHandle, repo_name: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    host = registry.host
    signer = new_signer(tmp_path / "keys")
    recent = (TODAY - timedelta(days=1)).isoformat()
    moved_from = push(host, repo_name, "6.4.4-ubuntu-22.04", signer=signer)
    push(host, repo_name, "6.4.4-ubuntu-22.04", signer=signer)  # the tag moves on
    current = push(host, repo_name, "6.3.4-ubuntu-22.04", signer=signer, version="6.3.4")
    stale = push(host, repo_name, "6.2.4-ubuntu-22.04", signer=signer, version="6.2.4")
    push(host, repo_name, "6.1.0-ubuntu-22.04", signer=signer, version="6.1.0")  # unpinned
    pki = TestSigstore()
    root = tmp_path / "trusted_root.json"
    root.write_bytes(pki.trusted_root_json())
    identity = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1"
    issuer = "https://token.actions.githubusercontent.com"
    keyless = push(host, repo_name, "6.0.0-ubuntu-24.04", signer=None, version="6.0.0",
                   os_name="ubuntu-24.04")
    layer = keyless_sign_image(pki, str(keyless.digest), f"{host}/{repo_name}",
                               identity=identity, issuer=issuer)
    in_store(host, repo_name, push_legacy_signature_for(repo_name, keyless, layer))
    text = native_matrix(host, repo_name, signer.public_path, [
        {"version": "6.4.4", "digest": moved_from.digest, "added": recent},
        {"version": "6.3.4", "digest": current.digest, "added": recent},
        {"version": "6.2.4", "digest": stale.digest, "added": "2025-01-02"},
        {"version": "6.1.0"},
        {"version": "6.0.0", "os": "ubuntu-24.04"}])
    text = text.replace("  mirror:\n    keys:\n", "  mirror:\n    keyless:\n"
                        f"      - issuer: {issuer}\n"
                        r"        subject_regexp: ^https://github\.com/ROCm/.+$" + "\n"
                        f"    trusted_root: {root}\n    keys:\n")
    matrix = tmp_path / "m.yml"
    matrix.write_text(text)

    direct_used: list[str] = []
    real_direct = house_style._direct

    def counting(data: dict[str, Any]) -> str | None:
        out = real_direct(data)
        if out is not None:
            direct_used.append(out)
        return out

    monkeypatch.setattr(house_style, "_direct", counting)
    fast = _outputs(matrix)
    assert len(direct_used) >= 4, "the direct renderer was not used: this test proves nothing"
    monkeypatch.setattr(house_style, "_direct", lambda data: None)
    reference = _outputs(matrix)

    assert fast == reference
    new_text, *_, status, code = fast
    assert status == "updated" and code == 10
    assert new_text != text and "signer_identity: " + identity in new_text
    assert f"added: {date(2026, 12, 3).isoformat()}" in new_text
