"""Default factories for pydantic models, written as Python functions.

pydantic reads the signature of every `default_factory`. A builtin's (`list`) has only a text
signature, which `inspect` parses with `tokenize`, whose first use compiles a large regular
expression: 2-7 ms of every command's start-up (issue 16). A Python function's signature is read
without parsing, so the models on the hot paths use `empty_list` instead of `list`.
"""

from __future__ import annotations

from typing import Any


def empty_list() -> list[Any]:
    """A new empty list (a model field's default)."""
    return []


__all__ = ["empty_list"]
