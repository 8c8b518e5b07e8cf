"""Who we trust: public keys, keyless identities, and whether log evidence is mandatory.

Regular expressions are Go's (RE2, linear time: `clamp.pattern`) and match *unanchored*, exactly
like cosign's `--certificate-identity-regexp`: `github\\.com/org/` also matches
`evil.com/?github.com/org/`.
Always anchor them (`^https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/.+$`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from clamp.pattern import MAX_PATTERN, Pattern, PatternError, compile_pattern
from clamp.trust.errors import IdentityMismatchError, TrustInputError
from clamp.trust.keys import PublicKey
from clamp.trust.root import TrustedRoot, load_trusted_root

MAX_REGEXP = MAX_PATTERN


def _compile(pattern: str | None, what: str) -> Pattern | None:
    if pattern is None:
        return None
    try:
        return compile_pattern(pattern)
    except PatternError as exc:
        raise TrustInputError("policy", f"{what}: {exc}") from None


@dataclass(frozen=True)
class Identity:
    """One trusted keyless signer: SAN exact or regexp, and issuer exact or regexp.

    At least one SAN matcher and one issuer matcher are required (cosign refuses keyless
    verification without both, and so do we: an issuer alone trusts everyone at that issuer).
    """

    subject: str | None = None
    subject_regexp: str | None = None
    issuer: str | None = None
    issuer_regexp: str | None = None

    def __post_init__(self) -> None:
        if (self.subject is None) == (self.subject_regexp is None):
            raise TrustInputError("policy", "give exactly one of certificate identity / regexp")
        if (self.issuer is None) == (self.issuer_regexp is None):
            raise TrustInputError("policy", "give exactly one of OIDC issuer / issuer regexp")
        _compile(self.subject_regexp, "identity")
        _compile(self.issuer_regexp, "issuer")

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

    def describe(self) -> str:
        subject = self.subject or f"/{self.subject_regexp}/"
        issuer = self.issuer or f"/{self.issuer_regexp}/"
        return f"{subject} from {issuer}"


@dataclass(frozen=True)
class AnyOf:
    """Any one of several identities will do."""

    identities: tuple[Identity, ...]

    def check(self, sans: Sequence[str], issuer: str | None) -> None:
        """Raise `IdentityMismatchError` naming `issuer` or `san` when no identity matches."""
        if not self.identities:
            raise IdentityMismatchError("identity", "policy trusts no keyless identity")
        if any(i.issuer_matches(issuer) and i.subject_matches(sans) for i in self.identities):
            return
        wanted = "; ".join(i.describe() for i in self.identities)
        if not any(i.issuer_matches(issuer) for i in self.identities):
            raise IdentityMismatchError("issuer", f"certificate issuer {issuer!r} is not trusted "
                                        f"(want {wanted})")
        raise IdentityMismatchError("san", f"certificate identity {', '.join(sans) or '(none)'} "
                                    f"is not trusted (want {wanted})")


@dataclass(frozen=True)
class Policy:
    """Everything a verification needs to decide: trusted keys, identities, tlog rule, root.

    `trusted_root=None` means the shipped Sigstore public-good root (loaded on first use).
    A transparency-log entry is required unless `require_tlog=False` (cosign's
    `--insecure-ignore-tlog`): one default for the library, the CLI and the matrix.
    """

    keys: tuple[PublicKey, ...] = ()
    identities: tuple[Identity, ...] = ()
    require_tlog: bool = True
    trusted_root_path: str | None = None
    _root: TrustedRoot | None = field(default=None, repr=False)

    @cached_property
    def trusted_root(self) -> TrustedRoot:
        return self._root or load_trusted_root(self.trusted_root_path)

    @property
    def any_identity(self) -> AnyOf:
        return AnyOf(self.identities)

    @classmethod
    def with_root(cls, root: TrustedRoot, **kwargs: object) -> Policy:
        return cls(_root=root, **kwargs)  # type: ignore[arg-type]
