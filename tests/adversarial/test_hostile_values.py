"""Values Python's conversions cannot take, written by a hostile registry or signer: each must
fail the one candidate or request that carried it, never crash the run (exit 70).

Red team, session 10 (all **got through** as crashes, each with its honest twin below):

- a `.sig` layer whose Rekor bundle claims an `integratedTime` past year 9999 (read before the
  SET is checked): `datetime` raised, so the valid keyless signature beside it was never tried
  and `verify --matrix` wrote no provenance;
- `Retry-After: ²` on a 429 (`str.isdigit` takes "²", `float` does not);
- a registry error message, or a signature layer's annotation, with a lone surrogate escape
  (`"\\ud800"`): Python's json keeps it, Go's makes it U+FFFD, and no UTF-8 writer can write
  it, so the provenance writer crashed and one hostile registry cost the whole run its record;
  an edited provenance file with one crashed `provenance verify` (70, not "not reproduced");
- a redirect to a Location httpx cannot parse (`mailto:x`, an `xn--` label IDNA refuses), and a
  realm, next page or GITHUB_API_URL with such a label (httpx reads the host lazily, when the
  request is built, after the URL gate had passed it).

Session 12: a token answer's `expires_in` of hundreds of digits (OverflowError when made seconds).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from clamp.exitcodes import ExitCode
from clamp.trust.mediatypes import ANN_BUNDLE, ANN_CERTIFICATE
from clamp.trust.pki import TestSigstore, keyless_sign_image
from tests.adversarial.conftest import (
    IDENTITY,
    ISSUER,
    RECENT,
    Attack,
    Layer,
    Signer,
    key_trust,
    keyless_trust,
    run_clamp,
    simple_payload,
)
from tests.support.hostile_http import Reply, Request, hostile_http, response
from tests.support.hostile_registry import Answer, hostile_registry


def _keyless(attack: Attack, pki: TestSigstore, *, integrated_time: int | None = None) -> Layer:
    layer = keyless_sign_image(pki, attack.digest, attack.name, identity=IDENTITY, issuer=ISSUER)
    annotations = dict(layer.annotations)
    if integrated_time is not None:
        bundle = json.loads(annotations[ANN_BUNDLE])
        bundle["Payload"]["integratedTime"] = integrated_time
        annotations[ANN_BUNDLE] = json.dumps(bundle)
    return Layer(layer.media_type, layer.payload, annotations)


def _keyless_flags(root: Path) -> tuple[str, ...]:
    return ("--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER,
            "--trusted-root", str(root))


def test_a_log_time_past_year_9999_does_not_deny_the_valid_signature_beside_it(
        attack: Attack, pki: TestSigstore, root_file: Path) -> None:
    attack.push_tag(".sig", [_keyless(attack, pki, integrated_time=10**12), _keyless(attack, pki)])
    code, err = attack.verify_image(*_keyless_flags(root_file))
    assert code == ExitCode.OK, err
    mcode, record = attack.verify_matrix(keyless_trust(root_file))
    assert mcode == ExitCode.OK and record["trustStatus"] == "valid", record


def test_a_log_time_past_year_9999_alone_is_an_invalid_signature(
        attack: Attack, pki: TestSigstore, root_file: Path) -> None:
    attack.push_tag(".sig", [_keyless(attack, pki, integrated_time=10**12)])
    code, err = attack.verify_image(*_keyless_flags(root_file))
    assert code == ExitCode.SIGNATURE_FAILED, err
    assert "integrated-time" in err and "past year 9999" in err
    mcode, record = attack.verify_matrix(keyless_trust(root_file))
    assert mcode == ExitCode.SIGNATURE_FAILED and record["trustStatus"] == "invalid", record


def _rate_limited(retry_after: str) -> Answer:
    return Answer(429, b'{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}',
                  {"Retry-After": retry_after})


def test_a_retry_after_python_cannot_read_is_a_registry_error(signer: Signer) -> None:
    with hostile_registry(lambda method, path: _rate_limited("\u00b2")) as srv:
        code, err = run_clamp("verify", f"{srv.host}/r/x:1", "--key", str(signer.pub))
    assert code == ExitCode.REGISTRY_ERROR, err
    assert "TOOMANYREQUESTS slow down" in err and len(err.strip().splitlines()) == 1


def test_a_retry_after_in_seconds_is_still_a_registry_error(signer: Signer) -> None:
    with hostile_registry(lambda method, path: _rate_limited("0")) as srv:
        code, err = run_clamp("verify", f"{srv.host}/r/x:1", "--key", str(signer.pub))
    assert code == ExitCode.REGISTRY_ERROR, err
    assert "TOOMANYREQUESTS slow down" in err


def _two_registries(attack: Attack, signer: Signer, hostile: str) -> Path:
    """A strict matrix: the attack's signed image, and an entry on the `hostile` registry."""
    matrix = attack.folder / "two.yml"
    matrix.write_text(f"""version: 1
defaults:
  registry: "{attack.registry.host}"
  repository: {attack.repo}
  policy: strict
  trust: [signer]
trust:
  signer:
{key_trust(signer)}
images:
  - version: "6.4.4"
    os: ubuntu-22.04
    digest: {attack.digest}
    added: {RECENT}
  - version: "6.4.5"
    os: ubuntu-22.04
    registry: "{hostile}"
    digest: sha256:{"a" * 64}
    added: {RECENT}
""")
    return matrix


def test_a_registry_error_with_a_lone_surrogate_keeps_the_runs_record(attack: Attack,
                                                                      signer: Signer) -> None:
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"gone \\ud800 away"}]}'
    with hostile_registry(lambda method, path: Answer(404, body)) as srv:
        matrix = _two_registries(attack, signer, srv.host)
        out = attack.folder / "provenance.json"
        code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
    assert code == ExitCode.FAILED, err
    records = json.loads(out.read_text(encoding="utf-8"))["records"]
    assert [r["trustStatus"] for r in records] == ["valid", "error"]
    assert "gone \ufffd away" in json.dumps(records[1], ensure_ascii=False)


def test_a_registry_error_in_plain_text_keeps_the_runs_record(attack: Attack,
                                                              signer: Signer) -> None:
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])
    body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"gone away"}]}'
    with hostile_registry(lambda method, path: Answer(404, body)) as srv:
        matrix = _two_registries(attack, signer, srv.host)
        out = attack.folder / "provenance.json"
        code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
    assert code == ExitCode.FAILED, err
    assert [r["trustStatus"] for r in json.loads(out.read_text())["records"]] == ["valid",
                                                                                  "error"]


def test_an_annotation_with_a_lone_surrogate_is_kept_as_go_reads_it(attack: Attack,
                                                                    signer: Signer) -> None:
    """The evidence keeps every annotation of the signature layer: as U+FFFD, Go's reading."""
    layer = signer.simple(simple_payload(attack.digest))
    attack.push_tag(".sig", [Layer(layer.media_type, layer.payload,
                                   {**layer.annotations, "org.example/note": "x\ud800y"})])
    mcode, record = attack.verify_matrix(key_trust(signer))
    assert mcode == ExitCode.OK and record["trustStatus"] == "valid", record
    assert "x\ufffdy" in json.dumps(record["evidence"], ensure_ascii=False)


def _edit_certificates(value: object, edit: Callable[[str], str]) -> int:
    """Apply `edit` to every certificate annotation kept in a provenance document."""
    count = 0
    if isinstance(value, dict):
        for key, item in value.items():
            if key == ANN_CERTIFICATE and isinstance(item, str):
                value[key] = edit(item)
                count += 1
            else:
                count += _edit_certificates(item, edit)
    elif isinstance(value, list):
        count += sum(_edit_certificates(item, edit) for item in value)
    return count


def _kept_keyless_record(attack: Attack, pki: TestSigstore, root_file: Path) -> Path:
    attack.push_tag(".sig", [_keyless(attack, pki)])
    matrix = attack.write_matrix(keyless_trust(root_file))
    out = attack.folder / "provenance.json"
    code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
    assert code == ExitCode.OK, err
    return out


def test_a_provenance_file_edited_with_a_lone_surrogate_is_not_reproduced(
        attack: Attack, pki: TestSigstore, root_file: Path) -> None:
    """`provenance verify` of an edited file answers "not reproduced" (11), not a crash (70)."""
    out = _kept_keyless_record(attack, pki, root_file)
    document = json.loads(out.read_text())
    assert _edit_certificates(document, lambda pem: pem[:200] + "\ud800" + pem[201:]) == 1
    out.write_text(json.dumps(document))  # ensure_ascii: the file holds the escape "\ud800"
    assert "\\ud800" in out.read_text()
    code, err = run_clamp("provenance", "verify", str(out))
    assert code == ExitCode.NOT_REPRODUCED, err
    assert "the evidence gives 'invalid'" in err


def test_an_unedited_provenance_file_is_reproduced(attack: Attack, pki: TestSigstore,
                                                   root_file: Path) -> None:
    out = _kept_keyless_record(attack, pki, root_file)
    code, err = run_clamp("provenance", "verify", str(out))
    assert code == ExitCode.OK, err


# A redirect's Location is parsed by httpx while it sends: one it cannot parse raised
# httpx.InvalidURL or IDNAError (no transport error), a crash that cost the whole matrix run.
@pytest.mark.parametrize("location", ["mailto:x", "data:text/plain,hi", "https://xn--/x"])
def test_a_redirect_to_no_usable_url_keeps_the_runs_record(attack: Attack, signer: Signer,
                                                           location: str) -> None:
    attack.push_tag(".sig", [signer.simple(simple_payload(attack.digest))])
    with hostile_registry(lambda method, path: Answer(307, b"", {"Location": location})) as srv:
        matrix = _two_registries(attack, signer, srv.host)
        out = attack.folder / "provenance.json"
        code, err = run_clamp("verify", "--matrix", str(matrix), "-o", str(out))
    assert code == ExitCode.REGISTRY_ERROR, err
    records = json.loads(out.read_text())["records"]
    assert [r["trustStatus"] for r in records] == ["valid", "error"]
    assert "redirect to no usable URL" in json.dumps(records[1])


@pytest.mark.parametrize("location", ["mailto:x", "https://xn--/x", "http://[::1"])
def test_a_redirect_to_no_usable_url_is_one_registry_error(signer: Signer,
                                                           location: str) -> None:
    with hostile_registry(lambda method, path: Answer(307, b"", {"Location": location})) as srv:
        code, err = run_clamp("verify", f"{srv.host}/r/x:1", "--key", str(signer.pub))
    assert code == ExitCode.REGISTRY_ERROR, err
    assert len(err.strip().splitlines()) == 1


# The same family where httpx reads a URL's host lazily: a realm, a next page or GITHUB_API_URL
# with an IDNA label it refuses passed the URL gate (the host was never read there) and raised
# IDNAError when the request was built.
@pytest.mark.parametrize("label", ["xn--", "xn--zz-"])
def test_a_realm_with_a_label_idna_refuses_is_one_registry_error(signer: Signer,
                                                                 label: str) -> None:
    challenge = f'Bearer realm="https://{label}/token",service="s"'
    with hostile_registry(lambda method, path: Answer(401, b"", {
            "WWW-Authenticate": challenge})) as srv:
        code, err = run_clamp("verify", f"{srv.host}/r/x:1", "--key", str(signer.pub))
    assert code == ExitCode.REGISTRY_ERROR, err
    assert "token realm is not a usable http(s) URL" in err


@pytest.mark.parametrize("link", ["<https://xn--/p>; rel=next", "<//xn--zz-/p>; rel=next"])
def test_a_next_page_with_a_label_idna_refuses_is_a_registry_error(link: str) -> None:
    import asyncio

    from clamp.errors import RegistryError
    from clamp.oci.pool import RegistryPool

    async def tags(host: str) -> list[str]:
        async with RegistryPool() as pool:
            return await pool.client(host).list_tags("r/x")

    with hostile_registry(lambda method, path: Answer(200, b'{"tags":["a"]}', {"Link": link})
                          ) as srv, pytest.raises(RegistryError, match="not a usable URL"):
        asyncio.run(tags(srv.host))


@pytest.mark.parametrize(("url", "usable"), [("https://xn--zz-", False), ("https://xn--", False),
                                             ("https://api.github.com", True),
                                             ("https://b\u00fccher.example", True)])
def test_github_api_url_is_read_as_httpx_reads_it(monkeypatch: pytest.MonkeyPatch, url: str,
                                                  usable: bool) -> None:
    from clamp.errors import DispatchError
    from clamp.verify.dispatch import api_url

    monkeypatch.setenv("GITHUB_API_URL", url)
    if usable:
        assert api_url() == url
    else:
        with pytest.raises(DispatchError, match="GITHUB_API_URL is not a URL"):
            api_url()


# A token answer's `expires_in` is a JSON number of any length, read by Python exactly: an
# integer of hundreds of digits raised OverflowError when converted to seconds (session 12),
# out of the token request and through the run as a crash.
def _token_registry(expires_in: str) -> Callable[[Request], Reply]:
    """A registry whose own /token realm sells `good-token` with `expires_in`; it serves one
    manifest (`r/x:1`) for that token, and nothing else (404)."""
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + "0" * 64, "size": 2}, "layers": []}).encode()

    def script(req: Request) -> Reply:
        if req.target.startswith("/token"):
            body = f'{{"token": "good-token", "expires_in": {expires_in}}}'.encode()
            yield response(200, body, {"Content-Type": "application/json"})
        elif req.headers.get("authorization") != "Bearer good-token":
            realm = f"http://{req.headers['host']}/token"
            yield response(401, b"", {"WWW-Authenticate": f'Bearer realm="{realm}",service="s"'})
        elif req.target == "/v2/r/x/manifests/1":
            yield response(200, manifest, {
                "Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        else:
            yield response(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}')
    return script


@pytest.mark.parametrize("expires_in", ["1" + "0" * 400, "-1" + "0" * 400, "1e400", "true"])
def test_a_token_lifetime_python_cannot_convert_is_read_as_a_day_or_the_default(
        signer: Signer, expires_in: str) -> None:
    with hostile_http(_token_registry("3600")) as honest:
        expected, _ = run_clamp("verify", f"{honest.host}/r/x:1", "--key", str(signer.pub))
    with hostile_http(_token_registry(expires_in)) as srv:
        code, err = run_clamp("verify", f"{srv.host}/r/x:1", "--key", str(signer.pub))
    assert code == expected, err  # the unsigned image's verdict, not a crash
    assert sum(r.target.startswith("/token") for r in srv.requests) == \
        sum(r.target.startswith("/token") for r in honest.requests)


@pytest.mark.parametrize(("expires_in", "seconds"), [
    (3600, 3600.0), (0.5, 0.5), (10 ** 400, 86400.0), (float("inf"), 86400.0),
    (-(10 ** 400), 60.0), (0, 60.0), (float("nan"), 60.0), (True, 60.0), ("3600", 60.0),
    (None, 60.0)])
def test_token_lifetimes(expires_in: object, seconds: float) -> None:
    from clamp.oci.auth_flow import token_lifetime

    assert token_lifetime(expires_in) == seconds
