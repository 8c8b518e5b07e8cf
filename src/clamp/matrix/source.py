"""YAML source handling: parse with positions, and turn any failure into FILE:LINE problems.

The loader keeps ruamel.yaml's round-trip tree because it remembers where every key and list
item came from; that is what lets `clamp matrix validate` and the GitHub annotations point at the
exact line, and lets `clamp update` rewrite the file in place later.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamp.errors import BadInputError

if TYPE_CHECKING:
    from pydantic import ValidationError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a matrix file, located well enough to jump to it."""

    file: str
    line: int | None
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.reason}" if self.field else f"{where}: {self.reason}"


class MatrixError(BadInputError):
    """A matrix (or its policy file) is invalid; carries every problem found, first one shown."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("MatrixError needs at least one problem")
        self.problems = list(problems)
        first = self.problems[0]
        message = f"{first.field}: {first.reason}" if first.field else first.reason
        if len(self.problems) > 1:
            more = len(self.problems) - 1
            message += f" (and {more} more; see 'clamp matrix validate')"
        where = f"{first.file}:{first.line}" if first.line else first.file
        super().__init__(message, where=where)


class YamlDoc:
    """A parsed YAML file with its text, for line look-ups and in-place edits."""

    def __init__(self, path: Path, text: str, data: Any) -> None:
        self.path = path
        self.text = text
        self.data = data
        self.lines = text.splitlines()

    @property
    def name(self) -> str:
        return str(self.path)

    def line_of(self, loc: Loc) -> int | None:
        """1-based line of the deepest node of `loc` that exists (a key's line, or an item's)."""
        node, line = self.data, None
        for part in loc:
            try:
                if isinstance(node, dict) and part in node:
                    line = _lc(node).key(part)[0] + 1
                    node = node[part]
                elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                    line = _lc(node).item(part)[0] + 1
                    node = node[part]
                else:
                    break
            except (AttributeError, KeyError, TypeError):
                break
        return line if line is not None else (1 if self.lines else None)

    def raw_value(self, container: Any, key: str | int) -> str | None:
        """The source text of a scalar, e.g. `6.10` for a YAML float that reads back as 6.1."""
        try:
            line, col = (_lc(container).value(key) if isinstance(container, dict)
                         else _lc(container).item(key))
            match = _WORD.match(self.lines[line], col)  # no slice: a one-line flow matrix
            # of 16 MiB would copy its line once per scalar
        except (AttributeError, IndexError, KeyError, TypeError):
            return None
        return match.group(0) if match else None

    def problem(self, loc: Loc, reason: str) -> Problem:
        return Problem(self.name, self.line_of(loc), format_loc(loc), reason)


_WORD = re.compile(r"[^\s#,\]}]+")


def _lc(node: Any) -> Any:
    """ruamel.yaml's line/column record of a round-trip container."""
    return node.lc


def parse_yaml(path: Path, text: str) -> YamlDoc:
    """Parse round-trip; a syntax error or duplicate key becomes a located MatrixError.

    The plain block-style text of nearly every matrix goes through libyaml's C parser
    (`clamp.matrix.fastyaml`: the same tree, ten times faster); anything else, and every
    error, through ruamel.yaml's own parser."""
    from clamp.matrix.fastyaml import load_fast

    fast, data = load_fast(text)
    if not fast:
        data = _load_pure(path, text)
    from clamp.matrix.plain import NotPlain, check_plain

    try:
        check_plain(data)
    except NotPlain as exc:
        raise MatrixError([Problem(str(path), exc.line, "", exc.reason)]) from None
    return YamlDoc(path, text, data)


def _load_pure(path: Path, text: str) -> Any:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        raise MatrixError([Problem(str(path), line, "", f"YAML syntax: {reason}")]) from None
    except YAMLError as exc:
        raise MatrixError([Problem(str(path), None, "", f"YAML syntax: {exc}")]) from None
    except RecursionError:  # ruamel's composer recurses once per nesting level
        raise MatrixError([Problem(str(path), None, "", "YAML nested too deeply")]) from None
    except (ValueError, IndexError, TypeError, AssertionError, OverflowError) as exc:
        # what ruamel's constructors raise on a value they cannot build: an integer past
        # Python's 4300-digit limit, an impossible date, `!!int 0x`, `!!omap` with repeats
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise MatrixError([Problem(str(path), _unbuildable_line(text), "",
                                   f"YAML value: {reason}")]) from None


def _unbuildable_line(text: str) -> int | None:
    """The line of the first scalar ruamel cannot build (the constructors' errors carry no
    position): the file composes, since only a value failed, so each scalar is built alone."""
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

    yaml = YAML(typ="rt")
    try:
        stack: list[Node] = [yaml.compose(text)]
    except Exception:  # no line to add; the caller's reason stands
        return None
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:  # an alias is the node it names
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            try:
                yaml.constructor.construct_object(node, deep=True)
            except Exception:  # whatever stopped the whole load
                return int(node.start_mark.line) + 1
        elif isinstance(node, MappingNode):
            stack.extend(part for pair in reversed(node.value) for part in reversed(pair))
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
    return None


MAX_MATRIX_BYTES = 16 * 1024 * 1024  # a 1,000-entry matrix is ~300 KB


def read_text(path: Path) -> tuple[bytes, str]:
    """Read a file's bytes and UTF-8 text; an unreadable file is a one-line BadInputError."""
    from clamp.files import read_at_most

    try:
        raw = read_at_most(path, MAX_MATRIX_BYTES)
    except FileNotFoundError:
        raise BadInputError("file not found", where=str(path)) from None
    except IsADirectoryError:
        raise BadInputError("is a directory, not a matrix file", where=str(path)) from None
    except OSError as exc:
        raise BadInputError(f"cannot read: {exc.strerror}", where=str(path)) from None
    if len(raw) > MAX_MATRIX_BYTES:
        raise BadInputError(f"larger than {MAX_MATRIX_BYTES // 2**20} MiB; not a matrix",
                            where=str(path))
    try:
        return raw, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise BadInputError(f"not UTF-8 text (byte {exc.start})",
                            where=f"{path}:{line}") from None


def format_loc(loc: Loc) -> str:
    """("images", 2, "digest") -> "images[2].digest"."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def validation_problems(exc: ValidationError, doc: YamlDoc, prefix: Loc = (),
                        entry_label: Any = None) -> list[Problem]:
    """Pydantic errors as located problems, worded for someone editing YAML by hand.

    `entry_label(loc)` may name the image entry a location belongs to, so a bad digest says
    which image it is, not only which list index.
    """
    problems = []
    for err in exc.errors(include_url=False):
        loc: Loc = prefix + tuple(err["loc"])
        reason = _reason(err)
        label = entry_label(loc) if entry_label else None
        if label:
            reason = f"entry {label}: {reason}"
        problems.append(doc.problem(loc, reason))
    return problems


def _reason(err: Any) -> str:
    kind, msg, value = err["type"], err["msg"], err.get("input")
    loc = err["loc"]
    last = loc[-1] if loc else ""
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if kind == "value_error":
        return str(msg).removeprefix("Value error, ")
    if kind in ("literal_error", "enum"):
        expected = err.get("ctx", {}).get("expected", "")
        what = "policy mode" if last in ("policy", "mode") else "value"
        return f"unknown {what} {_brief(value)} (expected {expected})"
    text = msg[0].lower() + msg[1:] if msg else kind
    return f"{text} (got {_brief(value)})"


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
