"""Load a matrix file of either layout into the native model, remembering where things are.

`load()` is the only way callers read a matrix: it detects the layout, validates everything,
reports every problem with FILE:LINE, and returns a `LoadedMatrix` that can still answer "which
line is this entry on" (GitHub annotations) and hands `clamp.matrix.edit` the exact bytes it hashed
(so an update can refuse to overwrite a file that changed meanwhile).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from clamp.errors import BadInputError
from clamp.matrix.checks import check_model
from clamp.matrix.models import ImageEntry, MatrixFile
from clamp.matrix.scalars import read_as_origin, versions_as_written
from clamp.matrix.source import (
    Loc,
    MatrixError,
    Problem,
    YamlDoc,
    parse_yaml,
    read_text,
    validation_problems,
)

if TYPE_CHECKING:  # the original layout's module is imported only when a file uses it
    from clamp.matrix.original import OriginPolicy

Layout = Literal["native", "original"]


@dataclass
class LoadedMatrix:
    """A validated matrix in the native model, with its source and provenance of the read."""

    model: MatrixFile
    path: Path
    layout: Layout
    sha256: str
    text: str
    warnings: list[str] = field(default_factory=list)
    warning_details: list[Problem] = field(default_factory=list)
    policy_path: Path | None = None
    policy_sha256: str | None = None
    policy_text: str | None = None
    doc: YamlDoc | None = field(default=None, repr=False)
    policy_doc: YamlDoc | None = field(default=None, repr=False)
    trust_origin: dict[str, Loc] = field(default_factory=dict, repr=False)
    #: For the original layout: the policy as the origin's verifier read it (the ci/ shims
    #: compute the origin's exit codes from it).
    origin_policy: OriginPolicy | None = field(default=None, repr=False)
    _ids: tuple[list[ImageEntry], dict[str, int]] | None = field(default=None, repr=False,
                                                                  compare=False)

    @property
    def entry_ids(self) -> list[str]:
        return [entry.id for entry in self.model.images]

    def entry(self, entry_id: str) -> ImageEntry:
        """The entry with this id; BadInputError naming the known ids if there is none."""
        return self.model.images[self.entry_index(entry_id)]

    def _index(self, wanted: str) -> int | None:
        """Entry id -> list index from a map built once (an update looks up every entry it
        touches); rebuilt if the list changed since."""
        images = self.model.images
        for fresh in (False, True):
            if fresh or self._ids is None or self._ids[0] is not images:
                ids: dict[str, int] = {}
                for number, item in enumerate(images):
                    ids.setdefault(item.id, number)
                self._ids = (images, ids)
            index = self._ids[1].get(wanted)
            if index is not None and index < len(images) and images[index].id == wanted:
                return index
        return None

    def matching(self, version: str | None, os_name: str | None, *,
                 pinned_only: bool = False) -> list[ImageEntry]:
        """Entries of this version and OS (None: any); BadInputError when a filter was given
        and nothing matches, since an empty run would look like success."""
        chosen = [e for e in self.model.images
                  if (not pinned_only or e.digest is not None)
                  and (version is None or e.version == version)
                  and (os_name is None or e.os == os_name)]
        if not chosen and (version is not None or os_name is not None):
            what = "pinned entry" if pinned_only else "entry"
            raise BadInputError(f"no {what} matches version={version} os={os_name}",
                                where=str(self.path))
        return chosen

    def entry_index(self, entry: ImageEntry | str) -> int:
        wanted = entry if isinstance(entry, str) else entry.id
        index = self._index(wanted)
        if index is None:
            known = ", ".join(self.entry_ids) or "none"
            raise MatrixError([Problem(str(self.path), None, "images",
                                       f"no entry {wanted!r} (entries: {known})")])
        return index

    def entry_yaml_loc(self, entry: ImageEntry | str) -> Loc:
        """The entry's location in its own file's YAML tree (for in-place edits)."""
        index = self.entry_index(entry)
        return ("rocm", "images", index) if self.layout == "original" else ("images", index)

    def entry_line(self, entry: ImageEntry | str) -> int | None:
        """1-based line of the entry's list item in the matrix file."""
        if self.doc is None:
            return None
        return self.doc.line_of(self.entry_yaml_loc(entry))

    def locate(self, loc: Loc) -> tuple[str, int | None]:
        """(file, line) of a native-model location, in whichever file it came from."""
        doc, file_loc = self._source(loc)
        return (doc.name, doc.line_of(file_loc)) if doc else (str(self.path), None)

    def problem(self, loc: Loc, reason: str) -> Problem:
        doc, file_loc = self._source(loc)
        if doc is None:
            return Problem(str(self.path), None, "", reason)
        return doc.problem(file_loc, reason)

    def _source(self, loc: Loc) -> tuple[YamlDoc | None, Loc]:
        if self.layout == "native":
            return self.doc, loc
        from clamp.matrix.original import native_to_original_loc

        which, file_loc = native_to_original_loc(loc, self.trust_origin)
        return (self.policy_doc if which == "policy" else self.doc), file_loc


def load(path: str | Path) -> LoadedMatrix:
    """Read, detect the layout, validate and normalise; MatrixError lists every problem."""
    matrix_path = Path(path)
    raw, text = read_text(matrix_path)
    return load_text(text, matrix_path, raw=raw)


def load_text(text: str, path: str | Path, *, policy_text: str | None = None,
              raw: bytes | None = None, policy_raw: bytes | None = None,
              policy_path: Path | None = None) -> LoadedMatrix:
    """Validate matrix text as if it were the file at `path` (used for edits and migrations).

    For the original layout the policy file is read from beside `path` unless given.
    """
    matrix_path = Path(path)
    doc = parse_yaml(matrix_path, text)
    data = doc.data
    if data is None:
        raise MatrixError([Problem(str(matrix_path), 1, "", "empty file: expected a matrix "
                                   "(see docs/matrix.md)")])
    if not isinstance(data, dict):
        raise MatrixError([Problem(str(matrix_path), 1, "",
                                   "expected a mapping at the top level")])
    sha = hashlib.sha256(raw if raw is not None else text.encode()).hexdigest()
    if "rocm" in data:
        return _load_original(doc, sha, policy_text, policy_raw, policy_path)
    if _is_os_keyed(data):
        raise MatrixError([Problem(
            str(matrix_path), 1, "",
            "this is the origin's later OS-keyed layout ('OS: {image, mirror, canonical, "
            "tarball, sha256, timestamp}'), which names images by tag and tarball hash, not by "
            "manifest digest, so clamp cannot verify it as it is. Migrate it to the native "
            "format: one images[] entry per OS with the image's version, os and manifest "
            "digest (docs/matrix.md, 'The origin's OS-keyed layout')")])
    return _load_native(doc, sha)


_OS_KEYED_FIELDS = frozenset({"image", "mirror", "canonical", "tarball", "sha256", "hash",
                              "timestamp", "clamp_manifest"})


def _is_os_keyed(data: dict[Any, Any]) -> bool:
    """The origin's later matrix: top-level keys are OS names, each an image reference or a
    mapping of `_OS_KEYED_FIELDS` with an `image`."""
    if not data or {"version", "images", "defaults"} & set(data):
        return False
    for value in data.values():
        if isinstance(value, str):
            continue
        if not isinstance(value, dict) or "image" not in value \
                or not set(value) <= _OS_KEYED_FIELDS:
            return False
    return True


def _load_native(doc: YamlDoc, sha: str) -> LoadedMatrix:
    warnings: list[Problem] = []
    versions_as_written(doc, warnings, quiet=False)
    try:
        model = MatrixFile.model_validate(doc.data)
    except ValidationError as exc:
        label = _labeler(doc, ("images",))
        raise MatrixError(validation_problems(exc, doc, entry_label=label)) from None
    loaded = LoadedMatrix(model=model, path=doc.path, layout="native", sha256=sha, text=doc.text,
                          doc=doc)
    return _finish(loaded, [doc.path.parent], warnings)


def _load_original(doc: YamlDoc, sha: str, policy_text: str | None, policy_raw: bytes | None,
                   policy_path: Path | None) -> LoadedMatrix:
    from clamp.matrix import original as orig  # only paid for when the layout is used

    problems: list[Problem] = []
    warnings: list[Problem] = []
    policy_doc: YamlDoc | None = None
    if policy_text is None or policy_path is None:
        found = find_policy_file(doc.path)
        if found is not None:
            policy_path = found
            policy_raw, policy_text = read_text(policy_path)
    if policy_text is not None and policy_path is not None:
        policy_doc = parse_yaml(policy_path, policy_text)
    else:
        missing = doc.path.with_name("rocm_policy.yml")
        warnings.append(Problem(str(missing), None, "", (
            "policy file not found: using the origin's defaults (mode strict, digest_ttl 7, "
            "require_signature false, attest_mode none)")))
    read_as_origin(doc, warnings)
    policy_data: Any = {}
    if policy_doc is not None:
        read_as_origin(policy_doc, warnings)
        policy_data = policy_doc.data
        if policy_data is None:
            policy_data = {}
            warnings.append(Problem(str(policy_path), 1, "", "empty policy file: using the "
                                    "origin's defaults"))
        elif isinstance(policy_data, dict) and "policy" not in policy_data:
            warnings.append(policy_doc.problem((), "no 'policy' key: using the origin's "
                                                   "defaults"))
    matrix_model = policy_model = None
    try:
        matrix_model = orig.OriginalMatrix.model_validate(doc.data)
    except ValidationError as exc:
        problems += validation_problems(exc, doc, entry_label=_labeler(doc, ("rocm", "images")))
    if not isinstance(policy_data, dict):
        problems.append(Problem(str(policy_path), 1, "", "expected a mapping with a 'policy' key"))
    else:
        try:
            policy_model = orig.OriginalPolicy.model_validate(policy_data)
        except ValidationError as exc:
            problems += validation_problems(exc, policy_doc) if policy_doc else [
                Problem(str(policy_path), None, "", str(exc))]
    if problems or matrix_model is None or policy_model is None:
        raise MatrixError(problems)
    translation = orig.translate(matrix_model, policy_model)
    docs = {"matrix": doc, "policy": policy_doc or doc}
    if translation.errors:
        raise MatrixError([docs[which].problem(loc, text)
                           for which, loc, text in translation.errors])
    warnings += [docs[which].problem(loc, text) for which, loc, text in translation.warnings]
    try:
        model = MatrixFile.model_validate(translation.data)
    except ValidationError as exc:  # the translation checks first; anything left is still
        # the user's input, reported at its place in the original files
        located = []
        for err in exc.errors(include_url=False):
            which, file_loc = orig.native_to_original_loc(tuple(err["loc"]),
                                                          translation.trust_origin)
            reason = str(err["msg"]).removeprefix("Value error, ")
            located.append(docs[which].problem(file_loc, reason))
        raise MatrixError(located) from None
    policy_sha = None
    if policy_text is not None:
        policy_sha = hashlib.sha256(policy_raw if policy_raw is not None
                                    else policy_text.encode()).hexdigest()
    loaded = LoadedMatrix(
        model=model, path=doc.path, layout="original", sha256=sha, text=doc.text, doc=doc,
        policy_path=policy_path if policy_doc else None, policy_text=policy_text,
        policy_doc=policy_doc, policy_sha256=policy_sha,
        trust_origin=translation.trust_origin, origin_policy=translation.origin_policy)
    # Original key paths were given relative to where the old verifier ran: the repository
    # root, i.e. the parent of ci/. The matrix's own directory is tried first.
    return _finish(loaded, [doc.path.parent, doc.path.parent.parent], warnings)


def _finish(loaded: LoadedMatrix, base_dirs: list[Path],
            warnings: list[Problem]) -> LoadedMatrix:
    errors, notes = check_model(loaded.model, base_dirs)
    if errors:
        raise MatrixError([loaded.problem(loc, reason) for loc, reason in errors])
    warnings += [loaded.problem(loc, reason) for loc, reason in notes]
    loaded.warning_details = warnings
    loaded.warnings = [str(problem) for problem in warnings]
    return loaded


def find_policy_file(matrix_path: Path) -> Path | None:
    """The original layout's policy file: `rocm_policy.yml` beside the matrix.

    A matrix named `<prefix>matrix<suffix>` looks for `<prefix>policy<suffix>` first, so a
    renamed pair (`gpu_matrix.yml` + `gpu_policy.yml`) keeps working.
    """
    names = []
    if "matrix" in matrix_path.name:
        head, _, tail = matrix_path.name.rpartition("matrix")
        names.append(f"{head}policy{tail}")
    names += ["rocm_policy.yml", "rocm_policy.yaml"]
    for name in names:
        candidate = matrix_path.with_name(name)
        if candidate.is_file():
            return candidate
    return None


def _labeler(doc: YamlDoc, images_loc: Loc) -> Any:
    """Names the image entry a location falls in ("6.4.4/ubuntu-22.04"), if it has one."""
    def label(loc: Loc) -> str | None:
        size = len(images_loc)
        if loc[:size] != images_loc or len(loc) <= size or not isinstance(loc[size], int):
            return None
        node: Any = doc.data
        for part in (*images_loc, loc[size]):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        if not isinstance(node, dict):
            return None
        version, os_name = node.get("version"), node.get("os")
        if isinstance(version, str) and isinstance(os_name, str):
            return f"{version}/{os_name}"
        return None

    return label

