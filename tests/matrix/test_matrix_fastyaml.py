"""The C-parser fast path reads exactly what ruamel's pure parser reads, or steps aside.

`clamp.matrix.fastyaml` parses a subset of YAML with libyaml's C parser. For every text in the
subset it must build the same tree as the pure round-trip parser (values, their types, every key
and item position, flow styles) and must never accept a text the pure parser refuses; texts
outside the subset, or any C-side error, go to the pure parser.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matrix_samples import NATIVE, ORIGINAL, POLICY

from clamp.matrix import MatrixError, fastyaml
from clamp.matrix.plain import check_plain
from clamp.matrix.source import parse_yaml

pytestmark = pytest.mark.skipif(fastyaml._loader_class() is None,
                                reason="ruamel's C parser is not installed")


def pure(text: str) -> Any:
    from ruamel.yaml import YAML

    return YAML(typ="rt").load(text)


def shape(node: Any) -> Any:
    """Everything the loader and the editor read from a tree: values, types, positions."""
    if isinstance(node, dict):
        return ("map", type(node).__name__, node.lc.line, node.lc.col, bool(node.fa.flow_style()),
                [(shape(k), (node.lc.data or {}).get(k), shape(v)) for k, v in node.items()])
    if isinstance(node, list):
        return ("seq", node.lc.line, node.lc.col, bool(node.fa.flow_style()),
                [(node.lc.item(i), shape(v)) for i, v in enumerate(node)])
    return (type(node).__name__, repr(node))


def assert_same_or_pure(text: str) -> bool:
    """True when the fast path read `text` (and read it as the pure parser does)."""
    if not fastyaml.in_subset(text):
        return False
    ok, fast = fastyaml.load_fast(text)
    if not ok:
        return False
    try:
        expected = pure(text)
    except Exception as exc:  # the C parser accepted what the pure one refuses
        raise AssertionError(f"fast path accepted {text!r}; pure parser: {exc}") from None
    assert shape(fast) == shape(expected), text
    return True


def test_the_sample_matrices_take_the_fast_path() -> None:
    for text in (NATIVE, ORIGINAL, POLICY):
        assert assert_same_or_pure(text)
    big = NATIVE + "".join(f'  - version: "6.{i}"\n    os: ubuntu-22.04  # c\n'
                           f"    digest: sha256:{i:064x}\n    added: 2025-01-01\n"
                           for i in range(200))
    assert assert_same_or_pure(big)


# Each of these the C parser reads differently from the pure one (or accepts where the pure one
# refuses): each must fall outside the subset. Their honest twins just above stay inside.
DIVERGENT = [
    "a:\tb\n",                          # a tab after the colon: pure refuses
    "a: x\t# c\n",                      # a tab before a comment: pure refuses
    "%YAML 1.1\n---\na: yes\n",         # C ignores the directive: yes would read as "yes"
    'a: ["x":y]\n',                     # a JSON-like key in a flow list: pure refuses
    "a: &a !!str 1\n",                  # an anchor on a tagged scalar: pure keeps the tag
    "a: |-# c\n  b\n",                  # a comment glued to a block header: pure refuses
    "a:\nb: 1\n",                       # an empty value: placed on different lines
    "os: # c\n    text\n",              # a scalar on the line after its key
    "a: |\n    \n   x\n",               # a block scalar's spaces-only line: pure refuses
    "a: 'x\u2028y'\nb: 2\n",            # a line break only YAML 1.1 knows
    "a: =\n",                           # YAML 1.1's value key
    "a: 1\r\nb: 2\r\n",                 # carriage returns
    "a: " + "[" * 600 + "]" * 600 + "\n",  # deep nesting: the C composer recurses
]
HONEST = ["a: b\n", "a: x  # c\n", "a: yes\n", 'a: ["x", y]\n', "a: '1'\n", "a: |-\n  b\n",
          "a: null\nb: 1\n", "os:\n  text: 1\n", "a: |\n   x\n\n   y\n", "a: 'x y'\nb: 2\n",
          "a: x=y\n", "a: 1\nb: 2\n", "a: [b]\n"]


@pytest.mark.parametrize("text", DIVERGENT)
def test_divergent_texts_go_to_the_pure_parser(text: str) -> None:
    assert not fastyaml.in_subset(text)
    try:
        tree = pure(text)
        check_plain(tree)
        expected: Any = shape(tree)
    except Exception:
        expected = "error"
    try:
        got: Any = shape(parse_yaml(Path("m.yml"), text).data)
    except MatrixError:
        got = "error"
    assert got == expected


@pytest.mark.parametrize("text", HONEST)
def test_honest_twins_take_the_fast_path(text: str) -> None:
    assert fastyaml.in_subset(text)
    assert assert_same_or_pure(text)


def test_deep_nesting_never_reaches_the_c_parser() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    with pytest.raises(MatrixError, match=r"nested too deeply|YAML"):
        parse_yaml(Path("m.yml"), "a: " + "[" * 100_000 + "]" * 100_000 + "\n")
    dashes = "- " * 40_000 + "x\n"
    assert not fastyaml.in_subset(dashes)


KEYS = ["version", "os", "digest", "a", "_x", "x.y", "x-y", "'k'", '"k"', "'a b'", '"a:b"',
        "1", "yes", "null", "on"]
SCALARS = ["a", "6.4", "6.10", "010", "0o17", "0x1F", "yes", "off", "null", "~", "true",
           "1_000", "1e3", ".5", "-.5", "+1", "-1", ".inf", "2026-01-01",
           "2026-01-01T10:00:00Z", "2026-01-01 10:00:00", "1:20", "sha256:" + "a" * 64,
           "127.0.0.1:5000", "https://x.y/z?q=1", "a b", "x - y", "x @y", "a\\b", "^x$",
           "(x)", "=", "'q'", "'it''s'", '"d"', '"x\\"y"', '"\\u00e9"', '"\\/"', '"\\x41"',
           '"a\\tb"', "'#'", "é", "日本", "[]", "{}", "[a, b]", "[a,b]", "['x', \"y\"]",
           "{a: b}", '{version: "6.4", os: x}', "{a: b,c: d}", "{a: [b]}", '{"a": b}',
           "x:y", "-x", "--x", "./a", "~x", "$x", "+", "-", "a.", "..."]
TAILS = ["", "", "  # c", " #x:y", " # é", "#x", "  "]
LINE = st.tuples(st.sampled_from([0, 1, 2, 3, 4, 6]),
                 st.sampled_from(["kv", "kv", "open", "item", "itemkv", "block", "comment",
                                  "blank"]),
                 st.sampled_from(KEYS), st.sampled_from(SCALARS), st.sampled_from(TAILS))
CONTENT = ["text", "-----BEGIN X-----", "a: b", "# not", "", "  x", "   "]


def render(lines: list[tuple[int, str, str, str, str]]) -> str:
    out = []
    for number, (indent, kind, key, scalar, tail) in enumerate(lines):
        pre = " " * indent
        if kind == "kv":
            out.append(f"{pre}{key}: {scalar}{tail}")
        elif kind == "open":
            out.append(f"{pre}{key}:{tail}")
        elif kind == "item":
            out.append(f"{pre}- {scalar}{tail}")
        elif kind == "itemkv":
            out.append(f"{pre}- {key}: {scalar}{tail}")
        elif kind == "block":
            out.append(f"{pre}{key}: {'|' if number % 2 else '>-'}{tail}")
            out += [" " * (indent + 2 + number % 3) + CONTENT[(number + i) % len(CONTENT)]
                    for i in range(number % 3)]
        elif kind == "comment":
            out.append(f"{pre}# {scalar}")
        else:
            out.append("")
    return "\n".join(out) + "\n"


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(LINE, min_size=1, max_size=14),
       cut=st.none() | st.tuples(st.integers(0, 400),
                                 st.sampled_from([" ", ":", "-", "#", "'", '"', "[", "]", ",",
                                                  "\n", "{", "?", "&", "*", "!", "|", "x"])))
def test_fast_path_reads_what_the_pure_parser_reads(
        lines: list[tuple[int, str, str, str, str]], cut: tuple[int, str] | None) -> None:
    text = render(lines)
    if cut is not None:
        at = min(cut[0], len(text))
        text = text[:at] + cut[1] + text[at:]
    assert_same_or_pure(text)
