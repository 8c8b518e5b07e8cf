"""One EntryCheck for every command, and the trusted root recorded from the bytes that verified."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from clamp.cli.main import app, invoke
from clamp.demo.scenario import DemoResult
from clamp.verify import entry as entry_module
from clamp.verify import policy as policy_module
from clamp.verify.entry import EntryCheck


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


def _copy(world: DemoResult, tmp_path: Path, root: Path | None = None) -> Path:
    """The demo matrix beside the original (its relative paths keep working), optionally with
    the keyless trust entry's root at `root`."""
    text = world.matrix.read_text()
    if root is not None:
        text = text.replace("trusted_root: ../trust/trusted_root.json", f"trusted_root: {root}")
        assert str(root) in text
    path = world.matrix.parent / f"matrix-entry-{tmp_path.name}.yml"
    path.write_text(text)
    return path


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the EntryCheck steps run (and how the tag was asked)."""
    calls: Counter[str] = Counter()
    resolve_tag, verify = EntryCheck.resolve_tag, EntryCheck.verify

    async def spied_resolve(self: EntryCheck, *args: Any, **kwargs: Any) -> Any:
        calls["resolve_tag:head" if kwargs.get("head") else "resolve_tag:get"] += 1
        return await resolve_tag(self, *args, **kwargs)

    async def spied_verify(self: EntryCheck, *args: Any, **kwargs: Any) -> Any:
        calls["verify"] += 1
        return await verify(self, *args, **kwargs)

    monkeypatch.setattr(EntryCheck, "resolve_tag", spied_resolve)
    monkeypatch.setattr(EntryCheck, "verify", spied_verify)
    return calls


def test_the_old_second_copy_is_gone() -> None:
    assert importlib.util.find_spec("clamp.verify.tags") is None


def test_verify_matrix_checks_every_entry_through_the_entry_check(
        demo_world: DemoResult, tmp_path: Path, spy: Counter[str]) -> None:
    assert clamp("verify", "--matrix", str(demo_world.matrix), "-o",
                 str(tmp_path / "p.json")) == 0
    pinned = len(demo_world.run.outcomes)
    assert spy == Counter({"resolve_tag:get": pinned, "verify": pinned})


def test_verify_matrix_merges_each_entrys_settings_once(
        demo_world: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`effective()` runs once per pinned entry (in its EntryCheck): the decision and the
    provenance record read the check's settings instead of merging the defaults again."""
    from clamp.matrix import select
    from clamp.verify import policy, run

    merged: Counter[str] = Counter()
    real = select.effective

    def counting(model: Any, entry: Any) -> Any:
        merged[entry.id] += 1
        return real(model, entry)

    for module in (entry_module, policy, run):
        monkeypatch.setattr(module, "effective", counting)
    assert clamp("verify", "--matrix", str(demo_world.matrix), "-o",
                 str(tmp_path / "p.json")) == 0
    pinned = [o.entry.id for o in demo_world.run.outcomes]
    assert merged == Counter(pinned)


def test_resolve_check_asks_the_tag_through_the_entry_check(
        demo_world: DemoResult, spy: Counter[str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    clamp("resolve", "--matrix", str(demo_world.matrix), "--check", "--json")
    checked = json.loads(capsys.readouterr().out)["entries"]
    assert spy == Counter({"resolve_tag:head": len(checked)})  # the tag alone: nothing verified


def test_update_examines_every_entry_through_the_entry_check(
        demo_world: DemoResult, tmp_path: Path, spy: Counter[str]) -> None:
    matrix = _copy(demo_world, tmp_path)
    try:
        clamp("update", "--matrix", str(matrix), "--dry-run")
    finally:
        matrix.unlink()
    entries = len(demo_world.run.loaded.model.images)
    assert spy["resolve_tag:get"] == entries and not spy["resolve_tag:head"]
    assert spy["verify"] >= entries - 1  # every pin and candidate that has a trust entry


def test_recorded_root_is_the_one_parsed_even_if_the_file_is_swapped(
        demo_world: DemoResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "root.json"
    honest = demo_world.trusted_root.read_bytes()
    root.write_bytes(honest)
    swapped = json.dumps(json.loads(honest), indent=4).encode()  # still a root, other bytes
    assert swapped != honest
    load_root = policy_module._load_root

    def load_then_swap(path: Path, where: str) -> policy_module.LoadedRoot:
        loaded = load_root(path, where)
        path.write_bytes(swapped)  # replaced right after clamp parsed it
        return loaded

    monkeypatch.setattr(policy_module, "_load_root", load_then_swap)
    matrix = _copy(demo_world, tmp_path, root)
    out = tmp_path / "prov.json"
    try:
        assert clamp("verify", "--matrix", str(matrix), "-o", str(out)) == 0
    finally:
        matrix.unlink()
    assert root.read_bytes() == swapped
    doc = json.loads(out.read_text())
    want = hashlib.sha256(honest).hexdigest()
    named = {r["trust"]: r["sha256"] for r in doc["trustedRoots"]}
    assert named["rocm-release"] == want
    kept = {r["sha256"]: base64.b64decode(r["data"]) for r in doc["roots"]}
    assert kept.get(want) == honest and hashlib.sha256(swapped).hexdigest() not in kept
    assert clamp("provenance", "verify", str(out)) == 0


def test_a_sha512_pin_is_current_when_the_tag_names_its_bytes() -> None:
    """A pin of another algorithm than the fetch's is compared by hashing with its algorithm,
    not by comparing a sha256 digest with a sha512 one (which would call it drift)."""
    from clamp.oci.manifest import Manifest

    raw = b'{"schemaVersion": 2, "layers": []}'
    manifest = Manifest.parse(raw, content_type=None, where="test")
    sha512 = entry_module.parse_digest("sha512:" + hashlib.sha512(raw).hexdigest())
    assert entry_module.names(manifest, manifest.digest)
    assert entry_module.names(manifest, sha512)
    other = entry_module.parse_digest("sha512:" + hashlib.sha512(raw + b" ").hexdigest())
    assert not entry_module.names(manifest, other)
