"""From a matrix entry's trust settings to `clamp.trust` policies.

An entry's trust names are any-of (one satisfied entry will do); within one entry the keyless
identities (with their build claims) and keys are any-of, or with `threshold: N` an
`AllOf(threshold=N)`: N of them, each by its own signature.

The matrix's regular expressions must match the whole value (docs/matrix.md): cosign's are
unanchored, which has let look-alike identities through, so they are anchored here before they
reach the unanchored `clamp.trust.policy.Identity`.
"""

from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from clamp.errors import BadInputError
from clamp.matrix import ImageEntry, LoadedMatrix, TrustPolicy, effective
from clamp.matrix.select import EntrySettings
from clamp.pattern import anchored as whole_text

if TYPE_CHECKING:  # built only when a trust entry is: `resolve --check` loads no crypto
    from clamp.trust.keys import PublicKey
    from clamp.trust.policy import Policy, Rule
    from clamp.trust.root import TrustedRoot

MAX_KEY_FILE = 64 * 1024


@dataclass(frozen=True)
class EntryTrust:
    """What verifying one entry needs: policies (any may pass), and the attestation rule."""

    names: tuple[str, ...]
    policies: tuple[Policy, ...]
    attestation_types: tuple[str, ...]
    require_attestation: bool
    require_signature: bool


def anchored(pattern: str | None) -> str | None:
    # The pattern compiled on its own when the matrix loaded (clamp.pattern, Go's syntax), so
    # its parentheses balance and the anchoring group holds all of it.
    return None if pattern is None else whole_text(pattern)


@dataclass(frozen=True)
class LoadedRoot:
    """A trust entry's trusted root file: parsed, and the sha256 of the very bytes parsed."""

    path: Path
    root: TrustedRoot
    sha256: str


# The roots read for a loaded matrix, shared by every PolicyCache of it (verify builds one, the
# provenance another): a root file is read once, so the hash recorded is that of the bytes that
# verified, even if the file is replaced in between. Dropped with the matrix.
_ROOTS: dict[int, dict[str, LoadedRoot]] = {}


# The bytes each root read here was parsed from, by the parsed object: the provenance keeps
# those bytes (clamp.verify.evidence), not a second read of the file.
_ROOT_BYTES: dict[int, bytes] = {}


def parsed_bytes(root: TrustedRoot) -> bytes | None:
    """The bytes `root` was parsed from, when a PolicyCache read it (else None)."""
    return _ROOT_BYTES.get(id(root))


def _roots_of(loaded: LoadedMatrix) -> dict[str, LoadedRoot]:
    key = id(loaded)
    if key not in _ROOTS:
        _ROOTS[key] = {}
        weakref.finalize(loaded, _ROOTS.pop, key, None)
    return _ROOTS[key]


class PolicyCache:
    """Builds each named trust entry once per run (key files are read once, not per image)."""

    def __init__(self, loaded: LoadedMatrix) -> None:
        self.loaded = loaded
        self._built: dict[str, Policy] = {}
        self._roots = _roots_of(loaded)

    def trusted_root(self, name: str) -> LoadedRoot | None:
        """Trust entry `name`'s trusted root file (None: the shipped public-good root), read
        and parsed once per loaded matrix; a root that cannot be used is bad input (exit 64)."""
        path = self.loaded.model.trust[name].resolved_trusted_root
        if path is None:
            return None
        if name not in self._roots:
            self._roots[name] = _load_root(Path(path), f"{self.loaded.path}: trust.{name}")
        return self._roots[name]

    def policy(self, name: str) -> Policy:
        if name not in self._built:
            self._built[name] = self._build(name, self.loaded.model.trust[name])
        return self._built[name]

    def for_entry(self, entry: ImageEntry, settings: EntrySettings | None = None) -> EntryTrust:
        """The entry's trust; `settings` when the caller already merged them (`effective()`)."""
        settings = settings or effective(self.loaded.model, entry)
        names = settings.trust_names
        types: list[str] = []
        for name in names:
            types += [t for t in self.loaded.model.trust[name].attestations if t not in types]
        return EntryTrust(
            names=names,
            policies=tuple(self.policy(name) for name in names),
            attestation_types=tuple(types),
            require_attestation=settings.attest_mode == "required",
            require_signature=settings.require_signature,
        )

    def _build(self, name: str, spec: TrustPolicy) -> Policy:
        from clamp.trust.errors import TrustInputError
        from clamp.trust.keys import load_public_key
        from clamp.trust.policy import AllOf, Identity, Key, Policy

        where = f"{self.loaded.path}: trust.{name}"
        keys: list[PublicKey] = []
        for index, key in enumerate(spec.keys):
            if key.pem is not None:
                keys.append(load_public_key(key.pem.encode(), where=f"{where}.keys[{index}]"))
                continue
            path = key.resolved_path
            if path is None:
                raise BadInputError("key file not resolved", where=f"{where}.keys[{index}]")
            try:
                if path.stat().st_size > MAX_KEY_FILE:
                    raise BadInputError("key file larger than 64 KiB", where=str(path))
                keys.append(load_public_key(path.read_bytes(), where=str(path)))
            except OSError as exc:
                raise BadInputError(f"cannot read key: {exc.strerror}", where=str(path)) from None
        identities = tuple(
            Identity(subject=ident.subject, subject_regexp=anchored(ident.subject_regexp),
                     issuer=ident.issuer, issuer_regexp=anchored(ident.issuer_regexp),
                     claims=ident.required_claims)
            for ident in spec.keyless)
        rule: Rule | None = None
        if spec.threshold is not None:
            # N of the listed signers, each by its own signature; the schema checked N fits.
            try:
                rule = AllOf((*identities, *(Key(k) for k in keys)), threshold=spec.threshold)
            except TrustInputError as exc:
                raise BadInputError(exc.reason, where=f"{where}.threshold") from None
        # Loaded now, with the key files, before any registry is asked: a root that cannot be
        # used is the matrix's bad input (exit 64), not a signature failure of every entry.
        found = self.trusted_root(name)
        loaded_root = found.root if found else None
        tlog, root_path = spec.tlog == "required", str(found.path) if found else None
        if rule is not None:
            return Policy(rule=rule, require_tlog=tlog, trusted_root_path=root_path,
                          _root=loaded_root)
        return Policy(keys=tuple(keys), identities=identities, require_tlog=tlog,
                      trusted_root_path=root_path, _root=loaded_root)


def _load_root(path: Path, where: str) -> LoadedRoot:
    """Read the root file once: parse those bytes and hash those bytes."""
    from clamp.files import read_at_most
    from clamp.trust.errors import TrustInputError
    from clamp.trust.root import MAX_ROOT, parse_trusted_root

    try:
        try:
            data = read_at_most(path, MAX_ROOT)
        except OSError as exc:
            raise TrustInputError("trusted-root", f"cannot read: {exc.strerror}",
                                  where=str(path)) from exc
        if len(data) > MAX_ROOT:
            raise TrustInputError("trusted-root", f"larger than {MAX_ROOT // 2**20} MiB",
                                  where=str(path))
        root = parse_trusted_root(data, source=str(path))
    except TrustInputError as exc:
        raise BadInputError(f"unusable trusted root: {exc.reason}",
                            where=f"{where}.trusted_root ({path})") from None
    _ROOT_BYTES[id(root)] = data
    weakref.finalize(root, _ROOT_BYTES.pop, id(root), None)
    return LoadedRoot(path, root, hashlib.sha256(data).hexdigest())
