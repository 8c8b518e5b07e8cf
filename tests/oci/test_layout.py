"""The OCI image layout backend: same interface as the registry, same fail-closed hashing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from clamp.demo.images import put_image, put_index
from clamp.errors import DigestMismatchError, NotFoundError, RegistryError
from clamp.location import Layout
from clamp.oci.layout import LayoutStore
from clamp.oci.manifest import Platform
from clamp.oci.reference import Reference
from clamp.oci.resolve import resolve
from clamp.oci.store import parse_image_ref


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_round_trip_and_tags(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    image = run(put_image(store, "rocm/dev", "6.4.4", version="6.4.4", os_name="u"))
    index = run(put_index(store, "rocm/dev", "multi", version="6.4.4", os_name="u"))
    assert run(store.list_tags("rocm/dev")) == ["6.4.4", "multi"]
    resolved = run(resolve(store, Reference(Layout(str(tmp_path)), "rocm/dev", "6.4.4")))
    assert resolved.digest == image.digest
    # `oci:PATH:TAG` names the layout directory itself (the empty repository).
    direct = parse_image_ref(f"oci:{tmp_path / 'rocm/dev'}:6.4.4")
    assert run(resolve(LayoutStore(tmp_path / "rocm/dev"), direct)).digest == image.digest
    multi = run(resolve(store, Reference(Layout(str(tmp_path)), "rocm/dev", "multi"),
                        Platform.parse("linux/arm64")))
    assert multi.digest == index.digest and multi.platform_digest is not None
    layout_index = json.loads((tmp_path / "rocm/dev/index.json").read_text())
    assert {m["annotations"]["org.opencontainers.image.ref.name"]
            for m in layout_index["manifests"] if "annotations" in m} == {"6.4.4", "multi"}


def test_tampered_blob_fails_closed(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    image = run(put_image(store, "r", "t", version="1", os_name="u"))
    blob = tmp_path / "r" / "blobs" / "sha256" / image.digest.hex
    blob.write_bytes(blob.read_bytes().replace(b"schemaVersion", b"schemaversion"))
    with pytest.raises(DigestMismatchError):
        run(store.get_manifest("r", "t"))


def test_tampered_blob_that_is_not_json_fails_closed(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    image = run(put_image(store, "r", "t", version="1", os_name="u"))
    (tmp_path / "r" / "blobs" / "sha256" / image.digest.hex).write_bytes(b"not json")
    for ref in ("t", str(image.digest)):  # by tag and by digest: refused, never read
        with pytest.raises(RegistryError):
            run(store.get_manifest("r", ref))


def test_a_manifest_is_hashed_once_per_read(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Each manifest read from a layout is hashed once (by Manifest.parse), as the registry
    client's are; the bytes are still checked against the name they were asked by."""
    from clamp.oci import layout, manifest

    store = LayoutStore(tmp_path)
    image = run(put_image(store, "r", "t", version="1", os_name="u"))
    hashed: list[int] = []
    real = manifest.digest_of

    def counting(data: bytes, algorithm: str = "sha256") -> object:
        hashed.append(len(data))
        return real(data, algorithm)

    monkeypatch.setattr(manifest, "digest_of", counting)
    monkeypatch.setattr(layout, "verify_bytes", lambda *a, **k: pytest.fail("hashed twice"))
    assert run(store.get_manifest("r", "t")).digest == image.digest
    assert run(store.get_manifest("r", str(image.digest))).digest == image.digest
    assert len(hashed) == 2


def test_missing_tag_and_layout(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    with pytest.raises(NotFoundError):
        run(store.get_manifest("nothing", "t"))
    run(put_image(store, "r", "t", version="1", os_name="u"))
    with pytest.raises(NotFoundError):
        run(store.get_manifest("r", "other"))
    assert run(store.head_manifest("r", "other")) is None


def test_a_tag_named_twice_in_index_json_is_refused(tmp_path: Path) -> None:
    """Two manifests under one ref name: skopeo (containers/image) resolves the first, clamp
    took the last, so `clamp verify oci:DIR:TAG` judged another image than the one copied.
    Refused; the honest twin (each tag once) resolves."""
    store = LayoutStore(tmp_path)
    first = run(put_image(store, "r", "t", version="1", os_name="u"))
    run(put_image(store, "r", "other", version="2", os_name="u"))
    path = tmp_path / "r" / "index.json"
    assert run(store.get_manifest("r", "t")).digest == first.digest
    index = json.loads(path.read_text())
    for entry in index["manifests"]:
        entry.setdefault("annotations", {})["org.opencontainers.image.ref.name"] = "t"
    path.write_text(json.dumps(index))
    with pytest.raises(RegistryError, match="more than one manifest"):
        run(store.get_manifest("r", "t"))


def test_index_json_read_two_ways_is_refused(tmp_path: Path) -> None:
    store = LayoutStore(tmp_path)
    run(put_image(store, "r", "t", version="1", os_name="u"))
    path = tmp_path / "r" / "index.json"
    text = path.read_text()
    path.write_text(text.replace('"manifests"', '"manifests": [], "Manifests"', 1))
    with pytest.raises(RegistryError, match="spelling"):
        run(store.get_manifest("r", "t"))
