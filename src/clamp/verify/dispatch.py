"""Dispatching the update workflow through GitHub's REST API.

`POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with the ref and inputs
naming the entries and reasons. The token is read from GITHUB_TOKEN, sent only in the
Authorization header, and never appears in a message; GITHUB_API_URL is honoured (GitHub
Enterprise, and the tests' local stand-in) under the scheme rule every registry URL gets: HTTPS,
or plain HTTP to a loopback host only, never with user information in the URL. The connection is
made as the registry client makes its own: SSL_CERT_FILE / SSL_CERT_DIR for a private CA, the
environment's proxies (loopback direct), no redirect followed, the answer read through the
bounded decoder. A refusal is a DispatchError (exit 71), recorded in the provenance like every
other failed dispatch, not bad input that would lose the run's findings.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from clamp.errors import BadInputError, DispatchError
from clamp.matrix.models import WORKFLOW_NAME

if TYPE_CHECKING:
    import httpx

INPUT_LIMIT = 1000  # keep inputs short: they end up in a PR title/body and a log line
TIMEOUT_S = 15.0
MAX_ANSWER_BYTES = 64 * 1024  # GitHub's error answers are a few hundred bytes
MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class DispatchRequest:
    repository: str  # owner/name
    workflow: str  # file name or workflow id
    ref: str
    entries: tuple[str, ...]
    reasons: str


def request_from_env(workflow: str | None, ref: str | None, entries: list[str],
                     reasons: str) -> DispatchRequest:
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    if not _REPOSITORY.fullmatch(repository):
        raise DispatchError("GITHUB_REPOSITORY (owner/name) is not set or not owner/name; "
                            "cannot dispatch")
    if workflow is not None and not _WORKFLOW.fullmatch(workflow):
        raise DispatchError(f"workflow {workflow[:80]!r} is not a workflow file name or id")
    chosen_ref = ref or os.environ.get("GITHUB_REF_NAME") or "main"
    return DispatchRequest(repository, workflow or "update-rocm.yml", chosen_ref,
                           tuple(entries), reasons)


# What GitHub allows in owner and repository names, and in a workflow file name or id: the
# parts of the dispatch URL, so that none of them can add a path segment (`..`, `/`).
_REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_WORKFLOW = re.compile(WORKFLOW_NAME)


def dispatch(request: DispatchRequest) -> None:
    """Send the dispatch; raise DispatchError naming GitHub's answer (never the token)."""
    import httpx

    from clamp.oci.body import ACCEPT_ENCODING
    from clamp.oci.pool import http_client_settings

    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        raise DispatchError("GITHUB_TOKEN is not set; cannot dispatch the update workflow")
    api = api_url()
    owner, _, name = request.repository.partition("/")
    url = (f"{api}/repos/{quote(owner, safe='')}/{quote(name, safe='')}/actions/workflows/"
           f"{quote(request.workflow, safe='')}/dispatches")
    body = {"ref": request.ref, "inputs": {
        "entries": ",".join(request.entries)[:INPUT_LIMIT],
        "reasons": request.reasons[:INPUT_LIMIT]}}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "clamp",
               "Accept-Encoding": ACCEPT_ENCODING}
    where = f"dispatch {request.workflow} on {request.repository}@{request.ref}"
    try:
        settings = http_client_settings()
    except BadInputError as exc:  # an unusable CA bundle or proxy: a failed dispatch, recorded
        raise DispatchError(exc.message, where=exc.where) from None
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, **settings) as client, \
                client.stream("POST", url, json=body, headers=headers) as response:
            status, reason = response.status_code, response.reason_phrase
            answer = _read_answer(response)
    except httpx.HTTPError as exc:
        raise DispatchError(f"GitHub API unreachable ({type(exc).__name__})", where=where) \
            from None
    if status == 204:
        return
    raise DispatchError(f"GitHub answered {status}: {_message(answer, reason, token)}",
                        where=where)


def api_url() -> str:
    """GITHUB_API_URL (default api.github.com) once it passed the scheme rule: the job's token
    goes there, so plain HTTP off loopback and `user:password@` are refused before anything is
    sent."""
    from urllib.parse import urlsplit

    import httpx

    from clamp.oci.reference import is_loopback_host

    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    try:
        parts = urlsplit(api)
        host = parts.hostname or ""
        _ = parts.port
        # As httpx will read it: an IDNA label it refuses (`xn--zz-`) raised while the request
        # was built, a crash after the whole run's verification (exit 70, no provenance).
        httpx.URL(api).host  # noqa: B018
    except (ValueError, httpx.InvalidURL):  # UnicodeError (IDNA) is a ValueError
        host = ""
    if not host:  # the value itself is not printed: it may hold user:password@
        raise DispatchError("GITHUB_API_URL is not a URL with a host and a valid port")
    if "@" in parts.netloc:
        raise DispatchError(f"GITHUB_API_URL for {host[:80]} holds user information; the token "
                            "is GITHUB_TOKEN's alone")
    if parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(host)):
        return api
    raise DispatchError(f"refusing to send GITHUB_TOKEN to {parts.scheme[:10]}://{host[:80]}: "
                        "GITHUB_API_URL must be HTTPS (plain HTTP only to a loopback host)")


def _read_answer(response: httpx.Response) -> bytes:
    """GitHub's answer, at most MAX_ANSWER_BYTES of it (decoded), enough for its message."""
    from clamp.oci.body import BodyError, BoundedDecoder

    try:
        decoder = BoundedDecoder(response.headers.get("content-encoding"), MAX_ANSWER_BYTES)
        chunks: list[bytes] = []
        for raw in response.iter_raw():
            chunks.append(decoder.feed(raw))
            if decoder.exceeded:
                break
    except BodyError:
        return b""
    return b"".join(chunks)


def _message(answer: bytes, reason: str, token: str) -> str:
    """GitHub's `message`, the token masked before the text is cut (a cut first could leave a
    prefix of the token that no longer matches it whole)."""
    import json

    from clamp.oci.auth import redact
    from clamp.strictjson import go_text

    try:
        message = json.loads(answer).get("message", "")
    except (ValueError, AttributeError, RecursionError):
        message = ""
    # A lone surrogate escape would reach the provenance as a str no writer can write.
    return redact(go_text(str(message)), [token], MESSAGE_LIMIT) or reason
