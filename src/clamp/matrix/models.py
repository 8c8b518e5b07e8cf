"""The native matrix format as pydantic models: the one shape every caller works with.

Both file layouts (native and the original `rocm.*` + `rocm_policy.yml`) are normalised into
`MatrixFile`, so resolve, verify and update never ask which layout they read. Every model forbids
unknown keys: a misspelt `polcy:` silently falling back to a default would weaken the policy.
Checks that need more than one field's value (trust references, key files, duplicates) live in
`clamp.matrix.checks`, because they need file locations and must report every problem at once.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from clamp.digest import DIGEST_PATTERN, check_pinned
from clamp.errors import without_userinfo
from clamp.factories import empty_list
from clamp.location import LAYOUT_PREFIX
from clamp.pattern import PatternError, compile_pattern

PolicyMode = Literal["strict", "warn", "auto_update"]
POLICY_MODES: tuple[str, ...] = ("strict", "warn", "auto_update")
AttestMode = Literal["off", "optional", "required"]
TlogMode = Literal["required", "optional"]

# Distribution reference grammar pieces (distribution/reference/regexp.go), as facts to match.
# ... or `oci:DIR`, an OCI image layout directory (relative to the matrix file), for offline use;
# the layout's spelling is the kernel's (clamp.location), the one every reader of a location uses.
REGISTRY_PATTERN = (r"^(?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
                    rf"(?::[0-9]{{1,5}})?|{re.escape(LAYOUT_PREFIX)}[^\s@]+)$")
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_PATTERN = rf"^{_COMPONENT}(?:/{_COMPONENT})*$"
TAG_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# Versions and OS names become tag parts and entry ids ("6.4.4/ubuntu-22.04"): no "/" or spaces.
TOKEN_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$"
PLATFORM_PATTERN = r"^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
TAG_FIELDS = ("version", "os")


def _compiles(value: str) -> str:
    # Go's syntax and engine (clamp.pattern), as verify will match it: a pattern that validates
    # here compiles there, and none can backtrack for minutes.
    try:
        compile_pattern(value)
    except PatternError as exc:
        raise ValueError(str(exc)) from None
    return value


def _not_blank(value: str) -> str:
    # An empty identity, issuer or regexp names no signer anyone meant; the trust layer refuses
    # it when verifying, so the matrix refuses it where it is written (FILE:LINE, exit 64).
    if not value.strip():
        raise ValueError("is empty: name the signer's identity or issuer")
    return value


_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _to_date(value: Any) -> Any:
    # YAML timestamps arrive as datetime; a pin's day is what the TTL counts. A number, or text
    # that is not a YYYY-MM-DD day, is refused: pydantic would read 1728691200 or "0" as seconds
    # since 1970 (a pin made in 1970, or one that never goes stale), where the origin's verifier
    # crashed on a number and skipped the TTL for such text.
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, bool | int | float) or (
            isinstance(value, str) and _ISO_DAY.match(value) is None):
        raise ValueError(f"{value!r} is not a date: write the day the pin was made, YYYY-MM-DD")
    return value


def _tag_template(value: str) -> str:
    from string import Formatter

    try:
        parts = [(name, spec, conv) for _, name, spec, conv in Formatter().parse(value)
                 if name is not None]
    except ValueError as exc:
        raise ValueError(f"tag template {value!r} is malformed: {exc}") from None
    unknown = sorted({"{" + name + "}" for name, _, _ in parts if name not in TAG_FIELDS})
    if unknown:
        raise ValueError(f"tag template {value!r} uses unknown field(s) {', '.join(unknown)} "
                         f"(allowed: {{version}}, {{os}})")
    if any(spec or conv for _, spec, conv in parts):
        # `{version:d}`, `{os!r}`, `{version:>{os}}`: Python format mini-language, which the
        # tags are not rendered with (render_tag substitutes the fields and nothing else).
        raise ValueError(f"tag template {value!r}: fields take no format spec or conversion "
                         "(write {version} or {os})")
    return value


def render_tag(template: str, version: str, os_name: str) -> str:
    """The tag `template` names for an entry: each `{version}`/`{os}` replaced by its value,
    `{{`/`}}` by a brace. The template was checked on load (`_tag_template`)."""
    from string import Formatter

    values = {"version": version, "os": os_name}
    return "".join(literal + (values[name] if name is not None else "")
                   for literal, name, _, _ in Formatter().parse(template))


def _matching(pattern: str, what: str) -> Any:
    """A validator with a readable message, published as a JSON Schema `pattern`."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        # fullmatch: the patterns end in `$`, which Python's `match` lets through before a
        # final newline, so `os: "ubuntu-22.04\n"` was a name, its tag `6.4.4-ubuntu-22.04\n`
        # and `clamp resolve` printed the reference on two lines (the first one unpinned).
        if compiled.fullmatch(value) is None:
            raise ValueError(f"{without_userinfo(value)!r} is not a valid {what}")
        return value

    return AfterValidator(check)


def _schema_pattern(pattern: str) -> WithJsonSchema:
    return WithJsonSchema({"type": "string", "pattern": pattern})


Digest = Annotated[str, AfterValidator(check_pinned), _schema_pattern(DIGEST_PATTERN)]
Regexp = Annotated[str, AfterValidator(_not_blank), AfterValidator(_compiles)]
SignerName = Annotated[str, AfterValidator(_not_blank)]
Token = Annotated[str, _matching(TOKEN_PATTERN, "name (letters, digits, '.', '_', '+', '-')"),
                  _schema_pattern(TOKEN_PATTERN)]
Registry = Annotated[str, _matching(REGISTRY_PATTERN, "registry host[:port] or oci:DIR"),
                     _schema_pattern(REGISTRY_PATTERN)]
Repository = Annotated[str, _matching(REPOSITORY_PATTERN, "repository path (lowercase, '/')"),
                       _schema_pattern(REPOSITORY_PATTERN)]
TagTemplate = Annotated[str, AfterValidator(_tag_template), Field(min_length=1)]
TrustName = Annotated[str, _matching(NAME_PATTERN, "trust entry name"),
                      _schema_pattern(NAME_PATTERN)]
Platform = Annotated[str, _matching(PLATFORM_PATTERN, "platform (os/arch[/variant])"),
                     _schema_pattern(PLATFORM_PATTERN)]
PinDate = Annotated[date, BeforeValidator(_to_date)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=False)


#: Fulcio's v2 build claims (DER, 1.3.6.1.4.1.57264.1.9+) a keyless identity may require, by
#: the names `clamp.trust.claims.CLAIMS` reads them under (a test keeps the two lists equal;
#: matrix stays free of the crypto stack).
V2Claim = Literal[
    "build_signer_uri", "build_signer_digest", "runner_environment", "source_repository_uri",
    "source_repository_digest", "source_repository_ref", "source_repository_identifier",
    "source_repository_owner_uri", "source_repository_owner_identifier", "build_config_uri",
    "build_config_digest", "build_trigger", "run_invocation_uri",
    "source_repository_visibility_at_signing"]
#: cosign's `--certificate-github-workflow-*` claims (legacy raw extensions .1.2-.1.6).
GITHUB_CLAIM_FIELDS = ("github_workflow_trigger", "github_workflow_sha", "github_workflow_name",
                       "github_workflow_repository", "github_workflow_ref")
ClaimValue = Annotated[str, Field(min_length=1, max_length=4096)]


class KeylessIdentity(_Strict):
    """A Fulcio certificate identity: issuer and SAN, each exact or a regular expression, and
    build claims compared exactly (cosign's GitHub workflow claims, Fulcio's v2 claims).

    Regular expressions are matched against the whole value (cosign's are unanchored, which has
    let look-alike identities through; the matrix says exactly what it means).
    """

    issuer: SignerName | None = None
    issuer_regexp: Regexp | None = None
    subject: SignerName | None = None
    subject_regexp: Regexp | None = None
    github_workflow_trigger: ClaimValue | None = None
    github_workflow_sha: ClaimValue | None = None
    github_workflow_name: ClaimValue | None = None
    github_workflow_repository: ClaimValue | None = None
    github_workflow_ref: ClaimValue | None = None
    claims: dict[V2Claim, ClaimValue] = Field(default_factory=dict)

    @property
    def required_claims(self) -> tuple[tuple[str, str], ...]:
        """Every claim this identity requires, as `(name, value)`."""
        named = tuple((name, value) for name in GITHUB_CLAIM_FIELDS
                      if (value := getattr(self, name)) is not None)
        return named + tuple(self.claims.items())

    @model_validator(mode="after")
    def _one_of_each(self) -> KeylessIdentity:
        if (self.issuer is None) == (self.issuer_regexp is None):
            raise ValueError("give exactly one of issuer or issuer_regexp")
        if (self.subject is None) == (self.subject_regexp is None):
            raise ValueError("give exactly one of subject or subject_regexp")
        return self


class KeyRef(_Strict):
    """A public key (PEM), in a file relative to the matrix file or inline."""

    path: str | None = Field(default=None, min_length=1)
    pem: str | None = Field(default=None, min_length=1)
    _resolved: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_source(self) -> KeyRef:
        if (self.path is None) == (self.pem is None):
            raise ValueError("give exactly one of path or pem")
        if self.pem is not None and "-----BEGIN" not in self.pem:
            raise ValueError("pem must be a PEM block (-----BEGIN PUBLIC KEY----- ...)")
        return self

    @property
    def resolved_path(self) -> Path | None:
        """Absolute path of the key file, set by the loader (None for inline keys)."""
        return self._resolved


class TrustPolicy(_Strict):
    """Who may sign: any listed key or keyless identity satisfies it, or with `threshold: N`
    at least N of them, each by its own signature (an all-of, `clamp.trust.policy.AllOf`)."""

    keyless: list[KeylessIdentity] = Field(default_factory=empty_list)
    keys: list[KeyRef] = Field(default_factory=empty_list)
    tlog: TlogMode = "required"
    trusted_root: str | None = None
    attestations: list[str] = Field(default_factory=empty_list)
    threshold: StrictInt | None = Field(default=None, ge=1)
    _resolved_root: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _has_signer(self) -> TrustPolicy:
        if not self.keyless and not self.keys:
            raise ValueError("a trust entry needs at least one of keyless or keys")
        signers = len(self.keyless) + len(self.keys)
        if self.threshold is not None and self.threshold > signers:
            raise ValueError(f"threshold {self.threshold} is more than the {signers} signer(s) "
                             "listed (keyless + keys)")
        return self

    @property
    def resolved_trusted_root(self) -> Path | None:
        """Absolute path of `trusted_root`; None means the offline Sigstore public-good root."""
        return self._resolved_root


class Defaults(_Strict):
    """Settings every image entry inherits unless it overrides them."""

    registry: Registry
    repository: Repository
    tag: TagTemplate = "{version}-{os}"
    policy: PolicyMode = "strict"
    digest_ttl_days: StrictInt | None = Field(default=30, ge=1)
    trust: list[TrustName] = Field(default_factory=empty_list)
    require_signature: StrictBool = True
    attest_mode: AttestMode = "off"


class VersionOS(_Strict):
    version: Token
    os: Token


class Fallback(_Strict):
    """Where to go when the default is missing; an absent half is taken from the default."""

    version: Token | None = None
    os: Token | None = None


class ResolvePrefs(_Strict):
    default: VersionOS | None = None
    prefer_os: list[Token] = Field(default_factory=empty_list)
    fallback: Fallback | None = None
    require_verified: StrictBool = False


#: A GitHub workflow as its API names one: a workflow file name or a numeric id.
WORKFLOW_NAME = r"(?:[A-Za-z0-9][A-Za-z0-9._-]*\.ya?ml|[0-9]+)"


class Dispatch(_Strict):
    """The workflow `auto_update` dispatches, and the git ref it runs on."""

    # A workflow file name (`update-rocm.yml`) or numeric id, as GitHub's API takes it: never a
    # path, which would let the dispatch URL point at another endpoint with the job's token.
    workflow: str = Field(min_length=1, max_length=255, pattern=rf"^{WORKFLOW_NAME}$")
    ref: str | None = Field(default=None, min_length=1)


class ImageEntry(_Strict):
    """One pinned (or explicitly unpinned) image of the matrix."""

    version: Token
    os: Token
    digest: Digest | None
    added: PinDate | None = None
    platform: Platform | None = None
    platform_digest: Digest | None = None
    provenance: dict[str, Any] | None = None
    registry: Registry | None = None
    repository: Repository | None = None
    tag: TagTemplate | None = None
    policy: PolicyMode | None = None
    trust: list[TrustName] | None = None

    @property
    def id(self) -> str:
        """Stable id used in messages, dispatch inputs and edits: "6.4.4/ubuntu-22.04"."""
        return entry_id(self.version, self.os, self.platform)

    @property
    def pinned(self) -> bool:
        return self.digest is not None


class MatrixFile(_Strict):
    """The native matrix file (schema version 1)."""

    model_config = ConfigDict(title="clamp image matrix", extra="forbid")

    version: Literal[1]
    defaults: Defaults
    trust: dict[TrustName, TrustPolicy] = Field(default_factory=dict)
    resolve: ResolvePrefs = Field(default_factory=ResolvePrefs)
    dispatch: Dispatch | None = None
    images: list[ImageEntry]

    def entry(self, wanted: str) -> ImageEntry:
        """The entry with id `wanted`; KeyError if none."""
        for item in self.images:
            if item.id == wanted:
                return item
        raise KeyError(wanted)


def entry_id(version: str, os: str, platform: str | None = None) -> str:
    """Join an entry's identifying fields; versions and OS names never contain "/"."""
    return f"{version}/{os}" + (f"/{platform}" if platform else "")
