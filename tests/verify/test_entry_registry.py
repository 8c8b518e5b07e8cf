"""The EntryCheck against the real docker-registry: each manifest fetched is hashed once, and
update's provenance records carry the tag state and age that were observed, not stand-ins."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from clamp.exitcodes import for_update
from clamp.matrix import LoadedMatrix, load
from clamp.oci.manifest import Manifest
from clamp.oci.registry import RegistryClient
from clamp.oci.store import Stores
from clamp.update import evidence
from clamp.update.run import UpdateRun, run_update
from clamp.verify.entry import check_tags
from clamp.verify.pipeline import verify_entries
from clamp.verify.provenance import ProvenanceRecord
from clamp.verify.reverify import reverify_document
from tests.support.registry import RegistryHandle
from tests.update.helpers import Signer, native_matrix, new_signer, push

TAG = "6.4.4-ubuntu-22.04"
OLD = date.today() - timedelta(days=40)


@dataclass
class Counts:
    raw: bytes = b""
    hashes: int = 0
    fetches: int = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    """Counts every hash of `counts.raw` (hashlib.new and hashlib.sha256, which clamp's
    digest functions use) and every GET of a manifest with those bytes."""
    found = Counts()
    real_new, real_sha256 = hashlib.new, hashlib.sha256
    real_get = RegistryClient.get_manifest

    def new(name: str, data: bytes = b"", **kwargs: Any) -> Any:
        found.hashes += bool(found.raw) and data == found.raw
        return real_new(name, data, **kwargs)

    def sha256(data: bytes = b"", **kwargs: Any) -> Any:
        found.hashes += bool(found.raw) and data == found.raw
        return real_sha256(data, **kwargs)

    async def get_manifest(self: RegistryClient, *args: Any, **kwargs: Any) -> Manifest:
        manifest = await real_get(self, *args, **kwargs)
        found.fetches += manifest.raw == found.raw
        return manifest

    monkeypatch.setattr(hashlib, "new", new)
    monkeypatch.setattr(hashlib, "sha256", sha256)
    monkeypatch.setattr(RegistryClient, "get_manifest", get_manifest)
    yield found


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return new_signer(tmp_path / "keys")


def _matrix(tmp_path: Path, registry: RegistryHandle, repo: str, signer: Signer,
            pinned: Manifest, added: date) -> LoadedMatrix:
    path = tmp_path / "rocm_matrix.yml"
    path.write_text(native_matrix(registry.host, repo, signer.public_path, [
        {"version": "6.4.4", "digest": pinned.digest, "added": added.isoformat()}]))
    return load(path)


def _update(loaded: LoadedMatrix) -> UpdateRun:
    async def go() -> UpdateRun:
        async with Stores() as stores:
            return await run_update(loaded, stores, dry_run=True, exit_code_of=for_update)

    return asyncio.run(go())


def test_a_fetched_manifest_is_hashed_once(registry: RegistryHandle, repo_name: str,
                                           signer: Signer, tmp_path: Path,
                                           counts: Counts) -> None:
    image = push(registry.host, repo_name, TAG, signer=signer)
    loaded = _matrix(tmp_path, registry, repo_name, signer, image, date.today())
    counts.raw = image.raw

    async def verify() -> None:
        async with Stores() as stores:
            [outcome] = await verify_entries(stores, loaded, loaded.model.images)
            assert outcome.tag.state == "current" and outcome.verification.ok

    asyncio.run(verify())
    # One GET (through the tag), hashed once; verification went on from those bytes.
    assert (counts.fetches, counts.hashes) == (1, 1)

    counts.fetches = counts.hashes = 0
    run = _update(loaded)
    assert [e.outcome for e in run.report.entries] == ["current"]
    assert (counts.fetches, counts.hashes) == (1, 1)

    counts.fetches = counts.hashes = 0

    async def check() -> None:
        async with Stores() as stores:
            [tag] = await check_tags(stores, loaded, loaded.model.images)
            assert tag.state == "current"

    asyncio.run(check())
    assert (counts.fetches, counts.hashes) == (0, 0)  # a HEAD confirmed the pin: no body


def _records(run: UpdateRun) -> list[ProvenanceRecord]:
    doc = evidence.document(run)
    assert reverify_document(doc).ok, reverify_document(doc).discrepancies
    return doc.records


def test_update_evidence_keeps_the_age_of_a_pin_that_no_longer_verifies(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    unsigned = push(registry.host, repo_name, TAG, signer=None)
    loaded = _matrix(tmp_path, registry, repo_name, signer, unsigned, OLD)
    run = _update(loaded)
    [record] = _records(run)
    assert record.digest == str(unsigned.digest) and record.trustStatus == "unsigned"
    # The pin was not rewritten: it is 40 days old (the old stand-in said 0).
    assert (record.tagState, record.ageDays) == ("current", 40)
    assert record.currentTagDigest == str(unsigned.digest)


def test_update_evidence_of_a_rejected_candidate_has_no_age(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    pinned = push(registry.host, repo_name, TAG, signer=signer)
    loaded = _matrix(tmp_path, registry, repo_name, signer, pinned, OLD)
    moved = push(registry.host, repo_name, TAG, signer=None)  # the tag moves to an unsigned one
    run = _update(loaded)
    [record] = _records(run)
    assert record.digest == str(moved.digest) and record.trustStatus == "unsigned"
    # The tag named the candidate when asked; never pinned, it has no age (stand-in: 0).
    assert (record.tagState, record.currentTagDigest) == ("current", str(moved.digest))
    assert record.ageDays is None and record.stale is False


def test_update_evidence_of_a_new_pin_is_pinned_today(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    pinned = push(registry.host, repo_name, TAG, signer=signer)
    loaded = _matrix(tmp_path, registry, repo_name, signer, pinned, OLD)
    moved = push(registry.host, repo_name, TAG, signer=signer)
    run = _update(loaded)
    [record] = _records(run)
    assert record.digest == str(moved.digest) and record.trustStatus == "valid"
    assert (record.tagState, record.ageDays, record.stale) == ("current", 0, False)
