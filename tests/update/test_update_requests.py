"""How many registry requests `clamp update` makes on moved tags, against `verify --matrix`.

Why count: on a machine where the registry shares the client's cores, each command's wall time
follows its request count (benchmarks/README.md, update), so a request made twice, or one more
per entry, is a regression these tests catch without timing anything. And the comparison proves
what issue #13 asks of an update: every request `verify --matrix` makes to check a pin (its
manifest, its `.sig`, the signature's payload, the referrers fallback tag) an update makes too,
so the old pin is verified as fully as verify verifies it; the only extra requests are the new
image's signature lookups (its manifest is the tag's, fetched once and verified from its bytes).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support.latency_proxy import LatencyProxy
from tests.support.registry import RegistryHandle
from tests.update.helpers import Signer, clamp, native_matrix, new_signer, push

VERSIONS = ("6.4.4", "6.3.4", "6.2.4")
RECENT = (date.today() - timedelta(days=1)).isoformat()
VERIFY_PER_ENTRY = 5  # tag, pin manifest, pin .sig, its payload blob, the pin's fallback tag
NEW_IMAGE_EXTRA = 3  # the new image's .sig, its payload blob, its fallback tag

Request = tuple[str, str]


def _requests(proxy: LatencyProxy) -> tuple[Counter[Request], int]:
    """(method, path) of each request since the last reset, and how many referrers probes."""
    records = proxy.records()
    probes = sum("/referrers/" in r.target for r in records)
    asked = Counter((r.method, r.target) for r in records if "/referrers/" not in r.target)
    proxy.reset()
    return asked, probes


def _tag_form(digest: str) -> str:
    return digest.replace(":", "-")


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return new_signer(tmp_path / "keys")


def test_update_on_moved_tags_asks_verify_s_requests_plus_the_new_image_s_signature_once(
        registry: RegistryHandle, repo_name: str, signer: Signer, tmp_path: Path) -> None:
    old = {v: str(push(registry.host, repo_name, f"{v}-ubuntu-22.04", signer=signer,
                       version=v).digest) for v in VERSIONS}
    new = {v: str(push(registry.host, repo_name, f"{v}-ubuntu-22.04", signer=signer,
                       version=v).digest) for v in VERSIONS}  # every tag moves on
    with LatencyProxy(registry.host, delay=0.0) as proxy:
        matrix = tmp_path / "matrix.yml"
        matrix.write_text(native_matrix(proxy.host, repo_name, signer.public_path, [
            {"version": v, "digest": old[v], "added": RECENT} for v in VERSIONS]))
        proxy.reset()
        assert clamp("verify", "--matrix", str(matrix), "--output",
                     str(tmp_path / "verify.json")) != 0  # drift is a finding
        verify, verify_probes = _requests(proxy)
        assert clamp("update", "--matrix", str(matrix), "--provenance-output",
                     str(tmp_path / "update.json")) == 10
        update, update_probes = _requests(proxy)

    n = len(VERSIONS)
    assert max(verify.values()) == 1, verify  # nothing asked twice
    assert max(update.values()) == 1, update
    assert verify_probes <= 1 and update_probes <= 1  # the referrers API: once per registry
    assert sum(verify.values()) == VERIFY_PER_ENTRY * n
    assert set(verify) <= set(update)  # the old pin is verified exactly as verify verifies it
    extra = set(update) - set(verify)
    assert len(extra) == NEW_IMAGE_EXTRA * n, sorted(extra)
    prefix = f"/v2/{repo_name}/manifests/"
    for v in VERSIONS:  # and the extras are the new image's signature lookups, nothing else
        assert ("GET", f"{prefix}{_tag_form(new[v])}.sig") in extra
        assert ("GET", f"{prefix}{_tag_form(new[v])}") in extra  # the referrers fallback tag
    blobs = [target for _, target in extra if re.search(r"/blobs/sha256:[0-9a-f]{64}$", target)]
    assert len(blobs) == n  # one signature payload per new image
    for v in VERSIONS:  # the new image's manifest is the tag's, never fetched by digest
        assert ("GET", f"{prefix}{new[v]}") not in update
