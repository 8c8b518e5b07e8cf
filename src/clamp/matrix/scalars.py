"""Unquoted scalars re-read from the text as written, not as ruamel.yaml typed them.

Why a module of its own: ruamel.yaml reads a matrix as YAML 1.2, so `version: 6.10` arrives as
the float 6.1 and `require_signature: yes` as the string "yes". Neither is what the file means.
A native matrix's image tag is made of the version's text, so an unquoted numeric version is
put back to the text written (with a warning to quote it). The original layout must give the
origin's answers on the origin's files, and the origin read them with PyYAML (YAML 1.1) and took
`str()` of names, so its scalars are re-read by YAML 1.1's rules (`clamp.matrix.yaml11`). Both
walk the parsed tree before validation, replace a scalar in place by a value derived from its
source text (`YamlDoc.raw_value`), and warn where the reading differs from what was written;
the loader only decides which of the two a layout gets.
"""

from __future__ import annotations

import re
from typing import Any

from clamp.matrix.source import Loc, Problem, YamlDoc


def read_as_origin(doc: YamlDoc, warnings: list[Problem]) -> None:
    """Read the original layout's unquoted scalars as the origin's PyYAML (YAML 1.1) did.

    Names (versions, OS names, the resolver's choices) become the `str()` of that value, as the
    origin's scripts made them: `6.4` is "6.4", `6.10` is "6.1" (a float), `010` is "8". A name
    read differently from its text gets a warning. Policy values keep YAML 1.1's types, so
    `require_signature: yes` is true and `attest_mode: off` is false (none), as in the origin.
    """
    from clamp.matrix.yaml11 import origin_str, resolve_plain

    data = doc.data
    if not isinstance(data, dict):
        return
    names: list[tuple[Any, str | int, Loc]] = []
    rocm = data.get("rocm")
    images = rocm.get("images") if isinstance(rocm, dict) else None
    for index, item in enumerate(images if isinstance(images, list) else []):
        if isinstance(item, dict):
            names += [(item, key, ("rocm", "images", index, key)) for key in ("version", "os")]
    policy = rocm.get("policy") if isinstance(rocm, dict) else None
    if isinstance(policy, dict):
        names += [(policy, key, ("rocm", "policy", key))
                  for key in ("fallback_version", "fallback_os", "prefer_os")]
        for key in ("default", "prefer_os"):
            block = policy.get(key)
            if isinstance(block, list):
                names += [(block, i, ("rocm", "policy", key, i)) for i in range(len(block))]
            elif isinstance(block, dict):
                names += [(block, k, ("rocm", "policy", key, k)) for k in ("version", "os")]
    settings = data.get("policy") if "rocm" not in data else None
    typed: list[tuple[Any, str | int]] = []
    if isinstance(settings, dict):
        typed = [(settings, key) for key in list(settings)]
    anchors = _Anchors(doc)
    for container, field_key in typed:
        raw = _plain_word(doc, container, field_key, anchors)
        if raw is not None:
            container[field_key] = resolve_plain(raw)
    for container, name_key, loc in names:
        raw = _plain_word(doc, container, name_key, anchors)
        if raw is None:
            continue
        value = resolve_plain(raw)
        if value is None:
            container[name_key] = None
            continue
        text = origin_str(value)
        container[name_key] = text
        if text != raw:
            warnings.append(doc.problem(loc, f"{raw} is read as {text!r}, as the origin's "
                                             f"YAML 1.1 reader read it (quote it if you mean "
                                             f"{raw!r})"))


def _plain_word(doc: YamlDoc, container: Any, key: str | int,
                anchors: _Anchors) -> str | None:
    """The source text of an unquoted one-word scalar; None for anything else.

    An anchored scalar (`os: &o on`) and its aliases (`prefer_os: *o`) are read from the text
    after the anchor: PyYAML resolved that text as YAML 1.1 wherever it was used."""
    try:
        value = container[key]
    except (KeyError, IndexError, TypeError):
        return None
    if value is None or isinstance(value, dict | list):
        return None
    raw = _source_word(doc, container, key)
    if raw is not None and raw[:1] in ("&", "*"):
        raw = anchors.word(raw[1:])
    if raw is None or raw[:1] in ("'", '"', "&", "*", "!", "|", ">"):
        return None
    if isinstance(value, str) and raw != value:
        return None  # a scalar of several words, or one ruamel read differently
    return raw


def _source_word(doc: YamlDoc, container: Any, key: str | int) -> str | None:
    """The first word of a value's source text; a key merged in (`<<: *entry`) is read where
    it is written, as PyYAML resolved it there (plain.py refused merges giving it two values)."""
    raw = doc.raw_value(container, key)
    if raw is None and isinstance(container, dict) and key not in getattr(container, "_ok",
                                                                            (key,)):
        for source in getattr(container, "_yaml_merge", None) or ():
            if isinstance(source, dict) and key in source:
                return _source_word(doc, source, key)
    return raw


def versions_as_written(doc: YamlDoc, warnings: list[Problem], *, quiet: bool) -> None:
    """Read an unquoted numeric version (`version: 6.4`) as the text written, not a float.

    YAML would turn `6.10` into 6.1; the source text is what the tag is made of. The native
    format warns (quote it); the original layout is read as it is, silently.
    """
    data = doc.data
    spots: list[tuple[Any, str | int, Loc]] = []
    images_loc: Loc = ("rocm", "images") if "rocm" in data else ("images",)
    images: Any = data
    for part in images_loc:
        images = images.get(part) if isinstance(images, dict) else None
    for index, item in enumerate(images if isinstance(images, list) else []):
        if isinstance(item, dict):
            spots.append((item, "version", (*images_loc, index, "version")))
    resolve = data.get("resolve")
    if isinstance(resolve, dict):
        for section in ("default", "fallback"):
            block = resolve.get(section)
            if isinstance(block, dict):
                spots.append((block, "version", ("resolve", section, "version")))
    rocm = data.get("rocm")
    policy = rocm.get("policy") if isinstance(rocm, dict) else None
    if isinstance(policy, dict):
        spots.append((policy, "fallback_version", ("rocm", "policy", "fallback_version")))
        default = policy.get("default")
        if isinstance(default, list) and default:
            spots.append((default, 0, ("rocm", "policy", "default", 0)))
    for container, key, loc in spots:
        try:
            value = container[key]
        except (KeyError, IndexError):
            continue
        if isinstance(value, int | float) and not isinstance(value, bool):
            text = doc.raw_value(container, key) or str(value)
            container[key] = text
            if not quiet:
                warnings.append(doc.problem(loc, f"version {text} is a YAML number; read as "
                                                 f"the string {text!r} (quote it)"))


_AFTER_ANCHOR = re.compile(r"&\S+[ ]+([^\s#,\]}]+)")


class _Anchors:
    """The source word after each anchor (`&o on` -> "on"), found by composing the text once,
    and only if a name or policy value is anchored or an alias."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.starts: dict[str, tuple[int, int] | None] | None = None

    def word(self, name: str) -> str | None:
        if self.starts is None:
            self.starts = self._compose()
        start = self.starts.get(name)
        if start is None:  # not a scalar's anchor, or a name anchored twice: left as read
            return None
        line, col = start
        match = _AFTER_ANCHOR.match(self.doc.lines[line], col)
        return match.group(1) if match else None

    def _compose(self) -> dict[str, tuple[int, int] | None]:
        from ruamel.yaml import YAML
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        starts: dict[str, tuple[int, int] | None] = {}
        try:
            stack: list[Any] = [YAML(typ="rt").compose(self.doc.text)]
        except Exception:  # the file parsed already; without positions nothing is re-read
            return starts
        seen: set[int] = set()
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            anchor = getattr(node, "anchor", None)
            if anchor is not None:
                where = (node.start_mark.line, node.start_mark.column) \
                    if isinstance(node, ScalarNode) else None
                starts[anchor] = where if anchor not in starts else None
            if isinstance(node, MappingNode):
                stack.extend(part for pair in node.value for part in pair)
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)
        return starts
