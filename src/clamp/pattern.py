"""Regular expressions the user writes, matched the way cosign's Go code matches them.

Why not Python's `re`: it backtracks, so `^(.*.*)*X$` against a 70-character SAN runs for
minutes, and a policy file or a command line could stall a CI gate forever. RE2 (the engine Go's
`regexp` package implements) runs in time linear in the text, and its syntax is Go's: `\\d` and
`\\w` are ASCII, `$` is the end of the text (Python's also matches before a final newline),
`\\z` ends the text (`\\Z` is an error), and back-references and look-arounds do not exist.

`Pattern.search` is Go's `MatchString` (unanchored, as cosign's `--certificate-identity-regexp`);
`Pattern.fullmatch` is anchored at both ends (the matrix's regexps mean the whole value). Every
identity/issuer regexp in clamp, and every pattern built from user text, goes through here, so
"is this regexp valid" has one answer at `matrix validate` time and at verify time.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import re2  # google-re2

#: The longest pattern accepted (cosign sets none; a real identity regexp is ~150 characters).
MAX_PATTERN = 1024
#: RE2's memory budget for one compiled pattern (its default): a pattern needing more (huge
#: nested repetitions) fails to compile instead of growing without bound.
MAX_MEM = 8 << 20


class PatternError(ValueError):
    """A pattern RE2 (Go's syntax) cannot compile; the message is one line."""


def _options() -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every parse error to stderr through absl
    options.max_mem = MAX_MEM
    return options


_OPTIONS = _options()


def _go_rejects(source: str) -> str | None:
    """Syntax RE2 accepts but Go's regexp refuses: `\\C` (any single byte), and a repeat count
    too large for RE2 to read as a number (`a{4294967296}`: RE2 takes it as literal text, Go
    reports an invalid repeat size)."""
    i, in_class, quoted = 0, False, False
    while i < len(source):
        char = source[i]
        if quoted:
            quoted = not source.startswith("\\E", i)
            i += 1 if quoted else 2
            continue
        if char == "\\":
            following = source[i + 1:i + 2]
            if following == "C":
                return "invalid escape sequence: \\C"
            quoted = following == "Q" and not in_class
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            i += 1
            i += source[i:i + 1] == "^"
            i += source[i:i + 1] == "]"  # a "]" first in a class is literal
            continue
        elif char == "{" and (repeat := _REPEAT.match(source, i)):
            counts = [int(n) for n in repeat.groups() if n]
            if any(n > MAX_REPEAT for n in counts):
                return f"invalid repeat count: {repeat.group(0)}"
        i += 1
    return None


#: `{n}`, `{n,}`, `{n,m}` as both parsers read a repeat (no leading zeros); Go's limit is 1000.
_REPEAT = re.compile(r"\{(0|[1-9][0-9]*)(?:,(0|[1-9][0-9]*)?)?\}")
MAX_REPEAT = 1000


class Pattern:
    """A compiled pattern; matching never raises and never takes more than linear time."""

    __slots__ = ("_regexp", "source")

    def __init__(self, source: str, regexp: Any) -> None:
        self.source = source
        self._regexp = regexp

    def search(self, text: str) -> bool:
        """True when the pattern matches anywhere in `text` (Go's `MatchString`)."""
        try:
            return self._regexp.search(text) is not None
        except UnicodeEncodeError:  # a lone surrogate: no Go string holds one; fail closed
            return False

    def fullmatch(self, text: str) -> bool:
        """True when the pattern matches all of `text`."""
        return self.fullmatch_groups(text) is not None

    def fullmatch_groups(self, text: str) -> tuple[str | None, ...] | None:
        """The groups of a match of all of `text`, or None."""
        try:
            match = self._regexp.fullmatch(text)
        except UnicodeEncodeError:
            return None
        return None if match is None else tuple(match.groups())

    def __repr__(self) -> str:
        return f"Pattern({self.source!r})"


@lru_cache(maxsize=64)  # each may hold up to MAX_MEM of automaton
def compile_pattern(source: str) -> Pattern:
    """Compile `source` with Go's syntax; PatternError (one line) when it cannot be."""
    if len(source) > MAX_PATTERN:
        raise PatternError(f"regular expression longer than {MAX_PATTERN} characters")
    problem = _go_rejects(source)
    if problem is None:
        try:
            return Pattern(source, re2.compile(source, options=_OPTIONS))
        except re2.error as exc:
            problem = _message(exc)
        except UnicodeEncodeError:
            problem = "not valid UTF-8 text"
    raise PatternError(f"invalid regular expression {_shown(source)}: {problem}")


def anchored(source: str) -> str:
    """`source` made to match only the whole text: `\\A(?:source)\\z`.

    A `\\Q` quote left open at the end (valid: it runs to the end of the pattern) is closed
    first, or it would swallow the closing `)\\z`.
    """
    return rf"\A(?:{source}{_QUOTE_END if _ends_quoted(source) else ''})\z"


_QUOTE_END = "\\E"


def _ends_quoted(source: str) -> bool:
    quoted, i = False, 0
    while i < len(source):
        if quoted:
            if source.startswith("\\E", i):
                quoted, i = False, i + 2
            else:
                i += 1
        elif source[i] == "\\":
            quoted = source[i + 1:i + 2] == "Q"
            i += 2
        else:
            i += 1
    return quoted


def escape(text: str) -> str:
    """`text` as a pattern matching exactly itself."""
    return str(re2.escape(text))


def _message(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else ""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split()) or "does not compile"


def _shown(source: str) -> str:
    shown = source if len(source) <= 80 else source[:77] + "..."
    return repr(shown)  # repr escapes newlines and lone surrogates: the message stays one line
