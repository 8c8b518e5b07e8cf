"""Manifest and index confusion: an attacker who cannot sign builds an *unsigned* index (or
manifest) around a child the trusted signer did sign, so that clamp verifies the signed child
while a container runtime, reading the same bytes, runs an unsigned one.

Both readings must be the same. A runtime reads manifests with Go's encoding/json (field names
matched case-insensitively, the last match wins) and refuses a document whose type is ambiguous
(containerd's fix for CVE-2021-41190: an index with `layers`/`config`, a manifest with
`manifests`, or neither declared with both present). Each attack pushes the crafted bytes into
Debian's real docker-registry (distribution, which reads them as Go does) or, where distribution
itself refuses them, serves them from a hostile registry; each has an honest twin that passes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest

from clamp.errors import RegistryError
from clamp.oci.manifest import Manifest, Platform
from tests.adversarial.conftest import Attack, Signer, run_clamp, simple_payload
from tests.support.hostile_registry import Answer, hostile_registry
from tests.support.pushing import OCI_INDEX, OCI_MANIFEST, PushError, canonical_json, push_image

NO_LOG = "--insecure-ignore-tlog"


def _child(attack: Attack, platform: str = "linux/amd64") -> tuple[str, dict[str, Any]]:
    """Push a child image; its digest and its index descriptor."""
    child = push_image(attack.pusher, attack.repo, None, platform=platform)
    os_name, arch = platform.split("/")
    return child.digest, {"mediaType": OCI_MANIFEST, "digest": child.digest,
                          "size": len(child.manifest),
                          "platform": {"architecture": arch, "os": os_name}}


def _sign(attack: Attack, signer: Signer, digest: str) -> None:
    """The trusted signer's `.sig` for `digest` (the honest child, signed by its publisher)."""
    saved, attack.digest = attack.digest, digest
    attack.push_tag(".sig", [signer.simple(simple_payload(digest))])
    attack.digest = saved


def _push_index(attack: Attack, raw: bytes, tag: str = "crafted") -> str:
    return attack.pusher.push_manifest(attack.repo, tag, raw, OCI_INDEX)


def _verify(attack: Attack, signer: Signer, tag: str = "crafted") -> tuple[int, str]:
    return run_clamp("verify", NO_LOG, "--image", f"{attack.name}:{tag}", "--key",
                     str(signer.pub), "--platform", "linux/amd64")


# Each builds index bytes in which Python's exact-key view and Go's case-insensitive, last-wins
# view name different amd64 children: (signed honest descriptor, unsigned evil descriptor).
CONFUSIONS: dict[str, Callable[[dict[str, Any], dict[str, Any]], bytes]] = {
    "Manifests after manifests": lambda good, evil: (
        b'{"schemaVersion":2,"mediaType":"' + OCI_INDEX.encode() + b'","manifests":['
        + canonical_json(good) + b'],"Manifests":[' + canonical_json(evil) + b']}'),
    "MANIFESTS after manifests": lambda good, evil: (
        b'{"schemaVersion":2,"mediaType":"' + OCI_INDEX.encode() + b'","manifests":['
        + canonical_json(good) + b'],"MANIFESTS":[' + canonical_json(evil) + b']}'),
    "Digest after digest in the descriptor": lambda good, evil: (
        b'{"schemaVersion":2,"mediaType":"' + OCI_INDEX.encode() + b'","manifests":[{'
        b'"mediaType":"' + OCI_MANIFEST.encode() + b'","digest":"' + good["digest"].encode()
        + b'","size":' + str(good["size"]).encode() + b',"Digest":"' + evil["digest"].encode()
        + b'","Size":' + str(evil["size"]).encode()
        + b',"platform":{"architecture":"amd64","os":"linux"}}]}'),
    "Platform after platform": lambda good, evil: (
        # Python: the signed child is amd64, the unsigned one arm64; Go: the other way round.
        b'{"schemaVersion":2,"mediaType":"' + OCI_INDEX.encode() + b'","manifests":['
        + canonical_json({**good}) + b',' + canonical_json(
            {**{k: v for k, v in evil.items() if k != "platform"},
             "platform": {"architecture": "arm64", "os": "linux"}})[:-1]
        + b',"Platform":{"architecture":"amd64","os":"linux"}}]}'),
}


def _lone_platform(good: dict[str, Any], evil: dict[str, Any]) -> bytes:
    """The signed child's platform spelt `"Platform"` only: Python finds no platform (and would
    take it for linux/amd64, the default), Go reads arm64 and pulls the unsigned amd64 child."""
    signed = {k: v for k, v in good.items() if k != "platform"}
    signed["Platform"] = {"architecture": "arm64", "os": "linux"}
    return canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                           "manifests": [signed, evil]})


@pytest.mark.parametrize("how", sorted(CONFUSIONS))
def test_index_read_two_ways_is_refused(how: str, attack: Attack, signer: Signer) -> None:
    good_digest, good = _child(attack)
    _, evil = _child(attack)
    _sign(attack, signer, good_digest)
    raw = CONFUSIONS[how](good, evil)
    # The registry (Go) accepts the bytes: distribution reads them as a runtime would.
    _push_index(attack, raw)
    code, err = _verify(attack, signer)
    assert code == 69, err
    assert "spelling" in err or "duplicate" in err, err


def test_a_field_spelt_as_go_reads_it_is_read_so(attack: Attack, signer: Signer) -> None:
    """One spelling only, so nothing to refuse: clamp must read `"Platform"` as the runtime
    does, pick the unsigned amd64 child, and find it unsigned (exit 4)."""
    good_digest, good = _child(attack)
    _, evil = _child(attack)
    _sign(attack, signer, good_digest)
    _push_index(attack, _lone_platform(good, evil))
    code, err = _verify(attack, signer)
    assert code == 4, err
    assert good_digest.partition(":")[2] not in err, err


def test_honest_index_with_signed_child_passes(attack: Attack, signer: Signer) -> None:
    good_digest, good = _child(attack)
    _, other = _child(attack, "linux/arm64")
    _sign(attack, signer, good_digest)
    _push_index(attack, canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                        "manifests": [good, other]}))
    code, err = _verify(attack, signer)
    assert code == 0, err


@pytest.mark.parametrize("order", ["platformless first", "platformless last"])
def test_a_platformless_entry_beside_the_platform_is_refused(order: str, attack: Attack,
                                                             signer: Signer) -> None:
    """go-containerregistry takes an entry without a platform for linux/amd64, in list order;
    containerd takes it for any platform, after every platformed match. Listed first and
    signed, clamp (as ggcr) verified it while containerd pulls the unsigned amd64 child (the
    attack, exit 0 before). Listed last, the readers happen to agree; it is refused all the same:
    one rule, rather than reasoning about orders and variants a runtime may weigh differently."""
    good_digest, good = _child(attack)
    _, evil = _child(attack)
    _sign(attack, signer, good_digest)
    platformless = {k: v for k, v in (good if order == "platformless first" else evil).items()
                    if k != "platform"}
    listed = [platformless, evil] if order == "platformless first" else [good, platformless]
    _push_index(attack, canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                        "manifests": listed}))
    code, err = _verify(attack, signer)
    assert code == 69, err
    assert "without a platform" in err, err


def test_a_lone_platformless_entry_is_linux_amd64(attack: Attack, signer: Signer) -> None:
    good_digest, good = _child(attack)
    _, other = _child(attack, "linux/arm64")
    _sign(attack, signer, good_digest)
    _push_index(attack, canonical_json({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{k: v for k, v in good.items() if k != "platform"}, other]}))
    code, err = _verify(attack, signer)
    assert code == 0, err


@pytest.mark.parametrize("platform", [{"architecture": "amd64"},
                                      {"os": None, "architecture": "amd64"},
                                      {"os": "linux"}, {}])
def test_a_platform_missing_its_os_or_architecture_is_refused(
        platform: dict[str, Any], attack: Attack, signer: Signer) -> None:
    """Session 13: the signed child listed with a `platform` object missing `os` (or
    `architecture`), beside the unsigned child with no platform at all. Go decodes the object
    as a platform with an empty field: go-containerregistry then matches it to nothing and
    pulls the platformless, unsigned child for linux/amd64; containerd reads an empty os as the
    host's and pulls the signed one. clamp took the object for no platform, two platformless
    entries, chose the signed one listed first and verified it (exit 0). The readers disagree,
    so the index is refused (exit 69), as a platformless entry beside a platformed one is."""
    good_digest, good = _child(attack)
    _, evil = _child(attack)
    _sign(attack, signer, good_digest)
    listed = [{**good, "platform": platform}, {k: v for k, v in evil.items() if k != "platform"}]
    _push_index(attack, canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                        "manifests": listed}))
    code, err = _verify(attack, signer)
    assert code == 69, err
    assert "platform without an os or architecture" in err, err


@pytest.mark.parametrize("platform", ["linux/amd64", ["linux", "amd64"],
                                      {"os": "linux", "architecture": 64}])
def test_a_platform_go_cannot_decode_is_refused(platform: Any, attack: Attack) -> None:
    """A platform that is no object of strings: Go's decoder refuses the whole index (the real
    registry, distribution, will not even store it), so no runtime pulls from it; clamp took
    it for no platform, so for linux/amd64, and would have verified its child."""
    _, good = _child(attack)
    raw = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                          "manifests": [{**good, "platform": platform}]})
    with pytest.raises(PushError, match="MANIFEST_INVALID"):
        _push_index(attack, raw)
    index = Manifest.parse(raw, content_type=OCI_INDEX, where="crafted")
    with pytest.raises(RegistryError, match="platform is not an object of strings"):
        index.platform_child(Platform("linux", "amd64"))


def test_a_null_variant_is_no_variant(attack: Attack, signer: Signer) -> None:
    """The honest twin: null fields are empty to Go, so a null variant is no variant and the
    signed amd64 child is the one asked for."""
    good_digest, good = _child(attack)
    _, other = _child(attack, "linux/arm64")
    _sign(attack, signer, good_digest)
    signed = {**good, "platform": {**good["platform"], "variant": None}}
    _push_index(attack, canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                        "manifests": [signed, other]}))
    code, err = _verify(attack, signer)
    assert code == 0, err


def _ambiguous_index(good: dict[str, Any], evil_manifest: dict[str, Any],
                     media_type: str | None) -> bytes:
    body: dict[str, Any] = {"schemaVersion": 2, "manifests": [good],
                            "config": evil_manifest["config"], "layers": evil_manifest["layers"]}
    if media_type:
        body["mediaType"] = media_type
    return canonical_json(body)


@pytest.mark.parametrize("declared", [None, OCI_INDEX, OCI_MANIFEST])
def test_document_that_is_both_index_and_manifest_is_refused(declared: str | None,
                                                             attack: Attack,
                                                             signer: Signer) -> None:
    """CVE-2021-41190's shape: `manifests` naming a signed child beside `config`/`layers` of an
    unsigned image. Distribution refuses to store it, so a hostile registry serves it, with the
    Content-Type that makes clamp read it as an index."""
    good_digest, good = _child(attack)
    evil = push_image(attack.pusher, attack.repo, None)
    _sign(attack, signer, good_digest)
    raw = _ambiguous_index(good, json.loads(evil.manifest), declared)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    real = attack.registry.url

    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        if path.startswith(f"/v2/{attack.repo}/manifests/crafted") or path.endswith(digest):
            return Answer(200, raw, {"Content-Type": OCI_INDEX,
                                     "Docker-Content-Digest": digest})
        if path == "/v2/":
            return Answer(200, b"{}", {"Content-Type": "application/json"})
        import httpx  # everything else (the child, its signature) from the real registry
        resp = httpx.request(method, real + path, headers={
            k: v for k, v in headers.items() if k.lower() == "accept"})
        return Answer(resp.status_code, resp.content,
                      {k: v for k, v in resp.headers.items()
                       if k.lower() in ("content-type", "docker-content-digest")})

    with hostile_registry(with_headers=script) as srv:
        code, err = run_clamp("verify", NO_LOG, "--image", f"{srv.host}/{attack.repo}:crafted",
                              "--key", str(signer.pub), "--platform", "linux/amd64")
    assert code == 69, err
    assert "both an index and an image manifest" in err, err


@pytest.mark.parametrize("crafted", [True, False])
def test_update_never_pins_an_index_read_two_ways(crafted: bool, attack: Attack,
                                                  signer: Signer) -> None:
    """`clamp update` on a platform entry: the tag moves to an unsigned index around the signed
    amd64 child. Read two ways (`Manifests` naming an unsigned child too) it must not be
    pinned; the honest twin (the same child, one spelling) is."""
    from tests.adversarial.conftest import TAG, key_trust

    good_digest, good = _child(attack)
    _, evil = _child(attack)
    _sign(attack, signer, good_digest)
    pinned = _push_index(attack, canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                 "manifests": [good]}), tag="old")
    _sign(attack, signer, pinned)
    moved = CONFUSIONS["Manifests after manifests"](good, evil) if crafted else canonical_json(
        {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [good], "annotations": {
            "moved": "yes"}})
    candidate = _push_index(attack, moved, tag=TAG)
    matrix = attack.write_matrix(key_trust(signer), digest=pinned, entry=(
        "    platform: linux/amd64\n"
        f"    platform_digest: {good_digest}\n"))
    before = matrix.read_bytes()
    code, err = run_clamp("update", "--matrix", str(matrix))
    if crafted:
        assert matrix.read_bytes() == before, err
        assert candidate not in matrix.read_text()
        assert code == 69, err  # the tag names bytes no runtime reads one way: a registry error
    else:
        assert code == 10, err
        assert candidate in matrix.read_text()
