"""The original layout's per-entry `provenance` as native trust entries (`clamp.matrix.original`).

Why a module of its own: this is where the origin's cosign arguments become clamp's trust policy,
so the rules that keep their meaning live together. The origin passed `identity` to cosign's
`--certificate-identity-regexp`, an unanchored RE2 search; natively a regexp matches the whole
value, so the identity is wrapped (`^.*(?:IDENTITY).*$`). The identity is compiled alone first,
as cosign compiled it: wrapped, an unbalanced `)` would close clamp's group instead of failing
(`x)|(.*` becomes `^.*(?:x)|(.*).*$`, which matches every identity), so an identity cosign
refused must never be a policy that accepts anyone.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from clamp.pattern import PatternError, compile_pattern

if TYPE_CHECKING:
    from clamp.matrix.original import OriginalProvenance, Translation
    from clamp.matrix.source import Loc


def signer_policy(prov: OriginalProvenance, where: Loc,
                  out: Translation) -> dict[str, Any] | None:
    """The trust entry an entry's `key_path` / `identity` / `issuer` make; None (with the
    reason in `out.errors`) when they make none."""
    policy: dict[str, Any] = {}
    if prov.key_path is not None:
        # The origin ran `cosign verify --key` when key_path was given and passed identity and
        # issuer only without one: beside a key they were never checked, and making them a
        # keyless signer too would accept signatures the origin refused.
        if prov.identity is not None:
            out.warnings.append(("matrix", (*where, "identity"),
                                 "identity is not used beside key_path (the origin verified "
                                 "with the key alone, cosign --key): kept as information; "
                                 "to trust either, migrate to the native format and list "
                                 "both"))
        elif prov.issuer is not None:
            out.warnings.append(("matrix", (*where, "issuer"),
                                 "issuer without identity is kept as information only; the "
                                 "entry is verified with key_path"))
        return {"keys": [{"path": prov.key_path}]}
    if prov.identity is not None:
        if prov.issuer is None:
            out.errors.append(("matrix", (*where, "identity"),
                               "identity needs an issuer (the OIDC issuer of the signing "
                               "certificate) for keyless verification"))
            return None
        pattern = anchored_identity(prov.identity)
        try:  # Go's syntax, as cosign compiled it and verify matches it (clamp.pattern)
            compile_pattern(prov.identity)
            compile_pattern(pattern)
        except PatternError as exc:
            out.errors.append(("matrix", (*where, "identity"), str(exc)))
            return None
        if pattern != prov.identity:
            out.warnings.append(("matrix", (*where, "identity"),
                                 f"identity {prov.identity!r} is an unanchored regular "
                                 "expression (the origin passed it to cosign's "
                                 "--certificate-identity-regexp): it matches any identity "
                                 f"containing a match; read as {pattern!r}. Anchor it to "
                                 "accept only the identity you mean"))
        policy["keyless"] = [{"issuer": prov.issuer, "subject_regexp": pattern}]
    elif prov.issuer is not None:
        out.errors.append(("matrix", (*where, "issuer"),
                           "issuer without identity: keyless verification needs both"))
        return None
    return policy or None


def anchored_identity(identity: str) -> str:
    """A whole-value pattern with the meaning of cosign's unanchored `identity` regexp.

    One written `^...$` is kept: as a whole-value match it accepts what cosign accepted or less
    (`^a$|b` then needs all of `b`), never more.
    """
    if identity.startswith("^") and identity.endswith("$") and not identity.endswith("\\$"):
        return identity
    return f"^.*(?:{identity}).*$"


def base_name(prov: OriginalProvenance) -> str:
    if prov.key_path is not None:
        stem = PurePosixPath(prov.key_path.replace("\\", "/")).stem
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._")
        return name or "key"
    return "keyless"


def unique_name(base: str, taken: dict[str, Any]) -> str:
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name
