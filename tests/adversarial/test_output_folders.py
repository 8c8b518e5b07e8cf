"""Red team 13: a symbolic link planted as a *folder* on an output's way. The output path
itself was never written through a link (red team 11), but `build -> ../other/build` in a
checkout put `build/rocm_provenance.json` (and SARIF, VSAs, a PR body, a migrated matrix) in
the link's target, replacing a file of the same name there. Now a linked folder inside the
working directory is refused (64, one line naming it) and nothing is written; folders outside
it (the machine's own, such as macOS's `/tmp`) are followed as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from clamp.cli.main import app, invoke

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL = ROOT / "examples" / "original" / "ci" / "rocm_matrix.yml"


def _migrate(out: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = invoke(app, ["matrix", "migrate", str(ORIGINAL), "-o", out], prog_name="clamp")
    return code, capsys.readouterr().err


@pytest.mark.parametrize("out", ["build/native.yml", "build/deeper/native.yml",
                                 "build/../native.yml", "{cwd}/build/native.yml"])
def test_a_linked_folder_in_the_checkout_is_refused(
        out: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    checkout, victim = tmp_path / "checkout", tmp_path / "other" / "build"
    (victim / "deeper").mkdir(parents=True)
    (victim / "native.yml").write_text("the other checkout's file\n")
    checkout.mkdir()
    (checkout / "build").symlink_to(victim)
    monkeypatch.chdir(checkout)
    code, err = _migrate(out.replace("{cwd}", str(checkout)), capsys)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 64 and len(lines) == 1 and "is a symbolic link" in lines[0], err
    assert (victim / "native.yml").read_text() == "the other checkout's file\n"
    assert sorted(p.name for p in victim.rglob("*")) == ["deeper", "native.yml"]
    assert not (tmp_path / "other" / "native.yml").exists()


def test_real_folders_and_links_outside_the_checkout_are_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    checkout, elsewhere = tmp_path / "checkout", tmp_path / "elsewhere"
    (checkout / "build").mkdir(parents=True)
    elsewhere.mkdir()
    (tmp_path / "machine-link").symlink_to(elsewhere)  # a link the machine has, not the checkout
    monkeypatch.chdir(checkout)
    assert _migrate("build/native.yml", capsys)[0] == 0
    assert _migrate("build/new/native.yml", capsys)[0] == 0  # a folder made on the way
    assert _migrate(str(tmp_path / "machine-link" / "native.yml"), capsys)[0] == 0
    assert "images:" in (checkout / "build" / "native.yml").read_text()
    assert (checkout / "build" / "new" / "native.yml").exists()
    assert (elsewhere / "native.yml").exists()
