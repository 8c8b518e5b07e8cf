"""A hypothesis fuzz of clamp's parsers through its commands: whatever the input, the answer is
a documented exit code and at most one-line errors — never exit 70, never a traceback.

Commands run in-process (`clamp.cli.main.invoke`, the console script's own entry) for speed.
Nothing here reaches beyond loopback: inputs that name a registry name `oci:` layouts or the
closed port 127.0.0.1:9, and mutated matrices only go to the offline commands.

The default example count keeps CI (2 cores) fast and is derandomized, so a red run is
reproducible. Locally: `CLAMP_FUZZ_EXAMPLES=2000 CLAMP_FUZZ_RANDOM=1 pytest tests/adversarial/
test_fuzz_cli.py` for a long, fresh-seeded run.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clamp.cli.main import app, invoke
from clamp.exitcodes import ExitCode

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
CONFORMANCE = Path(os.environ.get("CLAMP_CONFORMANCE_DIR") or
                   Path(__file__).resolve().parents[3] / "shared" / "conformance")
N = int(os.environ.get("CLAMP_FUZZ_EXAMPLES", "15"))
FUZZ = settings(max_examples=N, deadline=None, derandomize=not os.environ.get("CLAMP_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
#: Every code a command may end with (README's table), except 70.
DOCUMENTED = {int(code) for code in ExitCode} - {int(ExitCode.INTERNAL_ERROR)}
CLOSED = "127.0.0.1:9"  # nothing listens: connection refused at once

NASTY = ["", " ", "~", "null", "[", "]", "{", "}", "{a", "&a [*a]", "*undefined", "!!set {a}",
         "!!binary aGk=", "!!omap [a: 1]", "!!pairs [a: 1]", "!local x", "!!python/name:os.system",
         "!!int 0x", "!!float nan", "!!timestamp 2025-13-45", "9" * 5000, "-1", "0", "1e309",
         "yes", "'{version:d}'", "'{os!r}'", "'{0}'", "'{version.x}'", "\"\\x00\"", "'\\Z'",
         "'(?P=x)'", "'^(.*.*)*X$'", "'a{4294967296}'", "sha256:" + "A" * 64,
         "sha256:TODO", "oci:/nonexistent", "\"\\udcff\"", "|\n  multi\n  line", "- a\n- b",
         "{version: '6.4.4', os: ubuntu-22.04}", "\"" + "x" * 300 + "\"", "'%s'" % ("/" * 5000)]


@contextlib.contextmanager
def _env(**values: str | None) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run(*args: str, **env: str | None) -> tuple[int, str]:
    """Run clamp in-process; assert no internal error and no traceback; (code, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    base = {"CLAMP_RETRY_ATTEMPTS": "1", "CLAMP_DEBUG": None, "GITHUB_ACTIONS": None,
            "GITHUB_TOKEN": None, "GITHUB_REPOSITORY": None, "CLAMP_PASSWORD": "fuzz",
            "GITHUB_API_URL": f"http://{CLOSED}", "DOCKER_CONFIG": "/nonexistent"}
    with _env(**{**base, **env}), contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(err):
        code = invoke(app, list(args), prog_name="clamp")
    text = err.getvalue()
    assert code in DOCUMENTED, (args, code, text)
    assert "Traceback" not in text and "internal error" not in text, (args, text)
    return code, text


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    """A fresh directory, also the working directory: relative names a command line makes up
    (`keygen --output-prefix '{0}'`) land there, never in the checkout."""
    path = Path(tempfile.mkdtemp(prefix="clamp-fuzz-"))
    try:
        shutil.copytree(EXAMPLES_DIR / "keys", path / "keys")
        (path / "layout").mkdir()
        with contextlib.chdir(path):
            yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _offline(text: str) -> str:
    return text.replace("registry: ghcr.io", f"registry: {CLOSED}")


@st.composite
def mutated(draw: st.DrawFn, source: str) -> str:
    """`source` with a few values replaced, lines inserted or deleted, or bytes flipped."""
    lines = source.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["value", "value", "insert", "delete", "text"]))
        value = draw(st.sampled_from(NASTY) | st.text(max_size=20))
        if action == "value" and ":" in lines[index]:
            head = lines[index].split(":", 1)[0]
            lines[index] = f"{head}: {value}"
        elif action == "insert":
            indent = " " * draw(st.sampled_from([0, 2, 4, 6]))
            key = draw(st.sampled_from(["x", "trust", "images", "version", "os", "tag", "digest",
                                        "subject_regexp", "<<", "? a"]))
            lines.insert(index, f"{indent}{key}: {value}")
        elif action == "delete" and len(lines) > 1:
            del lines[index]
        else:
            lines[index] = draw(st.text(max_size=40))
    return "\n".join(lines) + "\n"


NATIVE = _offline((EXAMPLES_DIR / "rocm_matrix.yml").read_text())
ORIGINAL = _offline((EXAMPLES_DIR / "original" / "ci" / "rocm_matrix.yml").read_text())
POLICY = (EXAMPLES_DIR / "original" / "ci" / "rocm_policy.yml").read_text()


def _matrix_commands(path: Path, out: Path) -> None:
    for args in (["matrix", "validate", str(path)], ["resolve", "-m", str(path)],
                 ["resolve", "-m", str(path), "--json", "--version", "6.4.4", "--os", "x"],
                 ["resolve", "-m", str(path), "--strategy-matrix"],
                 ["matrix", "migrate", str(path), "-o", str(out)]):
        run(*args)
    if _offline_only(path):  # the network commands, when every registry is loopback or a layout
        run("verify", "--matrix", str(path), "--output", str(out.with_suffix(".json")))
        run("update", "--matrix", str(path), "--dry-run")


def _offline_only(path: Path) -> bool:
    from clamp.errors import ClampError
    from clamp.matrix import effective, load

    try:
        loaded = load(path)
    except ClampError:
        return False
    registries = {effective(loaded.model, entry).registry for entry in loaded.model.images}
    return all(r == CLOSED or r.startswith("oci:") for r in registries)


@FUZZ
@given(mutated(NATIVE))
def test_native_matrix(text: str) -> None:
    with workdir() as tmp:
        path = tmp / "m.yml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        _matrix_commands(path, tmp / "out.yml")


@FUZZ
@given(mutated(ORIGINAL), st.one_of(st.just(POLICY), mutated(POLICY)))
def test_original_layout(text: str, policy: str) -> None:
    with workdir() as tmp:
        (tmp / "ci").mkdir()
        shutil.copytree(EXAMPLES_DIR / "original" / "ci" / "keys", tmp / "ci" / "keys")
        path = tmp / "ci" / "rocm_matrix.yml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        (tmp / "ci" / "rocm_policy.yml").write_text(policy, encoding="utf-8",
                                                    errors="surrogateescape")
        _matrix_commands(path, tmp / "out.yml")


@FUZZ
@given(st.binary(max_size=400))
def test_matrix_bytes(data: bytes) -> None:
    with workdir() as tmp:
        path = tmp / "m.yml"
        path.write_bytes(data)
        run("matrix", "validate", str(path))


# -- JSON documents -------------------------------------------------------------------------

ODD_TEXT = ["NaN", "1e999", "2025-01-01T00:00:00Z", "9999-12-31T24:00:00Z", "sha256:" + "a" * 64,
            "-0", "0x10", " 1 "]
JSON_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                | st.text(max_size=30) | st.sampled_from(ODD_TEXT))
JSON = st.recursive(JSON_SCALARS, lambda children: st.lists(children, max_size=4)
                    | st.dictionaries(st.text(max_size=12), children, max_size=5), max_leaves=25)


@st.composite
def session_documents(draw: st.DrawFn) -> str | bytes:
    kind = draw(st.sampled_from(["record", "record", "json", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "json":
        return json.dumps(draw(JSON))
    keys = ["seed", "acquired_at", "released_at", "duration_ms", "stability_score", "backend",
            "deviceName", "device_name", "context"]
    records = draw(st.lists(st.dictionaries(st.sampled_from(keys), JSON_SCALARS, max_size=9),
                            max_size=4))
    top = draw(st.dictionaries(st.sampled_from(["stability_score", "backend", "deviceName",
                                                "image", "image_digest"]), JSON_SCALARS))
    return json.dumps({**top, "records": records})


@FUZZ
@given(st.lists(session_documents(), min_size=1, max_size=4), JSON)
def test_telemetry_sessions_and_provenance(sessions: list[str | bytes], provenance: Any) -> None:
    with workdir() as tmp:
        telemetry = tmp / "build" / "telemetry"
        telemetry.mkdir(parents=True)
        for i, doc in enumerate(sessions):
            (telemetry / f"s{i}.json").write_bytes(doc if isinstance(doc, bytes) else doc.encode())
        (tmp / "prov.json").write_text(json.dumps(provenance))
        run("telemetry", "accumulate", str(tmp))
        run("telemetry", "accumulate", str(tmp), "--provenance", str(tmp / "prov.json"))
        run("telemetry", "inspect", str(tmp))
        run("telemetry", "inspect", str(tmp), "--json", "--compare", str(tmp / "prov.json"))


@FUZZ
@given(JSON)
def test_telemetry_summary(summary: Any) -> None:
    with workdir() as tmp:
        path = tmp / "summary.json"
        path.write_text(json.dumps(summary))
        run("telemetry", "inspect", str(path))
        run("telemetry", "inspect", str(path), "--html", str(tmp / "r.html"))


# -- keys, roots, bundles ---------------------------------------------------------------------

@st.composite
def pem_files(draw: st.DrawFn) -> bytes:
    label = draw(st.sampled_from(["PUBLIC KEY", "ENCRYPTED SIGSTORE PRIVATE KEY", "CERTIFICATE",
                                  "EC PRIVATE KEY", "RSA PUBLIC KEY", "x"]))
    body = base64.encodebytes(draw(st.binary(max_size=200))).decode()
    if draw(st.booleans()):
        body = draw(st.text(max_size=80))
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n".encode()


@FUZZ
@given(pem_files(), JSON)
def test_keys_and_trusted_roots(pem: bytes, root: Any) -> None:
    with workdir() as tmp:
        (tmp / "k.pem").write_bytes(pem)
        (tmp / "root.json").write_text(json.dumps(root))
        image = f"oci:{tmp / 'layout'}/r:t"
        run("verify", "--image", image, "--key", str(tmp / "k.pem"))
        run("verify", "--image", image, "--trusted-root", str(tmp / "root.json"),
            "--certificate-identity", "x", "--certificate-oidc-issuer", "y")
        run("sign", "--image", f"{CLOSED}/r:t", "--key", str(tmp / "k.pem"))


def _bundle_seed() -> dict[str, Any] | None:
    path = CONFORMANCE / "sigstore-bundle-verify" / "managed-key-happy-path"
    path = path / "bundle.sigstore.json"
    return json.loads(path.read_text()) if path.is_file() else None


@st.composite
def bundles(draw: st.DrawFn) -> Any:
    """A real bundle with parts replaced by arbitrary JSON (lists where objects belong...)."""
    seed = _bundle_seed()
    if seed is None or draw(st.booleans()):
        return draw(JSON)

    def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [prefix]
        if isinstance(node, dict):
            for key, child in node.items():
                found += paths(child, (*prefix, key))
        elif isinstance(node, list):
            for i, child in enumerate(node):
                found += paths(child, (*prefix, i))
        return found

    for _ in range(draw(st.integers(1, 3))):
        target = draw(st.sampled_from(paths(seed)[1:]))
        node = seed
        for part in target[:-1]:
            node = node[part]
        node[target[-1]] = draw(JSON)
    return seed


@FUZZ
@given(bundles())
def test_verify_blob_bundles(bundle: Any) -> None:
    with workdir() as tmp:
        (tmp / "b.json").write_text(json.dumps(bundle))
        (tmp / "artifact").write_bytes(b"hello\n")
        key = CONFORMANCE / "sigstore-bundle-verify" / "managed-key-happy-path" / "key.pub"
        args = ["verify-blob", "--bundle", str(tmp / "b.json"), str(tmp / "artifact")]
        if key.is_file():
            run(*args, "--key", str(key))
        run(*args, "--certificate-identity-regexp", ".*", "--certificate-oidc-issuer", "x")


# -- command lines ----------------------------------------------------------------------------

VALUES = st.sampled_from([*NASTY, "6.4.4", "ubuntu-22.04", "1", "-", "--", "x" * 300, "\udcff",
                          "sha256:" + "0" * 64]) | st.text(max_size=15)


@st.composite
def command_lines(draw: st.DrawFn, tmp: str) -> list[str]:
    matrix = f"{tmp}/m.yml"
    choices = {
        ("matrix", "validate"): [],
        ("resolve",): ["--matrix", "--version", "--os", "--json", "--strategy-matrix"],
        ("telemetry", "samples"): ["--digest", "--seed"],
        ("telemetry", "inspect"): ["--json", "--compare", "--html"],
        ("telemetry", "accumulate"): ["--provenance", "--window"],
        ("keygen",): ["--output-prefix"],
        ("update",): ["--matrix", "--entries", "--version", "--os", "--dry-run", "--pr-body",
                      "--provenance-output", "--json", "--concurrency"],
        ("verify",): ["--matrix", "--version", "--os", "--output", "--json", "--concurrency",
                      "--certificate-identity-regexp", "--certificate-oidc-issuer-regexp"],
    }
    command = draw(st.sampled_from(sorted(choices)))
    args = list(command)
    flags = choices[command]
    for _ in range(draw(st.integers(0, 5))):
        if flags and draw(st.booleans()):
            args.append(draw(st.sampled_from(flags)))
        value = draw(VALUES | st.sampled_from([matrix, tmp, f"{tmp}/out", f"{tmp}/keys"]))
        args.append(value)
    if command in (("update",), ("verify",)) and "--matrix" not in args:
        args += ["--matrix", matrix]  # the offline matrix, never a made-up registry
    return args


@FUZZ
@given(st.data())
def test_command_lines(data: st.DataObject) -> None:
    with workdir() as tmp:
        layout_matrix = NATIVE.replace(f"registry: {CLOSED}", f"registry: oci:{tmp / 'layout'}")
        (tmp / "m.yml").write_text(layout_matrix)
        args = data.draw(command_lines(str(tmp)))
        # Only the offline matrix may reach a registry: a value naming a host is kept out.
        if args[0] in ("update", "verify") and args.count("--matrix") != 1:
            return
        run(*args)


@FUZZ
@given(st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\0", b"")))
def test_passwords_are_any_bytes(password: bytes) -> None:
    with workdir() as tmp:
        # os.environ holds undecodable bytes as surrogates; os.environb gives them back as-is.
        run("keygen", "--output-prefix", str(tmp / "k"),
            CLAMP_PASSWORD=password.decode("utf-8", "surrogateescape"))


ENV_NAMES = ["CLAMP_UPDATE_REASONS", "CLAMP_UPDATE_ENTRIES", "CLAMP_INSECURE_REGISTRIES",
             "CLAMP_RETRY_ATTEMPTS", "CLAMP_RETRY_MAX_WAIT", "COLUMNS", "GITHUB_REF_NAME",
             "CLAMP_HTTP_TRANSPORT", "COSIGN_PASSWORD"]


@FUZZ
@given(st.dictionaries(st.sampled_from(ENV_NAMES),
                       st.binary(max_size=30).map(lambda b: b.replace(b"\0", b"")), max_size=4),
       st.booleans())
def test_environment(values: dict[str, bytes], actions: bool) -> None:
    with workdir() as tmp:
        (tmp / "m.yml").write_text(NATIVE.replace(f"registry: {CLOSED}",
                                                  f"registry: oci:{tmp / 'layout'}"))
        env: dict[str, str | None] = {k: v.decode("utf-8", "surrogateescape")
                                      for k, v in values.items()}
        if actions:
            env.update(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(tmp / "out"),
                       GITHUB_STEP_SUMMARY=str(tmp / "summary"))
        matrix = str(tmp / "m.yml")
        run("resolve", "-m", matrix, **env)
        run("verify", "--matrix", matrix, "--output", str(tmp / "p.json"), **env)
        run("update", "-m", matrix, "--pr-body", str(tmp / "pr.md"), **env)
