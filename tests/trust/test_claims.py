"""Fulcio build claims (cosign's --certificate-github-workflow-* and the v2 extensions) on real
certificates from the test PKI: each attacker's certificate beside its honest twin."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.trust.claims import CLAIMS, der_utf8
from clamp.trust.cosign_legacy import verify_legacy_layers
from clamp.trust.errors import IdentityMismatchError, InvalidSignatureError, TrustInputError
from clamp.trust.pki import TestSigstore, _der_utf8, claim_extensions, keyless_sign_image
from clamp.trust.policy import Identity, Policy

from .conftest import DIGEST, IDENTITY, ISSUER, REFERENCE

REPO = "ROCm/rocm-images"
SHA = "0123456789abcdef0123456789abcdef01234567"
REF = "refs/tags/v1"
GITHUB = {"github_workflow_repository": REPO, "github_workflow_ref": REF,
          "github_workflow_trigger": "push", "github_workflow_sha": SHA,
          "github_workflow_name": "Release"}
# What Fulcio writes for a GitHub Actions token: the legacy claims and their v2 twins.
HONEST = claim_extensions(**GITHUB, build_trigger="push", source_repository_digest=SHA,
                          source_repository_ref=REF,
                          source_repository_uri=f"https://github.com/{REPO}")


def _policy(pki: TestSigstore, **claims: str) -> Policy:
    return Policy.with_root(pki.trusted_root(), identities=(
        Identity(subject=IDENTITY, issuer=ISSUER, claims=tuple(claims.items())),))


def _verify(pki: TestSigstore, extensions: list[tuple[str, bytes]], **claims: str) -> None:
    layer = keyless_sign_image(pki, DIGEST, REFERENCE, identity=IDENTITY, issuer=ISSUER,
                               extensions=extensions)
    verify_legacy_layers([layer], DIGEST, _policy(pki, **claims))


def test_every_github_claim_matches_an_honest_certificate(pki: TestSigstore) -> None:
    _verify(pki, HONEST, **GITHUB)


@pytest.mark.parametrize("name", sorted(GITHUB))
def test_a_required_claim_absent_is_a_mismatch(pki: TestSigstore, name: str) -> None:
    others = claim_extensions(**{k: v for k, v in GITHUB.items() if k != name})
    with pytest.raises(IdentityMismatchError, match=f"no {name} claim") as caught:
        _verify(pki, others, **{name: GITHUB[name]})
    assert caught.value.check == "claims"
    _verify(pki, HONEST, **{name: GITHUB[name]})  # the honest twin


@pytest.mark.parametrize("name", sorted(GITHUB))
def test_a_claim_with_another_value_is_a_mismatch(pki: TestSigstore, name: str) -> None:
    with pytest.raises(IdentityMismatchError, match=f"certificate {name} is"):
        _verify(pki, HONEST, **{name: GITHUB[name] + "x"})
    with pytest.raises(IdentityMismatchError):  # a prefix is not the value either
        _verify(pki, HONEST, **{name: GITHUB[name][:-1]})


def test_the_claim_in_another_oid_does_not_count(pki: TestSigstore) -> None:
    # The attacker's repository sits in the ref extension (.1.6); the repository one (.1.5)
    # names another repository.
    planted = [(CLAIMS["github_workflow_ref"].oid, REPO.encode()),
               (CLAIMS["github_workflow_repository"].oid, b"evil/rocm-images")]
    with pytest.raises(IdentityMismatchError, match="github_workflow_repository"):
        _verify(pki, planted, github_workflow_repository=REPO)
    # ... nor does the v2 source repository URI stand in for the legacy repository claim
    # that cosign's flag compares.
    v2_only = claim_extensions(source_repository_uri=f"https://github.com/{REPO}")
    with pytest.raises(IdentityMismatchError, match="no github_workflow_repository"):
        _verify(pki, v2_only, github_workflow_repository=REPO)


def test_der_in_a_legacy_oid_is_not_the_claim(pki: TestSigstore) -> None:
    as_der = [(CLAIMS["github_workflow_repository"].oid, _der_utf8(REPO))]
    with pytest.raises(IdentityMismatchError, match="github_workflow_repository is"):
        _verify(pki, as_der, github_workflow_repository=REPO)


def test_raw_text_in_a_v2_oid_is_refused(pki: TestSigstore) -> None:
    raw = [(CLAIMS["source_repository_ref"].oid, REF.encode())]
    with pytest.raises(InvalidSignatureError, match="not a DER UTF8String"):
        _verify(pki, raw, source_repository_ref=REF)
    _verify(pki, claim_extensions(source_repository_ref=REF), source_repository_ref=REF)


def test_a_duplicated_extension_is_refused(pki: TestSigstore) -> None:
    oid = CLAIMS["github_workflow_repository"].oid
    for twice in ([(oid, REPO.encode()), (oid, b"evil/x")],
                  [(oid, b"evil/x"), (oid, REPO.encode())]):
        with pytest.raises(InvalidSignatureError, match="more than once") as caught:
            _verify(pki, twice, github_workflow_repository=REPO)
        assert caught.value.check == "extensions"
    # Without any claim required, the certificate is refused all the same.
    with pytest.raises(InvalidSignatureError, match="more than once"):
        _verify(pki, [(oid, REPO.encode()), (oid, REPO.encode())])


def test_legacy_and_v2_twins_must_agree(pki: TestSigstore) -> None:
    split = claim_extensions(github_workflow_trigger="push",
                             build_trigger="workflow_dispatch")
    with pytest.raises(InvalidSignatureError, match="disagrees with its build_trigger"):
        _verify(pki, split, github_workflow_trigger="push")
    same = claim_extensions(github_workflow_trigger="push", build_trigger="push")
    _verify(pki, same, github_workflow_trigger="push")


@pytest.mark.parametrize(("v2", "legacy"), [("build_trigger", "github_workflow_trigger"),
                                            ("source_repository_digest", "github_workflow_sha"),
                                            ("source_repository_ref", "github_workflow_ref")])
def test_a_v2_claim_required_is_checked_against_its_legacy_twin(
        pki: TestSigstore, v2: str, legacy: str) -> None:
    """Red team 13, second pass: the v2 claim required, its legacy twin disagreeing. cosign
    and sigstore-go compare the named claim alone and pass it; clamp read the twin only when
    the legacy claim was the one required. Now either way round (deliberate, docs/verify.md).
    Twins: the two agreeing, and the v2 claim alone (a non-GitHub provider writes no legacy
    claims)."""
    wanted, other = {"build_trigger": ("push", "workflow_dispatch"),
                     "source_repository_digest": (SHA, "f" * 40),
                     "source_repository_ref": (REF, "refs/heads/attacker")}[v2]
    split = claim_extensions(**{v2: wanted, legacy: other})
    with pytest.raises(InvalidSignatureError, match=f"disagrees with its {legacy}"):
        _verify(pki, split, **{v2: wanted})
    _verify(pki, claim_extensions(**{v2: wanted, legacy: wanted}), **{v2: wanted})
    _verify(pki, claim_extensions(**{v2: wanted}), **{v2: wanted})


@pytest.mark.parametrize("required", ["github_workflow_repository", "source_repository_uri"])
def test_the_repository_and_its_v2_uri_must_name_one_repository(pki: TestSigstore,
                                                                required: str) -> None:
    """Red team 14: Fulcio writes the legacy repository claim (.5, `ROCm/rocm-images`) and the
    v2 source repository URI (.12, `{{ .url }}/{{ .repository }}`) from the one `repository`
    token claim. With `github_workflow_repository` required and the URI naming another
    repository (or the other way round), each claim was read alone, as cosign's flag and
    sigstore-go's `CompareExtensions` read them: a certificate Fulcio never issues passed.
    Twin: `test_a_repository_and_its_v2_uri_naming_it_pass`."""
    wanted = {"github_workflow_repository": REPO,
              "source_repository_uri": f"https://github.com/{REPO}"}[required]
    for legacy, uri in ((REPO, "https://github.com/attacker/rocm-images"),
                        ("attacker/rocm-images", f"https://github.com/{REPO}"),
                        (REPO, f"https://github.com/{REPO}/extra"), (REPO, f"http://x/{REPO}"),
                        (REPO, REPO)):
        split = claim_extensions(github_workflow_repository=legacy, source_repository_uri=uri)
        if (legacy, uri)[required == "source_repository_uri"] != wanted:
            continue  # the required claim itself differs: a plain mismatch, tested above
        with pytest.raises(InvalidSignatureError, match="disagrees with its") as caught:
            _verify(pki, split, **{required: wanted})
        assert caught.value.check == "claims"


@pytest.mark.parametrize("required", ["github_workflow_repository", "source_repository_uri"])
def test_a_repository_and_its_v2_uri_naming_it_pass(pki: TestSigstore, required: str) -> None:
    for uri in (f"https://github.com/{REPO}", f"https://ghe.example.com/{REPO}"):
        _verify(pki, claim_extensions(github_workflow_repository=REPO,
                                      source_repository_uri=uri),
                **{required: REPO if required == "github_workflow_repository" else uri})
    _verify(pki, claim_extensions(source_repository_uri=f"https://github.com/{REPO}"),
            source_repository_uri=f"https://github.com/{REPO}")


def test_a_legacy_claim_that_is_not_utf8_is_refused(pki: TestSigstore) -> None:
    bad = [(CLAIMS["github_workflow_name"].oid, b"\xff\xfe")]
    with pytest.raises(InvalidSignatureError, match="not UTF-8"):
        _verify(pki, bad, github_workflow_name="Release")


def test_claims_are_checked_only_when_asked(pki: TestSigstore) -> None:
    _verify(pki, [])  # no claim required, none present: cosign's behaviour without the flags


def test_unknown_or_empty_or_repeated_claims_are_usage_errors() -> None:
    with pytest.raises(TrustInputError, match="unknown certificate claim"):
        Identity(subject=IDENTITY, issuer=ISSUER, claims=(("github_workflow_repo", REPO),))
    with pytest.raises(TrustInputError, match="non-empty"):
        Identity(subject=IDENTITY, issuer=ISSUER, claims=(("github_workflow_ref", ""),))
    with pytest.raises(TrustInputError, match="twice"):
        Identity(subject=IDENTITY, issuer=ISSUER,
                 claims=(("github_workflow_ref", REF), ("github_workflow_ref", REF)))


@given(st.text(max_size=300))
def test_der_utf8_reads_what_der_writes(text: str) -> None:
    try:
        encoded = _der_utf8(text)
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 for it
        return
    assert der_utf8(encoded) == text
    assert der_utf8(encoded + b"\x00") is None
    assert der_utf8(encoded[:-1]) is None or text == ""


@given(st.binary(max_size=300))
def test_der_utf8_never_raises(raw: bytes) -> None:
    assert der_utf8(raw) is None or isinstance(der_utf8(raw), str)


def test_der_utf8_refuses_a_long_form_length_for_a_short_string() -> None:
    assert der_utf8(b"\x0c\x81\x03abc") is None
    assert der_utf8(b"\x0c\x03abc") == "abc"
