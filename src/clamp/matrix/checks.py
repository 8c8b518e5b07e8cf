"""Whole-file checks that no single field can make: references, files, duplicates, tags.

They run after the models validated, on the native model of either layout, and report native
locations; the loader turns each into a FILE:LINE of whichever file the value came from.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from clamp.matrix.models import TAG_PATTERN, MatrixFile, render_tag
from clamp.matrix.source import Loc

Finding = tuple[Loc, str]


def check_model(model: MatrixFile, base_dirs: Sequence[Path]) -> tuple[list[Finding],
                                                                          list[Finding]]:
    """Return (errors, warnings); also records each key file's resolved absolute path."""
    errors: list[Finding] = []
    warnings: list[Finding] = []
    _check_references(model, errors)
    _resolve_files(model, base_dirs, errors)
    _check_entries(model, errors, warnings)
    _check_resolve(model, warnings)
    if model.defaults.policy == "auto_update" and model.dispatch is None:
        warnings.append((("defaults", "policy"),
                         "policy auto_update without a dispatch workflow: drift is reported but "
                         "no update workflow can be started"))
    return errors, warnings


def _check_references(model: MatrixFile, errors: list[Finding]) -> None:
    known = ", ".join(sorted(model.trust)) or "none defined"
    for index, name in enumerate(model.defaults.trust):
        if name not in model.trust:
            errors.append((("defaults", "trust", index),
                           f"trust entry {name!r} is not defined (known: {known})"))
    for number, entry in enumerate(model.images):
        for index, name in enumerate(entry.trust or []):
            if name not in model.trust:
                errors.append((("images", number, "trust", index),
                               f"entry {entry.id}: trust entry {name!r} is not defined "
                               f"(known: {known})"))


def _resolve_files(model: MatrixFile, base_dirs: Sequence[Path], errors: list[Finding]) -> None:
    for name, policy in model.trust.items():
        for index, key in enumerate(policy.keys):
            if key.path is None:
                continue
            found = _find(key.path, base_dirs)
            if found is None:
                errors.append((("trust", name, "keys", index, "path"),
                               f"key file {key.path!r} not found{_looked(key.path, base_dirs)}"))
            else:
                key._resolved = found
        if policy.trusted_root is not None:
            found = _find(policy.trusted_root, base_dirs)
            if found is None:
                errors.append((("trust", name, "trusted_root"),
                               f"trusted root file {policy.trusted_root!r} not found"
                               f"{_looked(policy.trusted_root, base_dirs)}"))
            else:
                policy._resolved_root = found


def _find(raw: str, base_dirs: Sequence[Path]) -> Path | None:
    candidate = Path(os.path.expanduser(raw))
    bases = [Path()] if candidate.is_absolute() else list(base_dirs)
    for base in bases:
        path = Path(os.path.normpath(base / candidate))  # base may not exist yet (migrate)
        if path.is_file():
            return path.resolve()
    return None


def _looked(raw: str, base_dirs: Sequence[Path]) -> str:
    if Path(raw).is_absolute():
        return ""
    return " (relative to " + " or ".join(str(base) for base in base_dirs) + ")"


def _check_entries(model: MatrixFile, errors: list[Finding], warnings: list[Finding]) -> None:
    seen: dict[tuple[str, str, str | None], int] = {}
    tag_ok = re.compile(TAG_PATTERN)
    untrusted = []
    for number, entry in enumerate(model.images):
        key = (entry.version, entry.os, entry.platform)
        if key in seen:
            errors.append((("images", number),
                           f"entry {entry.id}: duplicate of images[{seen[key]}] (same version, "
                           "os and platform)"))
        else:
            seen[key] = number
        template = entry.tag or model.defaults.tag
        tag = render_tag(template, entry.version, entry.os)
        if tag_ok.fullmatch(tag) is None:  # `$` alone lets a final newline through
            where = "tag" if entry.tag else "version"
            errors.append((("images", number, where),
                           f"entry {entry.id}: tag {tag!r} from template {template!r} is not a "
                           "valid tag"))
        if entry.platform_digest is not None and entry.platform is None:
            errors.append((("images", number, "platform_digest"),
                           f"entry {entry.id}: platform_digest needs platform"))
        trust = entry.trust if entry.trust is not None else model.defaults.trust
        if model.defaults.require_signature and not trust and entry.digest is not None:
            untrusted.append((number, entry.id))
    if untrusted:
        ids = ", ".join(label for _, label in untrusted[:5])
        more = f" and {len(untrusted) - 5} more" if len(untrusted) > 5 else ""
        warnings.append((("images", untrusted[0][0]),
                         f"no trust policy applies to {ids}{more}: signatures are required but "
                         "nobody is trusted to sign, so verification will fail"))


def _check_resolve(model: MatrixFile, warnings: list[Finding]) -> None:
    pairs = {(entry.version, entry.os) for entry in model.images}
    default = model.resolve.default
    if default is not None and (default.version, default.os) not in pairs:
        warnings.append((("resolve", "default"),
                         f"default {default.version}/{default.os} names no image entry"))
    fallback = model.resolve.fallback
    if fallback is not None:
        version = fallback.version or (default.version if default else None)
        os_name = fallback.os or (default.os if default else None)
        if version is None or os_name is None:
            warnings.append((("resolve", "fallback"),
                             "fallback needs both version and os when there is no default"))
        elif (version, os_name) not in pairs:
            warnings.append((("resolve", "fallback"),
                             f"fallback {version}/{os_name} names no image entry"))
