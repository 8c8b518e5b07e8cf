"""Round-trip editing: only the lines that must change move; comments and quoting stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matrix_samples import D1, D2, NATIVE

from clamp.errors import BadInputError
from clamp.matrix import load, load_text
from clamp.matrix.edit import EntryChange, apply_changes
from tests.support.diffs import changed_lines

NEW = "sha256:" + "f" * 64


def test_noop_is_byte_identical(native: Callable[[str], Path],
                                original: Callable[..., Path]) -> None:
    for path in (native(NATIVE), original()):
        loaded = load(path)
        assert apply_changes(loaded, {}) == loaded.text
        same = {e.id: EntryChange(digest=e.digest, added=e.added) for e in loaded.model.images}
        assert apply_changes(loaded, same) == loaded.text
    loaded = load(native(NATIVE))
    prov = loaded.model.entry("6.3.4/ubuntu-22.04").provenance
    assert apply_changes(loaded, {"6.3.4/ubuntu-22.04": {"provenance": prov}}) == loaded.text


def test_digest_change_moves_one_line_and_keeps_comment(native: Callable[[str], Path]) -> None:
    loaded = load(native(NATIVE))
    after = apply_changes(loaded, {"6.4.4/ubuntu-24.04": EntryChange(digest=NEW)})
    removed, added = changed_lines(loaded.text, after)
    assert removed == [f"    digest: {D1}   # pinned by hand"]
    assert added == [f"    digest: {NEW}   # pinned by hand"]
    # A quoted digest stays quoted.
    after = apply_changes(loaded, {"6.4.4/ubuntu-22.04": EntryChange(digest=NEW)})
    assert changed_lines(loaded.text, after) == ([f'    digest: "{D2}"'],
                                                 [f'    digest: "{NEW}"'])


def test_pin_unpinned_entry_with_provenance(native: Callable[[str], Path]) -> None:
    loaded = load(native(NATIVE))
    change = EntryChange(digest=NEW, added=date(2025, 11, 1),
                         provenance={"verified_at": "2025-11-01T08:00:00Z", "log_index": 7,
                                     "identity": "https://github.com/ROCm/x"})
    after = apply_changes(loaded, {"7.0.0/ubuntu-24.04": change})
    removed, added = changed_lines(loaded.text, after)
    assert removed == ["    digest: null"]
    assert added == [f"    digest: {NEW}", "    added: 2025-11-01", "    provenance:",
                     "      verified_at: '2025-11-01T08:00:00Z'", "      log_index: 7",
                     "      identity: https://github.com/ROCm/x"]
    entry = load_text(after, loaded.path).model.entry("7.0.0/ubuntu-24.04")
    assert entry.digest == NEW and entry.added == date(2025, 11, 1)
    assert entry.provenance == change.provenance


def test_provenance_update_keeps_unchanged_keys_and_comments(
        native: Callable[[str], Path]) -> None:
    loaded = load(native(NATIVE))
    after = apply_changes(loaded, {"6.3.4/ubuntu-22.04": EntryChange(
        provenance={"verified_at": "2025-06-03T10:00:00Z", "log_index": 43, "signer": "k"})})
    removed, added = changed_lines(loaded.text, after)
    assert removed == ["      log_index: 42"]
    assert added == ["      log_index: 43", "      signer: k"]
    assert "      # written by clamp update" in after


def test_unpin(native: Callable[[str], Path]) -> None:
    loaded = load(native(NATIVE))
    after = apply_changes(loaded, {"6.4.4/ubuntu-24.04": EntryChange(digest=None)})
    assert changed_lines(loaded.text, after) == ([f"    digest: {D1}   # pinned by hand"],
                                                 ["    digest: null   # pinned by hand"])


def test_original_layout_edited_in_its_own_layout(original: Callable[..., Path]) -> None:
    loaded = load(original())
    after = apply_changes(loaded, {
        "7.0.0/ubuntu-24.04": EntryChange(digest=NEW, added=date(2025, 11, 1),
                                          provenance={"verified_at": "2025-11-01"}),
        "6.3.4/ubuntu-22.04": EntryChange(provenance={"verified_at": "2025-11-02",
                                                      "key_path": "elsewhere.pub"}),
    })
    removed, added = changed_lines(loaded.text, after)
    assert removed == ["      digest: sha256:TODO_NEXT_RELEASE"]
    assert added == ["        verified_at: '2025-11-02'", f"      digest: {NEW}",
                     "      added: 2025-11-01", "      provenance:",
                     "        verified_at: '2025-11-01'"]
    # Trust configuration (key_path) is never rewritten by an edit; its comment stays.
    assert "        key_path: ci/keys/rocm.pub   # repository-relative" in after
    reloaded = load_text(after, loaded.path, policy_text=loaded.policy_text,
                         policy_path=loaded.policy_path)
    assert reloaded.layout == "original"
    assert reloaded.model.entry("7.0.0/ubuntu-24.04").digest == NEW


def test_bad_changes_are_refused(native: Callable[[str], Path]) -> None:
    loaded = load(native(NATIVE))
    with pytest.raises(BadInputError, match="no entry"):
        apply_changes(loaded, {"1.0/nowhere": EntryChange(digest=NEW)})
    with pytest.raises(BadInputError, match="malformed digest"):
        apply_changes(loaded, {"6.4.4/ubuntu-24.04": EntryChange(digest="sha256:12")})


def test_flow_style_entry_falls_back_to_full_dump(native: Callable[[str], Path]) -> None:
    text = NATIVE.replace('  - version: "7.0.0"\n    os: ubuntu-24.04\n    digest: null\n',
                          '  - {version: "7.0.0", os: ubuntu-24.04, digest: null}\n')
    loaded = load(native(text))
    after = apply_changes(loaded, {"7.0.0/ubuntu-24.04": EntryChange(digest=NEW)})
    assert load_text(after, loaded.path).model.entry("7.0.0/ubuntu-24.04").digest == NEW
    assert "# A native matrix with comments." in after


HEX = "0123456789abcdef"


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=st.sampled_from(["native", "original"]), index=st.integers(0, 3),
       hexpart=st.text(HEX, min_size=64, max_size=64))
def test_any_digest_change_moves_exactly_one_line(layout: str, index: int, hexpart: str,
                                                  native: Callable[[str], Path],
                                                  original: Callable[..., Path]) -> None:
    loaded = load(native(NATIVE) if layout == "native" else original())
    entry = loaded.model.images[index]
    digest = "sha256:" + hexpart
    after = apply_changes(loaded, {entry.id: EntryChange(digest=digest)})
    removed, added = changed_lines(loaded.text, after)
    if entry.digest == digest:
        assert after == loaded.text
        return
    assert len(removed) == len(added) == 1
    assert added[0].split("#")[0].strip().strip('"').endswith(digest)
    reloaded = load_text(after, loaded.path, policy_text=loaded.policy_text,
                         policy_path=loaded.policy_path)
    assert reloaded.model.images[index].digest == digest
