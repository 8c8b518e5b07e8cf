"""The commands' event-loop runner never renders a run's result (see clamp.cli.aio)."""

from __future__ import annotations

import asyncio

import pytest

from clamp.cli.aio import run


class Watched:
    """A result that counts how often it is turned into text."""

    def __init__(self) -> None:
        self.reprs = 0

    def __repr__(self) -> str:
        self.reprs += 1
        return "Watched()"


async def produce(result: Watched) -> Watched:
    await asyncio.sleep(0)
    return result


def test_the_result_comes_back_without_being_rendered() -> None:
    result = Watched()
    assert run(produce(result)) is result
    assert result.reprs == 0


def test_plain_asyncio_run_renders_it_on_this_python() -> None:
    """The twin: what the runner avoids. If a later Python stops doing this, the runner is
    merely harmless, and this twin skips."""
    result = Watched()
    assert asyncio.run(produce(result)) is result
    if result.reprs == 0:
        pytest.skip("this Python's asyncio runner does not render the main task's result")


def test_an_exception_still_propagates() -> None:
    async def fail() -> None:
        raise ValueError("boom")

    try:
        run(fail())
    except ValueError as exc:
        assert str(exc) == "boom"
    else:
        raise AssertionError("no exception")
