"""A tag moved back to an image signed before the pin (rollback) is pinned, and said.

cosign has no rollback rule and the older image verifies against the entry's trust, so refusing
it would also block a publisher's deliberate revert. Choice: pin it, mark the entry
`rollback: true`, and put it under "Possible rollback" in the PR body for the reviewer. The
signing times compared are verified ones (a Rekor entry's integrated time). Real registry, real
key signatures with real log entries (docs/update.md).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from clamp.demo.images import put_image
from clamp.oci.manifest import Manifest
from clamp.oci.store import ImageStore
from clamp.signed.attach import push_legacy_signature
from clamp.trust.keys import PublicKey
from clamp.trust.mediatypes import ANN_BUNDLE, ANN_SIGNATURE
from clamp.trust.pki import TestSigstore, hashedrekord
from clamp.trust.sign import sign_image_legacy
from tests.support.registry import RegistryHandle
from tests.update.helpers import Signer, clamp, in_store, native_matrix, new_signer

TAG = "6.4.4-ubuntu-22.04"
RECENT = (date.today() - timedelta(days=1)).isoformat()


def _signed(host: str, repo: str, signer: Signer, pki: TestSigstore, build: int,
            signed_at: datetime) -> Manifest:
    """An image pushed under TAG, key-signed with a log entry integrated at `signed_at`."""
    async def work(store: ImageStore) -> Manifest:
        image = await put_image(store, repo, TAG, version="6.4.4", os_name="ubuntu-22.04",
                                build=build)
        layer = sign_image_legacy(signer.key, str(image.digest), f"{host}/{repo}")
        annotations = dict(layer.annotations)
        pem = PublicKey(signer.key.public_key()).pem
        entry = hashedrekord(base64.b64decode(annotations[ANN_SIGNATURE]), layer.payload, pem)
        annotations[ANN_BUNDLE] = pki.rekor_bundle(entry,
                                                   integrated_time=int(signed_at.timestamp()))
        await push_legacy_signature(store, repo, image.digest, layer.payload, annotations)
        return image

    return in_store(host, repo, work)


def _retag(host: str, repo: str, image: Manifest) -> None:
    async def work(store: ImageStore) -> None:
        await store.put_manifest(repo, TAG, image.raw, image.media_type)

    in_store(host, repo, work)


@pytest.mark.parametrize("moved_to", ["older", "newer"])
def test_a_tag_moved_back_to_an_older_signed_image_is_flagged(
        moved_to: str, registry: RegistryHandle, repo_name: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Before: the older image was re-pinned as plain drift ("re-pinned (verified)"), nothing
    said it went back. Now: pinned, `rollback: true`, a "Possible rollback" section. The honest
    twin (the tag moves on to an image signed later) is plain drift."""
    pki = TestSigstore(start=datetime.now(UTC) - timedelta(days=60))
    root = tmp_path / "trusted_root.json"
    root.write_bytes(pki.trusted_root_json())
    signer = new_signer(tmp_path / "keys")
    now = datetime.now(UTC)
    old = _signed(registry.host, repo_name, signer, pki, 9001, now - timedelta(days=20))
    pinned = _signed(registry.host, repo_name, signer, pki, 9002, now - timedelta(days=2))
    if moved_to == "older":
        _retag(registry.host, repo_name, old)
        candidate = old
    else:
        candidate = _signed(registry.host, repo_name, signer, pki, 9003, now - timedelta(hours=1))
    matrix = tmp_path / "m.yml"
    text = native_matrix(registry.host, repo_name, signer.public_path,
                         [{"version": "6.4.4", "digest": str(pinned.digest), "added": RECENT}])
    matrix.write_text(text.replace("    tlog: optional         # key-signed, no log entry\n",
                                   f"    tlog: required\n    trusted_root: {root}\n"))
    body = tmp_path / "body.md"
    capsys.readouterr()
    code = clamp("update", "--json", "--matrix", str(matrix), "--pr-body", str(body))
    report = json.loads(capsys.readouterr().out)
    assert code == 10, json.dumps(report["entries"])[:1500]
    entry = report["entries"][0]
    assert entry["outcome"] == "updated" and entry["drift"] is True
    assert entry["new_digest"] == str(candidate.digest) in matrix.read_text()
    rendered = body.read_text()
    if moved_to == "newer":
        assert entry.get("rollback", False) is False and "rollback" not in rendered
        return
    assert entry.get("rollback") is True
    assert "### Possible rollback" in rendered
    assert "signed before the pin: possible rollback" in rendered
