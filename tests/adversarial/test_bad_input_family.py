"""Bad input that used to end in exit 70, 130 or a silent misreading: each is now one line with
the documented code, and each has an honest twin that still works."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st

from clamp.cli.main import app, invoke
from clamp.exitcodes import ExitCode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PLAIN = "a matrix holds only"


def clamp(*args: str) -> int:
    return invoke(app, list(args), prog_name="clamp")


@pytest.fixture()
def matrix(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES / "keys", tmp_path / "keys")
    path = tmp_path / "m.yml"
    path.write_text((EXAMPLES / "rocm_matrix.yml").read_text())
    return path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in err and "internal error" not in err, err
    return lines[0]


@pytest.mark.parametrize(("old", "new", "said"), [
    ("trust: [rocm-release]", "trust: !!set {rocm-release}", "!!set"),
    ("prefer_os: [ubuntu-24.04, ubuntu-22.04]", "prefer_os: !!set {ubuntu-24.04}", "!!set"),
    ("registry: ghcr.io", "registry: !!binary Z2hjci5pbw==", "!!binary"),  # bytes read as str
    ("ref: main", "ref: !!omap [a: 1]", "!!omap"),
    ("ref: main", "ref: !!pairs [a: 1, a: 2]", "!!pairs"),
    ("version: 1", "version: !local 1", "!local"),
    ("ref: main", "ref: !local {a: 1}", "!local"),
    ("policy: warn", "policy: !!python/name:os.system", "python/name"),
])
def test_yaml_beyond_plain_data_is_bad_input(matrix: Path, old: str, new: str, said: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert clamp("matrix", "validate", str(matrix)) == 0  # the honest twin
    capsys.readouterr()
    _edit(matrix, old, new)
    assert clamp("matrix", "validate", str(matrix)) == ExitCode.BAD_INPUT
    line = _one_line_error(capsys)
    assert f"{matrix}:" in line and (said in line or PLAIN in line)


def test_alias_bomb_is_refused_and_honest_aliases_load(matrix: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _edit(matrix, "prefer_os: [ubuntu-24.04, ubuntu-22.04]",
          "prefer_os: &os [ubuntu-24.04, ubuntu-22.04]")
    _edit(matrix, "resolve:", "x-bomb: &z0 [a, a, a, a, a, a, a, a, a, a]\n"
          + "".join(f"x-bomb{i}: &z{i} [{', '.join([f'*z{i - 1}'] * 10)}]\n"
                    for i in range(1, 7)) + "resolve:")
    assert clamp("matrix", "validate", str(matrix)) == ExitCode.BAD_INPUT
    assert "aliases" in _one_line_error(capsys)
    honest = matrix.read_text().split("x-bomb: ")[0] + "resolve:" + \
        matrix.read_text().split("\nresolve:", 1)[1]
    matrix.write_text(honest)
    assert clamp("matrix", "validate", str(matrix)) == 0


@pytest.mark.parametrize("template", ["{version:d}", "{os!r}-{version}", "{version:>{os}}",
                                      "{0}", "{version.x}", "{version[0]}", "{}"])
def test_tag_templates_with_format_specs_are_bad_input(
        matrix: Path, template: str, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(matrix, 'tag: "{version}-{os}"', f'tag: "{template}"')
    assert clamp("matrix", "validate", str(matrix)) == ExitCode.BAD_INPUT
    assert "defaults.tag" in _one_line_error(capsys)
    assert clamp("resolve", "-m", str(matrix)) == ExitCode.BAD_INPUT


def test_braces_in_a_tag_template_are_literal(matrix: Path) -> None:
    from clamp.matrix.models import render_tag

    assert render_tag("{{v}}{version}-{os}", "6.4", "ubuntu") == "{v}6.4-ubuntu"
    assert clamp("resolve", "-m", str(matrix)) == 0


def test_keygen_with_no_password_and_no_terminal_is_bad_input_before_prompting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("CLAMP_PASSWORD", raising=False)
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    assert clamp("keygen", "--output-prefix", str(tmp_path / "k")) == ExitCode.BAD_INPUT
    assert "CLAMP_PASSWORD" in _one_line_error(capsys)
    assert not (tmp_path / "k.key").exists()
    monkeypatch.setenv("CLAMP_PASSWORD", "pw")
    assert clamp("keygen", "--output-prefix", str(tmp_path / "k")) == 0


def test_sign_with_no_password_and_no_terminal_is_bad_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLAMP_PASSWORD", "pw")
    assert clamp("keygen", "--output-prefix", str(tmp_path / "k")) == 0
    monkeypatch.delenv("CLAMP_PASSWORD")
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    capsys.readouterr()
    assert clamp("sign", "--image", "127.0.0.1:9/r/x:t", "--key",
                 str(tmp_path / "k.key")) == ExitCode.BAD_INPUT
    assert "CLAMP_PASSWORD" in _one_line_error(capsys)


def test_a_password_that_is_not_utf8_is_used_as_its_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from clamp.trust.keyfile import decrypt_private_key

    monkeypatch.setitem(os.environb, b"CLAMP_PASSWORD", b"\xff\xfe pw")
    assert clamp("keygen", "--output-prefix", str(tmp_path / "k")) == 0
    pem = (tmp_path / "k.key").read_bytes()
    decrypt_private_key(pem, b"\xff\xfe pw")  # cosign's Go reads the same bytes
    from clamp.trust.errors import TrustInputError

    with pytest.raises(TrustInputError):
        decrypt_private_key(pem, "\ufffd\ufffd pw".encode())


def test_names_past_the_os_limit_are_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLAMP_PASSWORD", "pw")
    long = str(tmp_path / ("x" * 300))
    assert clamp("keygen", "--output-prefix", long) == ExitCode.BAD_INPUT
    assert "too long" in _one_line_error(capsys)
    assert clamp("demo", "--output", long) == ExitCode.BAD_INPUT
    assert "too long" in _one_line_error(capsys)


def test_clamp_debug_keeps_exit_70_and_adds_the_traceback(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    bug = typer.Typer()

    @bug.command()
    def crash() -> None:
        raise RuntimeError("a bug")

    @bug.command()
    def other() -> None:
        pass

    assert invoke(bug, ["crash"], prog_name="x") == ExitCode.INTERNAL_ERROR
    assert "Traceback" not in capsys.readouterr().err
    monkeypatch.setenv("CLAMP_DEBUG", "1")
    assert invoke(bug, ["crash"], prog_name="x") == ExitCode.INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: a bug" in err and "internal error" in err


def test_keygen_writes_both_keys_or_neither(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CLAMP_PASSWORD", "pw")
    # PREFIX.pub's write fails (disk full): the private key is not left behind.
    monkeypatch.chdir(tmp_path)
    from clamp import atomic

    real = atomic.write_atomic
    calls: list[str] = []

    def failing_public(path: object, data: str | bytes, **kw: object) -> None:
        calls.append(str(path))
        if str(path).endswith(".pub"):
            from clamp.errors import BadInputError

            raise BadInputError("cannot write: No space left on device", where=str(path))
        real(path, data, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic, "write_atomic", failing_public)
    assert clamp("keygen", "--output-prefix", "k") == ExitCode.BAD_INPUT
    assert calls == ["k.key", "k.pub"] and not (tmp_path / "k.key").exists()
    monkeypatch.setattr(atomic, "write_atomic", real)
    assert clamp("keygen", "--output-prefix", "k") == 0  # the honest twin: not refused
    assert (tmp_path / "k.key").exists() and (tmp_path / "k.pub").exists()


_PLAIN = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=3), children, max_size=3), max_leaves=12)


@given(_PLAIN, st.sampled_from([frozenset({1}), b"x", (1, 2), object()]), st.integers(0, 5))
def test_plain_data_is_accepted_and_anything_else_refused(data: object, odd: object,
                                                          where: int) -> None:
    from clamp.matrix.plain import NotPlain, check_plain

    check_plain(data)
    holder: list[object] = [data]
    node: object = holder
    for _ in range(where):  # bury the odd value somewhere inside
        if isinstance(node, list) and node:
            node = node[-1]
    target = node if isinstance(node, list) else holder
    target.append(odd)
    with pytest.raises(NotPlain):
        check_plain(holder)


def test_shared_values_count_each_time_they_are_reached() -> None:
    from clamp.matrix.plain import MAX_NODES, NotPlain, check_plain

    level: list[object] = ["a"] * 10
    for _ in range(5):
        level = [level] * 10  # 10**6 leaves from 60 objects
    with pytest.raises(NotPlain, match="aliases"):
        check_plain({"x": level})
    check_plain({"x": level[0]})  # a tenth of it is fine
    assert MAX_NODES >= 100_000
