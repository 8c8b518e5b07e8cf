"""Trust entries with build claims and a threshold: what the matrix accepts, what it refuses
(one line, exit 64, at `matrix validate` time), and the policy verify builds from it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import get_args

import pytest
from matrix_samples import NATIVE

from clamp.exitcodes import ExitCode, for_error
from clamp.matrix import MatrixError, load
from clamp.matrix.models import GITHUB_CLAIM_FIELDS, V2Claim
from clamp.trust.claims import CLAIMS, GITHUB_CLAIMS
from clamp.trust.policy import AllOf, Key
from clamp.verify.policy import PolicyCache

KEYLESS = """\
      - issuer: https://token.actions.githubusercontent.com
        subject_regexp: ^https://github\\.com/ROCm/.+$
"""
CLAIMED = KEYLESS + """\
        github_workflow_repository: ROCm/rocm-images
        github_workflow_ref: refs/heads/main
        claims:
          source_repository_digest: 0123456789abcdef0123456789abcdef01234567
"""
MIRROR = "  mirror:\n    keys:\n      - path: keys/mirror.pub\n"


def _with(release: str, mirror: str = MIRROR) -> str:
    return NATIVE.replace("  release:\n    keyless:\n" + KEYLESS, release).replace(MIRROR,
                                                                                mirror)


def test_claims_and_threshold_become_the_policy(native: Callable[[str], Path]) -> None:
    text = _with("  release:\n    threshold: 2\n    keys:\n      - path: keys/mirror.pub\n"
                 "    keyless:\n" + CLAIMED)
    loaded = load(native(text))
    policy = PolicyCache(loaded).policy("release")
    assert isinstance(policy.rule, AllOf) and policy.rule.needed == 2
    identity, key = policy.rule.members
    assert isinstance(key, Key)
    assert dict(identity.claims) == {  # type: ignore[union-attr]
        "github_workflow_repository": "ROCm/rocm-images",
        "github_workflow_ref": "refs/heads/main",
        "source_repository_digest": "0123456789abcdef0123456789abcdef01234567"}
    # Without a threshold the entry stays any-of, as before.
    plain = PolicyCache(load(native(NATIVE))).policy("release")
    assert plain.rule is None and plain.single_signature


@pytest.mark.parametrize(("release", "field", "words"), [
    ("  release:\n    threshold: 2\n    keyless:\n" + KEYLESS, "trust.release",
     "threshold 2 is more than the 1 signer"),
    ("  release:\n    threshold: 0\n    keyless:\n" + KEYLESS, "trust.release.threshold",
     "greater than or equal to 1"),
    ("  release:\n    threshold: true\n    keyless:\n" + KEYLESS, "trust.release.threshold",
     "integer"),
    ("  release:\n    keyless:\n" + KEYLESS + "        claims: {source_repo: x}\n",
     "trust.release.keyless[0].claims.source_repo.[key]", "build_signer_uri"),
    ("  release:\n    keyless:\n" + KEYLESS + "        github_workflow_ref: ''\n",
     "trust.release.keyless[0].github_workflow_ref", "at least 1 character"),
    ("  release:\n    keyless:\n" + KEYLESS + "        github_workflow_repo: ROCm/x\n",
     "trust.release.keyless[0].github_workflow_repo", "unknown key"),
    # A legacy GitHub claim is a field of its own, never a v2 claim name.
    ("  release:\n    keyless:\n" + KEYLESS + "        claims: {github_workflow_ref: x}\n",
     "trust.release.keyless[0].claims.github_workflow_ref.[key]", "source_repository_uri"),
])
def test_bad_claims_and_thresholds_are_bad_input(release: str, field: str, words: str,
                                                 native: Callable[[str], Path]) -> None:
    with pytest.raises(MatrixError) as caught:
        load(native(_with(release)))
    assert for_error(caught.value) == ExitCode.BAD_INPUT
    problem = caught.value.problems[0]
    assert problem.field == field, problem
    assert words in problem.reason
    assert "\n" not in str(caught.value)


def test_the_matrix_names_the_claims_trust_reads() -> None:
    assert GITHUB_CLAIM_FIELDS == GITHUB_CLAIMS
    v2 = {name for name, claim in CLAIMS.items() if claim.encoding == "der"}
    assert set(get_args(V2Claim)) == v2
