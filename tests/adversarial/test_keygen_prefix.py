"""Red team 13: `clamp keygen --output-prefix=` (an empty value, as `--output-prefix="$UNSET"`
gives) or a prefix naming a folder (`keys/`) wrote the key pair as the hidden files `.key` and
`.pub`, exit 0. Refused now (64, nothing written); a prefix that names a file is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from clamp.cli.main import app, invoke


@pytest.mark.parametrize("prefix", ["", " ", "keys/", ".", "keys/.."])
def test_a_prefix_naming_no_file_is_refused(prefix: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLAMP_PASSWORD", "pw")
    (tmp_path / "keys").mkdir()
    code = invoke(app, ["keygen", f"--output-prefix={prefix}"], prog_name="clamp")
    assert code == 64 and "names no file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["keys"]
    # Honest twin: a prefix that names files writes both.
    assert invoke(app, ["keygen", "--output-prefix", "keys/mirror"], prog_name="clamp") == 0
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == ["mirror.key", "mirror.pub"]
