"""Red team 11: the edges where a failure could pass as success, or an output be corrupted.

Standard output that cannot be written (a pipe whose reader left, a full disk, a closed
descriptor), SIGTERM while an output is written, a symbolic link planted at an output path, the
permissions of what is written, and text from certificates and registries in the step summary
and the pull request body. Each attack has its honest twin beside it.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "examples" / "rocm_matrix.yml"
ORIGINAL = ROOT / "examples" / "original" / "ci" / "rocm_matrix.yml"
RESOLVE = ["resolve", "--matrix", str(MATRIX)]


def _clamp(args: list[str], *, stdout: Any, pre: str = "") -> tuple[int, str]:
    """Run the real entry point (`clamp.cli.main.run`) in a child, `pre` run first."""
    code = f"{pre}\nfrom clamp.cli.main import run\nrun({args!r})"
    proc = subprocess.run([sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=120, check=False, cwd=ROOT)
    return proc.returncode, proc.stderr


def _one_error(err: str) -> str:
    lines = [line for line in err.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --- standard output that cannot be written -------------------------------------------------

def test_a_pipe_whose_reader_left_is_exit_64_not_a_pass_or_a_crash() -> None:
    """`clamp resolve --json | head -1`: click turned EPIPE into exit 1 (mapped to 70 with no
    message) and the mapping's own BrokenPipeError branch said 0. The reader did not get the
    answer: one line, exit 64."""
    read, write = os.pipe()
    os.close(read)  # no reader at all: every write is EPIPE, deterministically
    try:
        code, err = _clamp([*RESOLVE, "--json"], stdout=write)
    finally:
        os.close(write)
    assert code == 64, err
    assert "standard output: cannot write: Broken pipe" in _one_error(err)
    assert "Exception ignored" not in err


def test_a_full_disk_on_stdout_is_exit_64_not_an_internal_error_or_120() -> None:
    with open("/dev/full", "w") as full:
        for args in ([*RESOLVE], [*RESOLVE, "--json"]):
            code, err = _clamp(args, stdout=full)
            assert code == 64, err
            assert "No space left on device" in _one_error(err)


def test_a_closed_stdout_is_exit_64_not_a_silent_pass() -> None:
    """Python drops print() to a closed stdout: `clamp resolve >&-` exited 0 with the image CI
    was to run printed nowhere."""
    code, err = _clamp(RESOLVE, stdout=None, pre="import os, sys; os.close(1); sys.stdout = None")
    assert code == 64, err
    assert "standard output: cannot write: it is closed" in _one_error(err)


def test_honest_stdout_still_gets_everything(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    with out.open("w") as handle:
        code, err = _clamp(RESOLVE, stdout=handle)
    assert code == 0, err
    assert out.read_text().startswith("ghcr.io/rocm/dev:") and out.read_text().endswith("\n")


# --- SIGTERM while writing ----------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_writing_leaves_no_temp_file_and_exits_130(tmp_path: Path,
                                                                  signum: int) -> None:
    """A cancelled CI job is SIGINT, then SIGTERM: on SIGTERM clamp died by the signal with
    its `.tmp` beside the output. Both unwind now: temp file taken back, old file intact,
    exit 130 (SIGINT already did)."""
    out = tmp_path / "native.yml"
    out.write_text("old\n")
    pre = ("import os, signal\n_fsync = os.fsync\n"
           f"def fsync(fd):\n    _fsync(fd)\n    os.kill(os.getpid(), {int(signum)})\n"
           "os.fsync = fsync")
    code, err = _clamp(["matrix", "migrate", str(ORIGINAL), "-o", str(out)],
                       stdout=subprocess.DEVNULL, pre=pre)
    assert code == 130, (code, err)
    assert out.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["native.yml"]
    # Honest twin: no signal, the file is replaced and nothing is left beside it.
    code, err = _clamp(["matrix", "migrate", str(ORIGINAL), "-o", str(out)],
                       stdout=subprocess.DEVNULL)
    assert code == 0, err
    assert out.read_text().startswith("version: 1") or "images:" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["native.yml"]


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    """A 64 KiB tmpfs of our own (root only; skipped where it cannot be mounted)."""
    where = tmp_path / "tiny"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def test_a_full_disk_on_the_second_of_related_outputs_replaces_neither(tiny_disk: Path) -> None:
    """The provenance and its SARIF are one unit: the second not fitting leaves the first's
    previous file in place and no temp file behind. Held already (red team 11)."""
    from clamp.atomic import write_atomic_group
    from clamp.errors import BadInputError

    first, second = tiny_disk / "rocm_provenance.json", tiny_disk / "report.sarif"
    first.write_text("old")
    with pytest.raises(BadInputError, match="No space left on device"):
        write_atomic_group([(first, "p" * 20_000), (second, "s" * 60_000)])
    assert first.read_text() == "old" and sorted(os.listdir(tiny_disk)) == [first.name]
    write_atomic_group([(first, "p" * 20_000), (second, "s" * 20_000)])  # honest: both fit
    assert first.read_text() == "p" * 20_000 and second.read_text() == "s" * 20_000
    assert sorted(os.listdir(tiny_disk)) == sorted([first.name, second.name])


# --- a symbolic link planted at an output path --------------------------------------------

def test_a_planted_link_at_an_output_path_is_refused_and_its_target_untouched(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A checkout can carry `build/native.yml -> $GITHUB_ENV` (or ~/.bashrc): clamp replaced
    the link's target with its output. It refuses the link now, and writes the target when
    the target itself is named."""
    from clamp.cli.main import app, invoke

    github_env = tmp_path / "github_env"
    github_env.write_text("SAFE=1\n")
    link = tmp_path / "native.yml"
    link.symlink_to(github_env)
    assert invoke(app, ["matrix", "migrate", str(ORIGINAL), "-o", str(link)],
                  prog_name="clamp") == 64
    assert "symbolic link" in _one_error(capsys.readouterr().err)
    assert github_env.read_text() == "SAFE=1\n" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["github_env", "native.yml"]
    honest = tmp_path / "real.yml"
    assert invoke(app, ["matrix", "migrate", str(ORIGINAL), "-o", str(honest)],
                  prog_name="clamp") == 0
    assert "images:" in honest.read_text()


def test_a_dangling_link_is_refused_too(tmp_path: Path) -> None:
    """A link to a file that does not exist yet would have created it wherever it points."""
    from clamp.atomic import write_atomic
    from clamp.errors import BadInputError

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "out.json"
    link.symlink_to(elsewhere / "created.json")
    with pytest.raises(BadInputError, match="symbolic link"):
        write_atomic(link, "x")
    assert list(elsewhere.iterdir()) == []


def test_a_linked_telemetry_store_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("duckdb")
    from clamp.errors import BadInputError
    from clamp.telemetry.store import TelemetryStore

    victim = tmp_path / "victim.db"
    victim.write_bytes(b"not yours")
    link = tmp_path / "telemetry.duckdb"
    link.symlink_to(victim)
    with pytest.raises(BadInputError, match="symbolic link"):
        TelemetryStore(link)
    assert victim.read_bytes() == b"not yours"


# --- permissions ----------------------------------------------------------------------------

def test_written_files_are_never_world_writable(tmp_path: Path) -> None:
    from clamp.atomic import write_atomic

    old_umask = os.umask(0o077)
    try:
        write_atomic(tmp_path / "private.json", "x")
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE((tmp_path / "private.json").stat().st_mode) == 0o600  # umask honoured
    open_to_all = tmp_path / "matrix.yml"
    open_to_all.write_text("old")
    open_to_all.chmod(0o4777)
    write_atomic(open_to_all, "new")
    assert stat.S_IMODE(open_to_all.stat().st_mode) == 0o775  # no o+w, no setuid
    # Honest twin: a matrix's own mode is kept as it was.
    kept = tmp_path / "kept.yml"
    kept.write_text("old")
    kept.chmod(0o640)
    write_atomic(kept, "new")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640


# --- text from certificates and registries in Markdown -------------------------------------

HOSTILE_SIGNER = ("https://x/<img src=https://evil.example/p.png> | forged | cell "
                  "[click](https://evil.example) @octo-org/admins")


def _matrix_run(identity: str, entry: str) -> Any:
    record = SimpleNamespace(identity=identity, keyFingerprint=None, tagState="current",
                             stale=False, entry=entry, image="ghcr.io/rocm/dev:1@sha256:ab",
                             trustStatus="verified", policyDecision="pass")
    return SimpleNamespace(document=SimpleNamespace(status="ok", records=[record]))


def test_step_summary_shows_a_signer_identity_as_text() -> None:
    from clamp.cli.verify_matrix_view import step_summary

    text = step_summary(_matrix_run(HOSTILE_SIGNER, "6.4.4/ubuntu|22.04"))
    row = text.splitlines()[-1]
    assert row.replace("\\|", "").count("|") == 7  # six cells: nothing split the row
    assert "<img" not in text and "[click](" not in text and "@octo-org" not in text
    honest = step_summary(_matrix_run("https://github.com/ROCm/rocm-images/.github/workflows/"
                                      "release.yml@refs/tags/rocm-6.4.4", "6.4.4/ubuntu-22.04"))
    assert "| 6.4.4/ubuntu-22.04 | `ghcr.io/rocm/dev:1@sha256:ab` | verified |" in honest
    assert "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@" in honest


def test_mentions_in_untrusted_text_notify_no_one() -> None:
    from clamp.telemetry.job_summary import md
    from clamp.update.prbody import text_cell

    for escape in (md, text_cell):
        assert "@octo-org/admins" not in escape("ping @octo-org/admins now")
        assert escape("ping @octo-org/admins now").replace("&#8203;", "") == (
            "ping @octo-org/admins now")
        assert escape("tag drift on 6.4.4") == "tag drift on 6.4.4"  # honest text unchanged


def _report(rejected: int) -> Any:
    from datetime import UTC, datetime

    from clamp.update.report import Counts, EntryReport, UpdateReport

    items = [EntryReport(entry=f"6.{n}/ubuntu-22.04", kind="pinned", source=None,
                         tag=f"reg/rocm/dev:6.{n}-ubuntu-22.04", outcome="rejected",
                         old_digest="sha256:" + "a" * 64, new_digest="sha256:" + "b" * 64,
                         old_platform_digest=None, new_platform_digest=None, drift=False,
                         renewed=False, check="signature", reason="x" * 400, signing=None,
                         verification=None, attestation=None) for n in range(rejected)]
    return UpdateReport(tool_version="0.1.0", generated_at=datetime(2026, 12, 3, tzinfo=UTC),
                        matrix="ci/rocm_matrix.yml", layout="native", sha256_before="0",
                        sha256_after="0", discover=False, dry_run=False, requested_entries=None,
                        requested_reasons=None, changed=False, written=False,
                        status="nothing_updated", exit_code=6,
                        counts=Counts(updated=0, added=0, rejected=rejected, errors=0, current=0,
                                      missing=0), entries=items)


def test_a_pr_body_past_githubs_limit_is_cut_and_says_so() -> None:
    """GitHub refuses bodies over 65536 characters (422), after the branch was pushed; a
    registry with many rejected tags produced one. Cut at whole lines, with a note."""
    from clamp.update.prbody import MAX_BODY, render

    body = render(_report(400))
    assert len(body) <= MAX_BODY
    assert "cut to GitHub's limit" in body
    assert body.rstrip().splitlines()[-1].startswith("Generated by clamp")
    honest = render(_report(3))
    assert "cut to GitHub's limit" not in honest and honest.count("`signature`") == 3


# --- GITHUB_OUTPUT ------------------------------------------------------------------------

def _runner_outputs(text: str, *, split_cr: bool) -> list[tuple[str, str]]:
    """$GITHUB_OUTPUT read as actions/runner's FileCommandManager does (name=value lines and
    name<<DELIMITER heredocs, the delimiter alone on a line); `split_cr` also breaks lines at
    CR, as a reader on Windows would."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n") if split_cr else text
    rows = lines.split("\n")
    found: list[tuple[str, str]] = []
    i = 0
    while i < len(rows):
        line = rows[i]
        eq, here = line.find("="), line.find("<<")
        if here >= 0 and (eq < 0 or here < eq):
            name, delimiter = line[:here], line[here + 2:]
            end = rows.index(delimiter, i + 1)
            found.append((name, "\n".join(rows[i + 1:end])))
            i = end + 1
            continue
        if eq >= 0:
            found.append((line[:eq], line[eq + 1:]))
        i += 1
    return found


@pytest.mark.parametrize("hostile", [
    "6.4.4/ubuntu-22.04\nstatus=ok", "x\rstatus=ok", "x\r\nstatus=ok",
    "a\nCLAMP_EOF\nstatus=ok", "a\nCLAMP_EOF_\nstatus=ok\nCLAMP_EOF", "status<<EOF", "=ok"])
def test_a_value_never_sets_another_output(hostile: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from clamp.cli.output import gha_set_outputs

    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    gha_set_outputs({"failed": hostile, "status": "failed"})
    written = out.read_bytes().decode()  # as written: no newline translation
    for split_cr in (False, True):
        found = _runner_outputs(written, split_cr=split_cr)
        assert [name for name, _ in found] == ["failed", "status"], found
        assert found[1] == ("status", "failed")
    assert _runner_outputs(written, split_cr=False)[0] == ("failed", hostile)
    honest = tmp_path / "honest"
    monkeypatch.setenv("GITHUB_OUTPUT", str(honest))
    gha_set_outputs({"failed": "6.4.4/ubuntu-22.04", "status": "failed"})
    assert honest.read_text() == "failed=6.4.4/ubuntu-22.04\nstatus=failed\n"


def test_github_output_unset_or_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset: nothing is written (not under Actions). A file the runner has not made yet is
    created; a folder that does not exist is bad input naming the variable."""
    from clamp.cli.output import gha_set_outputs
    from clamp.errors import BadInputError

    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    gha_set_outputs({"status": "ok"})
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "new"))
    gha_set_outputs({"status": "ok"})
    assert (tmp_path / "new").read_text() == "status=ok\n"
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "no" / "such"))
    with pytest.raises(BadInputError, match="GITHUB_OUTPUT"):
        gha_set_outputs({"status": "ok"})


# --- --json on failure ----------------------------------------------------------------------

def test_json_on_failure_says_failure_or_is_empty(tmp_path: Path) -> None:
    """A verdict that fails is valid JSON naming the failure; an error before any result
    (bad input) leaves stdout empty, so a parser fails too: never a passing-looking document.
    Examined, not changed (red team 11)."""
    drifted = tmp_path / "m.yml"
    drifted.write_text(MATRIX.read_text())
    with (tmp_path / "out").open("w") as handle:
        code, err = _clamp(["resolve", "--matrix", str(tmp_path / "missing.yml"), "--json"],
                           stdout=handle)
    assert code == 64 and (tmp_path / "out").read_text() == "", err
    with (tmp_path / "out").open("w") as handle:
        code, err = _clamp(["matrix", "validate", "/etc/hostname", "--json"], stdout=handle)
    import json

    document = json.loads((tmp_path / "out").read_text())
    assert code == 64 and document["valid"] is False, err
