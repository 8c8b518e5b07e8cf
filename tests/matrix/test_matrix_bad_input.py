"""Every class of bad input: one line naming file, line and field; exit 64; no traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from matrix_samples import NATIVE, ORIGINAL, POLICY

from clamp.cli.main import app, invoke
from clamp.errors import BadInputError
from clamp.exitcodes import ExitCode, for_error
from clamp.matrix import MatrixError, load

D2_LINE = '    digest: "sha256:' + "2" * 64 + '"'

# (name, transform of NATIVE, expected field, expected words in the reason)
NATIVE_CASES = [
    ("yaml-syntax", lambda t: t.replace("  policy: strict", "  policy: [strict"), "", "YAML"),
    ("unknown-key", lambda t: t.replace("  digest_ttl_days: 30", "  digest_tll_days: 30"),
     "defaults.digest_tll_days", "unknown key"),
    ("wrong-type", lambda t: t.replace("digest_ttl_days: 30", "digest_ttl_days: thirty"),
     "defaults.digest_ttl_days", "integer"),
    ("bad-digest", lambda t: t.replace(D2_LINE, "    digest: sha256:zz"),
     "images[1].digest", "6.4.4/ubuntu-22.04"),
    ("short-digest", lambda t: t.replace(D2_LINE, "    digest: sha256:12"),
     "images[1].digest", "64"),
    ("upper-digest", lambda t: t.replace(D2_LINE, "    digest: sha256:" + "A" * 64),
     "images[1].digest", "lowercase"),
    ("placeholder-native", lambda t: t.replace(D2_LINE, "    digest: sha256:TODO"),
     "images[1].digest", "digest: null"),
    ("policy-mode", lambda t: t.replace("policy: strict", "policy: lenient"),
     "defaults.policy", "unknown policy mode 'lenient'"),
    ("missing-digest-key", lambda t: t.replace("    digest: null\n", ""),
     "images[3].digest", "required"),
    ("duplicate", lambda t: t + '  - version: "6.4.4"\n    os: ubuntu-24.04\n    digest: null\n',
     "images[4]", "duplicate"),
    ("undefined-trust", lambda t: t.replace("trust: [mirror]", "trust: [nobody]"),
     "images[2].trust[0]", "'nobody' is not defined"),
    ("bad-regexp", lambda t: t.replace("subject_regexp: ^https://github\\.com/ROCm/.+$",
                                       "subject_regexp: ^(unclosed"),
     "trust.release.keyless[0].subject_regexp", "invalid regular expression"),
    # An empty identity or issuer names no signer; the trust layer refuses it only when
    # verifying, so validate passed a matrix verify then refused without a line.
    ("empty-issuer", lambda t: t.replace("- issuer: https://token.actions.githubusercontent.com",
                                         '- issuer: ""', 1),
     "trust.release.keyless[0].issuer", "empty"),
    ("blank-subject-regexp", lambda t: t.replace("subject_regexp: ^https://github\\.com/ROCm/.+$",
                                                 'subject_regexp: "  "'),
     "trust.release.keyless[0].subject_regexp", "empty"),
    ("missing-key-file", lambda t: t.replace("keys/mirror.pub", "keys/absent.pub"),
     "trust.mirror.keys[0].path", "not found"),
    ("bad-tag-template", lambda t: t.replace('"{version}-{os}"', '"{version}-{arch}"'),
     "defaults.tag", "unknown field"),
    ("bad-date", lambda t: t.replace("added: 2025-06-02", "added: someday"),
     "images[2].added", "date"),
    ("top-level-list", lambda t: "- 1\n", "", "mapping"),
    ("empty", lambda t: "", "", "empty"),
]


def run_cli(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = invoke(app, list(args), prog_name="clamp")
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("name", "transform", "field", "words"), NATIVE_CASES,
                         ids=[case[0] for case in NATIVE_CASES])
def test_native_bad_input(name: str, transform: Callable[[str], str], field: str, words: str,
                          native: Callable[[str], Path],
                          capsys: pytest.CaptureFixture[str]) -> None:
    path = native(transform(NATIVE))
    with pytest.raises(MatrixError) as caught:
        load(path)
    assert isinstance(caught.value, BadInputError)
    assert for_error(caught.value) == ExitCode.BAD_INPUT
    problem = caught.value.problems[0]
    assert problem.file == str(path)
    assert problem.field == field
    assert words in problem.reason
    if name not in ("empty",):
        assert problem.line is not None and problem.line >= 1
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:")

    code, _, err = run_cli("matrix", "validate", str(path), capsys=capsys)
    assert code == ExitCode.BAD_INPUT
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert lines and all(line.startswith(f"error: {path}") for line in lines)
    assert str(problem) in err


def test_line_numbers_point_at_the_field(native: Callable[[str], Path]) -> None:
    text = NATIVE.replace(D2_LINE, "    digest: sha256:zz")
    path = native(text)
    with pytest.raises(MatrixError) as caught:
        load(path)
    line = caught.value.problems[0].line
    assert line is not None
    assert text.splitlines()[line - 1] == "    digest: sha256:zz"


def test_validate_reports_every_error(native: Callable[[str], Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    text = (NATIVE.replace("policy: strict", "policy: lenient")
            .replace(D2_LINE, "    digest: sha256:12")
            .replace("    added: 2025-06-02", "    added: 2025-06-02\n    colour: blue"))
    path = native(text)
    code, _, err = run_cli("matrix", "validate", str(path), capsys=capsys)
    assert code == ExitCode.BAD_INPUT
    lines = err.strip().splitlines()
    assert len(lines) == 3
    assert all(re.match(rf"error: {re.escape(str(path))}:\d+: \S+: ", line) for line in lines)


ORIGINAL_CASES = [
    ("bad-digest", lambda m, p: (m.replace("digest: sha256:TODO_NEXT_RELEASE",
                                           "digest: sha256:zz"), p),
     "rocm_matrix.yml", "rocm.images[3].digest", "7.0.0/ubuntu-24.04"),
    ("policy-mode", lambda m, p: (m, p.replace("mode: warn", "mode: yolo")),
     "rocm_policy.yml", "policy.mode", "unknown policy mode 'yolo'"),
    ("ttl", lambda m, p: (m, p.replace("digest_ttl: 14d", "digest_ttl: 2 weeks")),
     "rocm_policy.yml", "policy.digest_ttl", "days"),
    ("attest-mode", lambda m, p: (m, p.replace("attest_mode: optional", "attest_mode: maybe")),
     "rocm_policy.yml", "policy.attest_mode", "unknown attest_mode"),
    ("unknown-key", lambda m, p: (m.replace("    fallback_os:", "    fallback_oss:"), p),
     "rocm_matrix.yml", "rocm.policy.fallback_oss", "unknown key"),
    ("identity-without-issuer", lambda m, p: (
        m.replace("        issuer: https://token.actions.githubusercontent.com\n", ""), p),
     "rocm_matrix.yml", "rocm.images[0].provenance.identity", "issuer"),
    ("missing-key-file", lambda m, p: (m.replace("ci/keys/rocm.pub", "ci/keys/gone.pub"), p),
     "rocm_matrix.yml", "rocm.images[2].provenance.key_path", "not found"),
    ("policy-yaml", lambda m, p: (m, "policy: [\n"), "rocm_policy.yml", "", "YAML"),
]


@pytest.mark.parametrize(("name", "transform", "file", "field", "words"), ORIGINAL_CASES,
                         ids=[case[0] for case in ORIGINAL_CASES])
def test_original_bad_input(name: str, transform: Callable[[str, str], tuple[str, str]],
                            file: str, field: str, words: str,
                            original: Callable[..., Path],
                            capsys: pytest.CaptureFixture[str]) -> None:
    matrix_text, policy_text = transform(ORIGINAL, POLICY)
    path = original(matrix_text, policy_text)
    with pytest.raises(MatrixError) as caught:
        load(path)
    problem = caught.value.problems[0]
    assert Path(problem.file).name == file
    assert problem.field == field
    assert words in problem.reason
    assert problem.line is not None
    code, _, err = run_cli("matrix", "validate", str(path), capsys=capsys)
    assert code == ExitCode.BAD_INPUT and "Traceback" not in err


def test_missing_files(tmp_path: Path, original: Callable[..., Path],
                       capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli("matrix", "validate", str(tmp_path / "nope.yml"), capsys=capsys)
    assert code == ExitCode.BAD_INPUT
    assert err.strip() == f"error: {tmp_path / 'nope.yml'}: file not found"
    path = original(ORIGINAL, None)  # the origin's defaults, with a warning (test_origin_*)
    assert any("policy file not found" in w for w in load(path).warnings)


def test_cli_process_has_no_traceback(native: Callable[[str], Path]) -> None:
    path = native(NATIVE.replace("policy: strict", "policy: lenient"))
    script = Path(sys.executable).with_name("clamp")
    proc = subprocess.run([str(script), "matrix", "validate", str(path)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == ExitCode.BAD_INPUT
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_github_annotations_name_file_and_line(native: Callable[[str], Path],
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = native(NATIVE.replace("policy: strict", "policy: lenient"))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, _, err = run_cli("matrix", "validate", str(path), capsys=capsys)
    assert code == ExitCode.BAD_INPUT
    line = NATIVE.splitlines().index("  policy: strict") + 1
    # on stderr, as every annotation: stdout stays for --json
    assert f"::error file={path},line={line},title=clamp matrix::defaults.policy: " in err


@pytest.mark.parametrize("text", ["a: " + "[" * 100_000 + "]" * 100_000 + "\n",
                                  "".join("  " * i + "k:\n" for i in range(3000))])
def test_absurdly_nested_yaml_is_bad_input(tmp_path: Path, text: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Flow or block nesting deep enough to exhaust the YAML composer's recursion: bad input
    naming the file (exit 64), not an internal error."""
    path = tmp_path / "rocm_matrix.yml"
    path.write_text(text)
    code, _, err = run_cli("matrix", "validate", str(path), capsys=capsys)
    assert code == ExitCode.BAD_INPUT
    assert err.strip() == f"error: {path}: YAML nested too deeply"


@pytest.mark.parametrize("text", ["version: " + "9" * 100_000 + "\n",
                                  "version: 1\ndefaults: {added: 2025-13-45}\n"])
def test_values_yaml_cannot_construct_are_bad_input(tmp_path: Path, text: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """An integer past Python's digit limit, a date that is no date: one line, exit 64."""
    path = tmp_path / "rocm_matrix.yml"
    path.write_text(text)
    code, _, err = run_cli("matrix", "validate", str(path), capsys=capsys)
    assert code == ExitCode.BAD_INPUT and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}")


def test_yaml_constructor_failures_and_empty_filters_are_bad_input(
        tmp_path: Path, native: Callable[[str], Path],
        capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("version: 1\nv: !!int 0x\n", "version: !!omap [a: 1, a: 2]\n",
                 NATIVE.replace("subject_regexp: ", "subject_regexp: a{4294967296}", 1)):
        path = tmp_path / "m.yml"
        path.write_text(text)
        code, _, err = run_cli("matrix", "validate", str(path), capsys=capsys)
        assert code == ExitCode.BAD_INPUT and "internal error" not in err, err
    # An empty --os is a filter that matches nothing, not "no filter".
    loaded = load(native(NATIVE))
    with pytest.raises(BadInputError, match="no entry matches"):
        loaded.matching(None, "")
