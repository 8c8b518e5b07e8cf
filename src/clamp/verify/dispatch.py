"""Dispatching the update workflow through GitHub's REST API.

`POST /repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches` with the ref and inputs
naming the entries and reasons. The token is read from GITHUB_TOKEN, sent only in the
Authorization header, and never appears in a message; GITHUB_API_URL is honoured (GitHub
Enterprise, and the tests' local stand-in).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from clamp.errors import DispatchError
from clamp.matrix.models import WORKFLOW_NAME

if TYPE_CHECKING:
    import httpx

INPUT_LIMIT = 1000  # keep inputs short: they end up in a PR title/body and a log line
TIMEOUT_S = 15.0


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

    token = os.environ.get("GITHUB_TOKEN")
    if not token:
        raise DispatchError("GITHUB_TOKEN is not set; cannot dispatch the update workflow")
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    owner, _, name = request.repository.partition("/")
    url = (f"{api}/repos/{quote(owner, safe='')}/{quote(name, safe='')}/actions/workflows/"
           f"{quote(request.workflow, safe='')}/dispatches")
    body = {"ref": request.ref, "inputs": {
        "entries": ",".join(request.entries)[:INPUT_LIMIT],
        "reasons": request.reasons[:INPUT_LIMIT]}}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
               "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "clamp"}
    where = f"dispatch {request.workflow} on {request.repository}@{request.ref}"
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False, trust_env=False) as client:
            response = client.post(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        raise DispatchError(f"GitHub API unreachable ({type(exc).__name__})", where=where) \
            from None
    if response.status_code == 204:
        return
    raise DispatchError(f"GitHub answered {response.status_code}: {_message(response)}",
                        where=where)


def _message(response: httpx.Response) -> str:
    try:
        message = response.json().get("message", "")
    except (ValueError, AttributeError):
        message = ""
    token = os.environ.get("GITHUB_TOKEN")
    text = str(message)[:200] or response.reason_phrase
    return text.replace(token, "***") if token else text
