"""The public API (`import clamp`) against Debian's real docker-registry: one image and a
matrix, under composed policies with GitHub claims, through the public names only (signing and
pushing are the test's own set-up)."""

from __future__ import annotations

import datetime
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import clamp
from clamp.trust.keys import PublicKey
from clamp.trust.pki import TestSigstore, claim_extensions, keyless_sign_image
from clamp.trust.sign import sign_image_legacy
from tests.support.pushing import RegistryPusher, push_image
from tests.support.registry import RegistryHandle
from tests.verify.test_verify_image import _push_signature

ISSUER = "https://token.actions.githubusercontent.com"
BUILD = "https://github.com/ROCm/rocm-images/.github/workflows/build.yml@refs/heads/main"
SCAN = "https://github.com/ROCm/rocm-images/.github/workflows/scan.yml@refs/heads/main"
REPO = "ROCm/rocm-images"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _image(registry: RegistryHandle, repo: str, make_pusher: Callable[..., RegistryPusher],
           tag: str = "t") -> tuple[str, str]:
    pushed = push_image(make_pusher(registry), repo, tag)
    return f"{registry.host}/{repo}", pushed.digest


def _sign_keyless(pki: TestSigstore, name: str, digest: str, identity: str,
                  repository: str = REPO) -> None:
    layer = keyless_sign_image(pki, digest, name, identity=identity, issuer=ISSUER,
                               extensions=claim_extensions(
                                   github_workflow_repository=repository))
    _push_signature(name.split("/")[0], name.split("/", 1)[1], digest, layer.payload,
                    dict(layer.annotations))


def _sign_key(key: ec.EllipticCurvePrivateKey, name: str, digest: str) -> None:
    layer = sign_image_legacy(key, digest, name)
    _push_signature(name.split("/")[0], name.split("/", 1)[1], digest, layer.payload,
                    dict(layer.annotations))


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return PublicKey(key.public_key()).pem


def test_import_clamp_loads_nothing_heavy() -> None:
    code = ("import sys, clamp; print(sorted(n for n in ('httpx', 'pydantic', 'duckdb', "
            "'cryptography', 'typer', 'rich', 'clamp.trust', 'clamp.verify') "
            "if n in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_every_public_name_resolves_and_says_why() -> None:
    assert sorted(clamp.__all__) == clamp.__all__
    for name in clamp.__all__:
        value = getattr(clamp, name)
        assert name == "__version__" or (value.__doc__ or "").strip(), name
    assert set(clamp.__all__) <= set(dir(clamp))
    with pytest.raises(AttributeError):
        clamp.no_such_name  # noqa: B018
    from clamp import atomic  # submodules still import as before

    assert atomic.__name__ == "clamp.atomic"


def test_verify_image_under_a_composed_policy(
        registry: RegistryHandle, repo_name: str, pki: TestSigstore, root_file: Path,
        key: ec.EllipticCurvePrivateKey, make_pusher: Callable[..., RegistryPusher]) -> None:
    name, digest = _image(registry, repo_name, make_pusher)
    build = clamp.Identity(subject=BUILD, issuer=ISSUER,
                           claims=(("github_workflow_repository", REPO),))
    both = clamp.Policy(rule=clamp.AllOf((build, clamp.Key.from_pem(_pem(key)))),
                        require_tlog=False, trusted_root_path=str(root_file))

    _sign_keyless(pki, name, digest, BUILD)
    half: clamp.ImageVerification = clamp.verify_image(f"{name}:t", both)
    assert not half.ok
    assert (half.result.verdict, half.result.check) == ("identity_mismatch", "policy")
    assert "key sha256" in (half.result.reason or "")

    _sign_key(key, name, digest)
    outcome = clamp.verify_image(f"{name}:t", both)
    assert outcome.ok, outcome.result
    result: clamp.VerificationResult = outcome.result
    assert result.manifest_digest == digest
    assert isinstance(result.signer, clamp.Signer)
    # Either signer alone still does, as an any-of.
    assert clamp.verify_image(f"{name}:t", clamp.Policy(
        rule=clamp.AnyOf((build,)), trusted_root_path=str(root_file))).ok


def test_threshold_and_claims_refuse_the_attackers_signatures(
        registry: RegistryHandle, repo_name: str, pki: TestSigstore, root_file: Path,
        make_pusher: Callable[..., RegistryPusher]) -> None:
    name, digest = _image(registry, repo_name, make_pusher)
    build, scan = (clamp.Identity(subject=s, issuer=ISSUER,
                                  claims=(("github_workflow_repository", REPO),))
                   for s in (BUILD, SCAN))
    two = clamp.Policy(rule=clamp.AllOf((build, scan), threshold=2),
                       trusted_root_path=str(root_file))
    _sign_keyless(pki, name, digest, BUILD)
    _sign_keyless(pki, name, digest, BUILD)  # the same signer twice is one signer
    _sign_keyless(pki, name, digest, SCAN, repository="evil/rocm-images")  # a fork's scan
    outcome = clamp.verify_image(f"{name}:t", two)
    assert not outcome.ok and outcome.result.verdict == "identity_mismatch"
    assert "2 of 2 signers needed" in (outcome.result.reason or "")
    _sign_keyless(pki, name, digest, SCAN)
    assert clamp.verify_image(f"{name}:t", two).ok


def test_bad_arguments_are_clamp_errors(root_file: Path) -> None:
    with pytest.raises(clamp.ClampError) as caught:
        clamp.AllOf(())
    assert clamp.exit_code_of(caught.value) == 64
    with pytest.raises(clamp.TrustError):
        clamp.AllOf((clamp.Identity(subject=BUILD, issuer=ISSUER),), threshold=2)
    with pytest.raises(clamp.ClampError, match="trusts no key"):
        clamp.verify_image("127.0.0.1:1/x:t", clamp.Policy())
    with pytest.raises(clamp.ClampError):
        clamp.verify_image("not a reference", clamp.Policy(
            rule=clamp.Identity(subject=BUILD, issuer=ISSUER)))


MATRIX = """\
version: 1
defaults:
  registry: "{host}"
  repository: {repo}
  tag: "{{version}}-{{os}}"
  policy: strict
  trust: [release]
trust:
  release:
    threshold: 2
    tlog: optional
    trusted_root: {root}
    keyless:
      - issuer: {issuer}
        subject: {subject}
        github_workflow_repository: {claim}
    keys:
      - path: {key}
images:
  - version: "1.0"
    os: both
    digest: "{both}"
    added: {today}
  - version: "1.0"
    os: keyonly
    digest: "{keyonly}"
    added: {today}
"""


def test_verify_matrix_with_a_threshold(
        registry: RegistryHandle, repo_name: str, pki: TestSigstore, root_file: Path,
        key: ec.EllipticCurvePrivateKey, make_pusher: Callable[..., RegistryPusher],
        tmp_path: Path) -> None:
    name, both = _image(registry, repo_name, make_pusher, "1.0-both")
    _, keyonly = _image(registry, repo_name, make_pusher, "1.0-keyonly")
    for digest in (both, keyonly):
        _sign_key(key, name, digest)
    _sign_keyless(pki, name, both, BUILD)
    (tmp_path / "k.pub").write_bytes(_pem(key))
    matrix = tmp_path / "matrix.yml"
    matrix.write_text(MATRIX.format(host=registry.host, repo=repo_name, root=root_file,
                                    issuer=ISSUER, subject=BUILD, claim=REPO, key="k.pub",
                                    both=both, keyonly=keyonly,
                                    today=datetime.date.today().isoformat()))
    run: clamp.MatrixRun = clamp.verify_matrix(matrix)
    # The provenance document is the run's stable, documented face (docs/verify.md).
    records = {r.entry: r for r in run.document.records}
    assert records["1.0/both"].trustStatus == "valid", records["1.0/both"]
    assert records["1.0/both"].policyDecision == "pass"
    assert records["1.0/keyonly"].trustStatus == "identity_mismatch"
    assert records["1.0/keyonly"].policyDecision == "fail"
    verification = records["1.0/keyonly"].verification
    assert verification is not None and verification.check == "policy"
    assert int(run.exit_code) != 0
    evidence = records["1.0/both"].evidence
    assert evidence is not None and evidence.policy.trust[0].threshold == 2
    assert evidence.policy.trust[0].identities[0].claims == {
        "github_workflow_repository": REPO}
    assert int(clamp.verify_matrix(matrix, os="both").exit_code) == 0
    # The record replays offline under the policy it recorded: threshold and claims included.
    from clamp.cli.main import app, invoke

    saved = tmp_path / "prov.json"
    saved.write_text(run.document.model_dump_json())
    assert invoke(app, ["provenance", "verify", str(saved), "--trusted-root", str(root_file)],
                  prog_name="clamp") == 0
    # Recorded with the threshold dropped, the policy digest no longer matches: exit 11.
    edited = tmp_path / "edited.json"
    edited.write_text(saved.read_text().replace('"threshold":2', '"threshold":null'))
    assert edited.read_text() != saved.read_text()
    assert invoke(app, ["provenance", "verify", str(edited), "--trusted-root", str(root_file)],
                  prog_name="clamp") == 11
