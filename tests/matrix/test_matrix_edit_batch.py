"""A rewrite parses once, however many entries it edits, and equals one edit at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matrix_samples import NATIVE

from clamp.matrix import edit, load, load_text, loader, source
from clamp.matrix.edit import UNSET, EntryChange, apply_changes


def big(n: int) -> str:
    return NATIVE + "".join(
        f'  - version: "8.{i}"\n    os: ubuntu-22.04   # c{i}\n    digest: "sha256:{i:064x}"\n'
        + ("    added: 2025-01-01\n" if i % 2 else "")
        + ("    provenance:\n      # kept\n      log_index: 1\n" if i % 3 == 0 else "")
        for i in range(n))


def test_rewrite_of_many_entries_parses_once(native: Callable[[str], Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load(native(big(40)))
    calls: list[int] = []
    real = source.parse_yaml

    def spy(path: Path, text: str) -> Any:
        calls.append(len(text))
        return real(path, text)

    for module in (edit, loader):
        monkeypatch.setattr(module, "parse_yaml", spy)
    changes = {e.id: EntryChange(digest="sha256:" + "e" * 64, added=date(2026, 1, 2),
                                 provenance={"log_index": 2, "signer": "k"})
               for e in loaded.model.images}
    after = apply_changes(loaded, changes)
    assert after != loaded.text
    assert len(calls) == 1  # the reload that checks the result; positions come from the load


CHANGE = st.builds(
    EntryChange,
    digest=st.sampled_from([UNSET, None, "sha256:" + "a" * 64, "sha256:" + "b" * 64]),
    added=st.sampled_from([UNSET, None, date(2026, 1, 2)]),
    provenance=st.sampled_from([UNSET, None, {"log_index": 1}, {"log_index": 5, "x": "y"},
                                {"verified_at": "2026-01-02T00:00:00Z"}]))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(picks=st.lists(st.tuples(st.integers(0, 11), CHANGE), max_size=8))
def test_batch_equals_one_entry_at_a_time(picks: list[tuple[int, EntryChange]],
                                          native: Callable[[str], Path]) -> None:
    loaded = load(native(big(8)))
    ids = loaded.entry_ids
    changes = {ids[index % len(ids)]: change for index, change in picks}
    batch = apply_changes(loaded, changes)
    text, current = loaded.text, loaded
    for key, change in changes.items():
        text = apply_changes(current, {key: change})
        current = load_text(text, loaded.path)
        current.sha256 = loaded.sha256
    assert batch == text
