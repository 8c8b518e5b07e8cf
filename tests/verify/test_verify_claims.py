"""`clamp verify IMAGE --certificate-github-workflow-*` against the real registry: real keyless
signatures whose Fulcio-like certificates carry (or lack, or fake) the GitHub claims."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from clamp.trust.claims import CLAIMS
from clamp.trust.pki import TestSigstore, claim_extensions, keyless_sign_image
from tests.support.pushing import RegistryPusher, push_image
from tests.support.registry import RegistryHandle
from tests.verify.test_verify_image import IDENTITY, ISSUER, _push_signature, clamp

REPO = "ROCm/rocm-images"

SHA = "0123456789abcdef0123456789abcdef01234567"


def _signed_image(registry: RegistryHandle, repo_name: str, pki_: TestSigstore,
                  make_pusher: Callable[..., RegistryPusher],
                  extensions: list[tuple[str, bytes]]) -> str:
    pushed = push_image(make_pusher(registry), repo_name, "t")
    name = f"{registry.host}/{repo_name}"
    layer = keyless_sign_image(pki_, pushed.digest, name, identity=IDENTITY,
                               issuer=ISSUER, extensions=extensions)
    _push_signature(registry.host, repo_name, pushed.digest, layer.payload,
                    dict(layer.annotations))
    return f"{name}:t"


def test_github_claim_flags(registry: RegistryHandle, repo_name: str, pki: TestSigstore,
                            root_file: Path, make_pusher: Callable[..., RegistryPusher],
                            capsys: pytest.CaptureFixture[str]) -> None:
    image = _signed_image(registry, repo_name, pki, make_pusher, claim_extensions(
        github_workflow_repository=REPO, github_workflow_ref="refs/tags/v6.4.4",
        github_workflow_trigger="push", github_workflow_sha=SHA,
        github_workflow_name="Release", build_trigger="push"))
    trust = ("--trusted-root", str(root_file), "--certificate-identity", IDENTITY,
             "--certificate-oidc-issuer", ISSUER)
    honest = ("--certificate-github-workflow-repository", REPO,
              "--certificate-github-workflow-ref", "refs/tags/v6.4.4",
              "--certificate-github-workflow-trigger", "push",
              "--certificate-github-workflow-sha", SHA,
              "--certificate-github-workflow-name", "Release")
    assert clamp("verify", image, *trust, *honest) == 0
    capsys.readouterr()
    # Another value for any one claim: identity mismatch (exit 5), the claim named.
    for flag, value in zip(honest[::2], honest[1::2], strict=True):
        assert clamp("verify", image, *trust, flag, value + "-fork") == 5, flag
        err = capsys.readouterr().err
        assert "claims" in err and flag.removeprefix("--certificate-").replace("-", "_") in err
        assert err.count("\n") == 1


def test_a_claim_the_certificate_lacks_fails(registry: RegistryHandle, repo_name: str,
                                             pki: TestSigstore, root_file: Path,
                                             make_pusher: Callable[..., RegistryPusher],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    # The repository only in the v2 source-repository URI, and in the wrong legacy OID.
    image = _signed_image(registry, repo_name, pki, make_pusher, [
        *claim_extensions(source_repository_uri=f"https://github.com/{REPO}"),
        (CLAIMS["github_workflow_name"].oid, REPO.encode())])
    trust = ("--trusted-root", str(root_file), "--certificate-identity", IDENTITY,
             "--certificate-oidc-issuer", ISSUER)
    assert clamp("verify", image, *trust) == 0  # no claim asked: cosign's behaviour
    capsys.readouterr()
    assert clamp("verify", image, *trust, "--certificate-github-workflow-repository",
                 REPO) == 5
    assert "no github_workflow_repository claim" in capsys.readouterr().err


def test_claim_flags_are_usage_errors_out_of_place(
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # A claim with no identity to belong to; an empty claim; a claim with --matrix.
    assert clamp("verify", "registry.invalid/x:t", "--key", "k.pub",
                 "--certificate-github-workflow-repository", REPO) == 64
    assert "--certificate-identity" in capsys.readouterr().err
    assert clamp("verify", "registry.invalid/x:t", "--certificate-identity", IDENTITY,
                 "--certificate-oidc-issuer", ISSUER,
                 "--certificate-github-workflow-ref", " ") == 64
    assert "needs a value" in capsys.readouterr().err
    assert clamp("verify", "--matrix", "m.yml", "--certificate-github-workflow-sha", SHA) == 64
    assert "for images only" in capsys.readouterr().err
