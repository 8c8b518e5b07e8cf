"""The original layout: `ci/rocm_matrix.yml` (`rocm.images`, `rocm.policy`) + `rocm_policy.yml`.

Existing repositories keep these files unchanged, so this module reads them as they are and
translates them into the native `MatrixFile`. The translation is lossless for everything the
files say (see docs/matrix.md, "Original layout"): per-entry `provenance.key_path` /
`identity` / `issuer` become trust entries, the policy file becomes `defaults` and `dispatch`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool

from clamp.matrix.digest import DigestKind, classify
from clamp.matrix.models import AttestMode, PinDate, PolicyMode, Token
from clamp.matrix.source import Loc
from clamp.pattern import PatternError, compile_pattern

ORIGINAL_REGISTRY = "ghcr.io"
ORIGINAL_REPOSITORY = "rocm/dev"
ORIGINAL_TAG = "{version}-{os}"

# attest_mode spellings accepted from the original policy file, and what they mean natively.
ATTEST_ALIASES: dict[str, AttestMode] = {
    "off": "off", "none": "off", "disabled": "off", "skip": "off",
    "optional": "optional", "warn": "optional",
    "required": "required", "require": "required", "strict": "required", "enforce": "required",
}


def _digest_or_placeholder(value: str) -> str:
    result = classify(value)
    if result.kind is DigestKind.MALFORMED:
        raise ValueError(f"malformed digest {value!r}: {result.reason}")
    return value


def _ttl_days(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("digest_ttl must be a number of days (30) or a string like '30d'")
    if isinstance(value, int):
        days = value
    elif isinstance(value, str) and (match := re.fullmatch(r"\s*(\d+)\s*d?\s*", value)):
        days = int(match.group(1))
    else:
        raise ValueError(f"digest_ttl {value!r} must be a number of days (30) or a string like "
                         "'30d'")
    if days < 1:
        raise ValueError("digest_ttl must be at least 1 day")
    return days


def _attest_mode(value: Any) -> AttestMode:
    if isinstance(value, bool):
        return "required" if value else "off"
    if isinstance(value, str) and value.lower() in ATTEST_ALIASES:
        return ATTEST_ALIASES[value.lower()]
    allowed = ", ".join(sorted(ATTEST_ALIASES))
    raise ValueError(f"unknown attest_mode {value!r} (expected one of {allowed})")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OriginalProvenance(BaseModel):
    """Trust hints per entry; other keys (written by earlier update runs) are carried along."""

    model_config = ConfigDict(extra="allow")

    key_path: str | None = Field(default=None, min_length=1)
    identity: str | None = Field(default=None, min_length=1)
    issuer: str | None = Field(default=None, min_length=1)


class OriginalImage(_Strict):
    version: Token
    os: Token
    digest: Annotated[str, AfterValidator(_digest_or_placeholder)] | None = None
    added: PinDate | None = None
    provenance: OriginalProvenance | None = None


class OriginalResolve(_Strict):
    default: Annotated[list[Token], Field(min_length=2, max_length=2)] | None = None
    prefer_os: list[Token] = Field(default_factory=list)
    fallback_os: Token | None = None
    fallback_version: Token | None = None


class OriginalRocm(_Strict):
    images: list[OriginalImage]
    policy: OriginalResolve | None = None


class OriginalMatrix(_Strict):
    rocm: OriginalRocm


class OriginalPolicySettings(_Strict):
    mode: PolicyMode = "strict"
    digest_ttl: Annotated[Any, AfterValidator(_ttl_days)] | None = None
    workflow: str | None = Field(default=None, min_length=1)
    auto_update_ref: str | None = Field(default=None, min_length=1)
    require_signature: StrictBool = True
    attest_mode: Annotated[Any, AfterValidator(_attest_mode)] | None = None


class OriginalPolicy(_Strict):
    policy: OriginalPolicySettings


@dataclass
class Translation:
    """The native data built from the original files, plus where each part came from."""

    data: dict[str, Any]
    warnings: list[tuple[str, Loc, str]] = field(default_factory=list)  # (which file, loc, text)
    errors: list[tuple[str, Loc, str]] = field(default_factory=list)
    trust_origin: dict[str, Loc] = field(default_factory=dict)


def translate(matrix: OriginalMatrix, policy: OriginalPolicy) -> Translation:
    """Build native-format data (to validate as `MatrixFile`) from the two original files."""
    settings = policy.policy
    out = Translation(data={})
    defaults: dict[str, Any] = {
        "registry": ORIGINAL_REGISTRY, "repository": ORIGINAL_REPOSITORY, "tag": ORIGINAL_TAG,
        "policy": settings.mode, "require_signature": settings.require_signature,
    }
    if settings.digest_ttl is not None:
        defaults["digest_ttl_days"] = settings.digest_ttl
    if settings.attest_mode is not None:
        defaults["attest_mode"] = settings.attest_mode
    out.data["version"] = 1
    out.data["defaults"] = defaults

    trust: dict[str, dict[str, Any]] = {}
    signature_names: dict[tuple[str | None, str | None, str | None], str] = {}
    images = []
    for index, image in enumerate(matrix.rocm.images):
        label = f"{image.version}/{image.os}"
        entry: dict[str, Any] = {"version": image.version, "os": image.os, "digest": image.digest}
        if image.digest is None:
            out.warnings.append(("matrix", ("rocm", "images", index, "digest"),
                                 f"entry {label} has no digest: unpinned, skipped"))
        elif classify(image.digest).kind is DigestKind.PLACEHOLDER:
            out.warnings.append(("matrix", ("rocm", "images", index, "digest"),
                                 f"entry {label} has placeholder digest {image.digest!r}: "
                                 "unpinned, skipped"))
            entry["digest"] = None
        if image.added is not None:
            entry["added"] = image.added
        if image.provenance is not None:
            prov = image.provenance
            where: Loc = ("rocm", "images", index, "provenance")
            extra = dict(prov.model_extra or {})
            signer = _signer(prov, where, out)
            if signer is not None:
                key = (prov.key_path, prov.identity, prov.issuer)
                name = signature_names.get(key)
                if name is None:
                    name = _unique_name(_base_name(prov), trust)
                    signature_names[key] = name
                    trust[name] = signer
                    out.trust_origin[name] = where
                entry["trust"] = [name]
            if prov.issuer is not None and prov.identity is None:
                extra["issuer"] = prov.issuer  # informational only, see _signer
            if extra:
                entry["provenance"] = extra
        images.append(entry)
    out.data["trust"] = trust
    out.data["images"] = images
    out.data["resolve"] = _resolve(matrix.rocm.policy)
    if settings.workflow is not None:
        out.data["dispatch"] = {"workflow": settings.workflow, "ref": settings.auto_update_ref}
    elif settings.auto_update_ref is not None:
        out.warnings.append(("policy", ("policy", "auto_update_ref"),
                             "auto_update_ref without workflow: no update workflow to dispatch"))
    return out


def _signer(prov: OriginalProvenance, where: Loc, out: Translation) -> dict[str, Any] | None:
    policy: dict[str, Any] = {}
    if prov.key_path is not None:
        policy["keys"] = [{"path": prov.key_path}]
    if prov.identity is not None:
        if prov.issuer is None:
            out.errors.append(("matrix", (*where, "identity"),
                               "identity needs an issuer (the OIDC issuer of the signing "
                               "certificate) for keyless verification"))
            return None
        subject = ("subject_regexp" if prov.identity.startswith("^") else "subject")
        if subject == "subject_regexp":
            try:  # Go's syntax, as verify matches it (clamp.pattern)
                compile_pattern(prov.identity)
            except PatternError as exc:
                out.errors.append(("matrix", (*where, "identity"), str(exc)))
                return None
        policy["keyless"] = [{"issuer": prov.issuer, subject: prov.identity}]
    elif prov.issuer is not None:
        if prov.key_path is None:
            out.errors.append(("matrix", (*where, "issuer"),
                               "issuer without identity: keyless verification needs both"))
            return None
        out.warnings.append(("matrix", (*where, "issuer"),
                             "issuer without identity is kept as information only; the entry "
                             "is verified with key_path"))
    return policy or None


def _base_name(prov: OriginalProvenance) -> str:
    if prov.key_path is not None:
        stem = PurePosixPath(prov.key_path.replace("\\", "/")).stem
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._")
        return name or "key"
    return "keyless"


def _unique_name(base: str, taken: dict[str, Any]) -> str:
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name


def _resolve(block: OriginalResolve | None) -> dict[str, Any]:
    if block is None:
        return {}
    out: dict[str, Any] = {"prefer_os": list(block.prefer_os)}
    if block.default is not None:
        out["default"] = {"version": block.default[0], "os": block.default[1]}
    fallback = {key: value for key, value in
                (("version", block.fallback_version), ("os", block.fallback_os)) if value}
    if fallback:
        out["fallback"] = fallback
    return out


def native_to_original_loc(loc: Loc, trust_origin: dict[str, Loc]) -> tuple[str, Loc]:
    """Where a native-model location lives in the original files: ("matrix"|"policy", loc)."""
    head, rest = (loc[0], loc[1:]) if loc else ("", ())
    if head == "images" and rest:
        tail = tuple("provenance" if part == "trust" else part for part in rest[1:2])
        return "matrix", ("rocm", "images", rest[0], *tail)
    if head == "trust" and rest and isinstance(rest[0], str) and rest[0] in trust_origin:
        origin = trust_origin[rest[0]]
        sub = "key_path" if "keys" in rest else "identity" if "keyless" in rest else None
        return "matrix", (*origin, sub) if sub else origin
    if head == "resolve":
        names = {"default": "default", "prefer_os": "prefer_os"}
        if rest and rest[0] == "fallback":
            which = "fallback_version" if "version" in rest else "fallback_os"
            return "matrix", ("rocm", "policy", which)
        if rest and isinstance(rest[0], str) and rest[0] in names:
            return "matrix", ("rocm", "policy", names[rest[0]], *rest[1:2])
        return "matrix", ("rocm", "policy")
    if head == "defaults":
        names = {"policy": "mode", "digest_ttl_days": "digest_ttl"}
        key = rest[0] if rest else None
        if isinstance(key, str):
            return "policy", ("policy", names.get(key, key))
        return "policy", ("policy",)
    if head == "dispatch":
        return "policy", ("policy", "auto_update_ref" if "ref" in rest else "workflow")
    return "matrix", ("rocm",)
