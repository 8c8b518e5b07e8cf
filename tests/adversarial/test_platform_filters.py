"""A platform asked of an image that has no index to choose from must match, or fail closed.

Red team, session 10: `clamp verify --platform linux/arm64` on a signed single-platform amd64
image (and a matrix entry with `platform: linux/arm64` pinned to it) **got through** — the
platform was only ever looked up in an index, so a plain image manifest passed whatever
platform was asked, and the record claimed that platform for it. An index without the platform
already failed closed; now a single image's config must name the platform too (Docker's image
service: "found but does not match the specified platform" is not found). The config is read
as Go reads it (the strict reader: a lone `"Architecture"` is the architecture, two spellings
are refused). Each case has its honest twin, signed the same way, that verifies.
"""

from __future__ import annotations

import json

import pytest

from clamp.exitcodes import PASSING_UPDATE, ExitCode
from tests.adversarial.conftest import TAG, Attack, Signer, key_trust, run_clamp, simple_payload
from tests.support.pushing import OCI_MANIFEST, canonical_json

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def _key_flags(signer: Signer, platform: str) -> tuple[str, ...]:
    return ("--key", str(signer.pub), "--insecure-ignore-tlog", "--platform", platform)


def _push_signed(attack: Attack, signer: Signer, config: bytes) -> str:
    """A single-platform image whose config is `config` (as written), under TAG, signed."""
    manifest = canonical_json({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config),
                   "digest": attack.pusher.push_blob(attack.repo, config)},
        "layers": []})
    attack.digest = attack.pusher.push_manifest(attack.repo, TAG, manifest, OCI_MANIFEST)
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])
    return attack.digest


def _sign(attack: Attack, signer: Signer) -> None:
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])


@pytest.mark.parametrize("platform", ["linux/arm64", "windows/amd64", "linux/amd64/v3"])
def test_a_platform_the_single_image_is_not_fails_closed(attack: Attack, signer: Signer,
                                                         platform: str) -> None:
    _sign(attack, signer)  # the fixture's image is linux/amd64
    code, err = attack.verify_image(*_key_flags(signer, platform))
    assert code == ExitCode.REGISTRY_ERROR, err
    assert f"image is linux/amd64, not {platform}" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/x86_64", "LINUX/AMD64"])
def test_the_single_images_own_platform_verifies(attack: Attack, signer: Signer,
                                                 platform: str) -> None:
    _sign(attack, signer)
    code, err = attack.verify_image(*_key_flags(signer, platform))
    assert code == ExitCode.OK, err


def test_a_matrix_entry_for_another_platform_fails_under_strict(attack: Attack,
                                                                signer: Signer) -> None:
    _sign(attack, signer)
    matrix = attack.write_matrix(key_trust(signer), entry="    platform: linux/arm64\n")
    out = attack.folder / "provenance.json"
    code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
    record = json.loads(out.read_text())["records"][0]
    # As for an index without the platform: the pinned image for that platform is not there.
    assert code == ExitCode.FAILED, err
    assert "pin-missing" in err and record["policyDecision"] == "fail"
    assert record["trustStatus"] != "valid"
    assert "image is linux/amd64, not linux/arm64" in json.dumps(record)


def test_a_matrix_entry_for_the_images_own_platform_passes(attack: Attack,
                                                           signer: Signer) -> None:
    _sign(attack, signer)
    matrix = attack.write_matrix(key_trust(signer), entry="    platform: linux/amd64\n")
    out = attack.folder / "provenance.json"
    code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
    assert code == ExitCode.OK, err
    assert json.loads(out.read_text())["records"][0]["policyDecision"] == "pass"


def test_a_config_naming_no_platform_fails_closed_when_one_is_asked(attack: Attack,
                                                                    signer: Signer) -> None:
    _push_signed(attack, signer, b"{}")
    code, err = attack.verify_image(*_key_flags(signer, "linux/amd64"))
    assert code == ExitCode.REGISTRY_ERROR, err
    assert "image config names no platform" in err


def test_a_config_naming_no_platform_verifies_when_none_is_asked(attack: Attack,
                                                                 signer: Signer) -> None:
    _push_signed(attack, signer, b"{}")
    code, err = attack.verify_image("--key", str(signer.pub), "--insecure-ignore-tlog")
    assert code == ExitCode.OK, err


def test_the_config_platform_is_read_as_go_reads_it(attack: Attack, signer: Signer) -> None:
    """Go fills `Architecture` from `"Architecture"`: a Python view that saw no architecture
    (or the lower-case one beside it) would judge another platform than the runtime's."""
    _push_signed(attack, signer, b'{"Architecture":"arm64","OS":"linux"}')
    assert attack.verify_image(*_key_flags(signer, "linux/arm64"))[0] == ExitCode.OK
    code, err = attack.verify_image(*_key_flags(signer, "linux/amd64"))
    assert code == ExitCode.REGISTRY_ERROR and "image is linux/arm64, not linux/amd64" in err


def test_a_config_with_two_spellings_of_its_architecture_is_refused(attack: Attack,
                                                                    signer: Signer) -> None:
    _push_signed(attack, signer,
                 b'{"architecture":"amd64","Architecture":"arm64","os":"linux"}')
    code, err = attack.verify_image(*_key_flags(signer, "linux/amd64"))
    assert code == ExitCode.REGISTRY_ERROR, err
    assert "image config is not valid JSON" in err


# -- clamp update treats an entry's platform on a single-platform image as verify does ------

def test_update_keeps_a_current_single_platform_pin_of_the_entrys_platform(
        attack: Attack, signer: Signer) -> None:
    """It refused it ("not the one the tag named") where verify passed it, so a matrix verify
    accepted could never be updated; nothing to fill in, so nothing is rewritten."""
    _sign(attack, signer)
    matrix = attack.write_matrix(key_trust(signer), entry="    platform: linux/amd64\n")
    before = matrix.read_bytes()
    code, err = run_clamp("update", "--matrix", str(matrix))
    assert code == ExitCode.OK, err
    assert matrix.read_bytes() == before


def test_update_pins_a_moved_single_platform_image_of_the_entrys_platform(
        attack: Attack, signer: Signer) -> None:
    _sign(attack, signer)
    matrix = attack.write_matrix(key_trust(signer), entry="    platform: linux/amd64\n")
    old = attack.digest
    new = attack.push_image()  # the tag moves on to another signed linux/amd64 image
    _sign(attack, signer)
    code, err = run_clamp("update", "--matrix", str(matrix))
    text = matrix.read_text()
    assert code == ExitCode.UPDATED, err
    assert new in text and old not in text and "platform_digest" not in text


def test_update_does_not_pin_a_single_image_of_another_platform(attack: Attack,
                                                                 signer: Signer) -> None:
    _sign(attack, signer)
    matrix = attack.write_matrix(key_trust(signer), entry="    platform: linux/arm64\n")
    attack.push_image()
    _sign(attack, signer)
    before = matrix.read_bytes()
    code, err = run_clamp("update", "--matrix", str(matrix))
    assert code not in PASSING_UPDATE, err
    assert "image is linux/amd64, not linux/arm64" in err
    assert matrix.read_bytes() == before
