"""Which image CI runs: the original resolver's preference order, as a pure function.

No I/O and no network: given the model (and optionally an explicit version/OS), return the entry
and a short reason a human can check. Unpinned entries are skipped with a warning, never chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from clamp.errors import BadInputError
from clamp.matrix.models import (
    AttestMode,
    ImageEntry,
    MatrixFile,
    PolicyMode,
    TrustPolicy,
    render_tag,
)

#: Key of the provenance block (written by `clamp update`) that marks a verified pin; what
#: `resolve.require_verified` checks unless the caller supplies its own test.
VERIFIED_KEY = "verified_at"


@dataclass(frozen=True)
class ImageRef:
    """The parts of an entry's full reference: registry/repository:tag@digest."""

    registry: str
    repository: str
    tag: str
    digest: str | None
    platform: str | None = None

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}"

    @property
    def tag_reference(self) -> str:
        return f"{self.name}:{self.tag}"

    @property
    def reference(self) -> str:
        """`registry/repository:tag@digest`, or the tag reference for an unpinned entry."""
        return self.tag_reference + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.reference


@dataclass(frozen=True)
class EntrySettings:
    """An entry's settings after applying its overrides to the defaults."""

    registry: str
    repository: str
    tag_template: str
    policy: PolicyMode
    trust_names: tuple[str, ...]
    trust: tuple[TrustPolicy, ...]
    digest_ttl_days: int | None
    require_signature: bool
    attest_mode: AttestMode


@dataclass(frozen=True)
class Selection:
    entry: ImageEntry
    reason: str
    ref: ImageRef
    warnings: tuple[str, ...] = ()


def effective(model: MatrixFile, entry: ImageEntry) -> EntrySettings:
    """Merge an entry's overrides over `defaults`; trust names must exist (the loader checks)."""
    defaults = model.defaults
    names = tuple(entry.trust if entry.trust is not None else defaults.trust)
    return EntrySettings(
        registry=entry.registry or defaults.registry,
        repository=entry.repository or defaults.repository,
        tag_template=entry.tag or defaults.tag,
        policy=entry.policy or defaults.policy,
        trust_names=names,
        trust=tuple(model.trust[name] for name in names if name in model.trust),
        digest_ttl_days=defaults.digest_ttl_days,
        require_signature=defaults.require_signature,
        attest_mode=defaults.attest_mode,
    )


def image_ref(model: MatrixFile, entry: ImageEntry) -> ImageRef:
    settings = effective(model, entry)
    tag = render_tag(settings.tag_template, entry.version, entry.os)
    return ImageRef(settings.registry, settings.repository, tag, entry.digest, entry.platform)


def select_image(model: MatrixFile, version: str | None = None, os: str | None = None, *,
                 platform: str | None = None,
                 is_verified: Callable[[ImageEntry], bool] | None = None) -> Selection:
    """Pick the entry CI should run, in the original resolver's order.

    Without arguments: the default version on each `prefer_os` in order, then the default
    (version, os), then the fallback. With both: exactly that entry. With only a version: that
    version on each preferred OS, then on the default's and fallback's OS, then the first listed.
    With only an OS: the default version, then the fallback version, then the first listed.
    With `resolve.require_verified`, entries must pass `is_verified` (default: their provenance
    carries `verified_at`).
    """
    check = is_verified or _has_verified_provenance
    need_verified = model.resolve.require_verified
    warnings: list[str] = []
    tried: list[str] = []
    for want_version, want_os, reason in _candidates(model, version, os):
        label = f"{want_version}/{want_os}"
        matches = [entry for entry in model.images
                   if entry.version == want_version and entry.os == want_os
                   and (platform is None or entry.platform == platform)]
        if not matches:
            tried.append(f"{label} (not in matrix)")
            continue
        for entry in matches:
            if entry.digest is None:
                warnings.append(f"entry {entry.id} is unpinned; skipped")
                tried.append(f"{entry.id} (unpinned)")
            elif need_verified and not check(entry):
                warnings.append(f"entry {entry.id} has not been verified; skipped "
                                "(resolve.require_verified)")
                tried.append(f"{entry.id} (not verified)")
            else:
                return Selection(entry, reason, image_ref(model, entry), tuple(warnings))
    wanted = _describe(version, os, platform)
    detail = "; tried " + ", ".join(dict.fromkeys(tried)) if tried else ""
    raise BadInputError(f"no eligible image for {wanted}{detail}")


def _candidates(model: MatrixFile, version: str | None,
                os: str | None) -> list[tuple[str, str, str]]:
    prefs = model.resolve
    default = prefs.default
    fallback_version = (prefs.fallback.version if prefs.fallback else None) or (
        default.version if default else None)
    fallback_os = (prefs.fallback.os if prefs.fallback else None) or (
        default.os if default else None)
    out: list[tuple[str, str, str]] = []
    if version is not None and os is not None:
        out.append((version, os, f"requested version {version} on {os}"))
    elif version is not None:
        out += [(version, name, f"version {version} on preferred OS {name}")
                for name in prefs.prefer_os]
        if default is not None:
            out.append((version, default.os, f"version {version} on the default OS {default.os}"))
        if fallback_os is not None:
            out.append((version, fallback_os, f"version {version} on the fallback OS "
                                              f"{fallback_os}"))
        out += [(entry.version, entry.os, f"version {version} on {entry.os} (first listed)")
                for entry in model.images if entry.version == version]
    elif os is not None:
        if default is not None:
            out.append((default.version, os, f"default version {default.version} on {os}"))
        if fallback_version is not None:
            out.append((fallback_version, os, f"fallback version {fallback_version} on {os}"))
        out += [(entry.version, entry.os, f"version {entry.version} on {os} (first listed)")
                for entry in model.images if entry.os == os]
    else:
        if default is None and prefs.fallback is None:
            raise BadInputError("the matrix has no resolve.default; pass --version and --os")
        if default is not None:
            out += [(default.version, name,
                     f"default version {default.version} on preferred OS {name}")
                    for name in prefs.prefer_os]
            out.append((default.version, default.os,
                        f"default {default.version} on {default.os}"))
        if fallback_version is not None and fallback_os is not None:
            out.append((fallback_version, fallback_os,
                        f"fallback {fallback_version} on {fallback_os}"))
    seen: set[tuple[str, str]] = set()
    unique = []
    for item in out:
        if item[:2] not in seen:
            seen.add(item[:2])
            unique.append(item)
    return unique


def _has_verified_provenance(entry: ImageEntry) -> bool:
    return bool(entry.provenance and entry.provenance.get(VERIFIED_KEY))


def _describe(version: str | None, os: str | None, platform: str | None) -> str:
    parts = []
    if version is None and os is None:
        parts.append("the default, preferred OSes and fallback")
    if version is not None:
        parts.append(f"version {version}")
    if os is not None:
        parts.append(f"OS {os}")
    if platform is not None:
        parts.append(f"platform {platform}")
    return ", ".join(parts)
