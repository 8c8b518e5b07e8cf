"""The three outputs from a real registry, then `clamp provenance verify` with it stopped."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path

import httpx
import pytest

from clamp.cli.main import app, invoke
from clamp.demo.scenario import DEMO_KEY_PASSWORD, REPOSITORY, run_demo
from clamp.location import Registry
from clamp.oci.reference import Reference
from tests.support.registry import registry_available, run_registry

# A warn-mode run's exit code: warnings only (1 today; 0 once warnings stop failing CI).
WARNED = (0, 1)


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


@pytest.mark.registry
def test_outputs_from_a_registry_reverify_with_it_stopped(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if not registry_available():
        pytest.skip("Debian's docker-registry is not installed")
    out = tmp_path / "world"
    build = out / "build"
    with run_registry("open", workdir=tmp_path / "registry") as handle:
        where = Registry(handle.host)
        world = asyncio.run(run_demo(
            out, open_store=lambda stores: stores.open(Reference(where, REPOSITORY)),
            location=where))
        monkeypatch.setenv("CLAMP_PASSWORD", DEMO_KEY_PASSWORD)
        assert clamp("verify", "--matrix", str(world.matrix), "-o", str(build / "prov.json"),
                     "--sarif", str(build / "clamp.sarif"), "--vsa", str(build / "vsa.jsonl"),
                     "--vsa-key", str(world.private_key)) in WARNED
        url = handle.url
    with pytest.raises(httpx.TransportError):  # stopped: nothing answers on its port
        httpx.get(f"{url}/v2/", timeout=5)
    doc = json.loads((build / "prov.json").read_text())
    assert {r["trustStatus"] for r in doc["records"]} == {
        "valid", "unsigned", "invalid", "identity_mismatch"}
    assert len(json.loads((build / "clamp.sarif").read_text())["runs"][0]["results"]) == 4
    assert clamp("provenance", "verify", str(build / "prov.json"), "--trusted-root",
                 str(world.trusted_root)) == 0
    assert clamp("provenance", "verify-vsa", str(build / "vsa.jsonl"), "--key",
                 str(world.public_key), "--provenance", str(build / "prov.json")) == 0
    edited = copy.deepcopy(doc)
    keyless = next(r for r in edited["records"] if r["identity"])
    keyless["evidence"]["subjects"][0]["signatures"][0]["annotations"][
        "dev.cosignproject.cosign/signature"] = "MEUCIQD" + "A" * 89 + "=="
    (build / "edited.json").write_text(json.dumps(edited))
    assert clamp("provenance", "verify", str(build / "edited.json")) == 11
