"""Where registry credentials come from: the files and helpers docker, podman and skopeo use.

Looked up per registry host, first found wins:

1. `GITHUB_TOKEN` for `ghcr.io` (user `GITHUB_ACTOR`, or `clamp`);
2. the containers auth files, in the order podman and skopeo read them (containers/image's
   `getAuthFilePaths`): `$REGISTRY_AUTH_FILE` alone when it is set; otherwise
   `$XDG_RUNTIME_DIR/containers/auth.json`, then `$XDG_CONFIG_HOME/containers/auth.json`
   (`~/.config/containers/auth.json`), then docker's config;
3. docker's `$DOCKER_CONFIG/config.json` (`~/.docker/config.json`), read as docker reads it: the
   registry's `credHelpers` entry, else the `credsStore` helper, else its `auths` entry.

In an auth.json, `credHelpers` for the host come before `auths`, as containers/image has it; a
`credsStore` there is docker's alone and not read. Field names are read as Go reads them
(any case, the last one wins: oci/config_json.py). Keys naming a repository namespace
(`quay.io/org`) are not read: clamp's credentials are per registry host. Credentials explicitly
given (the cosign-style `--registry-*` flags) are the pool's business and come first of all.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from clamp.errors import BadInputError
from clamp.files import read_at_most
from clamp.oci.auth import Credentials
from clamp.oci.config_json import load_config
from clamp.oci.credhelper import TOKEN_USERNAME, run_helper
from clamp.oci.reference import DOCKER_HUB

MAX_CONFIG_BYTES = 1024 * 1024
DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io",
                   "registry-1.docker.io")
#: What docker hands its helpers for Docker Hub (the key `docker login` stores it under).
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"


def credentials_for(registry: str, env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for `registry` (a host[:port]) from the sources above, or None."""
    environ = os.environ if env is None else env
    if registry == "ghcr.io" and environ.get("GITHUB_TOKEN"):
        return Credentials(environ.get("GITHUB_ACTOR") or "clamp", environ["GITHUB_TOKEN"])
    for path, docker in auth_files(environ):
        config = _load(path, docker)
        if config is None:
            continue
        found = _from_config(config, registry, path, docker=docker)
        if found is not None:
            return found
    return None


def auth_files(environ: Mapping[str, str]) -> list[tuple[Path, bool]]:
    """The files to read, in order, each with whether it is docker's config.json."""
    home = Path(environ.get("HOME") or Path.home())
    docker = Path(environ.get("DOCKER_CONFIG") or home / ".docker") / "config.json"
    chosen = environ.get("REGISTRY_AUTH_FILE")
    if chosen:
        return [(Path(chosen), False)]
    files: list[tuple[Path, bool]] = []
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        files.append((Path(runtime) / "containers" / "auth.json", False))
    config_home = environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    files.append((Path(config_home) / "containers" / "auth.json", False))
    files.append((docker, True))
    return files


def _load(path: Path, docker: bool) -> dict[str, Any] | None:
    kind = "docker config" if docker else "containers auth file"
    try:
        if not path.is_file():
            return None
        raw = read_at_most(path, MAX_CONFIG_BYTES)
        if len(raw) > MAX_CONFIG_BYTES:
            raise BadInputError(f"{kind} larger than 1 MiB", where=str(path))
        config = load_config(raw.decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise BadInputError(f"unreadable {kind} ({exc.__class__.__name__})",
                            where=str(path)) from None
    return config


def _keys(registry: str) -> tuple[str, ...]:
    return DOCKER_HUB_KEYS if registry == DOCKER_HUB else (registry,)


def _matching(table: object, registry: str) -> tuple[str, object] | None:
    """The (key, value) of `table` that names `registry`, as docker and containers/image look
    a host up: an exact key first (`host:5000`, or one of Docker Hub's spellings); else the
    first key that is a URL of the host, `http(s)://` and everything up to the first `/`
    (`https://host:5000/v2/`, what `docker login https://…` and old clients stored: "URLs are
    interpreted to mean complete registries", containers/image's normalizeAuthFileKey). A key
    without a scheme and with a path (`quay.io/org`) names a namespace and is never the host's.
    Session 13: a URL key with a path was taken for a namespace, so its credentials were never
    found (`https://registry.lan:5000/v2/` left the registry asking anonymously)."""
    if not isinstance(table, dict):
        return None
    keys = _keys(registry)
    for key in keys:
        if key in table:
            return key, table[key]
    for key, value in table.items():
        text = str(key)
        bare = _URL_KEY.sub("", text)
        host = bare.split("/", 1)[0] if bare != text else bare.rstrip("/")  # `host:5000/`
        if host in keys:
            return text, value
    return None


#: The scheme of a URL key, as docker's ConvertToHostname strips it (exact case, as Go's
#: strings.TrimPrefix: `HTTPS://host` is no URL to either).
_URL_KEY = re.compile(r"^https?://")


def _from_config(config: dict[str, Any], registry: str, path: Path, *,
                 docker: bool) -> Credentials | None:
    server = DOCKER_HUB_SERVER if registry == DOCKER_HUB else registry
    helper = _matching(config.get("credHelpers"), registry)
    if helper is not None:
        key, name = helper
        where = f"{path} credHelpers[{key}]"
        if not isinstance(name, str):
            raise BadInputError("a credential helper is named by a string", where=where)
        found = _helper_credentials(name, server, where)
        if found is not None:
            return found
    store = config.get("credsStore") if docker else None
    if isinstance(store, str) and store:
        found = _helper_credentials(store, server, f"{path} credsStore")
        if found is not None:
            return found
    entry = _matching(config.get("auths"), registry)
    if entry is not None and isinstance(entry[1], dict):
        return entry_credentials(entry[1], where=f"{path} auths[{entry[0]}]")
    return None


def _helper_credentials(name: str, server: str, where: str) -> Credentials | None:
    answer = run_helper(name, server, where=where)
    if answer is None:
        return None
    if answer.username == TOKEN_USERNAME:
        return Credentials("", "", identity_token=answer.secret)
    return Credentials(answer.username, answer.secret)


def entry_credentials(entry: dict[str, object], *, where: str) -> Credentials | None:
    """The credentials of one `auths` entry: `auth` (base64 user:password), `username` and
    `password`, and an `identitytoken`."""
    token = entry.get("identitytoken")
    identity = token if isinstance(token, str) and token else None
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, sep, password = base64.b64decode(auth, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise BadInputError("auth is not base64 of user:password", where=where) from None
        if not sep:
            raise BadInputError("auth is not base64 of user:password", where=where)
        # NUL padding around the password is dropped, as docker's decodeAuth and
        # containers/image's decodeDockerAuth drop it (strings.Trim(password, "\x00")).
        return Credentials(user, password.strip("\x00"), identity)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str):
        return Credentials(name, secret, identity)
    if identity:
        return Credentials("", "", identity)
    return None
