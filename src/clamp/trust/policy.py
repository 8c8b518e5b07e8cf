"""Who we trust: keyless identities, public keys, their composition, and the log rule.

A policy is a tree (as sigstore-python's `sigstore.verify.policy`): leaves are an `Identity`
(OIDC issuer + SAN, each exact or a pattern, plus build claims read from Fulcio's certificate
extensions) and a `Key`; `AnyOf` is satisfied by any member, `AllOf` by at least `threshold`
members (default: all), **each by its own verified signature** (`clamp.trust.rules`). An empty
`AnyOf`/`AllOf`, or a threshold below 1 or above the member count, is refused when built: a
policy that cannot be satisfied, or that anything satisfies, is a usage error, never a verdict.

`Policy` carries the tree with what every signature is checked against (the trusted root, the
transparency-log rule). Without an explicit `rule`, its `keys` and `identities` form an
`AnyOf`, as before.

Regular expressions are Go's (RE2, linear time: `clamp.pattern`) and match *unanchored*, exactly
like cosign's `--certificate-identity-regexp`: `github\\.com/org/` also matches
`evil.com/?github.com/org/`.
Always anchor them (`^https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/.+$`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from clamp.pattern import MAX_PATTERN, Pattern, PatternError, compile_pattern
from clamp.trust.claims import CLAIMS, check_claims, claim_names
from clamp.trust.errors import IdentityMismatchError, TrustInputError
from clamp.trust.keys import PublicKey
from clamp.trust.root import TrustedRoot, load_trusted_root

if TYPE_CHECKING:
    from cryptography import x509

MAX_REGEXP = MAX_PATTERN
#: Members of one AnyOf/AllOf, and leaves of one tree (a real policy has a handful).
MAX_MEMBERS = 64


def _compile(pattern: str | None, what: str) -> Pattern | None:
    if pattern is None:
        return None
    try:
        return compile_pattern(pattern)
    except PatternError as exc:
        raise TrustInputError("policy", f"{what}: {exc}") from None


@dataclass(frozen=True)
class Identity:
    """One trusted keyless signer: SAN exact or regexp, issuer exact or regexp, and claims.

    At least one SAN matcher and one issuer matcher are required (cosign refuses keyless
    verification without both, and so do we: an issuer alone trusts everyone at that issuer).
    `claims` are `(name, value)` pairs from `clamp.trust.claims.CLAIMS` (cosign's GitHub
    workflow claims and Fulcio's v2 build claims), each compared exactly; a certificate without
    a required claim does not match.
    """

    subject: str | None = None
    subject_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None
    claims: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if (self.subject is None) == (self.subject_regexp is None):
            raise TrustInputError("policy", "give exactly one of certificate identity / regexp")
        if (self.issuer is None) == (self.issuer_regexp is None):
            raise TrustInputError("policy", "give exactly one of OIDC issuer / issuer regexp")
        # An empty regexp is unanchored and matches every signer; cosign takes an empty flag
        # for no flag and refuses keyless verification without one. Blank exact values are
        # refused alike: they can only be a mistake in the caller's configuration.
        for label, value in (("identity", self.subject), ("identity regexp", self.subject_regexp),
                             ("OIDC issuer", self.issuer), ("issuer regexp", self.issuer_regexp)):
            if value is not None and not value.strip():
                raise TrustInputError("policy", f"an empty certificate {label} matches "
                                      "no signer you can name: give one")
        _compile(self.subject_regexp, "identity")
        _compile(self.issuer_regexp, "issuer")
        claim_names([name for name, _ in self.claims])
        names = [name for name, _ in self.claims]
        if len(set(names)) != len(names):
            raise TrustInputError("policy", "a certificate claim is given twice")
        if any(not isinstance(v, str) or not v for _, v in self.claims):
            raise TrustInputError("policy", "a certificate claim needs a non-empty value")

    def issuer_matches(self, issuer: str | None) -> bool:
        if issuer is None:
            return False
        if self.issuer is not None:
            return issuer == self.issuer
        pattern = _compile(self.issuer_regexp, "issuer")
        return bool(pattern and pattern.search(issuer))

    def subject_matches(self, sans: Sequence[str]) -> bool:
        if self.subject is not None:
            return self.subject in sans
        pattern = _compile(self.subject_regexp, "identity")
        return any(pattern and pattern.search(san) for san in sans)

    def check(self, leaf: x509.Certificate, sans: Sequence[str], issuer: str | None) -> None:
        """Raise `IdentityMismatchError` (check `issuer`, `san` or `claims`) unless `leaf`,
        whose SANs and issuer were read already, is this signer."""
        if not self.issuer_matches(issuer):
            raise IdentityMismatchError("issuer", f"certificate issuer {issuer!r} is not "
                                        f"{self.describe()}")
        if not self.subject_matches(sans):
            raise IdentityMismatchError("san", f"certificate identity "
                                        f"{', '.join(sans) or '(none)'} is not {self.describe()}")
        check_claims(leaf, self.claims)

    def describe(self) -> str:
        subject = self.subject or f"/{self.subject_regexp}/"
        issuer = self.issuer or f"/{self.issuer_regexp}/"
        claims = "".join(f", {name}={value}" for name, value in self.claims)
        return f"{subject} from {issuer}{claims}"


@dataclass(frozen=True)
class Key:
    """One trusted public key: satisfied by a signature that verifies with it."""

    key: PublicKey

    @classmethod
    def from_pem(cls, pem: bytes | str, *, where: str = "key") -> Key:
        """A key from PEM (a cosign.pub); bad PEM is a `TrustInputError` naming `where`."""
        from clamp.trust.keys import load_public_key

        return cls(load_public_key(pem, where=where))

    def describe(self) -> str:
        return f"key sha256:{self.key.fingerprint[:16]}"


@dataclass(frozen=True)
class AnyOf:
    """Any one member will do (a logical OR). Empty is refused."""

    members: tuple[Rule, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", _members(self.members, "any-of"))

    def describe(self) -> str:
        return "any of (" + "; ".join(m.describe() for m in self.members) + ")"


@dataclass(frozen=True)
class AllOf:
    """At least `threshold` members (default: every one), each satisfied by a verified
    signature no other counted member uses (policy-controller's "N of these authorities", made
    strict: one signature never counts twice). A member must be satisfiable by one signature
    (an `Identity`, a `Key`, or an `AnyOf` of those): an all-of inside an all-of is refused."""

    members: tuple[Rule, ...]
    threshold: int | None = None

    def __post_init__(self) -> None:
        members = _members(self.members, "all-of")
        object.__setattr__(self, "members", members)
        nested = [m.describe() for m in members if not single_signature(m)]
        if nested:
            raise TrustInputError("policy", f"all-of member {nested[0][:200]} needs several "
                                  "signatures itself; list every signer in one all-of")
        seen = [m.key.fingerprint if isinstance(m, Key) else m for m in members]
        if len(set(map(repr, seen))) != len(seen):
            raise TrustInputError("policy", "all-of lists a signer twice (one signature could "
                                  "never satisfy both)")
        if self.threshold is not None and (isinstance(self.threshold, bool) or
                                           not isinstance(self.threshold, int)):
            raise TrustInputError("policy", "all-of threshold must be an integer")
        if not 1 <= self.needed <= len(members):
            raise TrustInputError("policy", f"all-of threshold {self.needed} is not within "
                                  f"1..{len(members)} (its member count)")

    @property
    def needed(self) -> int:
        return len(self.members) if self.threshold is None else self.threshold

    def describe(self) -> str:
        inner = "; ".join(m.describe() for m in self.members)
        return f"{self.needed} of ({inner}), each its own signature"


Rule = Identity | Key | AnyOf | AllOf
_RULES = (Identity, Key, AnyOf, AllOf)


def _members(members: Sequence[Rule], what: str) -> tuple[Rule, ...]:
    if isinstance(members, str | bytes) or not isinstance(members, Sequence):
        raise TrustInputError("policy", f"{what} takes a sequence of policies")
    members = tuple(members)
    if not members:
        raise TrustInputError("policy", f"an empty {what} trusts nobody; give at least one "
                              "member")
    if len(members) > MAX_MEMBERS:
        raise TrustInputError("policy", f"{what} has more than {MAX_MEMBERS} members")
    wrong = [type(m).__name__ for m in members if not isinstance(m, _RULES)]
    if wrong:
        raise TrustInputError("policy", f"{what} member of type {wrong[0]} is not a policy "
                              "(Identity, Key, AnyOf, AllOf)")
    return members


def single_signature(rule: Rule) -> bool:
    """True when one verified signature can satisfy `rule` on its own."""
    if isinstance(rule, AllOf):
        return rule.needed == 1 and all(single_signature(m) for m in rule.members)
    if isinstance(rule, AnyOf):
        return all(single_signature(m) for m in rule.members)
    return True


def leaves(rule: Rule) -> Iterator[Identity | Key]:
    """Every Identity and Key of `rule`, depth first, in order."""
    if isinstance(rule, AnyOf | AllOf):
        for member in rule.members:
            yield from leaves(member)
    else:
        yield rule


@dataclass(frozen=True)
class Policy:
    """Everything a verification needs to decide: who is trusted (`rule`, or the `keys` and
    `identities` as any-of), the tlog rule, and the trusted root.

    `trusted_root=None` means the shipped Sigstore public-good root (loaded on first use).
    A transparency-log entry is required unless `require_tlog=False` (cosign's
    `--insecure-ignore-tlog`): one default for the library, the CLI and the matrix.
    With a `rule`, `keys` and `identities` are its leaves (give one or the other).
    """

    keys: tuple[PublicKey, ...] = ()
    identities: tuple[Identity, ...] = ()
    require_tlog: bool = True
    trusted_root_path: str | None = None
    _root: TrustedRoot | None = field(default=None, repr=False)
    rule: Rule | None = None

    def __post_init__(self) -> None:
        if self.rule is None:
            return
        if not isinstance(self.rule, _RULES):
            raise TrustInputError("policy", f"rule of type {type(self.rule).__name__} is not "
                                  "a policy (Identity, Key, AnyOf, AllOf)")
        if self.keys or self.identities:
            raise TrustInputError("policy", "give a rule, or keys and identities, not both")
        found = list(leaves(self.rule))
        if len(found) > MAX_MEMBERS:
            raise TrustInputError("policy", f"policy has more than {MAX_MEMBERS} signers")
        keys = {leaf.key.fingerprint: leaf.key for leaf in found if isinstance(leaf, Key)}
        identities = dict.fromkeys(leaf for leaf in found if isinstance(leaf, Identity))
        object.__setattr__(self, "keys", tuple(keys.values()))
        object.__setattr__(self, "identities", tuple(identities))

    @cached_property
    def trusted_root(self) -> TrustedRoot:
        return self._root or load_trusted_root(self.trusted_root_path)

    @cached_property
    def effective_rule(self) -> Rule | None:
        """The rule, or any of the keys and identities; None when the policy trusts nobody."""
        if self.rule is not None:
            return self.rule
        members: tuple[Rule, ...] = (*self.identities, *(Key(k) for k in self.keys))
        return AnyOf(members) if members else None

    @property
    def single_signature(self) -> bool:
        rule = self.effective_rule
        return rule is None or single_signature(rule)

    def match_certificate(self, leaf: x509.Certificate, sans: Sequence[str],
                          issuer: str | None) -> frozenset[Identity]:
        """The identities `leaf` is; `IdentityMismatchError` naming the closest miss (issuer,
        then SAN, then claims) when it is none of them."""
        if not self.identities:
            raise IdentityMismatchError("identity", "policy trusts no keyless identity")
        matched: list[Identity] = []
        misses: list[IdentityMismatchError] = []
        for identity in self.identities:
            try:
                identity.check(leaf, sans, issuer)
            except IdentityMismatchError as exc:
                misses.append(exc)
                continue
            matched.append(identity)
        if matched:
            return frozenset(matched)
        order = {"claims": 0, "san": 1, "issuer": 2}
        closest = min(misses, key=lambda e: order.get(e.check, 3))
        if len(misses) == 1:
            raise closest
        wanted = "; ".join(i.describe() for i in self.identities)
        raise IdentityMismatchError(closest.check, f"{closest.reason} (trusted: {wanted})")

    @classmethod
    def with_root(cls, root: TrustedRoot, **kwargs: object) -> Policy:
        return cls(_root=root, **kwargs)  # type: ignore[arg-type]


__all__ = ["CLAIMS", "MAX_MEMBERS", "AllOf", "AnyOf", "Identity", "Key", "Policy", "Rule",
           "leaves", "single_signature"]
