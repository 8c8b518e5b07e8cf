"""The original layout: `ci/rocm_matrix.yml` (`rocm.images`, `rocm.policy`) + `rocm_policy.yml`.

Existing repositories keep these files unchanged, so this module reads them as they are and
translates them into the native `MatrixFile`. The translation is lossless for everything the
files say (see docs/matrix.md, "Original layout"): per-entry `provenance.key_path` /
`identity` / `issuer` become trust entries, the policy file becomes `defaults` and `dispatch`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from clamp.digest import DigestKind, classify
from clamp.matrix.models import PinDate, PolicyMode, TlogMode, Token
from clamp.matrix.original_trust import base_name, signer_policy, unique_name
from clamp.matrix.source import Loc

ORIGINAL_REGISTRY = "ghcr.io"
ORIGINAL_REPOSITORY = "rocm/dev"
ORIGINAL_TAG = "{version}-{os}"

#: The origin's policy defaults (its verifier's `Policy` dataclass): what a missing policy file or
#: a missing key means.
ORIGIN_DEFAULTS: dict[str, Any] = {
    "mode": "strict", "digest_ttl": 7, "workflow": "update-rocm.yml", "auto_update_ref": "main",
    "require_signature": False, "attest_mode": "none",
}

OriginAttest = Literal["none", "record", "enforce"]
# attest_mode spellings accepted from the original policy file, by the origin's meaning: `none`
# skips signature verification (unless require_signature), `record` verifies and records the
# result (a failure is a warning), `enforce` makes a failed signature fatal (exit 3). The origin
# read anything else as `none`; clamp refuses it, so a typo cannot switch verification off.
ATTEST_ALIASES: dict[str, OriginAttest] = {
    "none": "none", "off": "none", "disabled": "none", "skip": "none", "false": "none",
    "record": "record", "optional": "record", "warn": "record",
    "enforce": "enforce", "required": "enforce", "require": "enforce", "strict": "enforce",
    "true": "enforce",
}


def _digest_or_placeholder(value: str) -> str:
    result = classify(value)
    if result.kind is DigestKind.MALFORMED:
        raise ValueError(f"malformed digest {value!r}: {result.reason}")
    return value


def _ttl_days(value: Any) -> int:
    # The origin took int(value): 7, "7" and 7.0 are seven days; clamp also reads "7d".
    if isinstance(value, bool):
        raise ValueError("digest_ttl must be a number of days (7) or a string like '7d'")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        days = value
    elif isinstance(value, str) and (match := re.fullmatch(r"\s*(\d+)\s*d?\s*", value)):
        days = int(match.group(1))
    else:
        raise ValueError(f"digest_ttl {value!r} must be a number of days (7) or a string like "
                         "'7d'")
    if days < 1:
        raise ValueError("digest_ttl must be at least 1 day")
    return days


def _attest_mode(value: Any) -> OriginAttest:
    text = "none" if value is None else str(value).strip().lower() or "none"
    if text in ATTEST_ALIASES:
        return ATTEST_ALIASES[text]
    raise ValueError(f"unknown attest_mode {value!r} (the origin's values: none, record, "
                     "enforce)")


def _mode(value: Any) -> Any:
    # The origin compared mode.lower() after str().strip(), an empty mode being strict. A null
    # (`mode:` with nothing after it) was str(None), "None": no mode it knew, under which a
    # failed check only warned; clamp refuses it as it refuses any other unknown mode.
    if isinstance(value, str):
        return value.strip().lower() or "strict"
    if value is None:
        raise ValueError("mode is null (the origin read it as 'None', an unknown mode under "
                         "which a failed check only warned); write strict, warn or auto_update")
    return value


def _truthy(value: Any) -> bool:
    # The origin's bool(): any non-empty string (even "false") is true, null is false.
    if isinstance(value, dict | list):
        raise ValueError("require_signature must be true or false")
    return bool(value)


def _text_or_default(default: str) -> Any:
    def read(value: Any) -> Any:
        if value is None:
            return default
        return str(value).strip() or default if isinstance(value, str | int | float) else value
    return read


def _os_list(value: Any) -> Any:
    """prefer_os as the origin wrote it (one OS) or as a list; empty means none."""
    if value is None or value == "":
        return []
    return [value] if isinstance(value, str) else value


def _pair(value: Any) -> Any:
    """rocm.policy.default as [version, os] or {version, os} (the origin's resolver took both)."""
    if isinstance(value, dict):
        unknown = sorted(str(k) for k in value if k not in ("version", "os"))
        if unknown:
            raise ValueError(f"default has unknown key(s) {', '.join(unknown)} "
                             "(expected version and os)")
        if "version" not in value or "os" not in value:
            raise ValueError("default must give both version and os")
        return [value["version"], value["os"]]
    return value


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
    default: Annotated[list[Token], BeforeValidator(_pair),
                       Field(min_length=2, max_length=2)] | None = None
    prefer_os: Annotated[list[Token], BeforeValidator(_os_list)] = Field(default_factory=list)
    fallback_os: Token | None = None
    fallback_version: Token | None = None
    _prefer_listed: bool = PrivateAttr(default=False)

    @model_validator(mode="wrap")
    @classmethod
    def _note_listed(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # The origin's resolver took str() of prefer_os: a list became "['ubuntu-24.04']",
        # a name no entry has, so it went straight to the default (see _resolve).
        model = handler(data)
        model._prefer_listed = isinstance(data, dict) and bool(data.get("prefer_os")) \
            and isinstance(data.get("prefer_os"), list)
        return model


class OriginalRocm(_Strict):
    images: list[OriginalImage]
    policy: OriginalResolve | None = None


class OriginalMatrix(_Strict):
    rocm: OriginalRocm


class OriginalPolicySettings(_Strict):
    """`rocm_policy.yml`'s `policy:` block; an absent key has the origin's default."""

    mode: Annotated[PolicyMode, BeforeValidator(_mode)] = "strict"
    digest_ttl: Annotated[int, BeforeValidator(_ttl_days)] = 7
    workflow: Annotated[str, BeforeValidator(_text_or_default("update-rocm.yml")),
                        Field(min_length=1)] = "update-rocm.yml"
    auto_update_ref: Annotated[str, BeforeValidator(_text_or_default("main")),
                               Field(min_length=1)] = "main"
    require_signature: Annotated[bool, BeforeValidator(_truthy)] = False
    attest_mode: Annotated[OriginAttest, BeforeValidator(_attest_mode)] = "none"
    # Not in the origin: `tlog: optional` accepts signatures without a transparency-log entry
    # for every trust entry (the native `trust.NAME.tlog`); absent, one is required.
    tlog: TlogMode | None = None


class OriginalPolicy(BaseModel):
    """The policy file: other top-level keys are ignored, as the origin ignored them."""

    model_config = ConfigDict(extra="ignore")

    policy: OriginalPolicySettings = Field(default_factory=OriginalPolicySettings)


@dataclass(frozen=True)
class OriginPolicy:
    """The policy as the origin's verifier held it: what its exit codes are computed from."""

    mode: str
    require_signature: bool
    attest_mode: OriginAttest

    @property
    def checks_signature(self) -> bool:
        """The origin ran `cosign verify` only under require_signature or record/enforce."""
        return self.require_signature or self.attest_mode != "none"

    @property
    def signature_fatal(self) -> bool:
        """A failed signature was exit 3 whatever the mode."""
        return self.require_signature or self.attest_mode == "enforce"


@dataclass
class Translation:
    """The native data built from the original files, plus where each part came from."""

    data: dict[str, Any]
    warnings: list[tuple[str, Loc, str]] = field(default_factory=list)  # (which file, loc, text)
    errors: list[tuple[str, Loc, str]] = field(default_factory=list)
    trust_origin: dict[str, Loc] = field(default_factory=dict)
    origin_policy: OriginPolicy | None = None


def translate(matrix: OriginalMatrix, policy: OriginalPolicy) -> Translation:
    """Build native-format data (to validate as `MatrixFile`) from the two original files.

    The origin's `attest_mode` was about the image signature (it ran `cosign verify`, never
    `verify-attestation`): `enforce` makes a signature required; `record` and `none` leave it
    optional (the ci/ shims give `record` the origin's warning and `none` its silence). No
    attestation is required natively.
    """
    settings = policy.policy
    out = Translation(data={}, origin_policy=OriginPolicy(
        mode=settings.mode, require_signature=settings.require_signature,
        attest_mode=settings.attest_mode))
    defaults: dict[str, Any] = {
        "registry": ORIGINAL_REGISTRY, "repository": ORIGINAL_REPOSITORY, "tag": ORIGINAL_TAG,
        "policy": settings.mode,
        "require_signature": settings.require_signature or settings.attest_mode == "enforce",
        "digest_ttl_days": settings.digest_ttl, "attest_mode": "off",
    }
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
            signer = signer_policy(prov, where, out)
            if signer is not None:
                key = (prov.key_path, prov.identity, prov.issuer)
                name = signature_names.get(key)
                if name is None:
                    name = unique_name(base_name(prov), trust)
                    signature_names[key] = name
                    if settings.tlog is not None:
                        signer["tlog"] = settings.tlog
                    trust[name] = signer
                    out.trust_origin[name] = where
                entry["trust"] = [name]
            if prov.key_path is not None:  # informational only, see signer_policy
                extra.update((k, v) for k, v in (("identity", prov.identity),
                                                 ("issuer", prov.issuer)) if v is not None)
            if extra:
                entry["provenance"] = extra
        images.append(entry)
    out.data["trust"] = trust
    out.data["images"] = images
    out.data["resolve"] = _resolve(matrix.rocm.policy, out)
    out.data["dispatch"] = {"workflow": settings.workflow, "ref": settings.auto_update_ref}
    return out


def _resolve(block: OriginalResolve | None, notes: Translation) -> dict[str, Any]:
    if block is None:
        return {}
    out: dict[str, Any] = {"prefer_os": list(block.prefer_os)}
    if block._prefer_listed:
        notes.warnings.append(("matrix", ("rocm", "policy", "prefer_os"),
                               "prefer_os is a list: clamp tries each OS in order, but the "
                               "origin's resolver read the list as one name no entry has and "
                               "went straight to the default; write one OS to mean the same "
                               "to both"))
    if block.default is not None:
        out["default"] = {"version": block.default[0], "os": block.default[1]}
    halves = {"version": block.fallback_version, "os": block.fallback_os}
    for half in ("version", "os"):
        # `fallback_os:` with nothing after it: the origin took str(None), "None", so its
        # fallback named no entry; absent, the half is the default's (origin and clamp alike).
        if f"fallback_{half}" in block.model_fields_set and halves[half] is None:
            halves[half] = "None"
            notes.warnings.append(("matrix", ("rocm", "policy", f"fallback_{half}"),
                                   f"fallback_{half} is null: read as 'None', as the origin's "
                                   "resolver read it (no such entry, so the fallback is not "
                                   "tried); remove the key to fall back to the default's"))
    fallback = {key: value for key, value in halves.items() if value}
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
