"""Write a loaded matrix (either layout) as a native-format file.

The loader already translated the original layout losslessly into the native model; migration
only has to print that model as readable YAML, with key paths rewritten relative to where the new
file will live, and prove the result loads back to the same model.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from clamp.errors import BadInputError
from clamp.matrix.loader import LoadedMatrix, load_text
from clamp.matrix.models import MatrixFile
from clamp.matrix.source import Loc, format_loc
from clamp.matrix.yaml11 import needs_quotes


def migrate_text(loaded: LoadedMatrix, output: Path | None = None) -> str:
    """The native-format text for `loaded`; `output` is where it will be written (None: beside
    the original matrix), which decides how relative key paths are spelt."""
    if loaded.layout == "native":
        raise BadInputError("already in the native format; nothing to migrate",
                            where=str(loaded.path))
    target = output if output is not None else loaded.path
    model = _rebased(loaded.model, target.resolve().parent)
    text = _render(model, loaded)
    check = load_text(text, target)
    if check.model.model_dump() != model.model_dump():
        raise AssertionError("migrated matrix does not load back to the same model")
    return text


def _rebased(model: MatrixFile, out_dir: Path) -> MatrixFile:
    copy = model.model_copy(deep=True)
    for name, policy in model.trust.items():
        new = copy.trust[name]
        for key, new_key in zip(policy.keys, new.keys, strict=True):
            if key.resolved_path is not None:
                new_key.path = _relative(key.resolved_path, out_dir)
        if policy.resolved_trusted_root is not None:
            new.trusted_root = _relative(policy.resolved_trusted_root, out_dir)
    return copy


def _relative(path: Path, base: Path) -> str:
    try:
        if os.path.commonpath([path, base]) == path.anchor:
            return path.as_posix()  # unrelated trees: an absolute path reads better
        return Path(os.path.relpath(path, base)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def _render(model: MatrixFile, loaded: LoadedMatrix) -> str:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    data = CommentedMap()
    data["version"] = model.version
    data["defaults"] = model.defaults.model_dump()
    if model.trust:
        data["trust"] = {name: _trust(policy.model_dump(exclude_none=True))
                         for name, policy in model.trust.items()}
    resolve = model.resolve.model_dump(exclude_none=True)
    if resolve.get("prefer_os") == []:
        del resolve["prefer_os"]
    if resolve:
        data["resolve"] = resolve
    if model.dispatch is not None:
        data["dispatch"] = model.dispatch.model_dump(exclude_none=True)
    data["images"] = [_entry(entry.model_dump(exclude_none=True), entry.digest)
                      for entry in model.images]
    sources = f"{loaded.path}" + (f" and {loaded.policy_path}" if loaded.policy_path else "")
    data = _styled(data)
    loose = _carry_comments(data, loaded)
    header = (f"clamp image matrix (native format), migrated from {sources}.\n"
              "Reference: docs/matrix.md; schema: schemas/matrix.schema.json")
    if loose:
        header += "\n\nComments of the original files:\n" + "\n".join(loose)
    data.yaml_set_start_comment(header)
    for key in ("defaults", "trust", "resolve", "dispatch", "images"):
        if key in data:
            data.yaml_set_comment_before_after_key(key, before="\n")

    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def _styled(node: Any, key: str = "") -> Any:
    """Short lists and {version, os} pairs in flow style; versions always quoted."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(node, dict):
        out = node if isinstance(node, CommentedMap) else CommentedMap(node)
        for name in list(out.keys()):
            out[name] = _styled(out[name], str(name))
        if key in ("default", "fallback"):
            out.fa.set_flow_style()
        return out
    if isinstance(node, list):
        seq = CommentedSeq(_styled(item) for item in node)
        if node and all(isinstance(item, str) for item in node):
            seq.fa.set_flow_style()
        return seq
    if isinstance(node, str) and (key == "version" or needs_quotes(node)):
        # quoted where a YAML 1.1 reader (PyYAML) would read another type: off, yes, 010, 6.10
        return DoubleQuotedScalarString(node)
    return node


# Where an original key's comment goes in the native file (None: into the header).
_POLICY_COMMENTS: dict[str, Loc] = {
    "mode": ("defaults", "policy"), "digest_ttl": ("defaults", "digest_ttl_days"),
    "require_signature": ("defaults", "require_signature"),
    "workflow": ("dispatch", "workflow"), "auto_update_ref": ("dispatch", "ref")}
_RESOLVE_COMMENTS: dict[str, Loc] = {
    "default": ("resolve", "default"), "prefer_os": ("resolve", "prefer_os"),
    "fallback_os": ("resolve", "fallback"), "fallback_version": ("resolve", "fallback")}


def _native_loc(which: str, loc: Loc) -> Loc | None:
    if which == "policy":
        return _POLICY_COMMENTS.get(str(loc[1])) if len(loc) >= 2 else None
    if loc[:2] == ("rocm", "images") and len(loc) >= 3:
        if len(loc) >= 4 and loc[3] in ("version", "os", "digest", "added"):
            return ("images", loc[2], loc[3])
        return ("images", loc[2])
    if loc[:2] == ("rocm", "policy") and len(loc) >= 3:
        return _RESOLVE_COMMENTS.get(str(loc[2]))
    return None


def _carry_comments(data: Any, loaded: LoadedMatrix) -> list[str]:
    """Put each comment of the original files beside the native key it is about; return the
    ones with no such key (whole-line comments, keys that have no native counterpart)."""
    loose: list[str] = []
    for which, doc in (("matrix", loaded.doc), ("policy", loaded.policy_doc)):
        if doc is None:
            continue
        lines = _key_lines(doc.data, ())
        for number, text, whole_line in _comments(doc.text):
            loc = None if whole_line else lines.get(number)
            target = _native_loc(which, loc) if loc else None
            if target is None or not _attach(data, target, text):
                label = f"{doc.path.name}: " + (f"{format_loc(loc)}: " if loc else "")
                loose.append(label + text)
    return loose


def _comments(text: str) -> list[tuple[int, str, bool]]:
    """(0-based line, comment text, whole line?) of every `#` comment outside quotes."""
    found = []
    for number, line in enumerate(text.splitlines()):
        quote = None
        for col, char in enumerate(line):
            if quote:
                quote = None if char == quote else quote
            elif char in "'\"" and (col == 0 or line[col - 1] in " :[{,-"):
                quote = char
            elif char == "#" and (col == 0 or line[col - 1] in " \t"):
                comment = line[col + 1:].strip()
                if comment:
                    found.append((number, comment, not line[:col].strip()))
                break
    return found


def _key_lines(node: Any, loc: Loc) -> dict[int, Loc]:
    """0-based line -> the deepest key or list item starting on it."""
    out: dict[int, Loc] = {}
    items: list[tuple[Any, Any]] = []
    lc: Any = getattr(node, "lc", None)
    try:
        if isinstance(node, dict):
            items = [(k, lc.key(k)[0]) for k in node]
        elif isinstance(node, list):
            items = [(i, lc.item(i)[0]) for i in range(len(node))]
    except (AttributeError, KeyError, TypeError):
        return out
    for key, line in items:
        out[line] = (*loc, key)
        out.update(_key_lines(node[key], (*loc, key)))
    return out


def _attach(data: Any, target: Loc, text: str) -> bool:
    """An end-of-line comment on the native key `target` (its parent key when the node is in
    flow style, where ruamel cannot place one)."""
    node = data
    for depth, part in enumerate(target[:-1]):
        try:
            child = node[part]
        except (KeyError, IndexError, TypeError):
            return False
        if getattr(getattr(child, "fa", None), "flow_style", lambda: False)():
            return _attach(data, target[:depth + 1], text)
        node = child
    last = target[-1]
    try:
        node[last]
        node.yaml_add_eol_comment("# " + text, last)
    except (KeyError, IndexError, TypeError, AttributeError):
        return False
    return True


def _trust(policy: dict[str, Any]) -> dict[str, Any]:
    for key in ("keyless", "keys", "attestations"):
        if policy.get(key) == []:
            del policy[key]
    return policy


def _entry(values: dict[str, Any], digest: str | None) -> dict[str, Any]:
    ordered = {"version": values.pop("version"), "os": values.pop("os"), "digest": digest}
    values.pop("digest", None)
    ordered.update(values)
    return ordered
