"""Parse the plain block-style YAML a matrix is written in with libyaml's C parser.

Why: ruamel.yaml's round-trip parser is pure Python and was 95 % of `clamp matrix validate`
(10,000 entries: 7.5 s). Its C parser (ruamel.yaml.clibz or .clib, libyaml's code) composes the
same nodes with the same line/column marks much faster (the whole parse of 10,000 entries:
~5x, 1.1 s against 6.0 s CPU), and ruamel's own round-trip
constructor then builds the same tree from them: the same CommentedMap/CommentedSeq types, the
same key and item positions, the same YAML 1.2 scalar types, the same duplicate-key refusal.

The two parsers are not the same grammar at the edges (libyaml is a YAML 1.1 parser: tabs after
a colon, `%YAML 1.1`, a JSON-like key in a flow sequence, where an empty value sits, anchors on
tagged scalars), so the C parser is only used on text every line of which is in a small subset
both read alike: comments, `key:` / `- key: value` with plain words or one-line quoted scalars,
flow lists of such scalars, `|`/`>` block scalars, and no empty value. Anything else (and any
error, so messages stay ruamel's) goes to the pure parser, as before. `tests/matrix` checks the
two agree on generated matrices.
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import GeneratorType
from typing import Any

# The deepest nesting the subset can express is bounded by the line length (each level needs
# two more columns or a `- `); the C composer recurses per level, so the bound keeps it far
# from the C stack's end.
MAX_LINE = 1000

_WORD_CHARS = r"A-Za-z0-9_./+~^$()=@\\-"
_START = r"(?:[A-Za-z0-9_./+~^$(\\]|-(?=[0-9.]))"
_WORD = rf"(?:[{_WORD_CHARS}](?::?[{_WORD_CHARS}])*)"
_PLAIN = rf"(?:{_START}(?::?[{_WORD_CHARS}])*(?: +{_WORD})*)"
_DQ = r'(?:"(?:[^"\\]|\\["\\nt0abefnrv/ ]|\\x[0-9A-Fa-f]{2}|\\u[0-9A-Fa-f]{4})*")'
_SQ = r"(?:'(?:[^']|'')*')"
_FLOW_ITEM = rf"(?:{_START}[{_WORD_CHARS}]*|{_DQ}|{_SQ})"
_KEY = rf"(?:[A-Za-z_][A-Za-z0-9_.-]*|{_DQ}|{_SQ})"
_PAIR = rf"(?:{_KEY}: +{_FLOW_ITEM})"
_FLOW = (rf"(?:\[ *(?:{_FLOW_ITEM}(?: *, *{_FLOW_ITEM})*)? *\]"
         rf"|\{{ *(?:{_PAIR}(?: *, *{_PAIR})*)? *\}})")
_TAIL = r"(?: +#.*)? *"
_LINE = re.compile(
    rf"(?!---|\.\.\.)(?P<indent> *)(?P<dashes>(?:- +)*)(?:"
    rf"(?P<key>{_KEY}):(?:(?P<open>{_TAIL})|(?: +(?:(?P<block>[|>][-+]?)|{_PLAIN}|{_DQ}|{_SQ}"
    rf"|{_FLOW}){_TAIL}))"
    rf"|(?:{_PLAIN}|{_DQ}|{_SQ}|{_FLOW}){_TAIL})")
_SKIP = re.compile(r" *(?:#.*)?")
# Tabs, carriage returns, the line breaks only one of the parsers knows, controls, BOMs,
# surrogates and non-characters: the pure parser's business.
_OUTSIDE = re.compile("[^\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
                      "|[\u2028\u2029]")


def in_subset(text: str) -> bool:
    """True when every line of `text` is in the subset both parsers read alike."""
    if _OUTSIDE.search(text):
        return False
    lines = text.split("\n")
    block_col = -1  # inside a block scalar: lines indented past this column are its content
    pending = -1  # after `key:` with nothing: the next line must be nested under that key
    for line in lines:
        if len(line) > MAX_LINE:
            return False
        if block_col >= 0:
            if not line or (line.strip(" ") and len(line) - len(line.lstrip(" ")) > block_col):
                continue  # (a line of spaces alone: the parsers disagree on its indentation)
            if not line.strip(" "):
                return False
            block_col = -1
        if _SKIP.fullmatch(line):
            continue
        match = _LINE.fullmatch(line)
        if match is None:
            return False
        col = len(match["indent"]) + len(match["dashes"])
        if pending >= 0:
            # a mapping indented past the key, or a list at or past its column
            deeper = len(match["indent"]) >= pending if match["dashes"] else \
                col > pending and match["key"] is not None
            if not deeper:  # an empty value (the parsers place it differently) or a scalar
                return False  # on the line after its key
            pending = -1
        if match["open"] is not None:
            pending = col
        elif match["block"] is not None:
            block_col = col
    return pending < 0


@lru_cache(maxsize=1)
def _loader_class() -> Any:
    """CParser + ruamel's round-trip constructor and YAML 1.2 resolver; None if not installed."""
    try:
        from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
    except ImportError:  # neither ruamel.yaml.clibz nor ruamel.yaml.clib
        return None
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
    from ruamel.yaml.resolver import VersionedResolver

    map_tag, seq_tag = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"

    class Loader(CParser, RoundTripConstructor, VersionedResolver):  # type: ignore[misc]
        # The subset has no %YAML directive, so the version is the pure loader's default;
        # fixed here because the resolver otherwise looks for it through two raised
        # AttributeErrors per scalar.
        processing_version = (1, 2)

        def __init__(self, text: str) -> None:
            CParser.__init__(self, text)
            self._parser = self._composer = self
            RoundTripConstructor.__init__(self, loader=self)
            VersionedResolver.__init__(self, loadumper=self)
            self.allow_duplicate_keys = False
            self.comment_handling = None

        def get_single_data(self) -> Any:
            node = self.get_single_node()
            return None if node is None else self._build(node)

        def _build(self, node: Any) -> Any:
            """What the round-trip constructor builds for a node of the subset (no anchors,
            aliases, tags, merge keys or comments to keep), without its generic machinery;
            anything unexpected raises, and the pure parser takes over."""
            kind, tag = type(node), node.ctag
            if tag.handle is not None:
                raise ValueError("an explicit tag")
            if kind is ScalarNode:
                return self._scalar(node)
            if kind is MappingNode and tag.suffix == map_tag:
                mapping = CommentedMap()
                mapping._yaml_set_line_col(node.start_mark.line, node.start_mark.column)
                for key_node, value_node in node.value:
                    if type(key_node) is not ScalarNode:
                        raise ValueError("not a scalar key")
                    key = self._scalar(key_node)
                    if key in mapping:
                        raise ValueError("duplicate key")
                    value = self._build(value_node)
                    mapping._yaml_set_kv_line_col(key, [
                        key_node.start_mark.line, key_node.start_mark.column,
                        value_node.start_mark.line, value_node.start_mark.column])
                    mapping[key] = value
                self.set_collection_style(mapping, node)
                return mapping
            if kind is SequenceNode and tag.suffix == seq_tag:
                seq = CommentedSeq()
                seq._yaml_set_line_col(node.start_mark.line, node.start_mark.column)
                for index, child in enumerate(node.value):
                    seq.append(self._build(child))
                    seq._yaml_set_idx_line_col(index, [child.start_mark.line,
                                                       child.start_mark.column])
                self.set_collection_style(seq, node)
                return seq
            raise ValueError("outside the subset")

        def _scalar(self, node: Any) -> Any:
            tag = node.ctag
            if tag.handle is not None:
                raise ValueError("an explicit tag")
            value = self.yaml_constructors[tag.suffix](self, node)  # resolved: always known
            if isinstance(value, GeneratorType):
                raise ValueError("not a scalar")
            return value

    return Loader


def load_fast(text: str) -> tuple[bool, Any]:
    """(True, tree) when the C parser read `text`; (False, None) when the pure parser must
    (outside the subset, no C parser installed, or any error: the pure parser words it)."""
    loader_class = _loader_class()
    if loader_class is None or not in_subset(text):
        return False, None
    loader = loader_class(text)
    try:
        return True, loader.get_single_data()
    except Exception:  # the pure parser reports it, in its own words
        return False, None
    finally:
        loader.dispose()
