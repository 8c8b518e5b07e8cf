"""`clamp update`'s matrix and its review evidence are one unit: a bad output path is refused
before anything is written, the evidence is on disk before the matrix changes, and a refused
matrix write takes the evidence back."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.errors import ConflictError
from clamp.exitcodes import ExitCode
from clamp.trust.pki import TestSigstore, keyless_sign_image
from clamp.update.commit import write_together
from tests.adversarial.conftest import TAG
from tests.support.registry import RegistryHandle
from tests.update.helpers import (
    in_store,
    native_matrix,
    new_signer,
    push,
    push_legacy_signature_for,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture()
def matrix(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES / "keys", tmp_path / "keys")
    path = tmp_path / "m.yml"
    path.write_text((EXAMPLES / "rocm_matrix.yml").read_text())
    return path


@pytest.mark.parametrize("where", ["dir", "matrix", "long", "same"])
def test_bad_outputs_are_refused_before_anything_is_written(
        matrix: Path, tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]) -> None:
    before = matrix.read_bytes()
    (tmp_path / "out").mkdir()
    pr_body = {"dir": tmp_path / "out", "matrix": matrix, "long": tmp_path / ("x" * 300),
               "same": tmp_path / "body.md"}[where]
    args = ["update", "-m", str(matrix), "--pr-body", str(pr_body)]
    if where == "same":
        args += ["--provenance-output", str(pr_body)]
    # The registry named does not exist: refusing first means it is never asked.
    assert invoke(app, args, prog_name="clamp") == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert "internal error" not in err and err.count("error:") == 1
    assert matrix.read_bytes() == before and not (tmp_path / "body.md").exists()


def test_evidence_is_written_before_the_matrix(tmp_path: Path) -> None:
    body, seen = tmp_path / "pr-body.md", []

    def commit() -> None:
        seen.append(body.read_text())

    write_together([(body, "new body")], commit)
    assert seen == ["new body"]


def test_a_refused_matrix_write_takes_the_evidence_back(tmp_path: Path) -> None:
    kept, fresh = tmp_path / "pr-body.md", tmp_path / "prov.json"
    kept.write_text("last run's body")

    def commit() -> None:
        raise ConflictError("changed")

    with pytest.raises(ConflictError):
        write_together([(kept, "new body"), (fresh, "{}")], commit)
    assert kept.read_text() == "last run's body" and not fresh.exists()


def test_dispatch_reasons_that_are_not_utf8_reach_the_pr_body(
        matrix: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import os

    (tmp_path / "layout").mkdir()
    matrix.write_text(matrix.read_text().replace("registry: ghcr.io",
                                                 f"registry: oci:{tmp_path / 'layout'}"))
    monkeypatch.setitem(os.environb, b"CLAMP_UPDATE_REASONS", b"drift on \xff\xfe 6.4.4")
    body = tmp_path / "pr-body.md"
    code = invoke(app, ["update", "-m", str(matrix), "--pr-body", str(body)], prog_name="clamp")
    assert code != ExitCode.INTERNAL_ERROR and "internal error" not in capsys.readouterr().err
    assert "drift on \ufffd\ufffd 6.4.4" in body.read_text(encoding="utf-8")


# GitHub acts on these in a pull request body's plain text: a cross-reference posted on issue 1
# (here or in another repository), a link to follow, a notification.
_ACTED_ON = re.compile(r"(?<![\w/&])#[0-9]|(?i:gh-[0-9])|https?://|www\.|@[A-Za-z]")
ROCM = "https://github.com/ROCm/rocm-images/.github/workflows/release.yml@refs/tags/v1"
EVIL = ("https://github.com/evil/x/.github/workflows/a.yml@refs/heads/see-GH-7-#1-"
        "www.evil.example#2")


def _plain_text(body: str) -> str:
    """The body with its code spans taken out (GitHub links nothing inside those)."""
    return re.sub(r"`[^`\n]*`", "", body)


@pytest.mark.parametrize("identity", ["attacker", "honest"])
def test_a_signer_identity_in_the_pr_body_links_and_notifies_nothing(
        identity: str, registry: RegistryHandle, repo_name: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Anyone can get a certificate for their own workflow, with `#1` or a URL in its branch.
    Before: a rejected signature's identity reached the Reason cell as text GitHub turns into a
    cross-reference on issue #1, on `GH-7`, and into links. Now: each marker is kept text. The
    honest twin's identity, verified, is shown exactly in its code span."""
    pki = TestSigstore()
    root = tmp_path / "trusted_root.json"
    root.write_bytes(pki.trusted_root_json())
    issuer = "https://token.actions.githubusercontent.com"
    image = push(registry.host, repo_name, TAG, signer=None)
    who = EVIL if identity == "attacker" else ROCM
    layer = keyless_sign_image(pki, str(image.digest), f"{registry.host}/{repo_name}",
                               identity=who, issuer=issuer)
    in_store(registry.host, repo_name, push_legacy_signature_for(repo_name, image, layer))
    matrix = tmp_path / "m.yml"
    text = native_matrix(registry.host, repo_name, new_signer(tmp_path).public_path,
                         [{"version": "6.4.4"}])
    matrix.write_text(text.replace("  mirror:\n    keys:\n", "  mirror:\n    keyless:\n"
                                   f"      - issuer: {issuer}\n"
                                   r"        subject_regexp: ^https://github\.com/ROCm/.+$"
                                   f"\n    trusted_root: {root}\n    keys:\n"))
    monkeypatch.setenv("CLAMP_UPDATE_REASONS", "drift, see #12, GH-3, https://evil.example"
                       if identity == "attacker" else "drift on 6.4.4/ubuntu-22.04")
    body = tmp_path / "body.md"
    code = invoke(app, ["update", "-m", str(matrix), "--pr-body", str(body)], prog_name="clamp")
    rendered = body.read_text()
    assert not _ACTED_ON.search(_plain_text(rendered)), _plain_text(rendered)
    if identity == "honest":
        assert code == ExitCode.UPDATED and f"keyless `{ROCM}`" in rendered
    else:
        assert code == ExitCode.NOTHING_UPDATED and "identity\\_mismatch" in rendered
