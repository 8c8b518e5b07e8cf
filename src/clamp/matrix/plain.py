"""What a matrix may hold after YAML: plain data only, of bounded expanded size.

Why: YAML can build far more than mappings, lists and scalars. `!!set`, `!!omap`, `!!pairs`,
`!!binary` and local tags (`!foo`) construct sets, ordered maps, tuples, bytes and tagged
objects, which pydantic's lax mode then reads in surprising ways (bytes pass as a registry name,
a set as an ordered `prefer_os` list) or which crash code that expects plain data. And anchors
and aliases share one object many times: nine aliases nested eight deep are 43 million nodes to
validate from a 300-byte file (the "billion laughs"), and an alias inside its own anchor is a
cycle. So the tree is walked once, counting each shared node as often as it is reached (with a
memo, so the walk itself stays linear), and refused past `MAX_NODES` or on a cycle.

A merge of several mappings (`<<: [*a, *b]`) that give one key different values is refused too:
YAML readers disagree on which wins. ruamel.yaml (and the merge spec) take the first; PyYAML
6.0.3 and later, which the origin's scripts ran under, the last for most keys (it dedups merged
keys by the identity of the key's string object, so one-letter keys, which CPython shares, keep
the first). The same file would pin one digest for clamp and another for the origin.
"""

from __future__ import annotations

from datetime import date
from typing import Any

#: Nodes a matrix may expand to, aliases counted each time they are used. A 1,000-entry matrix
#: is ~15,000 nodes.
MAX_NODES = 1_000_000

_SCALARS = (str, int, float, date, type(None))  # bool is an int


class NotPlain(ValueError):
    """The first value that is not plain data: its 1-based line (when known) and why."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


def check_plain(data: Any) -> None:
    """Raise NotPlain unless `data` is mappings, lists and scalars of bounded expanded size."""
    sizes: dict[int, int] = {}
    total = _size(data, None, sizes, set())
    if total > MAX_NODES:
        raise NotPlain(None, f"expands to more than {MAX_NODES:,} values through YAML aliases")


#: Where a node sits, looked up only for an error: (parent, key or index, parent is a mapping,
#: the parent's own place).
_At = tuple[Any, Any, bool, Any] | None


def _line_at(at: _At) -> int | None:
    while at is not None:
        parent, name, is_map, outer = at
        line = _line(parent, name, is_map)
        if line:
            return line
        at = outer
    return None


def _tag(node: Any) -> str | None:
    tag = getattr(node, "tag", None)
    value = getattr(tag, "value", None) if tag is not None else None
    return value if isinstance(value, str) and value else None


def _kind(node: Any) -> str:
    name = type(node).__name__
    return {"CommentedSet": "a set (!!set)", "bytes": "binary data (!!binary)",
            "CommentedOrderedMap": "an ordered map (!!omap)", "tuple": "a pair (!!pairs)",
            "TaggedScalar": "a tagged value"}.get(name, f"a {name}")


def _size(node: Any, at: _At, sizes: dict[int, int], open_: set[int]) -> int:
    if isinstance(node, _SCALARS) and type(node).__name__ != "TaggedScalar":
        return 1
    is_map, is_seq = isinstance(node, dict), isinstance(node, list)
    tag = _tag(node)
    if tag is not None:
        shown = tag.replace("tag:yaml.org,2002:", "!!")
        raise NotPlain(_line_at(at), f"YAML tag {shown} is not supported: write the plain "
                       "value (a matrix holds only mappings, lists, strings, numbers, booleans, "
                       "dates and null)")
    if not (is_map or is_seq) or type(node).__name__ == "CommentedOrderedMap":
        raise NotPlain(_line_at(at), f"YAML value is {_kind(node)}: a matrix holds only "
                       "mappings, lists, strings, numbers, booleans, dates and null")
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_:
        raise NotPlain(_line_at(at), "YAML alias refers to the value that contains it (a cycle)")
    if is_map:  # once per mapping, however often it is aliased
        _check_merge(node, at)
    open_.add(key)
    total = 1
    children = node.items() if is_map else enumerate(node)
    for name, child in children:
        if is_map and not isinstance(name, _SCALARS):
            raise NotPlain(_line_at((node, name, is_map, at)),
                           f"YAML key is {_kind(name)}: keys are plain strings")
        total += _size(child, (node, name, is_map, at), sizes, open_)
        if total > MAX_NODES:
            raise NotPlain(_line_at(at), f"expands to more than {MAX_NODES:,} values through "
                           "YAML aliases")
    open_.discard(key)
    sizes[key] = total
    return total


def _check_merge(node: Any, at: _At) -> None:
    """Refuse a merge list whose mappings disagree on a key the mapping does not set itself."""
    merged = getattr(node, "_yaml_merge", None)  # ruamel.yaml.comments.merge_attrib
    if not merged or len(merged) < 2:
        return
    own = set(getattr(node, "_ok", ()))
    first: dict[Any, Any] = {}
    for source in merged:
        for name in source:
            if name in own:
                continue
            if name in first and first[name] != source[name]:
                line = getattr(getattr(node, "lc", None), "line", None)
                raise NotPlain(line + 1 if isinstance(line, int) else _line_at(at),
                               f"YAML merge '<<: [...]' gives {name!r} two values: YAML readers "
                               "disagree on which wins (ruamel.yaml the first, the origin's "
                               "PyYAML the last); set the key in the mapping itself")
            first.setdefault(name, source[name])


def _line(node: Any, name: Any, is_map: bool) -> int | None:
    """1-based line of a mapping value or list item, from ruamel's position data."""
    try:
        position = node.lc.value(name) if is_map else node.lc.item(name)
        return int(position[0]) + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return None
