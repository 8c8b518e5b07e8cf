"""`clamp matrix migrate`: every field carried over; the result loads and selects the same."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from matrix_samples import NATIVE, ORIGINAL

from clamp.cli.main import app, invoke
from clamp.errors import BadInputError
from clamp.exitcodes import ExitCode
from clamp.matrix import LoadedMatrix, MatrixFile, effective, load, load_text, select_image
from clamp.matrix.migrate import migrate_text


def test_migrate_carries_everything(original: Callable[..., Path]) -> None:
    old = load(original())
    text = migrate_text(old)
    new = load_text(text, old.path)
    assert new.layout == "native"
    def without_key_paths(loaded: LoadedMatrix) -> dict[str, Any]:
        data = loaded.model.model_dump()
        for policy in data["trust"].values():
            for key in policy["keys"]:
                key["path"] = None
        return data

    assert without_key_paths(new) == without_key_paths(old)
    resolved = [k.resolved_path for t in new.model.trust.values() for k in t.keys]
    assert resolved == [k.resolved_path for t in old.model.trust.values() for k in t.keys]
    assert "registry: ghcr.io" in text and "repository: rocm/dev" in text
    assert "policy: warn" in text and "digest_ttl_days: 14" in text
    assert "require_signature: false" in text and 'attest_mode: "off"' in text
    assert "workflow: update-rocm.yml" in text and "ref: main" in text
    assert "issuer: https://token.actions.githubusercontent.com" in text
    assert "path: keys/rocm.pub" in text  # rebased from the repository root to ci/
    for entry in old.model.images:
        before = effective(old.model, entry).trust
        after = effective(new.model, new.model.entry(entry.id)).trust
        assert [p.keyless for p in after] == [p.keyless for p in before]
        assert [[k.resolved_path for k in p.keys] for p in after] == \
            [[k.resolved_path for k in p.keys] for p in before]
    for args in ((), ("6.3.4", None), (None, "ubuntu-22.04"), ("6.4.4", "ubuntu-22.04")):
        assert select_image(new.model, *args) == select_image(old.model, *args)


def test_migrate_cli_stdout_and_output(original: Callable[..., Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    path = original()
    assert invoke(app, ["matrix", "migrate", str(path)], prog_name="clamp") == 0
    out, err = capsys.readouterr()
    assert out.startswith("# clamp image matrix (native format)")
    assert "TODO_NEXT_RELEASE" in err  # the placeholder warning still reaches the user
    target = tmp_path / "elsewhere" / "matrix.yml"
    code = invoke(app, ["matrix", "migrate", str(path), "--output", str(target)],
                  prog_name="clamp")
    assert code == 0
    moved = load(target)
    key = next(k for t in moved.model.trust.values() for k in t.keys)
    assert key.resolved_path == (path.parent / "keys" / "rocm.pub").resolve()
    assert select_image(moved.model) == select_image(load(path).model)
    assert list(target.parent.iterdir()) == [target]  # no temp files left behind


def test_migrate_rejects_native_and_bad_input(native: Callable[[str], Path],
                                              original: Callable[..., Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(BadInputError, match="already in the native format"):
        migrate_text(load(native(NATIVE)))
    bad = original(ORIGINAL.replace("sha256:TODO_NEXT_RELEASE", "sha256:12"))
    target = bad.parent / "out.yml"
    code = invoke(app, ["matrix", "migrate", str(bad), "-o", str(target)], prog_name="clamp")
    assert code == ExitCode.BAD_INPUT
    assert not target.exists()
    assert "rocm.images[3].digest" in capsys.readouterr().err


def test_migrate_output_reads_right_in_yaml_1_1(original: Callable[..., Path]) -> None:
    """PyYAML (YAML 1.1) reads the migrated file as the same data clamp does: a bare `off`
    would be false there and fail the schema."""
    yaml = pytest.importorskip("yaml")
    old = load(original())
    text = migrate_text(old)
    assert yaml.safe_load(text)["defaults"]["attest_mode"] == "off"
    as_11 = MatrixFile.model_validate(yaml.safe_load(text))
    assert as_11.model_dump() == load_text(text, old.path).model.model_dump()


def test_migrate_keeps_comments(original: Callable[..., Path]) -> None:
    policy = ("# our policy\npolicy:\n  mode: warn   # reviewed weekly\n"
              "  attest_mode: record  # none | record | enforce\n")
    text = migrate_text(load(original(policy=policy)))
    assert "policy: warn  # reviewed weekly" in text
    assert "# rocm_policy.yml: our policy" in text
    assert "# rocm_policy.yml: policy.attest_mode: none | record | enforce" in text
