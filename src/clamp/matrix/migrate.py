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
    data.yaml_set_start_comment(
        f"clamp image matrix (native format), migrated from {sources}.\n"
        "Reference: docs/matrix.md; schema: schemas/matrix.schema.json")
    for key in ("defaults", "trust", "resolve", "dispatch", "images"):
        if key in data:
            data.yaml_set_comment_before_after_key(key, before="\n")
    _styled(data)

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
    if key == "version" and isinstance(node, str):
        return DoubleQuotedScalarString(node)
    return node


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
