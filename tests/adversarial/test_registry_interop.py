"""Red team 11 (registry side): what other registries do, and what a hostile one could try,
that the earlier passes left open. Each attack has its honest twin.

- An index whose platform entry disagrees with the manifest it names: a size that is not the
  bytes' (containerd and go-containerregistry refuse the pull), a descriptor typed as an image
  that names an index or the other way round (containerd's ValidateMediaType), an entry that is
  itself an index (runtimes descend further: clamp would have recorded and verified the nested
  index, not the image that runs), or an entry of no manifest type.
- Referrers answered with a media type spelt in another case or with parameters (media types
  are case-insensitive, RFC 6838), or refused as 405/501 (no such endpoint).
- Token answers with both `token` and `access_token` (docker and go-containerregistry take
  `access_token`), or with keys spelt as Go reads them (`Token`).
- Credentials typed into a reference or registry field as URL user information are never echoed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest

from clamp.digest import parse_digest
from clamp.errors import BadInputError, RegistryError
from clamp.oci.manifest import OCI_INDEX, OCI_MANIFEST, Platform
from clamp.oci.pool import ClientOptions, RegistryPool
from clamp.oci.reference import parse_reference
from clamp.oci.resolve import ResolvedImage, resolve
from clamp.oci.retry import RetryPolicy
from tests.support.hostile_registry import Answer, hostile_registry

FAST = ClientOptions(retry=RetryPolicy(attempts=2, max_wait=0.05, total=5, initial=0.01),
                     attempt_deadline=5)
AMD64 = {"architecture": "amd64", "os": "linux"}


def run(coro: Any) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, 20)
    return asyncio.run(bounded())


def _digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _image(seed: str = "a") -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + seed * 64, "size": 2},
                       "layers": []}).encode()


def _index(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": list(entries)}).encode()


def _entry(raw: bytes, media_type: str = OCI_MANIFEST, size: int | None = None) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": _digest(raw),
            "size": len(raw) if size is None else size, "platform": AMD64}


def _serve(top: bytes, *children: bytes) -> Any:
    by_digest = {_digest(c): c for c in children}

    def script(method: str, path: str) -> Answer:
        ref = path.rsplit("/manifests/", 1)[-1]
        raw = top if ref == "tag" else by_digest.get(ref)
        if raw is None:
            return Answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
        kind = json.loads(raw).get("mediaType", OCI_MANIFEST)
        return Answer(200, raw, {"Content-Type": kind, "Docker-Content-Digest": _digest(raw)})
    return script


def _resolve(host: str) -> ResolvedImage:
    async def go() -> ResolvedImage:
        async with RegistryPool(FAST) as pool:
            ref = parse_reference(f"{host}/r/x:tag")
            return await resolve(pool.client(host), ref, Platform("linux", "amd64"))
    result: ResolvedImage = run(go())
    return result


# ---- the platform entry must describe the manifest it names ---------------------------------

def test_honest_platform_entry_resolves() -> None:
    child = _image()
    with hostile_registry(_serve(_index(_entry(child)), child)) as srv:
        image = _resolve(srv.host)
    assert str(image.platform_digest) == _digest(child)


@pytest.mark.parametrize("delta", [-1, 1, 1000])
def test_a_platform_entry_whose_size_is_not_the_manifests_is_refused(delta: int) -> None:
    child = _image()
    top = _index(_entry(child, size=len(child) + delta))
    with hostile_registry(_serve(top, child)) as srv, pytest.raises(RegistryError,
                                                                  match="bytes"):
        _resolve(srv.host)


def test_an_image_entry_that_names_an_index_is_refused() -> None:
    child = _image()
    nested = _index(_entry(child))
    top = _index(_entry(nested, media_type=OCI_MANIFEST))
    with hostile_registry(_serve(top, nested, child)) as srv, pytest.raises(
            RegistryError, match="index"):
        _resolve(srv.host)


def test_an_index_entry_that_names_an_image_is_refused() -> None:
    child = _image()
    top = _index(_entry(child, media_type=OCI_INDEX))
    with hostile_registry(_serve(top, child)) as srv, pytest.raises(
            RegistryError, match="typed as an index"):
        _resolve(srv.host)


def test_a_nested_index_is_refused_not_recorded_as_the_platform_manifest() -> None:
    child = _image()
    nested = _index(_entry(child))
    top = _index(_entry(nested, media_type=OCI_INDEX))
    with hostile_registry(_serve(top, nested, child)) as srv, pytest.raises(
            RegistryError, match="itself an index"):
        _resolve(srv.host)


@pytest.mark.parametrize("media_type", ["", "application/octet-stream",
                                        "application/vnd.oci.image.layer.v1.tar+gzip"])
def test_a_platform_entry_of_no_manifest_type_is_refused(media_type: str) -> None:
    child = _image()
    top = _index(_entry(child, media_type=media_type))
    with hostile_registry(_serve(top, child)) as srv, pytest.raises(RegistryError,
                                                                  match="media type"):
        _resolve(srv.host)


# ---- referrers: media types are case-insensitive; 405 and 501 say "no such endpoint" --------

ARTIFACT = "application/vnd.dev.sigstore.bundle.v0.3+json"
REFERRER = {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "3" * 64, "size": 321,
            "artifactType": ARTIFACT}
SUBJECT = "sha256:" + "4" * 64


def _referrers(script: Any) -> tuple[list[str], list[str]]:
    async def go(host: str) -> list[str]:
        async with RegistryPool(FAST) as pool:
            found = await pool.client(host).referrers("r/x", parse_digest(SUBJECT), ARTIFACT)
            return [str(d.digest) for d in found]
    with hostile_registry(script) as srv:
        found = run(go(srv.host))
    return found, [path for _, path in srv.requests]


@pytest.mark.parametrize("content_type", [
    OCI_INDEX, f"{OCI_INDEX}; charset=utf-8", "Application/VND.OCI.Image.Index.V1+JSON",
    f" {OCI_INDEX.upper()} ;charset=UTF-8"])
def test_referrers_api_answer_is_read_whatever_the_case_of_its_media_type(
        content_type: str) -> None:
    """Media types are case-insensitive (RFC 6838): an API answer spelt in capitals is the API's
    answer, not a sign that there is no API (clamp then looked at a fallback tag that a
    registry with the API never has, and found no signature at all)."""
    def script(method: str, path: str) -> Answer:
        if "/referrers/" in path:
            return Answer(200, _index(REFERRER), {"Content-Type": content_type})
        return Answer(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')

    found, paths = _referrers(script)
    assert found == [REFERRER["digest"]]
    assert not any("/manifests/" in p for p in paths)


@pytest.mark.parametrize("status", [405, 501])
def test_referrers_endpoint_refused_as_unknown_falls_back_to_the_tag(status: int) -> None:
    """405 and 501 are how some registries and proxies in front of them answer a route they do
    not have: the referrers API is absent, and the `sha256-<hex>` tag is where cosign put the
    referrers; an error there (a 403, a 500) is still an error (test_registry_hostile)."""
    def script(method: str, path: str) -> Answer:
        if "/referrers/" in path:
            return Answer(status, b"<html>Method Not Allowed</html>",
                          {"Content-Type": "text/html"})
        if path.endswith("/manifests/" + SUBJECT.replace(":", "-")):
            return Answer(200, _index(REFERRER), {"Content-Type": OCI_INDEX})
        return Answer(404, b"")

    found, _ = _referrers(script)
    assert found == [REFERRER["digest"]]



def _redirecting_referrers(elsewhere: str, own: Answer | None = None) -> Any:
    """A registry (Basic credentials) that sends its referrers endpoint on to `elsewhere`
    (303, as GHCR has sent it to github.com's web API) or answers it with `own`, and keeps
    the referrers under the fallback tag."""
    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        if "Authorization" not in headers:
            return Answer(401, b"", {"WWW-Authenticate": 'Basic realm="r"'})
        if "/referrers/" in path:
            return own or Answer(303, b"", {"Location": f"http://{elsewhere}/-/v2/packages"})
        if path.endswith("/manifests/" + SUBJECT.replace(":", "-")):
            return Answer(200, _index(REFERRER), {"Content-Type": OCI_INDEX})
        return Answer(404, b"")
    return script


def _referrers_with_credentials(host: str) -> list[str]:
    from dataclasses import replace

    from clamp.oci.auth import Credentials

    async def go() -> list[str]:
        options = replace(FAST, credentials={host: Credentials("u", "pw-secret")})
        async with RegistryPool(options) as pool:
            found = await pool.client(host).referrers("r/x", parse_digest(SUBJECT), ARTIFACT)
            return [str(d.digest) for d in found]
    return list(run(go()))


@pytest.mark.parametrize("answer", [
    Answer(429, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}', {"Retry-After": "0"}),
    Answer(401, b"", {"WWW-Authenticate": 'Bearer realm="http://127.0.0.1:9/login"'}),
    Answer(503, b""), Answer(404, b""), Answer(200, b"<html/>", {"Content-Type": "text/html"})])
def test_referrers_sent_to_another_host_fall_back_to_the_tag(answer: Answer) -> None:
    """Session 13: GHCR has answered the referrers endpoint with a 303 to github.com's web API,
    which rate-limits (429) or wants a session (401). clamp retried the other host's 429 and
    reported a registry error, and took its 401 for an authentication failure: every GHCR image
    with bundles failed. Another host's answer is no answer of the registry's API: the fallback
    tag is read (where GHCR keeps the referrers), and the other host got no credentials."""
    sent: list[dict[str, str]] = []

    def elsewhere(method: str, path: str, headers: dict[str, str]) -> Answer:
        sent.append(headers)
        return answer

    with hostile_registry(with_headers=elsewhere) as github, \
            hostile_registry(with_headers=_redirecting_referrers(github.host)) as ghcr:
        assert _referrers_with_credentials(ghcr.host) == [REFERRER["digest"]]
    assert len(sent) == 1  # asked once, not retried
    assert "Authorization" not in sent[0]


def test_a_redirected_referrers_index_is_the_apis_answer() -> None:
    """The twin: a registry that sends the endpoint to another host which answers with an OCI
    index (a CDN) has the API: that index is read, and the fallback tag is not asked."""
    other = {**REFERRER, "digest": "sha256:" + "5" * 64}
    cdn_answer = Answer(200, _index(other), {"Content-Type": OCI_INDEX})
    with hostile_registry(lambda m, p: cdn_answer) as cdn, \
            hostile_registry(with_headers=_redirecting_referrers(cdn.host)) as reg:
        assert _referrers_with_credentials(reg.host) == [other["digest"]]
    assert not any(p.endswith("/manifests/" + SUBJECT.replace(":", "-"))
                   for _, p in reg.requests)


def test_the_registrys_own_429_on_referrers_is_still_an_error() -> None:
    """The twin: the registry's own rate limit is its answer, retried and then reported, not
    taken for a missing API."""
    limited = Answer(429, b'{"errors":[{"code":"TOOMANYREQUESTS"}]}', {"Retry-After": "0"})
    with hostile_registry(with_headers=_redirecting_referrers("", own=limited)) as reg, \
            pytest.raises(RegistryError, match="429: TOOMANYREQUESTS"):
        _referrers_with_credentials(reg.host)


# ---- token answers, read as docker reads them -------------------------------------------------

GOOD_TOKEN = "right-token"


def _token_registry(answer: dict[str, Any]) -> Any:
    """A registry that accepts only GOOD_TOKEN, behind a token service answering `answer`."""
    image = _image()

    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        if path.startswith("/token"):
            return Answer(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})
        if headers.get("Authorization") != f"Bearer {GOOD_TOKEN}":
            realm = f'http://{headers["Host"]}/token'
            return Answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', {
                "WWW-Authenticate": f'Bearer realm="{realm}",service="reg",scope="x"'})
        return Answer(200, image, {"Content-Type": OCI_MANIFEST})
    return script


@pytest.mark.parametrize("answer", [
    {"token": GOOD_TOKEN},
    {"access_token": GOOD_TOKEN},
    {"token": GOOD_TOKEN, "access_token": GOOD_TOKEN},  # Docker Hub's auth.docker.io
    {"token": GOOD_TOKEN, "access_token": ""},
    # docker's and go-containerregistry's reading: access_token, when set, is the token
    {"token": "an-id-token-not-for-the-registry", "access_token": GOOD_TOKEN},
    # Go fills a struct field from a key spelt in any case
    {"Token": GOOD_TOKEN, "Expires_In": 300},
    {"ACCESS_TOKEN": GOOD_TOKEN, "issued_at": "2026-12-03T20:00:00Z"},
])
def test_token_answers_are_read_as_docker_reads_them(answer: dict[str, Any]) -> None:
    async def go(host: str) -> str:
        async with RegistryPool(FAST) as pool:
            return str((await pool.client(host).get_manifest("r/x", "tag")).digest)
    with hostile_registry(with_headers=_token_registry(answer)) as srv:
        assert run(go(srv.host)) == _digest(_image())


@pytest.mark.parametrize("answer", [{}, {"token": ""}, {"token": 5}, {"access_token": 5},
                                    {"token": GOOD_TOKEN, "Token": GOOD_TOKEN}])
def test_token_answers_without_a_usable_token_are_auth_errors(answer: dict[str, Any]) -> None:
    from clamp.errors import AuthError

    async def go(host: str) -> None:
        async with RegistryPool(FAST) as pool:
            await pool.client(host).get_manifest("r/x", "tag")
    with hostile_registry(with_headers=_token_registry(answer)) as srv, pytest.raises(
            (AuthError, RegistryError)):
        run(go(srv.host))


# ---- URL user information typed where a host or reference goes is never echoed ---------------

SECRET = "hunter2pw"


@pytest.mark.parametrize("text", [
    f"bob:{SECRET}@ghcr.io/x/y:1", f"https://bob:{SECRET}@ghcr.io/x/y:1",
    f"bob:{SECRET}@ghcr.io", f"oauth2accesstoken:{SECRET}@gcr.io/p/i@sha256:" + "a" * 64])
def test_a_reference_with_user_information_is_refused_without_the_password(text: str) -> None:
    with pytest.raises(BadInputError) as info:
        parse_reference(text)
    assert SECRET not in str(info.value) and "***@" in str(info.value)


def test_a_bad_reference_without_user_information_is_still_named() -> None:
    for text in ("ubuntu:22.04@sha256:" + "Z" * 64, "ghcr.io/x/y:1@sha256:" + "Z" * 64):
        with pytest.raises(BadInputError) as info:
            parse_reference(text)
        assert text in str(info.value)


def test_a_matrix_registry_with_user_information_is_refused_without_the_password(
        tmp_path: Any) -> None:
    from clamp.matrix.loader import load

    path = tmp_path / "m.yml"
    path.write_text(f'version: 1\ndefaults:\n  registry: "https://bob:{SECRET}@ghcr.io"\n'
                    '  repository: r/x\n  tag: "{version}-{os}"\nimages: []\n')
    with pytest.raises(BadInputError) as info:
        load(path)
    assert SECRET not in str(info.value) and "registry" in str(info.value)


# ---- a 401 with several challenges: docker answers Bearer before Basic, whatever the order ----

def _challenging(challenge: str) -> Any:
    image = _image()

    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        if path.startswith("/token"):
            return Answer(200, json.dumps({"token": GOOD_TOKEN}).encode())
        if headers.get("Authorization") != f"Bearer {GOOD_TOKEN}":
            realm = f'http://{headers["Host"]}/token'
            return Answer(401, b"", {"WWW-Authenticate": challenge.format(realm=realm)})
        return Answer(200, image, {"Content-Type": OCI_MANIFEST})
    return script


@pytest.mark.parametrize("challenge", [
    'Bearer realm="{realm}",service="reg"',
    'Negotiate, Bearer realm="{realm}",service="reg"',  # what a header per scheme joins to
    'Basic realm="reg", Bearer realm="{realm}",service="reg"',
    'Negotiate YII0aGVsbG8=, Bearer realm="{realm}", service="reg,with,commas"',
    'Bearer service="reg", realm="{realm}", Basic realm="Registry Realm"',
])
def test_a_bearer_challenge_among_others_is_answered(challenge: str) -> None:
    async def go(host: str) -> str:
        async with RegistryPool(FAST) as pool:
            return str((await pool.client(host).get_manifest("r/x", "tag")).digest)
    with hostile_registry(with_headers=_challenging(challenge)) as srv:
        assert run(go(srv.host)) == _digest(_image())


def test_several_challenges_are_parsed_in_order() -> None:
    from clamp.oci.auth import parse_challenges

    got = parse_challenges('Negotiate YII0aGVsbG8=, Basic realm="a, b", '
                           'Bearer realm="https://h/t?x=1,2",service="s"')
    assert [(c.scheme, c.params) for c in got] == [
        ("negotiate", {}), ("basic", {"realm": "a, b"}),
        ("bearer", {"realm": "https://h/t?x=1,2", "service": "s"})]


def test_the_artifact_type_filter_reaches_the_registry_as_it_was_asked() -> None:
    """A query string's `+` is a space to the registry (Go's url.ParseQuery, as distribution,
    zot and Harbor read it): `…bundle.v0.3+json` sent as it is filtered every referrer out."""
    from urllib.parse import parse_qs, urlsplit

    other = {**REFERRER, "digest": "sha256:" + "5" * 64, "artifactType": "text/plain"}

    def script(method: str, path: str) -> Answer:
        if "/referrers/" in path:
            asked = parse_qs(urlsplit(path).query).get("artifactType", [None])[0]
            kept = [r for r in (REFERRER, other) if asked is None or r["artifactType"] == asked]
            return Answer(200, _index(*kept), {"Content-Type": OCI_INDEX,
                                               "OCI-Filters-Applied": "artifactType"})
        return Answer(404, b"")

    found, _ = _referrers(script)
    assert found == [REFERRER["digest"]]


# ---- a registry that echoes the credentials into a URL clamp then refuses ---------------------

@pytest.mark.parametrize("location", [
    "http://{pw}.example.com/v2/r/x/manifests/tag",  # plain HTTP elsewhere: refused, host named
    "https://{pw}.{long}.example.com/",  # a label DNS refuses: refused, host named
    "mailto:{b64}",  # no URL httpx can build: refused, the parser's words
    "https://{b64}@example.com/",  # user information
])
def test_credentials_echoed_into_a_redirect_are_masked_in_the_error(location: str) -> None:
    from dataclasses import replace

    from clamp.errors import ClampError
    from clamp.oci.auth import Credentials

    password = "S3cretpassword"  # a host name echoes it lower-cased
    creds = Credentials("user", password)
    b64 = creds.basic_header().removeprefix("Basic ")
    target = location.format(pw=password, b64=b64, long="a" * 70)

    def script(method: str, path: str, headers: dict[str, str]) -> Answer:
        if "Authorization" not in headers:
            return Answer(401, b"", {"WWW-Authenticate": 'Basic realm="r"'})
        return Answer(307, b"", {"Location": target})

    async def go(host: str) -> None:
        async with RegistryPool(replace(FAST, credentials={host: creds})) as pool:
            await pool.client(host).get_manifest("r/x", "tag")

    with hostile_registry(with_headers=script) as srv, pytest.raises(ClampError) as info:
        run(go(srv.host))
    text = str(info.value)
    assert password.lower() not in text.lower() and b64[:12] not in text, text


# ---- Docker schema 1, signed or not: refused by name, whatever the registry calls it ---------

SCHEMA1 = {"schemaVersion": 1, "name": "r/x", "tag": "tag", "architecture": "amd64",
           "fsLayers": [{"blobSum": "sha256:" + "6" * 64}],
           "history": [{"v1Compatibility": "{}"}]}


@pytest.mark.parametrize(("body", "content_type"), [
    (SCHEMA1, "application/vnd.docker.distribution.manifest.v1+json"),
    ({**SCHEMA1, "signatures": [{"header": {"alg": "ES256"}, "signature": "x",
                                 "protected": "e30"}]},
     "application/vnd.docker.distribution.manifest.v1+prettyjws"),
    ({k: v for k, v in SCHEMA1.items() if k != "schemaVersion"}, OCI_MANIFEST),  # relabelled
    ({**{k: v for k, v in SCHEMA1.items() if k != "fsLayers"},
      "FSLayers": SCHEMA1["fsLayers"]}, "application/json"),  # spelt as Go also reads it
])
def test_docker_schema_1_is_refused_by_name(body: dict[str, Any], content_type: str) -> None:
    raw = json.dumps(body).encode()

    def script(method: str, path: str) -> Answer:
        return Answer(200, raw, {"Content-Type": content_type})

    async def go(host: str) -> None:
        async with RegistryPool(FAST) as pool:
            await pool.client(host).get_manifest("r/x", "tag")
    with hostile_registry(script) as srv, pytest.raises(RegistryError, match="schema 1"):
        run(go(srv.host))


# ---- the fallback index as cosign (go-containerregistry) writes it -------------------------------

def _list_as_cosign_does(attack: Any) -> None:
    """Rewrite the fallback index's entries as go-containerregistry writes them for cosign:
    `artifactType` is the referrer's *config* media type (the empty one for a v3 bundle), and
    the manifest's annotations are not copied (cosign#4641; seen on GHCR)."""
    from tests.support.pushing import canonical_json

    fallback = attack.digest.replace(":", "-")
    index = json.loads(attack.pusher.get_manifest(attack.repo, fallback).data)
    index["manifests"] = [{**{k: v for k, v in m.items() if k != "annotations"},
                           "artifactType": "application/vnd.oci.empty.v1+json"}
                          for m in index["manifests"]]
    attack.pusher.push_manifest(attack.repo, fallback, canonical_json(index), OCI_INDEX)


def test_a_bundle_cosign_listed_as_an_empty_artifact_is_found(attack: Any, signer: Any) -> None:
    """Session 13: cosign v3 stores its signature as a bundle referrer; on a registry without
    the referrers API (GHCR, Docker Hub, Debian's distribution here) go-containerregistry lists
    it in the fallback index as `application/vnd.oci.empty.v1+json`. clamp took the listing's
    word, passed the bundle over and found the image unsigned (exit 4); now the artifact type
    is read from the referrer manifest, fetched by digest, and the signature verifies."""
    from tests.adversarial.conftest import COSIGN_SIGN, key_trust, statement
    from tests.adversarial.test_signature_attacks import key_flags, passes

    attack.push_bundle(signer.bundle(statement(attack.digest, COSIGN_SIGN)))
    _list_as_cosign_does(attack)
    passes(attack, key_flags(signer), key_trust(signer))


def test_a_bundle_listed_as_an_empty_artifact_is_still_verified(
        attack: Any, signer: Any) -> None:
    """The twin: what the listing no longer decides, verification still does. A bundle listed
    the same way but signed by another key is found and refused, as any bundle would be."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.adversarial.conftest import COSIGN_SIGN, Signer, key_trust, statement
    from tests.adversarial.test_signature_attacks import key_flags, refused

    other = Signer(ec.generate_private_key(ec.SECP256R1()), signer.pub)
    attack.push_bundle(other.bundle(statement(attack.digest, COSIGN_SIGN)))
    _list_as_cosign_does(attack)
    refused(attack, key_flags(signer), key_trust(signer))


def test_a_referrers_api_answer_listing_a_bundle_as_empty_is_completed() -> None:
    """A registry with the referrers API that copies the config's media type into
    `artifactType` (as go-containerregistry's fallback writer does) lists a bundle as an empty
    artifact: it is completed from the referrer manifest as the fallback index is."""
    bundle = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": ARTIFACT,
                         "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                    "digest": "sha256:" + "4" * 64, "size": 2},
                         "layers": []}).encode()
    digest = "sha256:" + hashlib.sha256(bundle).hexdigest()
    listed = {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(bundle),
              "artifactType": "application/vnd.oci.empty.v1+json"}

    def script(method: str, path: str) -> Answer:
        if "/referrers/" in path:
            return Answer(200, _index(listed), {"Content-Type": OCI_INDEX})
        if path.endswith("/manifests/" + digest):
            return Answer(200, bundle, {"Content-Type": OCI_MANIFEST})
        return Answer(404, b"")

    found, _ = _referrers(script)
    assert found == [digest]
