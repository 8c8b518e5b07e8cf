"""Credential lookup from docker's config and challenge parsing; secrets never printed.

Credential helpers and the containers auth files: tests/oci/test_credentials.py."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clamp.errors import BadInputError
from clamp.oci.auth import Credentials, parse_challenge
from clamp.oci.credentials import credentials_for


def _config(tmp_path: Path, auths: dict[str, object]) -> dict[str, str]:
    (tmp_path / "config.json").write_text(json.dumps({"auths": auths}))
    return {"DOCKER_CONFIG": str(tmp_path)}


def test_github_token_for_ghcr_only(tmp_path: Path) -> None:
    env = {"GITHUB_TOKEN": "ghs_secret", "GITHUB_ACTOR": "octocat",
           "DOCKER_CONFIG": str(tmp_path)}
    creds = credentials_for("ghcr.io", env)
    assert creds == Credentials("octocat", "ghs_secret")
    assert "ghs_secret" not in repr(creds)
    assert credentials_for("registry.example.com", env) is None


def test_docker_hub_key_forms(tmp_path: Path) -> None:
    auth = base64.b64encode(b"user:pa:ss").decode()
    env = _config(tmp_path, {"https://index.docker.io/v1/": {"auth": auth}})
    assert credentials_for("docker.io", env) == Credentials("user", "pa:ss")
    assert credentials_for("ghcr.io", env) is None


def test_host_keys_and_username_password(tmp_path: Path) -> None:
    env = _config(tmp_path, {"https://registry.example.com:5000": {"username": "u",
                                                                   "password": "p"}})
    assert credentials_for("registry.example.com:5000", env) == Credentials("u", "p")


@pytest.mark.parametrize("auth", ["not base64!", base64.b64encode(b"no-colon").decode()])
def test_malformed_auth_is_bad_input(tmp_path: Path, auth: str) -> None:
    env = _config(tmp_path, {"ghcr.io": {"auth": auth}})
    with pytest.raises(BadInputError) as info:
        credentials_for("ghcr.io", env)
    assert "config.json" in str(info.value)


def test_unreadable_config_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(BadInputError):
        credentials_for("ghcr.io", {"DOCKER_CONFIG": str(tmp_path)})


def test_bearer_challenge_parsing() -> None:
    challenge = parse_challenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",'
                                'scope="repository:rocm/dev:pull",error="insufficient_scope"')
    assert challenge is not None and challenge.scheme == "bearer"
    assert challenge.params == {"realm": "https://ghcr.io/token", "service": "ghcr.io",
                                "scope": "repository:rocm/dev:pull",
                                "error": "insufficient_scope"}
    basic = parse_challenge('Basic realm="Registry Realm"')
    assert basic is not None and basic.scheme == "basic"


@given(st.text(max_size=200))
def test_challenge_parser_never_crashes(text: str) -> None:
    parse_challenge(text)


def test_deeply_nested_docker_config_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(BadInputError, match="unreadable docker config"):
        credentials_for("ghcr.io", {"DOCKER_CONFIG": str(tmp_path)})
