"""What a command loads is what it needs: start-up cost is part of every CI run (issue 16).

Each case runs the real `clamp` entry point in a fresh interpreter and reads `sys.modules` at
exit, so an eager import added anywhere on the path (a command module importing httpx at the top,
`run()` attaching every command again) fails here, not only in a benchmark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clamp.cli.commands import COMMAND_MODULES
from clamp.cli.main import command_of

REPO = Path(__file__).resolve().parents[2]
PINNED = "sha256:" + "ab" * 32

PROBE = """
import atexit, json, ssl, sys
made = []
_new = ssl.SSLContext.__new__
def _counted(cls, *args, **kwargs):
    made.append(cls.__name__)
    return _new(cls, *args, **kwargs)
ssl.SSLContext.__new__ = _counted
def _dump():
    tok = sys.modules.get("tokenize")
    work = {"ssl_contexts": len(made),
            "tokenize_regex": bool(tok and tok._compile.cache_info().currsize)}
    with open(sys.argv.pop(1), "w") as f:
        json.dump(sorted(k for k, v in sys.modules.items() if v is not None), f)
    with open(sys.argv.pop(1), "w") as f:
        json.dump(work, f)
atexit.register(_dump)
from clamp.cli.main import run
run(sys.argv[3:])
"""

OTHER_COMMANDS = {f"clamp.cli.{m}" for m in COMMAND_MODULES.values()}


def loaded_by(tmp_path: Path, *argv: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    modules, _, proc = run_probe(tmp_path, *argv)
    return modules, proc


def run_probe(tmp_path: Path, *argv: str
              ) -> tuple[set[str], dict[str, Any], subprocess.CompletedProcess[str]]:
    """The modules loaded and the start-up work done (SSL contexts built, tokenize's regex
    compiled) by one real command in a fresh interpreter."""
    out, work = tmp_path / "modules.json", tmp_path / "work.json"
    env = {**os.environ, "CLAMP_RETRY_ATTEMPTS": "1"}
    env.pop("GITHUB_ACTIONS", None)
    proc = subprocess.run([sys.executable, "-c", PROBE, str(out), str(work), *argv],
                          capture_output=True, text=True, check=False, timeout=120, env=env)
    return set(json.loads(out.read_text())), json.loads(work.read_text()), proc


def tops(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def matrix(tmp_path: Path, registry: str = "127.0.0.1:9") -> Path:
    path = tmp_path / "matrix.yml"
    path.write_text(f'version: 1\ndefaults:\n  registry: "{registry}"\n  repository: r/img\n'
                    '  tag: "{version}-{os}"\nresolve:\n  default: {version: "6.4", os: u}\n'
                    f'images:\n  - version: "6.4"\n    os: u\n    digest: {PINNED}\n')
    return path


def test_help_loads_no_network_crypto_or_models(tmp_path: Path) -> None:
    modules, proc = loaded_by(tmp_path, "--help")
    assert proc.returncode == 0, proc.stderr
    for name in COMMAND_MODULES:  # the whole tree is listed
        assert name in proc.stdout
    assert not tops(modules) & {"httpx", "h11", "cryptography", "pydantic", "ruamel", "duckdb",
                                "rich", "tenacity"}


def test_offline_resolve_loads_neither_network_nor_other_commands(tmp_path: Path) -> None:
    modules, proc = loaded_by(tmp_path, "resolve", "--matrix", str(matrix(tmp_path)), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["digest"] == PINNED
    assert "clamp.cli.resolve_cmd" in modules
    assert not (OTHER_COMMANDS - {"clamp.cli.resolve_cmd"}) & modules
    assert not tops(modules) & {"httpx", "h11", "cryptography", "duckdb", "rich", "tenacity"}
    assert "clamp.matrix.original" not in modules  # a native matrix needs no origin layout


def test_resolve_check_loads_no_crypto_output_or_other_commands(tmp_path: Path) -> None:
    # Nothing listens on port 9 of loopback: the check fails as unreachable, after the same
    # imports a successful one makes.
    modules, proc = loaded_by(tmp_path, "-q", "resolve", "--matrix", str(matrix(tmp_path)),
                              "--check", "--json")
    assert proc.returncode == 69, proc.stderr
    assert {"httpx", "h11"} <= tops(modules)
    assert not (OTHER_COMMANDS - {"clamp.cli.resolve_cmd"}) & modules
    assert not tops(modules) & {"cryptography", "duckdb", "rich", "sigstore"}
    assert not {m for m in modules if m.startswith(("clamp.trust", "clamp.telemetry",
                                                    "clamp.update"))}


def test_verify_matrix_json_loads_no_telemetry_or_rendering(tmp_path: Path) -> None:
    modules, proc = loaded_by(tmp_path, "verify", "--matrix", str(matrix(tmp_path)),
                              "--output", str(tmp_path / "prov.json"), "--json")
    assert proc.returncode not in (0, 1, 2), proc.stderr  # unreachable: a registry error
    assert "clamp.cli.verify_cmd" in modules
    assert not (OTHER_COMMANDS - {"clamp.cli.verify_cmd"}) & modules
    assert not tops(modules) & {"duckdb", "rich"}
    assert not {m for m in modules if m.startswith(("clamp.telemetry", "clamp.update"))}
    # No certificate is read without a keyless identity or a trusted root to check it against.
    assert "cryptography.x509" not in modules


@pytest.mark.parametrize(("argv", "command"), [
    (["resolve", "--check"], "resolve"), (["-q", "--quiet", "verify"], "verify"),
    (["matrix", "validate"], "matrix"), (["verify-blob", "x"], "verify-blob"),
    (["--help"], None), (["resolve", "--help"], "resolve"), (["-h", "verify"], None), ([], None),
    (["verfy"], None), (["--install-completion"], None), (["--bogus", "resolve"], None),
])
def test_the_command_named_is_the_one_attached(argv: list[str], command: str | None) -> None:
    assert command_of(argv) == command


def test_completion_protocol_attaches_the_whole_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_CLAMP_COMPLETE", "complete_bash")
    assert command_of(["resolve"]) is None


def test_unknown_command_still_suggests_from_every_command(tmp_path: Path) -> None:
    _, proc = loaded_by(tmp_path, "verfy")
    assert proc.returncode == 64
    assert "verify" in proc.stderr and "verify-blob" in proc.stderr


HEAVY = {"httpx", "h11", "pydantic", "ruamel", "rich", "tenacity", "cryptography", "duckdb",
         "sigstore", "re2", "rfc8785"}
FRONT = ["main", "commands", "common", "output", "aio", "registry_flags", "trust_flags", "extras",
         *COMMAND_MODULES.values()]


@pytest.mark.parametrize("module", FRONT)
def test_importing_a_cli_module_loads_nothing_heavy(module: str) -> None:
    # Every front-end module defers its network, model, YAML and crypto imports into the
    # functions that use them: the command named pays for its own work and no other's.
    probe = (f"import json, sys; import clamp.cli.{module}; "
             "print(json.dumps([k for k, v in sys.modules.items() if v is not None]))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    assert not tops(set(json.loads(proc.stdout))) & HEAVY


def test_resolve_check_over_http_builds_no_tls_and_parses_no_signature(tmp_path: Path) -> None:
    # An http (loopback) registry needs no SSL context (loading a CA bundle costs ~20 ms), and
    # no model field's default factory is a builtin whose text signature pydantic would have
    # tokenize parse (its first use compiles a large regex).
    _, work, proc = run_probe(tmp_path, "-q", "resolve", "--matrix", str(matrix(tmp_path)),
                              "--check", "--json")
    assert proc.returncode == 69, proc.stderr
    assert work == {"ssl_contexts": 0, "tokenize_regex": False}


def test_verify_matrix_over_http_builds_no_tls_and_parses_no_signature(tmp_path: Path) -> None:
    _, work, proc = run_probe(tmp_path, "verify", "--matrix", str(matrix(tmp_path)),
                              "--output", str(tmp_path / "prov.json"), "--json")
    assert proc.returncode not in (0, 1, 2), proc.stderr
    assert work == {"ssl_contexts": 0, "tokenize_regex": False}


def test_the_probe_sees_an_ssl_context_and_the_tokenize_regex(tmp_path: Path) -> None:
    # The two checks above are only as good as the probe: the same work done before the
    # command (a default SSL context, a builtin's signature) is seen.
    probe = PROBE.replace("from clamp.cli.main import run",
                          "import inspect; inspect.signature(list); ssl.create_default_context()\n"
                          "from clamp.cli.main import run")
    out, work = tmp_path / "m.json", tmp_path / "w.json"
    subprocess.run([sys.executable, "-c", probe, str(out), str(work), "--help"],
                   capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(work.read_text()) == {"ssl_contexts": 1, "tokenize_regex": True}
