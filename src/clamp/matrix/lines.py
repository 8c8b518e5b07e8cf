"""Line-level edits planned against one parse of a YAML text, applied all at once.

Why: an edit that re-parses the file to find the next place to change costs a whole parse per
field, which made `clamp update` quadratic in the matrix size. Here every position comes from the
one round-trip tree of the text as read; the edits (replace lines [start, end), or insert lines
before a line) are collected and applied from the bottom of the file up, so an earlier edit
never moves the lines a later one was planned against. Edits into the same mapping all go to one
insertion point, the end of its last kept key, in the order they were planned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

_COMMENT_AFTER = re.compile(r"\s+#")


class Unsupported(Exception):
    """This edit cannot be made in place (e.g. a flow-style entry); fall back to a re-dump."""


@dataclass
class LineEdits:
    """Edits to `lines` (the text as read, line ends kept), planned in any order."""

    lines: list[str]
    _ops: list[tuple[int, int, int, int, list[str]]] = field(default_factory=list)

    def replace(self, start: int, end: int, new: list[str]) -> None:
        """Replace lines [start, end) with `new` (empty: delete them)."""
        self._ops.append((start, 1, len(self._ops), end, new))

    def insert(self, before: int, block: str) -> None:
        """Insert `block` (whole lines) before line `before`."""
        self._ops.append((before, 0, len(self._ops), before, block.splitlines(keepends=True)))

    def __bool__(self) -> bool:
        return bool(self._ops)

    def apply(self) -> str:
        """The text with every edit made; an overlap between two replacements is Unsupported."""
        replaced = sorted((op[0], op[3]) for op in self._ops if op[1])
        for (_, end), (start, _) in pairwise(replaced):
            if start < end:
                raise Unsupported
        lines = list(self.lines)
        # Bottom up; at one line, replacements of that line before insertions above it, and
        # insertions in reverse so that the first planned ends up first.
        for start, kind, _, end, new in sorted(self._ops, reverse=True):
            if kind:
                if new and end > start and lines[end - 1].endswith("\n") \
                        and not new[-1].endswith("\n"):
                    new = [*new[:-1], new[-1] + "\n"]  # an insertion below added the line end
                lines[start:end] = new
            else:
                if start > 0 and not lines[start - 1].endswith("\n"):
                    lines[start - 1] += "\n"
                lines[start:start] = new
        return "".join(lines)


def flow(node: Any) -> bool:
    return bool(node.fa.flow_style())


def key_pos(mapping: Any, key: Any) -> tuple[int, int]:
    line, col = mapping.lc.key(key)
    return int(line), int(col)


def key_span(mapping: Any, key: Any, lines: list[str]) -> tuple[int, int]:
    """Lines [start, end) holding `key` and its value in a block mapping (comments after stay)."""
    start, col = key_pos(mapping, key)
    end = start + 1
    for index in range(start + 1, len(lines)):
        text = lines[index]
        stripped = text.strip()
        if stripped and not stripped.startswith("#"):
            if len(text) - len(text.lstrip(" ")) <= col:
                break
            end = index + 1
    return start, end


def mapping_end(mapping: Any, lines: list[str], dropped: frozenset[Any] = frozenset()) -> int:
    """Where keys appended to a block mapping go: after its last key not in `dropped`."""
    kept = [key for key in mapping if key not in dropped]
    if not kept:
        raise Unsupported
    return key_span(mapping, kept[-1], lines)[1]


def mapping_col(mapping: Any) -> int:
    keys = list(mapping.keys())
    if not keys:
        raise Unsupported
    return key_pos(mapping, keys[0])[1]


def scalar_span(line: str, key_col: int, key: str) -> tuple[int, int, int]:
    """(colon, start, end) of the scalar after `key:` on a block-context line."""
    colon = line.find(":", key_col + len(key))
    if colon < 0:
        raise Unsupported
    start = colon + 1
    while start < len(line) and line[start] == " ":
        start += 1
    return colon, start, scalar_end(line, start)


def scalar_end(line: str, start: int) -> int:
    """End of the scalar token starting at `start` on a block-context line."""
    body = line.rstrip("\r\n")
    if start >= len(body) or body[start] == "#":
        return start
    quote = body[start]
    if quote == '"':
        index = start + 1
        while index < len(body):
            if body[index] == "\\":
                index += 2
                continue
            if body[index] == '"':
                return index + 1
            index += 1
        raise Unsupported  # multi-line quoted scalar
    if quote == "'":
        index = start + 1
        while index < len(body):
            if body[index] == "'":
                if body[index + 1:index + 2] == "'":
                    index += 2
                    continue
                return index + 1
            index += 1
        raise Unsupported
    match = _COMMENT_AFTER.search(body, start)
    end = match.start() if match else len(body)
    return len(body[:end].rstrip())


def indent(block: str, col: int) -> str:
    return "".join(" " * col + line if line.strip() else line
                   for line in block.splitlines(keepends=True))
