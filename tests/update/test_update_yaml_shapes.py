"""`clamp update` keeps every line outside the entries it pins byte for byte, or writes nothing.

Matrices in shapes the in-place edit cannot keep (YAML anchors, aliases and merge keys in a pinned
entry; a flow-style entry whose fallback re-dumps the file in another indentation) are refused
with one line and exit 64; the same matrices written out plainly are pinned. Real registry, real
signatures (docs/update.md, "What a pin writes").
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support.diffs import changed_lines
from tests.support.registry import RegistryHandle
from tests.update.helpers import Signer, clamp, native_matrix, new_signer, push

TAG = "6.4.4-ubuntu-22.04"
OLD_TAG = "6.3.4-ubuntu-22.04"
RECENT = (date.today() - timedelta(days=1)).isoformat()
FIRST = '  - version: "6.4.4"   # 6.4.4 release\n    os: ubuntu-22.04\n'


def _two(registry: RegistryHandle, repo: str, tmp_path: Path) -> tuple[Signer, str, str, str]:
    """Two signed entries (6.4.4, 6.3.4) pinned; the matrix text as native_matrix writes it."""
    signer = new_signer(tmp_path / "keys")
    first = str(push(registry.host, repo, TAG, signer=signer).digest)
    second = str(push(registry.host, repo, OLD_TAG, signer=signer, version="6.3.4").digest)
    text = native_matrix(registry.host, repo, signer.public_path, [
        {"version": "6.4.4", "digest": first, "added": RECENT},
        {"version": "6.3.4", "digest": second, "added": RECENT}])
    return signer, text, first, second


def _second_block(second: str) -> str:
    return (f'  - version: "6.3.4"   # 6.3.4 release\n    os: ubuntu-22.04\n'
            f"    digest: {second}  # pinned by hand\n    added: {RECENT}\n")


def _run(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str],
         *args: str) -> tuple[int, Path, str]:
    matrix = tmp_path / "ci" / "rocm_matrix.yml"
    matrix.parent.mkdir(exist_ok=True)
    matrix.write_text(text)
    capsys.readouterr()
    code = clamp("update", "--matrix", str(matrix), *args)
    return code, matrix, capsys.readouterr().err


SHARED = ["merge-key", "anchored-added", "honest"]


@pytest.mark.parametrize("shape", SHARED)
def test_an_entry_sharing_yaml_nodes_is_not_rewritten(
        shape: str, registry: RegistryHandle, repo_name: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Before: a merge key crashed (exit 70, KeyError), and an anchored `added` edited in place
    left its alias in the other entry dangling. Now: exit 64 naming the entry, file untouched."""
    signer, text, _first, second = _two(registry, repo_name, tmp_path)
    if shape == "merge-key":  # 6.3.4 takes os/digest/added from 6.4.4's anchored mapping
        text = text.replace(FIRST, FIRST.replace("  - version", "  - &base\n    version"))
        text = text.replace(_second_block(second), '  - <<: *base\n    version: "6.3.4"\n')
    elif shape == "anchored-added":
        text = text.replace(f"    added: {RECENT}", f"    added: &day {RECENT}", 1)
        text = text.replace(f"    added: {RECENT}", "    added: *day", 1)
    push(registry.host, repo_name, TAG, signer=signer)  # only 6.4.4's tag moves
    code, matrix, err = _run(tmp_path, text, capsys, "--pr-body", str(tmp_path / "body.md"))
    if shape == "honest":
        assert code == 10, err
        return
    assert code == 64, err
    assert matrix.read_text() == text and not (tmp_path / "body.md").exists()
    assert err.count("error:") == 1 and "internal error" not in err
    assert "entry 6.4.4/ubuntu-22.04 uses a YAML anchor, alias or merge key" in err


@pytest.mark.parametrize("indent", ["other-indentation", "honest"])
def test_a_flow_entry_rewrite_that_moves_other_lines_is_refused(
        indent: str, registry: RegistryHandle, repo_name: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A flow-style entry makes the edit re-dump the whole file. Before: the file's lists were
    re-indented and its comments respaced (exit 10). Now: refused (64) unless every other line
    comes back byte for byte, as it does in clamp's own indentation."""
    signer, text, _first, second = _two(registry, repo_name, tmp_path)
    flow = (f'  - {{version: "6.3.4", os: ubuntu-22.04, digest: {second}, '
            f"added: {RECENT}}}\n")
    text = text.replace(_second_block(second), flow)
    if indent == "other-indentation":  # lists at the parent's column, as many editors write
        text = text.replace("      - path:", "    - path:")
    moved = str(push(registry.host, repo_name, OLD_TAG, signer=signer, version="6.3.4").digest)
    code, matrix, err = _run(tmp_path, text, capsys)
    if indent == "honest":
        assert code == 10, err
        removed, added = changed_lines(text, matrix.read_text())
        assert removed == [flow.rstrip("\n")] and len(added) == 1 and moved in added[0]
        return
    assert code == 64, err
    assert matrix.read_text() == text and err.count("error:") == 1
    assert "outside the entries it pins" in err


def test_pins_written_in_one_dump_share_no_yaml_node(
        registry: RegistryHandle, repo_name: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Two pins in one run share `today`. Before: the flow fallback dumped that one date object
    as an anchor and an alias (`added: &id001 …`, `added: *id001`). Now: plain dates."""
    signer, text, _first, second = _two(registry, repo_name, tmp_path)
    text = text.replace(_second_block(second), (
        f'  - {{version: "6.3.4", os: ubuntu-22.04, digest: {second}, added: {RECENT}}}\n'))
    push(registry.host, repo_name, TAG, signer=signer)
    push(registry.host, repo_name, OLD_TAG, signer=signer, version="6.3.4")
    code, matrix, err = _run(tmp_path, text, capsys)
    assert code == 10, err
    after = matrix.read_text()
    assert "&id" not in after and "*id" not in after
    assert after.count(f"added: {date.today().isoformat()}") == 2


def test_a_discovered_release_is_appended_before_trailing_comments_untouched(
        registry: RegistryHandle, repo_name: str, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Honest: a new entry appended to a matrix that ends in comments moves no existing line."""
    signer, text, _first, _second = _two(registry, repo_name, tmp_path)
    text += "# end of the images list\n\n# (kept)\n"
    newer = str(push(registry.host, repo_name, "6.4.10-ubuntu-22.04", signer=signer,
                     version="6.4.10").digest)
    code, matrix, err = _run(tmp_path, text, capsys, "--discover")
    assert code == 10, err
    removed, added = changed_lines(text, matrix.read_text())
    assert removed == [] and any(newer in line for line in added)
