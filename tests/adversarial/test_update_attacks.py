"""`clamp update` never pins an image whose only "signature" is an attestation stored under
`.sig`, nor one whose only "attestation" is a signature stored under `.att`; the honest twins are
pinned. Real registry, real signatures, the matrix rewritten (or not) on disk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.adversarial.conftest import (
    COSIGN_SIG_ARTIFACT,
    SLSA,
    TAG,
    Attack,
    Signer,
    simple_payload,
    statement,
)
from tests.support.pushing import RegistryPusher
from tests.support.registry import RegistryHandle
from tests.update.helpers import clamp, native_matrix, new_signer, push

RECENT = (date.today() - timedelta(days=1)).isoformat()


def _setup(registry: RegistryHandle, repo: str, tmp_path: Path,
           make_pusher: Callable[..., RegistryPusher], *, attest: bool
           ) -> tuple[Path, Attack, Signer]:
    """A matrix pinned to a signed image, and a new image the tag now names (unsigned yet)."""
    helper_signer = new_signer(tmp_path / "keys")
    pinned = push(registry.host, repo, TAG, signer=helper_signer)
    text = native_matrix(registry.host, repo, helper_signer.public_path,
                         [{"version": "6.4.4", "digest": str(pinned.digest), "added": RECENT}])
    if attest:
        text = text.replace("  policy: strict\n", "  policy: strict\n  attest_mode: required\n")
        text = text.replace("    tlog: optional", f"    attestations: [{SLSA}]\n    tlog: optional")
    matrix = tmp_path / "ci" / "rocm_matrix.yml"
    matrix.parent.mkdir(parents=True)
    matrix.write_text(text)
    candidate = Attack(registry, repo, make_pusher(registry), tmp_path)
    candidate.push_image()  # under TAG: the tag has moved on
    return matrix, candidate, Signer(helper_signer.key, helper_signer.public_path)


ONLY_ATTESTATION: dict[str, Callable[[Attack, Signer], None]] = {
    "slsa-in-sig": lambda a, s: a.push_tag(".sig", [s.dsse(statement(a.digest, SLSA))]),
    "slsa-as-sig-referrer": lambda a, s: a.push_referrer(
        COSIGN_SIG_ARTIFACT, [s.dsse(statement(a.digest, SLSA))]),
    "honest": lambda a, s: a.push_tag(".sig", [s.simple(simple_payload(a.digest))]),
}


@pytest.mark.parametrize("how", sorted(ONLY_ATTESTATION))
def test_update_does_not_pin_an_attestation_as_signature(
        how: str, registry: RegistryHandle, repo_name: str, tmp_path: Path,
        make_pusher: Callable[..., RegistryPusher]) -> None:
    matrix, candidate, signer = _setup(registry, repo_name, tmp_path, make_pusher, attest=False)
    ONLY_ATTESTATION[how](candidate, signer)
    before = matrix.read_bytes()
    code = clamp("update", "--matrix", str(matrix))
    if how == "honest":
        assert code == 10 and candidate.digest in matrix.read_text()
    else:
        assert code == 6
        assert matrix.read_bytes() == before


ONLY_SIGNATURE: dict[str, Callable[[Attack, Signer], None]] = {
    "simple-signing-copied-under-att": lambda a, s: a.push_tag(
        ".att", [s.simple(simple_payload(a.digest))]),
    "honest": lambda a, s: a.push_tag(".att", [s.dsse(statement(a.digest, SLSA))]),
}


@pytest.mark.parametrize("how", sorted(ONLY_SIGNATURE))
def test_update_does_not_pin_a_signature_as_attestation(
        how: str, registry: RegistryHandle, repo_name: str, tmp_path: Path,
        make_pusher: Callable[..., RegistryPusher]) -> None:
    matrix, candidate, signer = _setup(registry, repo_name, tmp_path, make_pusher, attest=True)
    candidate.push_tag(".sig", [signer.simple(simple_payload(candidate.digest))])
    ONLY_SIGNATURE[how](candidate, signer)
    before = matrix.read_bytes()
    code = clamp("update", "--matrix", str(matrix))
    if how == "honest":
        assert code == 10 and candidate.digest in matrix.read_text()
    else:
        # The pin itself has no attestation either, so under attest_mode: required it no
        # longer verifies and nothing replaced it: 9 (not 6). Either way nothing is pinned.
        assert code == 9
        assert matrix.read_bytes() == before
