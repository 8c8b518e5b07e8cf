"""`clamp verify --image` and `clamp sign --image` against the real registry, real signatures."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.cli.main import app, invoke
from clamp.digest import parse_digest
from clamp.oci.reference import parse_reference
from clamp.oci.store import Stores
from clamp.signed.attach import push_bundle_referrer, push_legacy_signature
from clamp.trust.pki import TestSigstore, keyless_sign_image
from clamp.trust.sign import sign_image_bundle, sign_image_legacy
from tests.support.hostile_registry import Answer, hostile_registry
from tests.support.pushing import RegistryPusher, push_image, push_index, sha256_digest
from tests.support.registry import RegistryHandle

IDENTITY = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v6.4.4"
ISSUER = "https://token.actions.githubusercontent.com"
# `clamp sign` and these tests' own signatures write no transparency-log entry.
NO_LOG = "--insecure-ignore-tlog"


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


@pytest.fixture(scope="module")
def keypair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("keys")
    mp = pytest.MonkeyPatch()
    mp.setenv("CLAMP_PASSWORD", "correct horse")
    try:
        assert clamp("keygen", "--output-prefix", str(folder / "cosign")) == 0
    finally:
        mp.undo()
    return folder / "cosign.key", folder / "cosign.pub"


def _push_signature(host: str, repo: str, digest: str, payload: bytes,
                    annotations: dict[str, str]) -> None:
    async def go() -> None:
        async with Stores() as stores:
            store = stores.open(parse_reference(f"{host}/{repo}:x"))
            await push_legacy_signature(store, repo, parse_digest(digest), payload, annotations)

    asyncio.run(go())


def _fresh_key(tmp_path: Path) -> tuple[ec.EllipticCurvePrivateKey, Path]:
    """A new P-256 key and its public PEM written to `tmp_path/k.pub`."""
    from clamp.trust.keys import PublicKey

    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "k.pub"
    pub.write_bytes(PublicKey(key.public_key()).pem)
    return key, pub


def _verify_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    code = clamp("verify", "--json", *args)
    return code, json.loads(capsys.readouterr().out)


def test_sign_then_verify_with_key(registry: RegistryHandle, repo_name: str,
                                   keypair: tuple[Path, Path],
                                   make_pusher: Callable[..., RegistryPusher],
                                   monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    pushed = push_image(make_pusher(registry), repo_name, "6.4.4-ubuntu-22.04")
    image = f"{registry.host}/{repo_name}:6.4.4-ubuntu-22.04"
    monkeypatch.setenv("CLAMP_PASSWORD", "correct horse")
    assert clamp("sign", "--image", image, "--key", str(keypair[0])) == 0
    code, data = _verify_json(capsys, NO_LOG, "--image", image, "--key", str(keypair[1]))
    assert code == 0
    assert data["digest"] == pushed.digest
    assert data["result"]["verdict"] == "verified"
    assert data["result"]["signature_kind"] == "cosign-simplesigning"
    assert data["result"]["manifest_digest"] == pushed.digest
    assert data["result"]["signer"]["key_fingerprint"]
    # Key mode without a log entry fails closed: the log is required by default, as cosign's.
    assert clamp("verify", "--image", image, "--key", str(keypair[1])) == 3
    assert "tlog" in capsys.readouterr().err
    assert clamp("verify", image, "--key", str(keypair[1]), "--insecure-ignore-tlog=true") == 0
    assert clamp("verify", image, "--key", str(keypair[1]), "--insecure-ignore-tlog=false") == 3
    assert clamp("verify", image, "--key", str(keypair[1]), "--insecure-ignore-tlog=maybe") == 64


def test_bundle_referrer_alone_verifies(registry: RegistryHandle, repo_name: str,
                                        make_pusher: Callable[..., RegistryPusher],
                                        tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "k.pub"
    from clamp.trust.keys import PublicKey

    pub.write_bytes(PublicKey(key.public_key()).pem)
    pushed = push_image(make_pusher(registry), repo_name, "t")
    name = f"{registry.host}/{repo_name}"

    async def go() -> None:
        async with Stores() as stores:
            ref = parse_reference(f"{name}:t")
            store = stores.open(ref)
            manifest = await store.get_manifest(repo_name, "t")
            await push_bundle_referrer(store, repo_name, manifest,
                                       sign_image_bundle(key, pushed.digest, name))

    asyncio.run(go())
    code, data = _verify_json(capsys, NO_LOG, "--image", f"{name}:t", "--key", str(pub))
    assert code == 0, data
    assert data["result"]["signature_kind"] == "bundle-dsse"
    assert data["found"][0]["bundles"] == 1 and data["found"][0]["legacySignatures"] == 0


def test_keyless_signature_verifies_and_identity_is_enforced(
        registry: RegistryHandle, repo_name: str, pki: TestSigstore, root_file: Path,
        make_pusher: Callable[..., RegistryPusher], capsys: pytest.CaptureFixture[str]) -> None:
    pushed = push_image(make_pusher(registry), repo_name, "t")
    name = f"{registry.host}/{repo_name}"
    layer = keyless_sign_image(pki, pushed.digest, name, identity=IDENTITY, issuer=ISSUER)
    _push_signature(registry.host, repo_name, pushed.digest, layer.payload,
                    dict(layer.annotations))
    trust = ("--trusted-root", str(root_file), "--certificate-oidc-issuer", ISSUER)
    code, data = _verify_json(capsys, "--image", f"{name}:t", "--certificate-identity",
                              IDENTITY, *trust)
    assert code == 0, data
    signer = data["result"]["signer"]
    assert (signer["identity"], signer["issuer"]) == (IDENTITY, ISSUER)
    assert data["result"]["time_source"] == "set"
    assert data["result"]["log_index"] is not None
    assert clamp("verify", "--image", f"{name}:t", "--certificate-identity-regexp",
                 r"^https://github\.com/ROCm/", *trust) == 0
    capsys.readouterr()
    assert clamp("verify", "--image", f"{name}:t", "--certificate-identity",
                 "https://github.com/evil/fork/.github/workflows/x.yml@refs/heads/main",
                 *trust) == 5
    assert "san" in capsys.readouterr().err
    # The public-good root does not know the test CA: fail closed.
    assert clamp("verify", "--image", f"{name}:t", "--certificate-identity", IDENTITY,
                 "--certificate-oidc-issuer", ISSUER) == 3


def test_unsigned_image(registry: RegistryHandle, repo_name: str, keypair: tuple[Path, Path],
                        make_pusher: Callable[..., RegistryPusher],
                        capsys: pytest.CaptureFixture[str]) -> None:
    push_image(make_pusher(registry), repo_name, "t")
    code = clamp("verify", NO_LOG, "--image", f"{registry.host}/{repo_name}:t", "--key",
                 str(keypair[1]))
    assert code == 4
    err = capsys.readouterr().err
    assert "unsigned" in err and err.count("\n") == 1


def test_wrong_key(registry: RegistryHandle, repo_name: str, keypair: tuple[Path, Path],
                   make_pusher: Callable[..., RegistryPusher], tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:
    pushed = push_image(make_pusher(registry), repo_name, "t")
    other = ec.generate_private_key(ec.SECP256R1())
    layer = sign_image_legacy(other, pushed.digest, f"{registry.host}/{repo_name}")
    _push_signature(registry.host, repo_name, pushed.digest, layer.payload,
                    dict(layer.annotations))
    assert clamp("verify", NO_LOG, "--image", f"{registry.host}/{repo_name}:t", "--key",
                 str(keypair[1])) == 3
    assert "check signature failed" in capsys.readouterr().err


def test_signature_copied_from_another_image_names_payload_digest(
        registry: RegistryHandle, repo_name: str, make_pusher: Callable[..., RegistryPusher],
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pusher = make_pusher(registry)
    victim = push_image(pusher, repo_name, "victim")
    other = push_image(pusher, repo_name, "other")
    key, _ = _fresh_key(tmp_path)
    # A valid signature over the *other* image's payload, stored under the victim's .sig tag.
    layer = sign_image_legacy(key, other.digest, f"{registry.host}/{repo_name}")
    _push_signature(registry.host, repo_name, victim.digest, layer.payload,
                    dict(layer.annotations))
    assert clamp("verify", NO_LOG, "--image", f"{registry.host}/{repo_name}:victim", "--key",
                 str(tmp_path / "k.pub")) == 3
    assert "payload-digest" in capsys.readouterr().err


def test_multi_arch_index_signature(registry: RegistryHandle, repo_name: str,
                                    keypair: tuple[Path, Path],
                                    make_pusher: Callable[..., RegistryPusher],
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    pushed = push_index(make_pusher(registry), repo_name, "multi")
    image = f"{registry.host}/{repo_name}:multi"
    monkeypatch.setenv("CLAMP_PASSWORD", "correct horse")
    assert clamp("sign", "--image", image, "--key", str(keypair[0]), "--bundle-format") == 0
    code, data = _verify_json(capsys, NO_LOG, "--image", image, "--key", str(keypair[1]),
                              "--platform", "linux/arm64")
    assert code == 0
    assert data["digest"] == pushed.digest
    assert data["platformDigest"] == pushed.children["linux/arm64"].digest


def test_manifest_bytes_that_do_not_hash_to_requested_digest(
        keypair: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    wanted = "sha256:" + "a" * 64
    body = json.dumps({"schemaVersion": 2, "mediaType":
                       "application/vnd.oci.image.manifest.v1+json", "layers": []}).encode()
    with hostile_registry(lambda m, p: Answer(200, body, {
            "Content-Type": "application/vnd.oci.image.manifest.v1+json"})) as srv:
        code = clamp("verify", NO_LOG, "--image", f"{srv.host}/r/x@{wanted}", "--key",
                     str(keypair[1]))
    assert code == 69
    assert "hash to" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ("--image", "UPPER//bad", "--key", "k.pub"),
    ("--image", "ghcr.io/x/y:1"),
    ("--image", "ghcr.io/x/y:1", "--key", "/nonexistent/k.pub"),
    ("--matrix", "m.yml", "--image", "x"),
])
def test_bad_input(args: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("verify", *args) == 64
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def _push_cosign_referrer(pusher: RegistryPusher, repo: str, subject_digest: str,
                          subject: tuple[str, int, str], payload: bytes,
                          annotations: dict[str, str]) -> str:
    """A legacy signature the way cosign's `--registry-referrers-mode=oci-1-1` stores it: a
    manifest with artifactType `application/vnd.dev.cosign.artifact.sig.v1+json`, an empty
    config, one simplesigning layer and a subject, listed in the `sha256-<hex>` fallback index
    (the test registry has no referrers API). Written with the test's own pusher, not clamp's."""
    artifact = "application/vnd.dev.cosign.artifact.sig.v1+json"
    oci_manifest = "application/vnd.oci.image.manifest.v1+json"
    empty = pusher.push_blob(repo, b"{}")
    layer = pusher.push_blob(repo, payload)
    media_type, size, digest = subject
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": oci_manifest, "artifactType": artifact,
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "size": 2, "digest": empty},
        "layers": [{"mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "size": len(payload), "digest": layer, "annotations": annotations}],
        "subject": {"mediaType": media_type, "size": size, "digest": digest},
    }).encode()
    referrer = pusher.push_manifest(repo, sha256_digest(manifest), manifest, oci_manifest)
    index = json.dumps({"schemaVersion": 2,
                        "mediaType": "application/vnd.oci.image.index.v1+json",
                        "manifests": [{"mediaType": oci_manifest, "size": len(manifest),
                                       "digest": referrer, "artifactType": artifact}]}).encode()
    pusher.push_manifest(repo, subject_digest.replace(":", "-"), index,
                         "application/vnd.oci.image.index.v1+json")
    return referrer


def test_cosign_signature_stored_as_a_referrer(registry: RegistryHandle, repo_name: str,
                                               make_pusher: Callable[..., RegistryPusher],
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    pusher = make_pusher(registry)
    pushed = push_image(pusher, repo_name, "t")
    key, _ = _fresh_key(tmp_path)
    layer = sign_image_legacy(key, pushed.digest, f"{registry.host}/{repo_name}")
    subject = (pushed.media_type, len(pushed.manifest), pushed.digest)
    _push_cosign_referrer(pusher, repo_name, pushed.digest, subject, layer.payload,
                          dict(layer.annotations))
    code, data = _verify_json(capsys, NO_LOG, "--image", f"{registry.host}/{repo_name}:t", "--key",
                              str(tmp_path / "k.pub"))
    assert code == 0, data
    assert json.dumps(data).count(pushed.digest) >= 1


def test_cosign_referrer_naming_another_subject_is_not_a_signature(
        registry: RegistryHandle, repo_name: str, make_pusher: Callable[..., RegistryPusher],
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Listed under the victim's fallback tag, but its subject is another image: ignored."""
    pusher = make_pusher(registry)
    victim = push_image(pusher, repo_name, "victim")
    other = push_image(pusher, repo_name, "other")
    key, _ = _fresh_key(tmp_path)
    layer = sign_image_legacy(key, victim.digest, f"{registry.host}/{repo_name}")
    subject = (other.media_type, len(other.manifest), other.digest)
    _push_cosign_referrer(pusher, repo_name, victim.digest, subject, layer.payload,
                          dict(layer.annotations))
    assert clamp("verify", NO_LOG, "--image", f"{registry.host}/{repo_name}:victim", "--key",
                 str(tmp_path / "k.pub")) == 4
    assert "names another subject" in capsys.readouterr().err


SLSA = "https://slsa.dev/provenance/v1"


def _attested_image(registry: RegistryHandle, repo_name: str,
                    make_pusher: Callable[..., RegistryPusher], tmp_path: Path,
                    *, sign_too: bool) -> tuple[str, Path]:
    """An image with a SLSA provenance attestation bundle (as GitHub's attest-build-provenance
    pushes it) signed by a key, and optionally a cosign signature bundle by the same key."""
    pushed = push_image(make_pusher(registry), repo_name, "t")
    key, pub = _fresh_key(tmp_path)
    name = f"{registry.host}/{repo_name}"

    async def go() -> None:
        async with Stores() as stores:
            store = stores.open(parse_reference(f"{name}:t"))
            manifest = await store.get_manifest(repo_name, "t")
            attestation = sign_image_bundle(key, pushed.digest, name, predicate_type=SLSA,
                                            predicate={"buildDefinition": {}})
            await push_bundle_referrer(store, repo_name, manifest, attestation,
                                       predicate_type=SLSA)
            if sign_too:
                await push_bundle_referrer(store, repo_name, manifest,
                                           sign_image_bundle(key, pushed.digest, name))

    asyncio.run(go())
    return f"{name}:t", pub


def test_attestation_bundle_is_not_a_signature(registry: RegistryHandle, repo_name: str,
                                               make_pusher: Callable[..., RegistryPusher],
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    image, pub = _attested_image(registry, repo_name, make_pusher, tmp_path, sign_too=False)
    capsys.readouterr()
    assert clamp("verify", NO_LOG, "--image", image, "--key", str(pub)) == 4
    err = capsys.readouterr().err
    assert "1 attestation bundle(s) found, which are not signatures" in err


def test_attestation_bundle_satisfies_attestation_type(
        registry: RegistryHandle, repo_name: str, make_pusher: Callable[..., RegistryPusher],
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, pub = _attested_image(registry, repo_name, make_pusher, tmp_path, sign_too=True)
    code, data = _verify_json(capsys, NO_LOG, "--image", image, "--key", str(pub),
                              "--attestation-type", SLSA)
    assert code == 0, data
    assert data["result"]["signature_kind"] == "bundle-dsse"
    assert SLSA not in data["result"]["predicate_types"]  # the signature is the sign bundle
    assert data["attestation"]["verdict"] == "verified"
    assert data["attestation"]["predicate_types"] == [SLSA]
    code, data = _verify_json(capsys, NO_LOG, "--image", image, "--key", str(pub),
                              "--attestation-type", "https://spdx.dev/Document")
    assert code != 0, data
