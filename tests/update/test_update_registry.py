"""`clamp update` end to end against the real docker-registry: real images, real signatures."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from clamp.errors import ConflictError
from clamp.exitcodes import for_update
from clamp.matrix import load
from clamp.oci.store import Stores
from clamp.trust.pki import TestSigstore, keyless_sign_image
from clamp.update import rewrite
from clamp.update.run import run_update
from tests.support.diffs import changed_lines
from tests.support.registry import RegistryHandle
from tests.update.helpers import (
    Signer,
    child_digest,
    clamp,
    in_store,
    native_matrix,
    new_signer,
    push,
    push_legacy_signature_for,
)

TAG = "6.4.4-ubuntu-22.04"
RECENT = (date.today() - timedelta(days=1)).isoformat()  # within the 30-day TTL


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return new_signer(tmp_path / "keys")


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    capsys.readouterr()
    code = clamp("update", "--json", *args)
    return code, json.loads(capsys.readouterr().out)


def _two_entry_matrix(tmp_path: Path, registry: RegistryHandle, repo: str,
                      signer: Signer) -> tuple[Path, str, str]:
    first = push(registry.host, repo, TAG, signer=signer)
    second = push(registry.host, repo, "6.3.4-ubuntu-22.04", signer=signer, version="6.3.4")
    matrix = tmp_path / "ci" / "rocm_matrix.yml"
    matrix.parent.mkdir()
    matrix.write_text(native_matrix(registry.host, repo, signer.public_path, [
        {"version": "6.4.4", "digest": first.digest, "added": RECENT},
        {"version": "6.3.4", "digest": second.digest, "added": RECENT}]))
    return matrix, str(first.digest), str(second.digest)


def test_moved_tag_is_repinned_minimally_and_second_run_is_a_noop(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    matrix, old, untouched = _two_entry_matrix(tmp_path, registry, repo_name, signer)
    before = matrix.read_text()
    moved = push(registry.host, repo_name, TAG, signer=signer)  # the tag moves on
    body = tmp_path / "out" / "pr-body.md"
    evidence = tmp_path / "out" / "rocm_provenance.json"

    code, report = _json(capsys, "--matrix", str(matrix), "--pr-body", str(body),
                         "--provenance-output", str(evidence))
    assert code == 10, report
    after = matrix.read_text()
    removed, added = changed_lines(before, after)
    today = date.today().isoformat()
    assert removed == [f"    digest: {old}  # pinned by hand", f"    added: {RECENT}"]
    assert added[:2] == [f"    digest: {moved.digest}  # pinned by hand", f"    added: {today}"]
    assert added[2] == "    provenance:"
    prov_keys = [line.strip().split(":", 1)[0] for line in added[3:]]
    assert prov_keys == ["verified_at", "tag", "signature_kind", "key_fingerprint"]
    assert before.count("#") == after.count("#")  # every comment kept
    assert untouched in after

    entry = load(matrix).model.entry("6.4.4/ubuntu-22.04")
    assert entry.digest == str(moved.digest)
    assert entry.provenance is not None and entry.provenance["tag"] == TAG
    outcomes = {e["entry"]: e["outcome"] for e in report["entries"]}  # type: ignore[index]
    assert outcomes == {"6.4.4/ubuntu-22.04": "updated", "6.3.4/ubuntu-22.04": "current"}

    text = body.read_text()
    assert "`6.4.4/ubuntu-22.04`" in text and old in text and str(moved.digest) in text
    assert "no log entry" in text and "### Tag drift" in text
    assert "6.3.4/ubuntu-22.04" not in text  # only what changed or failed is listed
    records = json.loads(evidence.read_text())["records"]
    assert [(r["entry"], r["digest"], r["trustStatus"]) for r in records] == [
        ("6.4.4/ubuntu-22.04", str(moved.digest), "valid")]
    # The update's evidence is self-contained like verify's: it re-verifies offline.
    assert clamp("provenance", "verify", str(evidence)) == 0

    # What was pinned passes clamp verify under strict.
    assert clamp("verify", "--matrix", str(matrix), "-o", str(tmp_path / "v.json")) == 0
    # Running again changes nothing, byte for byte.
    raw = matrix.read_bytes()
    assert clamp("update", "--matrix", str(matrix)) == 0
    assert matrix.read_bytes() == raw


@pytest.mark.parametrize("how", ["unsigned", "other-key"])
def test_unverified_candidate_is_never_pinned(
        how: str, registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    matrix, old, _ = _two_entry_matrix(tmp_path, registry, repo_name, signer)
    raw = matrix.read_bytes()
    stranger = new_signer(tmp_path / "other", "stranger") if how == "other-key" else None
    bad = push(registry.host, repo_name, TAG, signer=stranger)
    body = tmp_path / "body.md"
    code, report = _json(capsys, "--matrix", str(matrix), "--pr-body", str(body))
    assert code == 6
    assert matrix.read_bytes() == raw
    rejected = [e for e in report["entries"] if e["outcome"] == "rejected"]  # type: ignore[union-attr,index]
    assert len(rejected) == 1
    item = rejected[0]
    assert item["new_digest"] == str(bad.digest) and item["old_digest"] == old
    assert item["check"] and item["reason"]
    assert item["verification"]["verdict"] == ("unsigned" if how == "unsigned" else "invalid")
    text = body.read_text()
    assert "### Rejected candidates" in text and str(bad.digest) in text
    assert "Nothing was pinned." in text


def test_partial_update_pins_only_what_verified(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    matrix, _, old_second = _two_entry_matrix(tmp_path, registry, repo_name, signer)
    good = push(registry.host, repo_name, TAG, signer=signer)
    bad = push(registry.host, repo_name, "6.3.4-ubuntu-22.04", signer=None, version="6.3.4")
    code, report = _json(capsys, "--matrix", str(matrix))
    assert code == 7
    model = load(matrix).model
    assert model.entry("6.4.4/ubuntu-22.04").digest == str(good.digest)
    assert model.entry("6.3.4/ubuntu-22.04").digest == old_second
    assert str(bad.digest) not in matrix.read_text()
    assert report["counts"] == {"updated": 1, "added": 0, "rejected": 1, "errors": 0,
                                "current": 0, "missing": 0, "unverified": 0}


def test_concurrent_change_is_not_overwritten(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    matrix, _, _ = _two_entry_matrix(tmp_path, registry, repo_name, signer)
    push(registry.host, repo_name, TAG, signer=signer)
    theirs = matrix.read_text().replace("# Update test matrix", "# Edited by someone else")
    loaded = load(matrix)

    def someone_edits(path: Path) -> None:  # between verification and the write
        path.write_text(theirs)

    async def go() -> None:
        async with Stores() as stores:
            await run_update(loaded, stores, exit_code_of=for_update, before_write=someone_edits)

    with pytest.raises(ConflictError, match="changed while clamp update was running"):
        asyncio.run(go())
    assert matrix.read_text() == theirs
    assert not list(matrix.parent.glob(".*.tmp"))


def test_concurrent_change_through_the_cli_exits_75(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    matrix, _, _ = _two_entry_matrix(tmp_path, registry, repo_name, signer)
    push(registry.host, repo_name, TAG, signer=signer)
    theirs = matrix.read_text() + "# appended meanwhile\n"
    monkeypatch.setattr(rewrite, "BEFORE_WRITE", [lambda path: path.write_text(theirs)])
    body = tmp_path / "body.md"
    capsys.readouterr()
    assert clamp("update", "--matrix", str(matrix), "--pr-body", str(body)) == 75
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "not overwritten" in err[0]
    assert matrix.read_text() == theirs
    assert not body.exists()  # nothing else written either


def test_dry_run_prints_the_diff_and_writes_nothing(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    matrix, old, _ = _two_entry_matrix(tmp_path, registry, repo_name, signer)
    raw = matrix.read_bytes()
    moved = push(registry.host, repo_name, TAG, signer=signer)
    capsys.readouterr()
    assert clamp("update", "--matrix", str(matrix), "--dry-run") == 10
    out = capsys.readouterr().out
    assert matrix.read_bytes() == raw
    assert out.startswith(f"--- {matrix}")
    assert f"-    digest: {old}  # pinned by hand" in out
    assert "-    added:" in out and "+    provenance:" in out
    assert f"+    digest: {moved.digest}  # pinned by hand" in out


def test_unpinned_entry_is_pinned_when_its_tag_verifies(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    image = push(registry.host, repo_name, "7.0.0-ubuntu-24.04", signer=signer, version="7.0.0",
                 os_name="ubuntu-24.04")
    matrix = tmp_path / "m.yml"
    matrix.write_text(native_matrix(registry.host, repo_name, signer.public_path, [
        {"version": "7.0.0", "os": "ubuntu-24.04"},
        {"version": "6.4.4"}]))  # unpinned, and its tag does not exist: reported, not an error
    assert clamp("update", "--matrix", str(matrix)) == 10
    text = matrix.read_text()
    assert f"    digest: {image.digest}  # pinned by hand" in text
    model = load(matrix).model
    assert model.entry("6.4.4/ubuntu-22.04").digest is None
    assert clamp("update", "--matrix", str(matrix)) == 0


def test_multi_arch_entry_records_the_platform_digest(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    first = push(registry.host, repo_name, TAG, signer=signer, index=True)
    matrix = tmp_path / "m.yml"
    matrix.write_text(native_matrix(registry.host, repo_name, signer.public_path, [
        {"version": "6.4.4", "digest": first.digest, "added": RECENT,
         "platform": "linux/amd64", "platform_digest": child_digest(first)}]))
    before = matrix.read_text()
    moved = push(registry.host, repo_name, TAG, signer=signer, index=True)
    assert clamp("update", "--matrix", str(matrix)) == 10
    entry = load(matrix).model.images[0]
    assert entry.digest == str(moved.digest)
    assert entry.platform_digest == child_digest(moved) != child_digest(first)
    removed, _ = changed_lines(before, matrix.read_text())
    assert removed == [f"    digest: {first.digest}  # pinned by hand", f"    added: {RECENT}",
                       f"    platform_digest: {child_digest(first)}"]
    assert clamp("verify", "--matrix", str(matrix), "-o", str(tmp_path / "v.json")) == 0
    assert clamp("update", "--matrix", str(matrix)) == 0


def test_discover_adds_the_newest_verified_release(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    host = registry.host
    current = push(host, repo_name, "6.4.9-ubuntu-22.04", signer=signer, version="6.4.9")
    newest_unsigned = push(host, repo_name, "6.4.11-ubuntu-22.04", signer=None, version="6.4.11")
    wanted = push(host, repo_name, "6.4.10-ubuntu-22.04", signer=signer, version="6.4.10")
    for tag in ("6.4.2-ubuntu-22.04", "6.4.12-rc1-ubuntu-22.04", "6.4.13-ubuntu-24.04",
                "latest", "6.5-ubuntu-22.04-debug"):
        push(host, repo_name, tag, signer=signer)
    matrix = tmp_path / "m.yml"
    matrix.write_text(native_matrix(host, repo_name, signer.public_path, [
        {"version": "6.4.9", "digest": current.digest, "added": RECENT}]))
    before = matrix.read_text()
    code, report = _json(capsys, "--matrix", str(matrix), "--discover")
    assert code == 7  # 6.4.10 added; 6.4.11 (newer, unsigned) rejected
    entries = {e["entry"]: e for e in report["entries"]}  # type: ignore[union-attr,index]
    assert entries["6.4.11/ubuntu-22.04"]["outcome"] == "rejected"
    assert entries["6.4.11/ubuntu-22.04"]["new_digest"] == str(newest_unsigned.digest)
    assert entries["6.4.10/ubuntu-22.04"]["outcome"] == "added"
    assert entries["6.4.10/ubuntu-22.04"]["source"] == "6.4.9/ubuntu-22.04"
    assert set(entries) == {"6.4.9/ubuntu-22.04", "6.4.10/ubuntu-22.04", "6.4.11/ubuntu-22.04"}
    model = load(matrix).model
    assert [e.id for e in model.images] == ["6.4.9/ubuntu-22.04", "6.4.10/ubuntu-22.04"]
    assert model.images[0].digest == str(current.digest)  # the old entry stays
    assert model.images[1].digest == str(wanted.digest)
    assert matrix.read_text().startswith(before)  # appended; nothing above it moved
    added = matrix.read_text()[len(before):]
    assert added.startswith('  - version: "6.4.10"\n    os: ubuntu-22.04\n')
    # The unsigned 6.4.11 is still there, so discovery keeps proposing (and rejecting) it.
    assert clamp("update", "--matrix", str(matrix), "--discover") == 6
    assert clamp("update", "--matrix", str(matrix)) == 0


def test_stale_pin_is_renewed_when_it_still_verifies(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    image = push(registry.host, repo_name, TAG, signer=signer)
    matrix = tmp_path / "m.yml"
    matrix.write_text(native_matrix(registry.host, repo_name, signer.public_path, [
        {"version": "6.4.4", "digest": image.digest, "added": "2025-01-02"}]))
    assert clamp("verify", "--matrix", str(matrix), "-o", str(tmp_path / "v.json")) == 8
    before = matrix.read_text()
    code, report = _json(capsys, "--matrix", str(matrix))
    assert code == 10
    item = report["entries"][0]  # type: ignore[index]
    assert item["renewed"] is True and item["drift"] is False
    assert item["old_digest"] == item["new_digest"] == str(image.digest)
    removed, _ = changed_lines(before, matrix.read_text())
    assert removed == ["    added: 2025-01-02"]
    assert clamp("verify", "--matrix", str(matrix), "-o", str(tmp_path / "v.json")) == 0
    assert clamp("update", "--matrix", str(matrix)) == 0


def test_entries_from_the_dispatch_environment(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    matrix, _, old_second = _two_entry_matrix(tmp_path, registry, repo_name, signer)
    push(registry.host, repo_name, TAG, signer=signer)
    moved_second = push(registry.host, repo_name, "6.3.4-ubuntu-22.04", signer=signer,
                        version="6.3.4")
    monkeypatch.setenv("CLAMP_UPDATE_ENTRIES", " 6.3.4/ubuntu-22.04 ,")
    monkeypatch.setenv("CLAMP_UPDATE_REASONS", "6.3.4/ubuntu-22.04: drift | `x`")
    outputs = tmp_path / "gh_output"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    body = tmp_path / "body.md"
    code, report = _json(capsys, "--matrix", str(matrix), "--pr-body", str(body))
    assert code == 10
    assert [e["entry"] for e in report["entries"]] == ["6.3.4/ubuntu-22.04"]  # type: ignore[index,union-attr]
    model = load(matrix).model
    assert model.entry("6.3.4/ubuntu-22.04").digest == str(moved_second.digest) != old_second
    assert "Requested because: 6.3.4/ubuntu-22.04: drift \\| 'x'" in body.read_text()
    lines = outputs.read_text().splitlines()
    assert "changed=true" in lines and "updated=1" in lines and "rejected=0" in lines
    assert f"pr_body={body}" in lines


def test_keyless_pin_records_identity_issuer_and_log_index(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    pki = TestSigstore()
    root = tmp_path / "trusted_root.json"
    root.write_bytes(pki.trusted_root_json())
    identity = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1"
    issuer = "https://token.actions.githubusercontent.com"
    image = push(registry.host, repo_name, TAG, signer=None)
    layer = keyless_sign_image(pki, str(image.digest), f"{registry.host}/{repo_name}",
                               identity=identity, issuer=issuer)
    in_store(registry.host, repo_name, push_legacy_signature_for(repo_name, image, layer))
    matrix = tmp_path / "m.yml"
    text = native_matrix(registry.host, repo_name, signer.public_path, [{"version": "6.4.4"}])
    text = text.replace("  mirror:\n    keys:\n", "  mirror:\n    keyless:\n"
                        f"      - issuer: {issuer}\n"
                        r"        subject_regexp: ^https://github\.com/ROCm/.+$" + "\n"
                        f"    trusted_root: {root}\n    keys:\n")
    matrix.write_text(text)
    body = tmp_path / "body.md"
    assert clamp("update", "--matrix", str(matrix), "--pr-body", str(body)) == 10
    prov = load(matrix).model.images[0].provenance
    assert prov is not None
    assert prov["signer_identity"] == identity and prov["signer_issuer"] == issuer
    assert isinstance(prov["log_index"], int) and "key_fingerprint" not in prov
    assert f"log index {prov['log_index']}" in body.read_text()
