"""Selection order: the original resolver's preferences, unpinned entries skipped."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from matrix_samples import D1, D2, D3, NATIVE, ORIGINAL

from clamp.errors import BadInputError
from clamp.matrix import MatrixFile, load, select_image


def unpin(text: str, digest: str) -> str:
    return text.replace(f'"{digest}"', "null").replace(digest, "null")


@pytest.fixture(params=["native", "original"])
def loader(request: pytest.FixtureRequest, native: Callable[[str], Path],
           original: Callable[..., Path]) -> Callable[[Callable[[str], str]], MatrixFile]:
    """Load the same logical matrix in either layout after an edit to its text."""
    def build(edit: Callable[[str], str] = lambda t: t) -> MatrixFile:
        if request.param == "native":
            return load(native(edit(NATIVE))).model
        return load(original(edit(ORIGINAL))).model
    return build


def test_default_version_on_first_preferred_os(loader: Callable[..., MatrixFile]) -> None:
    chosen = select_image(loader())
    assert chosen.entry.id == "6.4.4/ubuntu-24.04"
    assert chosen.ref.digest == D1
    assert chosen.reason == "default version 6.4.4 on preferred OS ubuntu-24.04"
    assert chosen.warnings == ()


def test_next_preferred_os_when_first_unpinned(loader: Callable[..., MatrixFile]) -> None:
    chosen = select_image(loader(lambda t: unpin(t, D1)))
    assert chosen.entry.id == "6.4.4/ubuntu-22.04"
    assert chosen.ref.digest == D2
    assert chosen.warnings == ("entry 6.4.4/ubuntu-24.04 is unpinned; skipped",)


def test_fallback_when_default_version_unpinned(loader: Callable[..., MatrixFile]) -> None:
    chosen = select_image(loader(lambda t: unpin(unpin(t, D1), D2)))
    assert chosen.entry.id == "6.3.4/ubuntu-22.04"
    assert chosen.reason == "fallback 6.3.4 on ubuntu-22.04"
    assert len(chosen.warnings) == 2


def test_nothing_eligible_names_what_was_tried(loader: Callable[..., MatrixFile]) -> None:
    model = loader(lambda t: unpin(unpin(unpin(t, D1), D2), D3))
    with pytest.raises(BadInputError) as caught:
        select_image(model)
    message = str(caught.value)
    assert "6.4.4/ubuntu-24.04 (unpinned)" in message
    assert "6.3.4/ubuntu-22.04 (unpinned)" in message


def test_explicit_version_and_os(loader: Callable[..., MatrixFile]) -> None:
    model = loader()
    chosen = select_image(model, "6.3.4", "ubuntu-22.04")
    assert chosen.entry.id == "6.3.4/ubuntu-22.04"
    assert chosen.reason == "requested version 6.3.4 on ubuntu-22.04"
    with pytest.raises(BadInputError, match=re.escape("7.0.0/ubuntu-24.04 (unpinned)")):
        select_image(model, "7.0.0", "ubuntu-24.04")
    with pytest.raises(BadInputError, match=re.escape("version 9.9, OS ubuntu-22.04")):
        select_image(model, "9.9", "ubuntu-22.04")


def test_only_version_uses_preferred_os(loader: Callable[..., MatrixFile]) -> None:
    model = loader()
    chosen = select_image(model, version="6.3.4")
    assert chosen.entry.id == "6.3.4/ubuntu-22.04"
    assert chosen.reason == "version 6.3.4 on preferred OS ubuntu-22.04"
    assert select_image(model, version="6.4.4").entry.id == "6.4.4/ubuntu-24.04"


def test_only_os(loader: Callable[..., MatrixFile]) -> None:
    chosen = select_image(loader(), os="ubuntu-22.04")
    assert chosen.entry.id == "6.4.4/ubuntu-22.04"
    assert chosen.reason == "default version 6.4.4 on ubuntu-22.04"


def test_require_verified(native: Callable[[str], Path]) -> None:
    text = NATIVE.replace("  fallback: {", "  require_verified: true\n  fallback: {")
    model = load(native(text)).model
    chosen = select_image(model)
    assert chosen.entry.id == "6.3.4/ubuntu-22.04"  # the only entry with verified_at
    assert any("not been verified" in w for w in chosen.warnings)
    assert select_image(model, is_verified=lambda e: True).entry.id == "6.4.4/ubuntu-24.04"
