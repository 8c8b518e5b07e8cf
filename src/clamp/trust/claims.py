"""The build claims Fulcio writes into a certificate (docs/oid-info.md of sigstore/fulcio).

Two generations of extensions carry them, and they are read differently:

- 1.3.6.1.4.1.57264.1.2 … .1.6 (GitHub workflow trigger, SHA, name, repository, ref): the value
  is the claim's **raw UTF-8 bytes**, no DER. These are the ones cosign's
  `--certificate-github-workflow-*` flags compare (cosign `CertExtensions`), exactly, so a
  claim given with one of those flags is read from its legacy extension and nowhere else.
- 1.3.6.1.4.1.57264.1.8 and up (issuer v2, build signer URI, source repository URI/digest/ref,
  build trigger, …): the value is a **DER UTF8String**; anything else is refused.

Reading one claim never guesses: an extension whose bytes are not the encoding its OID
prescribes is a failure, not a value (a DER string in a legacy OID keeps its tag and length
bytes and so never equals the plain claim; raw text in a v2 OID is not DER and is refused).
A certificate that carries an extension twice is refused before any claim is read
(`extensions_of`): RFC 5280 forbids it, and "which copy counts" is an attacker's question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # loaded by the functions reading a certificate (a key-only run needs none)
    from cryptography import x509

from clamp.trust.errors import IdentityMismatchError, InvalidSignatureError

Encoding = Literal["raw", "der"]

#: The longest claim value read (a workflow ref or URI is ~200 characters).
MAX_CLAIM = 4096


@dataclass(frozen=True)
class Claim:
    """One named claim: the extension carrying it and how its bytes are encoded."""

    name: str
    oid: str
    encoding: Encoding
    flag: str | None = None  # cosign's verify flag, for the legacy GitHub claims

    @property
    def object_id(self) -> x509.ObjectIdentifier:
        from cryptography import x509

        return x509.ObjectIdentifier(self.oid)


_ARC = "1.3.6.1.4.1.57264.1."
_GITHUB = "--certificate-github-workflow-"

#: Every claim clamp can require, by the name the matrix and the API use.
CLAIMS: dict[str, Claim] = {c.name: c for c in (
    Claim("github_workflow_trigger", _ARC + "2", "raw", _GITHUB + "trigger"),
    Claim("github_workflow_sha", _ARC + "3", "raw", _GITHUB + "sha"),
    Claim("github_workflow_name", _ARC + "4", "raw", _GITHUB + "name"),
    Claim("github_workflow_repository", _ARC + "5", "raw", _GITHUB + "repository"),
    Claim("github_workflow_ref", _ARC + "6", "raw", _GITHUB + "ref"),
    Claim("build_signer_uri", _ARC + "9", "der"),
    Claim("build_signer_digest", _ARC + "10", "der"),
    Claim("runner_environment", _ARC + "11", "der"),
    Claim("source_repository_uri", _ARC + "12", "der"),
    Claim("source_repository_digest", _ARC + "13", "der"),
    Claim("source_repository_ref", _ARC + "14", "der"),
    Claim("source_repository_identifier", _ARC + "15", "der"),
    Claim("source_repository_owner_uri", _ARC + "16", "der"),
    Claim("source_repository_owner_identifier", _ARC + "17", "der"),
    Claim("build_config_uri", _ARC + "18", "der"),
    Claim("build_config_digest", _ARC + "19", "der"),
    Claim("build_trigger", _ARC + "20", "der"),
    Claim("run_invocation_uri", _ARC + "21", "der"),
    Claim("source_repository_visibility_at_signing", _ARC + "22", "der"),
)}
#: The cosign flags' claims, in the order cosign documents them.
GITHUB_CLAIMS = tuple(name for name, c in CLAIMS.items() if c.flag is not None)

#: A legacy claim and the v2 claim Fulcio fills from the same token field with the same text.
#: When a certificate carries both they must agree: Fulcio never issues one where they differ.
COUNTERPARTS = {"github_workflow_trigger": "build_trigger",
                "github_workflow_sha": "source_repository_digest",
                "github_workflow_ref": "source_repository_ref"}
#: Either way round: cosign and sigstore-go compare only the claim named (cosign's flags the
#: legacy OID, sigstore-go's `CompareExtensions` each field alone), so a certificate whose twins
#: disagree passes there whichever is required. clamp refuses it whichever is required
#: (deliberate: it is no certificate Fulcio issues, and which twin a policy names must not
#: decide whether the other is read).
#: And one Fulcio derives with a prefix: `source-repository-uri: "{{ .url }}/{{ .repository }}"`
#: (its GitHub template; `url` the server, `https://github.com`), the legacy claim being the
#: bare `repository` (red team 14: `github_workflow_repository` required, the v2 URI naming
#: another repository, was read alone, as cosign's flag reads it).
DERIVED = {"github_workflow_repository": "source_repository_uri"}
_PAIRS = {**COUNTERPARTS, **DERIVED}
TWINS = {**_PAIRS, **{v2: legacy for legacy, v2 in _PAIRS.items()}}


def repository_of(uri: str) -> str | None:
    """`owner/repo` of a source repository URI `https://<server>/owner/repo`, as Fulcio
    builds it for GitHub (None for anything else)."""
    if not uri.startswith("https://"):
        return None
    host, slash, path = uri[len("https://"):].partition("/")
    return path if host and slash and path else None


def twins_agree(name: str, value: str, twin_name: str, twin: str) -> bool:
    """Do a claim and its twin say what Fulcio would write for one token?"""
    if name in DERIVED or twin_name in DERIVED:
        repository, uri = (value, twin) if name in DERIVED else (twin, value)
        return repository_of(uri) == repository
    return value == twin


def extensions_of(cert: x509.Certificate) -> x509.Extensions:
    """The certificate's extensions; a certificate with one extension twice is invalid."""
    from cryptography import x509

    try:
        return cert.extensions
    except x509.DuplicateExtension as exc:
        raise InvalidSignatureError("extensions", f"certificate carries extension "
                                    f"{exc.oid.dotted_string} more than once") from None
    except ValueError as exc:
        raise InvalidSignatureError("extensions", f"certificate extensions do not parse "
                                    f"({exc})") from None


def der_utf8(raw: bytes) -> str | None:
    """Decode exactly one DER UTF8String (tag 0x0C, minimal length); None otherwise."""
    if len(raw) < 2 or raw[0] != 0x0C:
        return None
    length, offset = raw[1], 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 3 or len(raw) < 2 + count or raw[2] == 0:
            return None
        length, offset = int.from_bytes(raw[2:2 + count], "big"), 2 + count
        if length < 0x80:  # DER: the short form was required
            return None
    if offset + length != len(raw):
        return None
    try:
        return raw[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_claim(cert: x509.Certificate, claim: Claim) -> str | None:
    """The claim's text, None when the certificate does not carry it; InvalidSignatureError
    when it carries bytes that are not the claim's encoding."""
    from cryptography import x509

    try:
        ext = extensions_of(cert).get_extension_for_oid(claim.object_id).value
    except x509.ExtensionNotFound:
        return None
    raw = ext.value if isinstance(ext, x509.UnrecognizedExtension) else b""
    if len(raw) > MAX_CLAIM:
        raise InvalidSignatureError("claims", f"{claim.name} ({claim.oid}) is longer than "
                                    f"{MAX_CLAIM} bytes")
    if claim.encoding == "der":
        text = der_utf8(raw)
        if text is None:
            raise InvalidSignatureError("claims", f"{claim.name} ({claim.oid}) is not a DER "
                                        "UTF8String")
        return text
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidSignatureError("claims", f"{claim.name} ({claim.oid}) is not UTF-8 "
                                    "text") from None


def check_claims(cert: x509.Certificate, wanted: tuple[tuple[str, str], ...]) -> None:
    """Every `(claim name, value)` in `wanted` is in the certificate, exactly (cosign compares
    with `!=`); an absent claim is a mismatch. A legacy claim and its v2 counterpart, when
    the certificate carries both, must agree (`twins_agree`), whichever of the two is
    required."""
    for name, value in wanted:
        claim = CLAIMS[name]
        found = read_claim(cert, claim)
        if found is None:
            raise IdentityMismatchError("claims", f"certificate has no {name} claim "
                                        f"({claim.oid}); want {value!r}")
        if found != value:
            raise IdentityMismatchError("claims", f"certificate {name} is {found[:200]!r}, "
                                        f"want {value!r}")
        twin_name = TWINS.get(name)
        if twin_name is not None:
            twin = read_claim(cert, CLAIMS[twin_name])
            if twin is not None and not twins_agree(name, found, twin_name, twin):
                raise InvalidSignatureError("claims", f"certificate {name} {found[:200]!r} "
                                            f"disagrees with its {twin_name} {twin[:200]!r}")


def claim_names(names: list[str] | tuple[str, ...]) -> None:
    """Refuse an unknown claim name (a typo would otherwise require nothing)."""
    unknown = [n for n in names if n not in CLAIMS]
    if unknown:
        from clamp.trust.errors import TrustInputError

        raise TrustInputError("policy", f"unknown certificate claim(s) {', '.join(unknown)} "
                              f"(known: {', '.join(CLAIMS)})")
