"""What the CLI fuzz (test_fuzz_cli.py) found, each pinned as a test of its own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clamp.cli.main import app, invoke
from clamp.exitcodes import ExitCode


@pytest.mark.parametrize("media_type", [[], {}, 1, None])
def test_trusted_root_media_type_of_the_wrong_type_is_bad_input(
        tmp_path: Path, media_type: object, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root.json"
    root.write_text(json.dumps({"mediaType": media_type}))
    (tmp_path / "layout").mkdir()
    code = invoke(app, ["verify", "--image", f"oci:{tmp_path / 'layout'}/r:t", "--trusted-root",
                        str(root), "--certificate-identity", "x",
                        "--certificate-oidc-issuer", "y"], prog_name="clamp")
    err = capsys.readouterr().err
    assert code == ExitCode.BAD_INPUT and "mediaType" in err and "internal error" not in err
