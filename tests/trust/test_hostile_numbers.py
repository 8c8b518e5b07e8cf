"""Numbers a hostile bundle writes that Python's conversions cannot take: a TrustError of that
bundle, never a ValueError out of the verifier.

Red team, session 10: the log entry is read before its promise and note are checked, so any
value of the right type reaches the conversions. An `integratedTime` past year 9999 (an int64
`datetime` cannot hold) and a checkpoint size of "²" (`str.isdigit` takes it, `int` does not)
raised ValueError/OSError: exit 70 for the whole run, and the valid bundle beside the hostile
one was never tried (tests/adversarial/test_hostile_values.py has that end to end). Each is now
the bundle's own failure, named by its check; the honest bundle verifies.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from clamp.trust.bundle import Artifact, verify_bundle
from clamp.trust.errors import TrustError
from clamp.trust.pki import TestSigstore
from clamp.trust.policy import Policy
from tests.trust.conftest import DIGEST
from tests.trust.test_other_tools_formats import BUNDLE_V03, SLSA, keyless_attestation_bundle

Edit = Callable[[dict[str, Any]], None]


def _time(value: str) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        entry["integratedTime"] = value
    return edit


def _note_size(size: str) -> Edit:
    def edit(entry: dict[str, Any]) -> None:
        proof = entry["inclusionProof"]
        lines = proof["checkpoint"]["envelope"].split("\n")
        lines[1] = size
        proof["checkpoint"]["envelope"] = "\n".join(lines)
    return edit


def _verify(pki: TestSigstore, policy: Policy, edit: Edit | None) -> Any:
    doc = json.loads(keyless_attestation_bundle(pki, DIGEST, BUNDLE_V03))
    if edit is not None:
        edit(doc["verificationMaterial"]["tlogEntries"][0])
    return verify_bundle(json.dumps(doc).encode(), Artifact.from_digest(DIGEST), policy,
                         subject_digest=DIGEST, predicate_types=(SLSA,))


def test_the_honest_bundle_verifies(pki: TestSigstore, keyless_policy: Policy) -> None:
    assert _verify(pki, keyless_policy, None).ok


@pytest.mark.parametrize(("edit", "check"), [
    (_time(str(10**12)), "integrated-time"),     # year 33658
    (_time(str(2**62)), "integrated-time"),      # OSError from the platform's time functions
    (_time(str(2**63 - 1)), "integrated-time"),
    (_note_size("\u00b2"), "checkpoint"),        # "²".isdigit() is True; int("²") fails
    (_note_size("\u0663"), "checkpoint"),        # ARABIC-INDIC DIGIT THREE: Go refuses it
    (_note_size("1\u00b9"), "checkpoint"),
])
def test_numbers_python_cannot_convert_fail_as_the_bundle(pki: TestSigstore,
                                                          keyless_policy: Policy, edit: Edit,
                                                          check: str) -> None:
    with pytest.raises(TrustError) as info:
        _verify(pki, keyless_policy, edit)
    assert info.value.check == check, info.value
