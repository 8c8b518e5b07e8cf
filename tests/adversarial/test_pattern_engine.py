"""Identity and issuer regexps run on RE2 with Go's syntax (clamp.pattern), everywhere.

The attacks: a pattern that makes a backtracking engine run for minutes (a policy file or a
command line stalling the gate), a SAN with a trailing newline that Python's `$` lets through, and
syntax Go rejects that Python accepts (so `matrix validate` and cosign disagree). Each has its
honest twin.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.cli.main import app, invoke
from clamp.pattern import PatternError, anchored, compile_pattern
from clamp.trust.policy import Identity
from clamp.verify.policy import anchored as matrix_anchored

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SAN = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/x"  # 70+


def test_catastrophic_patterns_finish_and_decide() -> None:
    # With Python's re each of these runs for minutes on these 70-character values.
    assert not compile_pattern(r"^(.*.*)*X$").search("a" * 70)
    assert not compile_pattern(r"^https://github\.com/([a-z-]+)+/x$").search(
        "https://github.com/" + "a-" * 30 + "!")
    assert compile_pattern(r"^(.*.*)*X$").search("a" * 70 + "X")  # honest twin


def test_dollar_is_end_of_text_as_in_go() -> None:
    pattern = compile_pattern(r"^https://good\.example/x$")
    assert pattern.search("https://good.example/x")
    assert re.search(pattern.source, "https://good.example/x\n")  # what Python's re accepted
    assert not pattern.search("https://good.example/x\n")


def test_perl_classes_are_ascii_as_in_go() -> None:
    assert compile_pattern(r"^\d+$").search("123")
    assert not compile_pattern(r"^\d+$").search("١٢٣")  # Arabic-Indic digits: \d in Python


@pytest.mark.parametrize("source", [r"\Z", r"(?P<v>a)(?P=v)", r"(?<=a)b", r"(?!a)", r"\C",
                                    "a{1001}", "a{4294967296}", "(" * 5, "x" * 2000, "\udc80",
                                    r"[z-a]"])
def test_patterns_go_cannot_compile_are_refused_in_one_line(source: str) -> None:
    with pytest.raises(PatternError) as info:
        compile_pattern(source)
    assert "\n" not in str(info.value)


def test_case_insensitive_matrix_pattern_that_validates_also_verifies() -> None:
    # The matrix anchors its patterns; Python refused `\A(?:(?i)...)` at verify time.
    identity = Identity(subject_regexp=matrix_anchored(r"(?i)^HTTPS://GITHUB\.COM/rocm/.+$"),
                        issuer="https://token.actions.githubusercontent.com")
    assert identity.subject_matches(["https://github.com/ROCm/x"])
    assert not identity.subject_matches(["https://github.com.evil/ROCm/x"])


def test_open_quote_is_closed_before_anchoring() -> None:
    assert compile_pattern(anchored(r"\Qa.b")).search("a.b")
    assert not compile_pattern(anchored(r"\Qa.b")).search("axb")


# A small grammar both engines read the same way on ASCII text without newlines.
_ATOMS = st.sampled_from(["a", "b", "ab", ".", "[ab]", "[^a]", r"\.", "x", "(?:a|b)"])
_QUANT = st.sampled_from(["", "*", "+", "?", "{1,2}"])


@st.composite
def simple_patterns(draw: st.DrawFn) -> str:
    parts = [draw(_ATOMS) + draw(_QUANT) for _ in range(draw(st.integers(1, 5)))]
    body = "".join(parts)
    if draw(st.booleans()):
        body = f"({body})|{draw(_ATOMS)}"
    return ("^" if draw(st.booleans()) else "") + body + ("$" if draw(st.booleans()) else "")


@given(simple_patterns(), st.text(alphabet="abx.", max_size=12))
def test_search_agrees_with_unanchored_matching(source: str, text: str) -> None:
    pattern = compile_pattern(source)
    assert pattern.search(text) == (re.search(source, text) is not None)
    assert pattern.fullmatch(text) == compile_pattern(anchored(source)).search(text)
    assert pattern.fullmatch(text) == (re.fullmatch(source, text) is not None)


@given(st.text(max_size=40))
def test_any_text_compiles_or_is_a_pattern_error(source: str) -> None:
    try:
        pattern = compile_pattern(source)
    except PatternError as exc:
        assert "\n" not in str(exc)
        return
    # What compiles stays compilable once anchored (the matrix's form).
    compile_pattern(anchored(source))
    assert isinstance(pattern.search(source), bool)


def _validate(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = invoke(app, ["matrix", "validate", str(path)], prog_name="clamp")
    return code, capsys.readouterr().err


def test_matrix_validate_refuses_what_go_cannot_compile_at_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(EXAMPLES / "keys", tmp_path / "keys")
    text = (EXAMPLES / "rocm_matrix.yml").read_text()
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "subject_regexp:" in t)
    bad = tmp_path / "m.yml"
    bad.write_text(re.sub(r"subject_regexp: .*", r"subject_regexp: '^https://x(?<=a)$'", text))
    code, err = _validate(bad, capsys)
    assert code == 64 and f"{bad}:{line}:" in err and "(?<=" in err
    assert len(err.strip().splitlines()) == 1
    honest = tmp_path / "ok.yml"
    honest.write_text(re.sub(r"subject_regexp: .*", r"subject_regexp: '(?i)^https://x$'", text))
    assert _validate(honest, capsys)[0] == 0


def test_original_layout_identity_is_checked_at_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(EXAMPLES / "original", tmp_path / "o")
    path = tmp_path / "o" / "ci" / "rocm_matrix.yml"
    lines = path.read_text().splitlines()
    index = next(i for i, t in enumerate(lines) if "identity:" in t)
    lines[index] = lines[index].split("identity:")[0] + 'identity: "^https://x\\Z"'
    path.write_text("\n".join(lines) + "\n")
    code, err = _validate(path, capsys)
    assert code == 64 and f"{path}:{index + 1}:" in err and "identity" in err
    assert "internal error" not in err


def test_cli_regexp_go_cannot_compile_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code = invoke(app, ["verify", "--image", "127.0.0.1:1/r/x:t", "--certificate-identity-regexp",
                        r"(?P<a>x)(?P=a)", "--certificate-oidc-issuer", "https://i"],
                  prog_name="clamp")
    err = capsys.readouterr().err
    assert code == 64 and "(?P=" in err and len(err.strip().splitlines()) == 1


# -- clamp's own patterns on Python's backtracking engine: one reading per character -----------

def test_a_long_failing_numeric_string_is_read_in_linear_time() -> None:
    """`[0-9]+\\.?[0-9]*` split a digit run every way before failing: 16,000 digits and an `x`
    took 4.5 s, 200,000 would take hours. A telemetry value is not a number, quickly (honest
    twin: the same digits alone are one)."""
    from clamp.telemetry.sessions import to_float

    assert to_float("1" * 200_000 + "x") is None
    assert to_float("1" * 300 + ".5") == float("1" * 300 + ".5")


def test_a_long_colon_run_in_a_reference_is_masked_in_linear_time() -> None:
    """A user part that could hold `:` made `a:a:a:…` quadratic (32,000 pairs: 4.3 s); the
    error line's masking is linear now, and still masks the password of a real userinfo."""
    from clamp.errors import without_userinfo

    hostile = "a:" * 200_000
    assert without_userinfo(hostile) == hostile
    assert without_userinfo("https://bob:p:w@ghcr.io/x") == "https://***@ghcr.io/x"
