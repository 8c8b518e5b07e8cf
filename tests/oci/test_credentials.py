"""Credentials as docker, podman and skopeo find them: credential helpers, auth.json, the order.

Helpers are real programs: a small Python script named `docker-credential-NAME` in a temp dir
put on PATH, which logs what it was asked (stdin) and answers from a table, as the helpers of
docker/docker-credential-helpers do. The registries are Debian's docker-registry (htpasswd and
token variants, tests/support/registry.py).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.errors import AuthError, BadInputError
from clamp.exitcodes import for_error
from clamp.oci.auth import Credentials
from clamp.oci.credentials import auth_files, credentials_for
from clamp.oci.credhelper import run_helper
from clamp.oci.manifest import OCI_MANIFEST
from clamp.oci.pool import ClientOptions, RegistryPool
from clamp.oci.retry import RetryPolicy
from tests.support.hostile_http import Reply, Request, hostile_http, response
from tests.support.pushing import RegistryPusher, push_image
from tests.support.registry import RegistryHandle

FAST = ClientOptions(retry=RetryPolicy(attempts=2, max_wait=0.01, total=5, initial=0.01),
                     attempt_deadline=10)

HELPER = """#!{python}
import json, os, sys, time
table = json.loads({table!r})
mode = table.get("__mode__")
if mode == "hang":
    with open({log!r} + ".pid", "w") as f:
        f.write(str(os.getpid()))
    time.sleep(600)
server = sys.stdin.read()
with open({log!r}, "a") as log:
    log.write(json.dumps(server) + "\\n")
if mode == "flood":
    sys.stdout.write("x" * 200000)
    sys.exit(0)
if mode == "fail":
    sys.stdout.write("helper broke while holding " + table.get("__secret__", ""))
    sys.exit(3)
if mode == "garbage":
    sys.stdout.write("not json " + table.get("__secret__", ""))
    sys.exit(0)
if server in table:
    user, secret = table[server]
    sys.stdout.write(json.dumps({{"ServerURL": server, "Username": user, "Secret": secret}}))
else:
    sys.stdout.write("credentials not found in native keychain")
    sys.exit(1)
"""


class Helper:
    """One `docker-credential-NAME` program on PATH and the log of what it was asked."""

    def __init__(self, bin_dir: Path, name: str, table: dict[str, object]) -> None:
        self.log = bin_dir / f"{name}.log"
        path = bin_dir / f"docker-credential-{name}"
        path.write_text(HELPER.format(python=sys.executable, log=str(self.log),
                                      table=json.dumps(table)))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def asked(self) -> list[str]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "bin"
    path.mkdir()
    monkeypatch.setenv("PATH", f"{path}{os.pathsep}{os.environ.get('PATH', '')}")
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An isolated environment: HOME, no XDG dirs, no DOCKER_CONFIG, no REGISTRY_AUTH_FILE."""
    for name in ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME",
                 "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    return {"HOME": str(tmp_path / "home"), "PATH": os.environ["PATH"]}


def write(path: Path, config: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config))
    return path


def b64(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


# -- docker credential helpers --------------------------------------------------------------
def test_cred_helper_is_asked_with_the_server_on_stdin(bin_dir: Path,
                                                       home: dict[str, str]) -> None:
    helper = Helper(bin_dir, "clamptest", {"registry.example:5000": ["alice", "s3cret"]})
    write(Path(home["HOME"]) / ".docker/config.json",
          {"credHelpers": {"registry.example:5000": "clamptest"}})
    assert credentials_for("registry.example:5000", home) == Credentials("alice", "s3cret")
    assert helper.asked() == ["registry.example:5000"]
    assert credentials_for("other.example", home) is None
    assert helper.asked() == ["registry.example:5000"]  # another registry: not asked


def test_docker_hub_helper_gets_dockers_server_url(bin_dir: Path, home: dict[str, str]) -> None:
    helper = Helper(bin_dir, "hub", {"https://index.docker.io/v1/": ["bob", "pw"]})
    write(Path(home["HOME"]) / ".docker/config.json", {"credsStore": "hub"})
    assert credentials_for("docker.io", home) == Credentials("bob", "pw")
    assert helper.asked() == ["https://index.docker.io/v1/"]


def test_token_username_means_an_identity_token(bin_dir: Path, home: dict[str, str]) -> None:
    Helper(bin_dir, "acr", {"myacr.example": ["<token>", "refresh-me"]})
    write(Path(home["HOME"]) / ".docker/config.json", {"credsStore": "acr"})
    creds = credentials_for("myacr.example", home)
    assert creds is not None and creds.identity_token == "refresh-me" and not creds.password


def test_cred_helpers_entry_wins_over_creds_store(bin_dir: Path, home: dict[str, str]) -> None:
    store = Helper(bin_dir, "store", {"r.example": ["store-user", "a"]})
    own = Helper(bin_dir, "own", {"r.example": ["own-user", "b"]})
    write(Path(home["HOME"]) / ".docker/config.json",
          {"credsStore": "store", "credHelpers": {"r.example": "own"}})
    assert credentials_for("r.example", home) == Credentials("own-user", "b")
    assert store.asked() == [] and own.asked() == ["r.example"]


def test_a_helper_without_the_entry_falls_back_to_auths(bin_dir: Path,
                                                        home: dict[str, str]) -> None:
    Helper(bin_dir, "empty", {})
    write(Path(home["HOME"]) / ".docker/config.json",
          {"credsStore": "empty", "auths": {"r.example": {"auth": b64("u", "p")}}})
    assert credentials_for("r.example", home) == Credentials("u", "p")


def _sendable(creds: Credentials | None) -> None:
    """Every credential text reaches a header as UTF-8: none may hold a lone surrogate."""
    assert creds is not None
    for text in (creds.username, creds.password, creds.identity_token or ""):
        text.encode("utf-8")


def test_a_helper_answering_a_lone_surrogate_escape_is_read_as_go_reads_it(
        bin_dir: Path, home: dict[str, str]) -> None:
    """Python's json keeps `"\\ud800"` as a lone surrogate, which no header can carry: the
    request crashed (exit 70). Go's reader (docker's) makes it U+FFFD, a credential the
    registry can refuse."""
    Helper(bin_dir, "odd", {"r.example": ["u\ud800", "p\udfff"]})
    write(Path(home["HOME"]) / ".docker/config.json", {"credsStore": "odd"})
    creds = credentials_for("r.example", home)
    _sendable(creds)
    assert creds == Credentials("u\ufffd", "p\ufffd")


@pytest.mark.parametrize("entry", [{"username": "u\ud800", "password": "p"},
                                   {"auth": b64("u", "p"), "identitytoken": "t\udc00"}])
def test_a_config_with_a_lone_surrogate_escape_is_read_as_go_reads_it(
        entry: dict[str, str], home: dict[str, str]) -> None:
    write(Path(home["HOME"]) / ".docker/config.json", {"auths": {"r.example": entry}})
    try:
        creds = credentials_for("r.example", home)
    except BadInputError as exc:  # refusing the entry is as good as reading it as Go does
        assert "\n" not in str(exc)
        return
    _sendable(creds)


def test_a_helper_missing_from_path_is_bad_input(home: dict[str, str]) -> None:
    write(Path(home["HOME"]) / ".docker/config.json", {"credsStore": "nonexistent-clamp"})
    with pytest.raises(BadInputError, match="docker-credential-nonexistent-clamp") as info:
        credentials_for("r.example", home)
    assert "config.json credsStore" in str(info.value) and for_error(info.value) == 64


@pytest.mark.parametrize("name", ["../../bin/sh", "/bin/sh", "a b", "", "x;rm"])
def test_a_helper_name_that_is_a_path_is_never_run(name: str, bin_dir: Path,
                                                   home: dict[str, str]) -> None:
    write(Path(home["HOME"]) / ".docker/config.json", {"credHelpers": {"r.example": name}})
    if not name:  # docker ignores an empty credsStore; an empty helper name is still refused
        with pytest.raises(BadInputError, match="not a plain name"):
            credentials_for("r.example", home)
        return
    with pytest.raises(BadInputError, match="not a plain name"):
        credentials_for("r.example", home)


def test_a_hanging_helper_is_killed_at_its_deadline(bin_dir: Path) -> None:
    helper = Helper(bin_dir, "hang", {"__mode__": "hang"})
    with pytest.raises(BadInputError, match=r"did not answer within 3 s"):
        run_helper("hang", "r.example", where="test", timeout=3)
    pid_file = Path(str(helper.log) + ".pid")
    if pid_file.exists():  # it got as far as starting (not a given on a loaded machine)
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.read_text()), 0)  # killed and reaped


def test_a_flooding_helper_is_cut_at_64_kib(bin_dir: Path) -> None:
    Helper(bin_dir, "flood", {"__mode__": "flood"})
    with pytest.raises(BadInputError, match="more than 65536 bytes"):
        run_helper("flood", "r.example", where="test")


@pytest.mark.parametrize("mode", ["fail", "garbage"])
def test_a_helpers_words_are_never_repeated(mode: str, bin_dir: Path) -> None:
    Helper(bin_dir, mode, {"__mode__": mode, "__secret__": "hunter2-secret"})
    with pytest.raises(BadInputError) as info:
        run_helper(mode, "r.example", where="test")
    assert "hunter2" not in str(info.value)
    assert ("exit 3" if mode == "fail" else "other than its JSON") in str(info.value)


# -- containers auth.json, and the order of the files --------------------------------------------
def test_auth_file_order_is_podmans(tmp_path: Path) -> None:
    env = {"HOME": "/h", "XDG_RUNTIME_DIR": "/run/user/1"}
    assert [str(p) for p, _ in auth_files(env)] == [
        "/run/user/1/containers/auth.json", "/h/.config/containers/auth.json",
        "/h/.docker/config.json"]
    assert [str(p) for p, _ in auth_files({**env, "XDG_CONFIG_HOME": "/c",
                                           "DOCKER_CONFIG": "/d"})] == [
        "/run/user/1/containers/auth.json", "/c/containers/auth.json", "/d/config.json"]
    assert [str(p) for p, _ in auth_files({**env, "REGISTRY_AUTH_FILE": "/a.json"})] == \
        ["/a.json"]


def test_first_file_with_the_registry_wins(tmp_path: Path, home: dict[str, str]) -> None:
    runtime = tmp_path / "run"
    env = {**home, "XDG_RUNTIME_DIR": str(runtime)}
    write(Path(home["HOME"]) / ".docker/config.json",
          {"auths": {"r.example": {"auth": b64("docker", "1")},
                     "only-docker.example": {"auth": b64("d", "2")}}})
    write(Path(home["HOME"]) / ".config/containers/auth.json",
          {"auths": {"r.example": {"auth": b64("config", "3")}}})
    assert credentials_for("r.example", env) == Credentials("config", "3")
    write(runtime / "containers/auth.json", {"auths": {"r.example": {"auth": b64("run", "4")}}})
    assert credentials_for("r.example", env) == Credentials("run", "4")
    assert credentials_for("only-docker.example", env) == Credentials("d", "2")
    chosen = write(tmp_path / "chosen.json", {"auths": {"x.example": {"auth": b64("c", "5")}}})
    env["REGISTRY_AUTH_FILE"] = str(chosen)
    assert credentials_for("r.example", env) is None  # REGISTRY_AUTH_FILE alone is read
    assert credentials_for("x.example", env) == Credentials("c", "5")


def test_auth_json_cred_helpers_are_run_and_its_creds_store_is_not(
        bin_dir: Path, tmp_path: Path, home: dict[str, str]) -> None:
    helper = Helper(bin_dir, "podman", {"r.example": ["p", "q"]})
    store = Helper(bin_dir, "dockerstore", {"s.example": ["no", "no"]})
    chosen = write(tmp_path / "auth.json", {"credHelpers": {"r.example": "podman"},
                                            "credsStore": "dockerstore"})
    env = {**home, "REGISTRY_AUTH_FILE": str(chosen)}
    assert credentials_for("r.example", env) == Credentials("p", "q")
    assert credentials_for("s.example", env) is None
    assert helper.asked() == ["r.example"] and store.asked() == []


def test_namespace_keys_are_not_taken_for_the_host(tmp_path: Path,
                                                   home: dict[str, str]) -> None:
    chosen = write(tmp_path / "auth.json",
                   {"auths": {"quay.example/org": {"auth": b64("ns", "1")}}})
    assert credentials_for("quay.example", {**home, "REGISTRY_AUTH_FILE": str(chosen)}) is None


@pytest.mark.parametrize("key", ["https://r.example:5000/v2/", "http://r.example:5000/v1/",
                                 "https://r.example:5000", "r.example:5000/"])
def test_a_url_key_names_the_whole_registry(key: str, tmp_path: Path,
                                            home: dict[str, str]) -> None:
    """Session 13: `docker login https://…` and old clients store a URL, path and all; docker
    (ConvertToHostname) and containers/image (normalizeAuthFileKey) read it as its host. clamp
    took a URL with a path for a namespace key and found no credentials."""
    for docker, path in ((True, Path(home["HOME"]) / ".docker/config.json"),
                         (False, tmp_path / "auth.json")):
        write(path, {"auths": {key: {"auth": b64("u", "pw")}}})
        env = {**home} if docker else {**home, "REGISTRY_AUTH_FILE": str(path)}
        assert credentials_for("r.example:5000", env) == Credentials("u", "pw")


@pytest.mark.parametrize("key", ["https://evil.example/r.example:5000",
                                 "https://r.example:5000@evil.example/",
                                 "https://r.example:50001/v2/", "HTTPS://r.example:5000",
                                 "evil.example/r.example:5000", "r.example:5000/org"])
def test_a_url_key_of_another_host_binds_nothing_to_this_one(
        key: str, home: dict[str, str]) -> None:
    """The attacker's half: the host of a URL key is what comes before its first `/`, so a
    key with this registry in its path, its user information or a longer port is another
    host's, and a key without a scheme that has a path stays a namespace."""
    write(Path(home["HOME"]) / ".docker/config.json", {"auths": {key: {"auth": b64("x", "y")}}})
    assert credentials_for("r.example:5000", {**home}) is None


@pytest.mark.parametrize(("auth", "password"), [(b"u:pw\x00\x00", "pw"), (b"u:\x00pw", "pw"),
                                               (b"u:p\x00w", "p\x00w")])
def test_nul_padding_around_an_auth_password_is_dropped(auth: bytes, password: str,
                                                        home: dict[str, str]) -> None:
    """docker (decodeAuth) and containers/image (decodeDockerAuth) trim NULs at the ends of
    the decoded password; clamp sent them, and the registry refused the credentials that
    docker and podman log in with. A NUL inside the password is part of it."""
    write(Path(home["HOME"]) / ".docker/config.json",
          {"auths": {"r.example": {"auth": base64.b64encode(auth).decode()}}})
    assert credentials_for("r.example", {**home}) == Credentials("u", password)


def test_the_exact_key_wins_over_a_url_key_listed_before_it(home: dict[str, str]) -> None:
    """Docker and containers/image look the exact key up first, and a URL key only when it is
    missing; clamp took the first key in file order of either kind."""
    write(Path(home["HOME"]) / ".docker/config.json", {"auths": {
        "https://r.example:5000/": {"auth": b64("old", "1")},
        "r.example:5000": {"auth": b64("new", "2")}}})
    assert credentials_for("r.example:5000", {**home}) == Credentials("new", "2")


@pytest.mark.parametrize("text", ["{not json", "[" * 100000])
def test_unreadable_auth_json_is_bad_input(text: str, tmp_path: Path,
                                           home: dict[str, str]) -> None:
    chosen = tmp_path / "auth.json"
    chosen.write_text(text)
    with pytest.raises(BadInputError, match="unreadable containers auth file"):
        credentials_for("r.example", {**home, "REGISTRY_AUTH_FILE": str(chosen)})


# -- against the real registries -------------------------------------------------------------
def _manifest(host: str, repo: str, options: ClientOptions = FAST) -> str:
    async def go() -> str:
        async with RegistryPool(options) as pool:
            return str((await pool.client(host).get_manifest(repo, "t")).digest)
    return asyncio.run(go())


def test_helper_credentials_open_the_htpasswd_registry(
        basic_registry: RegistryHandle, repo_name: str, bin_dir: Path, home: dict[str, str],
        make_pusher: Callable[..., RegistryPusher]) -> None:
    pushed = push_image(make_pusher(basic_registry), repo_name, "t")
    helper = Helper(bin_dir, "basic", {basic_registry.host: [basic_registry.username,
                                                             basic_registry.password]})
    with pytest.raises(AuthError):  # honest twin first: without the helper, no entry
        _manifest(basic_registry.host, repo_name)
    write(Path(home["HOME"]) / ".docker/config.json",
          {"credHelpers": {basic_registry.host: "basic"}})
    assert _manifest(basic_registry.host, repo_name) == pushed.digest
    assert helper.asked() == [basic_registry.host]


def test_a_url_key_with_a_path_opens_the_htpasswd_registry(
        basic_registry: RegistryHandle, repo_name: str, home: dict[str, str],
        make_pusher: Callable[..., RegistryPusher]) -> None:
    pushed = push_image(make_pusher(basic_registry), repo_name, "t")
    assert basic_registry.username and basic_registry.password
    write(Path(home["HOME"]) / ".docker/config.json", {"auths": {
        f"http://{basic_registry.host}/v2/": {
            "auth": b64(basic_registry.username, basic_registry.password)}}})
    assert _manifest(basic_registry.host, repo_name) == pushed.digest


def test_auth_json_credentials_reach_the_token_service(
        token_registry: RegistryHandle, repo_name: str, tmp_path: Path,
        home: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        make_pusher: Callable[..., RegistryPusher]) -> None:
    pushed = push_image(make_pusher(token_registry), repo_name, "t")
    issuer = token_registry.token_issuer
    assert issuer is not None and token_registry.username and token_registry.password
    runtime = tmp_path / "run"
    write(runtime / "containers/auth.json", {"auths": {token_registry.host: {
        "auth": b64(token_registry.username, token_registry.password)}}})
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    issuer.clear()
    assert _manifest(token_registry.host, repo_name) == pushed.digest
    asked = issuer.recorded()
    assert asked and all(r.authenticated and r.username == token_registry.username
                         for r in asked)


# -- the anonymous retry ----------------------------------------------------------------------
def test_refused_credentials_are_retried_anonymously_for_a_public_pull(
        token_registry: RegistryHandle, repo_name: str, home: dict[str, str],
        make_pusher: Callable[..., RegistryPusher]) -> None:
    """GHCR with a GITHUB_TOKEN lacking packages:read, here a wrong password: the token service
    refuses it (401), the image is public, so one anonymous ask reads it."""
    pushed = push_image(make_pusher(token_registry), repo_name, "t")
    issuer = token_registry.token_issuer
    assert issuer is not None
    write(Path(home["HOME"]) / ".docker/config.json",
          {"auths": {token_registry.host: {"auth": b64("clamp-tester", "wrong")}}})
    issuer.clear()
    assert _manifest(token_registry.host, repo_name) == pushed.digest
    asked = [(r.username, r.status) for r in issuer.recorded()]
    assert asked == [("clamp-tester", 401), (None, 200)]


def test_a_private_image_is_not_opened_by_the_anonymous_retry(
        token_registry: RegistryHandle, repo_name: str, home: dict[str, str],
        make_pusher: Callable[..., RegistryPusher]) -> None:
    push_image(make_pusher(token_registry), repo_name, "t")
    issuer = token_registry.token_issuer
    assert issuer is not None
    write(Path(home["HOME"]) / ".docker/config.json",
          {"auths": {token_registry.host: {"auth": b64("clamp-tester", "wrong")}}})
    issuer.policy.anonymous_pull = False
    try:
        with pytest.raises(AuthError, match=r"refused, then anonymous access too \(401\)"):
            _manifest(token_registry.host, repo_name)
    finally:
        issuer.policy.anonymous_pull = True


def test_a_push_is_never_retried_anonymously(
        token_registry: RegistryHandle, repo_name: str, home: dict[str, str]) -> None:
    issuer = token_registry.token_issuer
    assert issuer is not None
    options = FAST.__class__(**{**FAST.__dict__, "credentials": {
        token_registry.host: Credentials("clamp-tester", "wrong")}})
    issuer.clear()

    async def push() -> None:
        async with RegistryPool(options) as pool:
            await pool.client(token_registry.host).put_blob(repo_name, b"data")
    with pytest.raises(AuthError, match="refused the credentials"):
        asyncio.run(push())
    assert all(r.username == "clamp-tester" for r in issuer.recorded())


def test_a_registry_refusing_the_credentials_token_is_asked_anonymously_once() -> None:
    """GHCR's way: the token service hands out a token for the credentials, the registry
    answers 403 with it (no packages:read); one anonymous token reads the public image."""
    from tests.support.hostile_http import hostile_http, response

    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:" + "0" * 64, "size": 2}, "layers": []}).encode()

    def registry(req: Request) -> Reply:
        auth = req.headers.get("authorization", "")
        if req.target.startswith("/token"):
            token = "user-token" if auth.startswith("Basic ") else "anon-token"
            yield response(200, json.dumps({"token": token}).encode())
        elif auth == "Bearer anon-token" and "private" not in req.target:
            yield response(200, manifest, {"Content-Type": OCI_MANIFEST})
        elif auth.startswith("Bearer "):
            yield response(403, b'{"errors": [{"code": "DENIED", "message": "denied"}]}')
        else:
            yield response(401, b"", {"WWW-Authenticate":
                                      f'Bearer realm="http://{req.headers["host"]}/token"'})

    with hostile_http(registry) as srv:
        options = ClientOptions(retry=FAST.retry, attempt_deadline=10,
                                credentials={srv.host: Credentials("u", "token-without-read")})

        async def go(repo: str) -> str:
            async with RegistryPool(options) as pool:
                return str((await pool.client(srv.host).get_manifest(repo, "t")).digest)
        assert asyncio.run(go("public/x")).startswith("sha256:")
        sent = srv.authorizations()
        assert sent.count("Bearer user-token") == 1 and sent.count("Bearer anon-token") == 1
        with pytest.raises(AuthError, match="403"):  # twin: a private image stays closed
            asyncio.run(go("private/x"))


# -- cosign's --registry-* flags --------------------------------------------------------------
def _key(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = tmp_path / "key.pub"
    key.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return key


def _clamp(*args: str) -> int:
    from clamp.cli.main import app, invoke

    return invoke(app, list(args), prog_name="clamp")


def test_registry_username_and_password_flags_open_the_htpasswd_registry(
        basic_registry: RegistryHandle, repo_name: str, tmp_path: Path, home: dict[str, str],
        make_pusher: Callable[..., RegistryPusher]) -> None:
    push_image(make_pusher(basic_registry), repo_name, "t")
    ref = basic_registry.reference(repo_name, "t")
    key = str(_key(tmp_path))
    assert _clamp("verify", "--image", ref, "--key", key) == 69  # honest twin: no credentials
    assert basic_registry.username and basic_registry.password
    assert _clamp("verify", "--image", ref, "--key", key,
                  "--registry-username", basic_registry.username,
                  "--registry-password", basic_registry.password) == 4  # read: unsigned


def test_registry_token_flag_is_sent_as_the_bearer_token(
        token_registry: RegistryHandle, repo_name: str, tmp_path: Path, home: dict[str, str],
        make_pusher: Callable[..., RegistryPusher]) -> None:
    push_image(make_pusher(token_registry), repo_name, "t")
    issuer = token_registry.token_issuer
    assert issuer is not None
    token = issuer.issue("clamp-tester", [{"type": "repository", "name": repo_name,
                                           "actions": ["pull"]}])["token"]
    issuer.policy.anonymous_pull = False
    issuer.clear()
    try:
        assert _clamp("verify", "--image", token_registry.reference(repo_name, "t"),
                      "--key", str(_key(tmp_path)), "--registry-token", token) == 4
    finally:
        issuer.policy.anonymous_pull = True
    assert issuer.recorded() == []  # no exchange: the token went to the registry as it is


def _challenging(scheme: str) -> Callable[[Request], Reply]:
    def script(req: Request) -> Reply:
        if "authorization" not in req.headers:
            yield response(401, b"", {"WWW-Authenticate": f'{scheme} realm="r"'})
        else:
            yield response(404, b"")
    return script


@pytest.mark.parametrize("token", ["tök", "t\udcffk", "t\r\nX-Injected: 1", "t k",
                                   "t" * 16385])
def test_a_registry_token_that_is_no_header_value_is_bad_input(
        token: str, tmp_path: Path, home: dict[str, str]) -> None:
    """Session 13: `--registry-token` went into the Authorization header as it was: a
    character outside ASCII (`ö`, or a byte of the command line that is no UTF-8) crashed the
    run (exit 70), CR/LF was refused by h11 only as a "connection failed" retried five times,
    and a space was sent. Now it is bad input (exit 64), named, before anything is sent."""
    with hostile_http(_challenging("Bearer")) as srv:
        assert _clamp("verify", "--image", f"{srv.host}/r/x:t", "--key", str(_key(tmp_path)),
                      "--registry-token", token) == 64
    assert srv.authorizations() == []


@pytest.mark.parametrize(("password", "sent"), [
    ("p\udcffw", b"u:p\xffw"),  # the command line's bytes, no UTF-8: sent as they were given
    ("pä", "u:pä".encode())])  # the honest twin: UTF-8 text, sent as UTF-8
def test_registry_credentials_are_sent_as_the_bytes_given(
        password: str, sent: bytes, tmp_path: Path, home: dict[str, str]) -> None:
    """Session 13: a password (or name) on the command line that is no UTF-8 crashed the run
    (exit 70) before anything was sent, even to a registry that was not there; docker and
    cosign (Go) send such bytes as they are, and so does clamp now."""
    with hostile_http(_challenging("Basic")) as srv:
        assert _clamp("verify", "--image", f"{srv.host}/r/x:t", "--key", str(_key(tmp_path)),
                      "--registry-username", "u", "--registry-password", password) == 69
    assert srv.authorizations() == ["Basic " + base64.b64encode(sent).decode()]


@pytest.mark.parametrize("flags", [["--registry-username", "u"], ["--registry-password", "p"],
                                   ["--registry-token", "t", "--registry-username", "u",
                                    "--registry-password", "p"]])
def test_incomplete_or_mixed_registry_flags_are_bad_input(flags: list[str], tmp_path: Path,
                                                         home: dict[str, str]) -> None:
    assert _clamp("verify", "--image", "127.0.0.1:1/x:y", "--key", str(_key(tmp_path)),
                  *flags) == 64


def test_registry_flags_are_bound_to_one_registry(tmp_path: Path) -> None:
    from clamp.cli.registry_flags import _FLAGS, RegistryFlags, flag_credentials
    from clamp.location import Layout, Registry

    reset = _FLAGS.set(RegistryFlags("u", "p"))
    try:
        assert flag_credentials({Registry("ghcr.io")}) == {"ghcr.io": Credentials("u", "p")}
        assert flag_credentials({Layout("/layout")}) == {}
        # A layout beside one registry: the registry gets them, the layout never does.
        assert flag_credentials({Layout("/layout"), Registry("ocireg.example:5000")}) == {
            "ocireg.example:5000": Credentials("u", "p")}
        with pytest.raises(BadInputError, match="for one registry"):
            flag_credentials({Registry("ghcr.io"), Registry("docker.io")})
    finally:
        _FLAGS.reset(reset)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=3) |
                     st.dictionaries(st.text(max_size=10), inner, max_size=3), max_leaves=10)


@given(st.dictionaries(st.sampled_from(["r.example", "https://r.example", "r.example/ns",
                                        "docker.io", "x"]), _JSON, max_size=3),
       st.sampled_from(["r.example", "docker.io"]))
def test_any_auths_table_gives_credentials_none_or_bad_input(auths: dict[str, object],
                                                             registry: str) -> None:
    """Helpers are left out (they would run programs); every other shape of the file is read
    to credentials, nothing, or a one-line bad input."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "auth.json"
        path.write_text(json.dumps({"auths": auths}))
        try:
            found = credentials_for(registry, {"HOME": tmp, "REGISTRY_AUTH_FILE": str(path)})
        except BadInputError as exc:
            assert "\n" not in str(exc)
            return
        assert found is None or isinstance(found, Credentials)


# -- field names read as Go reads them (docker's and podman's encoding/json) ----------------

@pytest.mark.parametrize("text", [
    '{"Auths": {"r.example": {"auth": "%s"}}}',
    '{"AUTHS": {"r.example": {"Auth": "%s"}}}',
    '{"auths": {"r.example": {"AUTH": "%s"}}}',
])
def test_config_field_names_are_read_in_any_case(text: str, home: dict[str, str]) -> None:
    """docker reads `"Auths"` as its `auths` field: clamp read no credentials from it."""
    path = Path(home["HOME"]) / ".docker/config.json"
    path.parent.mkdir(parents=True)
    path.write_text(text.replace("%s", b64("u", "p")))
    assert credentials_for("r.example", home) == Credentials("u", "p")


def test_the_last_spelling_of_a_field_wins_and_maps_are_merged(home: dict[str, str]) -> None:
    """Go's decoder merges a map field named twice (later entries over earlier ones) and keeps
    the last value of a plain field; clamp had kept only the last exact `auths`."""
    path = Path(home["HOME"]) / ".docker/config.json"
    path.parent.mkdir(parents=True)
    text = ('{"auths": {"a.example": {"auth": "A"}, "r.example": {"auth": "B"}},'
            ' "Auths": {"r.example": {"username": "n", "password": "s", "Username": "last"}}}')
    text = text.replace('"A"', f'"{b64("a", "1")}"')
    path.write_text(text.replace('"B"', f'"{b64("old", "2")}"'))
    assert credentials_for("a.example", home) == Credentials("a", "1")
    assert credentials_for("r.example", home) == Credentials("last", "s")


def test_registry_keys_stay_exact(home: dict[str, str]) -> None:
    """Map keys are not struct fields: Go compares them exactly, so `R.example` names no host
    clamp asks for (honest twin: the exact key gives the credentials)."""
    path = Path(home["HOME"]) / ".docker/config.json"
    write(path, {"auths": {"R.EXAMPLE": {"auth": b64("u", "p")}}})
    assert credentials_for("r.example", home) is None
    write(path, {"auths": {"r.example": {"auth": b64("u", "p")}}})
    assert credentials_for("r.example", home) == Credentials("u", "p")
