"""`asyncio.run` for the commands, with the result handed back outside the main task.

Why: on leaving, Python 3.11's asyncio runner asks `signal.getsignal(SIGINT)`, which tries the
handler as a `signal.Handlers` value and, failing, formats its repr into a ValueError it then
drops. The handler holds the main task, whose repr holds its result: a whole matrix run's
outcomes, pydantic models and all, rendered to a string for nothing (~25 ms for 64 entries on
the 2-core VM, growing with the matrix). A task whose result is None costs nothing to repr.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


def run(main: Awaitable[T]) -> T:
    """Run `main` to completion in a new event loop and return its result."""
    box: list[T] = []

    async def wrapper() -> None:
        box.append(await main)

    asyncio.run(wrapper())
    return box[0]
