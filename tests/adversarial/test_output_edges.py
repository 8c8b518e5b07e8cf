"""Red team 11: the edges where a failure could pass as success, or an output be corrupted.

Standard output that cannot be written (a pipe whose reader left, a full disk, a closed
descriptor), SIGINT/SIGTERM while an output is written, a full disk under related outputs, a
symbolic link planted at an output path, the permissions of what is written, an output naming
an input or another output, and --json on failure. Each attack has its honest twin beside it.
The GitHub Actions surface is in test_gha_surface.py.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path
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


# --- --json on failure ----------------------------------------------------------------------

def test_json_on_failure_says_failure(tmp_path: Path) -> None:
    """A verdict that fails is valid JSON naming the failure; an error before any result
    (bad input) is an error object (red team 13; it was an empty stdout): never a
    passing-looking document. More in test_json_errors.py."""
    with (tmp_path / "out").open("w") as handle:
        code, err = _clamp(["resolve", "--matrix", str(tmp_path / "missing.yml"), "--json"],
                           stdout=handle)
    assert code == 64, err
    assert json.loads((tmp_path / "out").read_text())["error"]["exitCode"] == 64
    with (tmp_path / "out").open("w") as handle:
        code, err = _clamp(["matrix", "validate", "/etc/hostname", "--json"], stdout=handle)
    document = json.loads((tmp_path / "out").read_text())
    assert code == 64 and document["valid"] is False, err


# --- an output naming an input, or another output -------------------------------------------

@pytest.mark.parametrize("target", ["matrix", "key", "root", "same", "hardlink"])
def test_verify_outputs_never_overwrite_an_input_or_each_other(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        target: str) -> None:
    """`clamp verify --matrix M -o M` replaced the matrix with its provenance (and a key or the
    trusted root the same way); `-o p.json --sarif p.json` left SARIF where the provenance was
    said to be. Refused before any registry is asked (this one is unreachable)."""
    from clamp.cli.main import app, invoke

    (tmp_path / "keys").mkdir()
    key = tmp_path / "keys" / "k.pub"
    from cryptography.hazmat.primitives.asymmetric import ec

    from clamp.trust.keys import PublicKey

    key.write_bytes(PublicKey(ec.generate_private_key(ec.SECP256R1()).public_key()).pem)
    root = tmp_path / "root.json"
    root.write_bytes(next((ROOT / "src/clamp/data").glob("*root*.json")).read_bytes())
    matrix = tmp_path / "m.yml"
    matrix.write_text(f"""version: 1
defaults: {{registry: "127.0.0.1:9", repository: r/x, policy: strict, trust: [k, r]}}
trust:
  k: {{keys: [{{path: keys/k.pub}}], tlog: optional}}
  r: {{keyless: [{{issuer: https://i, subject: s}}], trusted_root: root.json}}
images:
  - {{version: "1", os: ubuntu-22.04, digest: "sha256:{"ab" * 32}", added: 2026-12-01}}
""")
    before = {p: p.read_bytes() for p in (matrix, key, root)}
    prov = tmp_path / "p.json"
    if target == "hardlink":
        os.link(matrix, tmp_path / "alias.yml")
    out, extra = {"matrix": (matrix, []), "key": (key, []), "root": (root, []),
                  "same": (prov, ["--sarif", str(tmp_path / "." / "p.json")]),
                  "hardlink": (tmp_path / "alias.yml", [])}[target]
    code = invoke(app, ["verify", "--matrix", str(matrix), "-o", str(out), *extra],
                  prog_name="clamp")
    line = _one_error(capsys.readouterr().err)
    assert code == 64 and "would overwrite" in line, line
    assert {p: p.read_bytes() for p in (matrix, key, root)} == before
    assert not prov.exists()
    # Honest twin: distinct outputs pass the check and the run goes on to the registry (69).
    monkeypatch.setenv("CLAMP_RETRY_ATTEMPTS", "1")
    monkeypatch.setenv("CLAMP_RETRY_MAX_WAIT", "0")
    code = invoke(app, ["verify", "--matrix", str(matrix), "-o", str(prov), "--sarif",
                        str(tmp_path / "p.sarif")], prog_name="clamp")
    assert code == 69 and "would overwrite" not in capsys.readouterr().err


def test_telemetry_inspect_reports_a_stdout_it_cannot_write(tmp_path: Path) -> None:
    """The second console script gets the same guard: its view lost to a full disk is 64."""
    pytest.importorskip("duckdb")
    code = "from clamp.cli.telemetry import run_inspect; import sys; sys.argv[1:] = ['--version']"
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-c", code + "\nrun_inspect()"], stdout=full,
                              stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    assert proc.returncode == 64, proc.stderr
    with (tmp_path / "v").open("w") as handle:
        proc = subprocess.run([sys.executable, "-c", code + "\nrun_inspect()"], stdout=handle,
                              stderr=subprocess.PIPE, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "telemetry_inspect (clamp" in (tmp_path / "v").read_text()


@pytest.mark.parametrize("args", [
    ["verify", "--matrix="], ["verify", "--matrix", "{m}", "--output="],
    ["verify", "--matrix", "{m}", "--sarif="], ["update", "--matrix", "{m}", "--pr-body="],
    ["update", "--matrix", "{m}", "--provenance-output="],
    ["verify", "--matrix", "{m}", "--concurrency="], ["resolve", "--matrix", "{m}", "--os="],
    ["verify", "--matrix", "{m}", "--", "--json"], ["resolve", "--", "--matrix", "{m}"],
    ["verify", "--key=", "oci:/nonexistent/x:1"]])
def test_empty_flag_values_and_double_dash_are_bad_input(
        args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`--flag=` (an empty value: a path reads as `.`) and words after `--` are never a pass,
    never click's 2: one line, exit 64, before any registry. Held already (red team 11)."""
    from clamp.cli.main import app, invoke

    code = invoke(app, [a.replace("{m}", str(MATRIX)) for a in args], prog_name="clamp")
    assert code == 64
    _one_error(capsys.readouterr().err)


@pytest.mark.parametrize("stderr", ["closed", "full"])
def test_a_stderr_that_cannot_be_written_changes_no_exit_code(stderr: str) -> None:
    """With stderr closed or full, the first warning raised, the error line about it raised
    again, and clamp died with 1 (the crash code it never uses) — for a pass and for bad input
    alike. Now the messages are lost and the codes are the outcome's: 0 and 64."""
    warned = ["resolve", "--matrix", str(ORIGINAL), "--json"]  # passes with warnings
    bad = ["resolve", "--matrix", "/nonexistent/m.yml"]
    for args, want in ((warned, 0), (bad, 64)):
        code = f"from clamp.cli.main import run\nrun({args!r})"
        if stderr == "closed":
            cmd = [sys.executable, "-c", "import os, sys; os.close(2); sys.stderr = None\n" + code]
            proc = subprocess.run(cmd, capture_output=False, stdout=subprocess.DEVNULL,
                                  timeout=120, check=False, cwd=ROOT)
        else:
            with open("/dev/full", "w") as full:
                proc = subprocess.run([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                                      stderr=full, timeout=120, check=False, cwd=ROOT)
        assert proc.returncode == want, (args, proc.returncode)
    honest, err = _clamp(bad, stdout=subprocess.DEVNULL)  # honest twin: the line is there
    assert honest == 64 and "file not found" in _one_error(err)


def test_a_linked_summary_is_refused_before_the_store_is_touched(tmp_path: Path) -> None:
    """`accumulate` refused the linked summary only after it had built or updated the store;
    now nothing is created (honest twin: the same root with a plain path writes both)."""
    pytest.importorskip("duckdb")
    from clamp.errors import BadInputError
    from clamp.telemetry import TemporalAggregator

    build = tmp_path / "build"
    (build / "telemetry").mkdir(parents=True)
    record = {"seed": 7, "acquired_at": "2025-01-01T00:00:00Z", "duration_ms": 1.0,
              "stability_score": 0.9}
    (build / "telemetry" / "clamp_run_1.json").write_text(
        json.dumps({"backend": "hip", "records": [record]}))
    victim = tmp_path / "victim"
    victim.write_text("not yours")
    (build / "telemetry_summary.json").symlink_to(victim)
    with pytest.raises(BadInputError, match="symbolic link"):
        TemporalAggregator().accumulate(tmp_path)
    assert victim.read_text() == "not yours"
    assert not (build / "telemetry.duckdb").exists()
    (build / "telemetry_summary.json").unlink()
    assert TemporalAggregator().accumulate(tmp_path).recordCount == 1
    assert (build / "telemetry.duckdb").exists()
