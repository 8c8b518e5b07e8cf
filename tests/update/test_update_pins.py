"""`clamp update` verifies every pin again, not only the moved ones (issue 13, item 3).

A pin whose tag has not moved used to be called "current" without a look at its signature, so
an unsigned or mis-signed pin stayed in CI forever while the dispatch loop ran `clamp update`
every day. Now a pin that no longer verifies, with no verified replacement, is reported (PR
body, annotation, output) and exits 9; its honest twin stays "current" and exits 0.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support.registry import RegistryHandle
from tests.update.helpers import Signer, clamp, native_matrix, new_signer, push

TAG = "6.4.4-ubuntu-22.04"
RECENT = (date.today() - timedelta(days=1)).isoformat()


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return new_signer(tmp_path / "keys")


def _matrix(tmp_path: Path, registry: RegistryHandle, repo: str, signer: Signer,
            digest: str) -> Path:
    matrix = tmp_path / "ci" / "rocm_matrix.yml"
    matrix.parent.mkdir(exist_ok=True)
    matrix.write_text(native_matrix(registry.host, repo, signer.public_path, [
        {"version": "6.4.4", "digest": digest, "added": RECENT}]))
    return matrix


def _update(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object],
                                                                      str]:
    capsys.readouterr()
    code = clamp("update", "--json", *args)
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


@pytest.mark.parametrize("how", ["unsigned", "other-key"])
def test_an_unverified_pin_whose_tag_did_not_move_fails(
        how: str, registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stranger = new_signer(tmp_path / "other", "stranger") if how == "other-key" else None
    image = push(registry.host, repo_name, TAG, signer=stranger)
    matrix = _matrix(tmp_path, registry, repo_name, signer, str(image.digest))
    raw = matrix.read_bytes()
    outputs, body = tmp_path / "outputs", tmp_path / "body.md"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    code, report, err = _update(capsys, "--matrix", str(matrix), "--pr-body", str(body))
    assert code == 9
    assert report["status"] == "pin_unverified"
    assert report["counts"]["unverified"] == 1  # type: ignore[index]
    (item,) = report["entries"]  # type: ignore[misc]
    assert item["pin_state"] == "failed" and item["outcome"] == "rejected"
    assert item["old_digest"] == item["new_digest"] == str(image.digest)
    assert not item["drift"]
    assert matrix.read_bytes() == raw  # nothing verified, nothing written
    assert "### Pins that no longer verify" in body.read_text()
    assert "::error " in err and "no longer verifies" in err
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert values["unverified_entries"] == "6.4.4/ubuntu-22.04"
    assert values["status"] == "pin_unverified"


def test_a_verified_pin_whose_tag_did_not_move_is_current(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    image = push(registry.host, repo_name, TAG, signer=signer)
    matrix = _matrix(tmp_path, registry, repo_name, signer, str(image.digest))
    code, report, _ = _update(capsys, "--matrix", str(matrix))
    assert code == 0 and report["status"] == "nothing_to_do"
    (item,) = report["entries"]  # type: ignore[misc]
    assert item["outcome"] == "current" and item["pin_state"] == "verified"


def test_an_unverified_pin_replaced_by_a_verified_candidate_is_repinned(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    old = push(registry.host, repo_name, TAG, signer=None)
    matrix = _matrix(tmp_path, registry, repo_name, signer, str(old.digest))
    new = push(registry.host, repo_name, TAG, signer=signer)  # the tag moves to a signed image
    code, report, _ = _update(capsys, "--matrix", str(matrix))
    assert code == 10
    (item,) = report["entries"]  # type: ignore[misc]
    assert item["outcome"] == "updated" and item["pin_state"] == "failed"
    assert str(new.digest) in matrix.read_text()
    assert report["counts"]["unverified"] == 0  # type: ignore[index]


def test_an_unverified_pin_whose_tag_moved_to_another_unverified_image_fails(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    old = push(registry.host, repo_name, TAG, signer=None)
    matrix = _matrix(tmp_path, registry, repo_name, signer, str(old.digest))
    push(registry.host, repo_name, TAG, signer=None)
    code, report, _ = _update(capsys, "--matrix", str(matrix))
    assert code == 9
    (item,) = report["entries"]  # type: ignore[misc]
    assert item["outcome"] == "rejected" and item["pin_state"] == "failed" and item["drift"]


def test_a_verified_pin_whose_tag_moved_to_an_unverified_image_stays(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The honest twin: the candidate is rejected (6) but the pin CI runs still verifies."""
    old = push(registry.host, repo_name, TAG, signer=signer)
    matrix = _matrix(tmp_path, registry, repo_name, signer, str(old.digest))
    push(registry.host, repo_name, TAG, signer=None)
    code, report, _ = _update(capsys, "--matrix", str(matrix))
    assert code == 6
    (item,) = report["entries"]  # type: ignore[misc]
    assert item["pin_state"] == "verified" and item["outcome"] == "rejected"


def test_a_pin_the_registry_no_longer_has_fails(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    push(registry.host, repo_name, TAG, signer=signer)
    gone = "sha256:" + "ab" * 32  # never pushed: the registry answers 404
    matrix = _matrix(tmp_path, registry, repo_name, signer, gone)
    # The tag names another image that does not verify either: nothing replaces the pin.
    push(registry.host, repo_name, TAG, signer=None)
    code, report, _ = _update(capsys, "--matrix", str(matrix))
    assert code == 9
    (item,) = report["entries"]  # type: ignore[misc]
    assert item["pin_state"] == "failed" and "pin missing" in item["pin_reason"]
