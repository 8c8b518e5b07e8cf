"""Composed policies: AnyOf / AllOf(threshold) over identities and keys, judged over real
signatures from the test PKI; the attacker's near-misses beside the honest sets."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from clamp.exitcodes import for_error
from clamp.trust.cosign_legacy import verify_legacy_layers
from clamp.trust.errors import IdentityMismatchError, TrustError, TrustInputError
from clamp.trust.keys import PublicKey
from clamp.trust.pki import TestSigstore, keyless_sign_image
from clamp.trust.policy import AllOf, AnyOf, Identity, Key, Policy, Rule, single_signature
from clamp.trust.result import VerificationResult
from clamp.trust.rules import PolicyUnmetError, satisfy
from clamp.trust.sign import sign_image_legacy

from .conftest import DIGEST, ISSUER, REFERENCE

WORKFLOW = "https://github.com/ROCm/rocm-images/.github/workflows/{}.yml@refs/tags/v1"
A, B, C = (WORKFLOW.format(n) for n in ("build", "scan", "release"))
ALICE, BOB, CAROL = (Identity(subject=s, issuer=ISSUER) for s in (A, B, C))


def _signed(pki: TestSigstore, policy: Policy, *subjects: str,
            keys: tuple[ec.EllipticCurvePrivateKey, ...] = ()) -> list[VerificationResult]:
    """Each signature verified alone (as the image verifier does for a composed policy)."""
    layers = [keyless_sign_image(pki, DIGEST, REFERENCE, identity=s, issuer=ISSUER)
              for s in subjects]
    layers += [sign_image_legacy(k, DIGEST, REFERENCE) for k in keys]
    out = []
    for layer in layers:
        try:
            out.append(verify_legacy_layers([layer], DIGEST, policy))
        except TrustError:  # a miss: a signer no member names, a key no member holds
            continue
    return out


def _policy(pki: TestSigstore, rule: Rule) -> Policy:
    return Policy.with_root(pki.trusted_root(), rule=rule, require_tlog=False)


def test_two_of_three_needs_two_distinct_signers(pki: TestSigstore) -> None:
    policy = _policy(pki, AllOf((ALICE, BOB, CAROL), threshold=2))
    assert not policy.single_signature
    assert len(satisfy(policy.rule, _signed(pki, policy, A, C))) == 2  # type: ignore[arg-type]
    with pytest.raises(PolicyUnmetError, match=r"2 of 3 signers needed.*1 met") as caught:
        satisfy(policy.rule, _signed(pki, policy, A))  # type: ignore[arg-type]
    assert caught.value.path == "all-of" and caught.value.check == "policy"
    # The same signer twice is still one signer.
    with pytest.raises(PolicyUnmetError, match="1 met"):
        satisfy(policy.rule, _signed(pki, policy, A, A))  # type: ignore[arg-type]


def test_one_signature_never_counts_for_two_members(pki: TestSigstore) -> None:
    # The pattern also matches A: a greedy count would let A's one signature satisfy both.
    either = Identity(subject_regexp=r"^https://github\.com/ROCm/rocm-images/.*$", issuer=ISSUER)
    policy = _policy(pki, AllOf((either, ALICE)))
    with pytest.raises(PolicyUnmetError, match="already counts for another member"):
        satisfy(policy.rule, _signed(pki, policy, A))  # type: ignore[arg-type]
    # A and B: A must go to ALICE and B to the pattern (a matching, not first come).
    assert len(satisfy(policy.rule, _signed(pki, policy, A, B))) == 2  # type: ignore[arg-type]


def test_key_and_identity_both_required(pki: TestSigstore,
                                        signing_key: ec.EllipticCurvePrivateKey) -> None:
    key = Key(PublicKey(signing_key.public_key()))
    policy = _policy(pki, AllOf((key, ALICE)))
    assert policy.keys == (key.key,) and policy.identities == (ALICE,)
    both = _signed(pki, policy, A, keys=(signing_key,))
    assert len(satisfy(policy.rule, both)) == 2  # type: ignore[arg-type]
    with pytest.raises(PolicyUnmetError, match=r"\[1\] " + A.replace(".", r"\.")):
        satisfy(policy.rule, _signed(pki, policy, keys=(signing_key,)))  # type: ignore[arg-type]
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(PolicyUnmetError, match="key sha256"):
        satisfy(policy.rule, _signed(pki, policy, A, keys=(other,)))  # type: ignore[arg-type]


def test_any_of_all_of_alternatives(pki: TestSigstore,
                                    signing_key: ec.EllipticCurvePrivateKey) -> None:
    key = Key(PublicKey(signing_key.public_key()))
    policy = _policy(pki, AnyOf((AllOf((ALICE, BOB)), key)))
    assert satisfy(policy.rule, _signed(pki, policy, keys=(signing_key,)))  # type: ignore[arg-type]
    assert satisfy(policy.rule, _signed(pki, policy, A, B))  # type: ignore[arg-type]
    with pytest.raises(PolicyUnmetError, match="none of 2 satisfied") as caught:
        satisfy(policy.rule, _signed(pki, policy, B))  # type: ignore[arg-type]
    assert caught.value.path == "any-of"
    assert "any-of[0]" in caught.value.reason and "any-of[1]" in caught.value.reason


def test_a_certificate_no_member_names_is_a_mismatch_per_signature(pki: TestSigstore) -> None:
    policy = _policy(pki, AllOf((ALICE, BOB)))
    layer = keyless_sign_image(pki, DIGEST, REFERENCE, identity=C, issuer=ISSUER)
    with pytest.raises(IdentityMismatchError, match="trusted: "):
        verify_legacy_layers([layer], DIGEST, policy)


@pytest.mark.parametrize("build", [
    lambda: AnyOf(()), lambda: AllOf(()), lambda: AllOf((ALICE,), threshold=0),
    lambda: AllOf((ALICE, BOB), threshold=3), lambda: AllOf((ALICE,), threshold=-1),
    lambda: AllOf((ALICE,), threshold=True), lambda: AllOf((ALICE,), threshold="1"),
    lambda: AllOf((AllOf((ALICE, BOB)), CAROL)),
    lambda: AllOf((AnyOf((AllOf((ALICE, BOB)),)), CAROL)),
    lambda: AnyOf(("not a policy",)),  # type: ignore[arg-type]
    lambda: AnyOf(ALICE),  # type: ignore[arg-type]
    lambda: AnyOf(tuple(Identity(subject=f"s{n}", issuer=ISSUER) for n in range(65))),
    lambda: AllOf((ALICE, Identity(subject=A, issuer=ISSUER))),
])
def test_unsatisfiable_or_empty_policies_are_usage_errors(build: object) -> None:
    with pytest.raises(TrustInputError) as caught:
        build()  # type: ignore[operator]
    assert for_error(caught.value) == 64


def test_a_rule_and_loose_keys_are_not_mixed(signing_key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(TrustInputError, match="not both"):
        Policy(rule=ALICE, identities=(BOB,))
    with pytest.raises(TrustInputError, match="not a policy"):
        Policy(rule="ALICE")  # type: ignore[arg-type]


def test_one_signature_rules() -> None:
    assert single_signature(AnyOf((ALICE, BOB)))
    assert single_signature(AllOf((ALICE, BOB), threshold=1))
    assert not single_signature(AllOf((ALICE, BOB)))
    assert Policy(identities=(ALICE,)).single_signature
    assert Policy().effective_rule is None


@pytest.mark.parametrize("fields", [
    {"subject_regexp": "", "issuer": ISSUER},
    {"subject_regexp": "  ", "issuer": ISSUER},
    {"subject": A, "issuer_regexp": ""},
    {"subject": "", "issuer": ISSUER},
    {"subject": A, "issuer": " "},
])
def test_an_empty_identity_or_issuer_is_refused_by_the_library(
        pki: TestSigstore, fields: dict[str, str]) -> None:
    # An empty unanchored regexp matched every signer: a library caller building Identity from
    # an unset variable trusted anyone at any issuer (the CLI refuses the empty flag itself).
    with pytest.raises(TrustInputError, match="empty certificate"):
        Identity(**fields)


def test_a_written_identity_and_issuer_regexp_still_build(pki: TestSigstore) -> None:
    policy = _policy(pki, Identity(subject_regexp=r"rocm-images/", issuer_regexp=r"^https://"))
    assert len(_signed(pki, policy, A)) == 1
