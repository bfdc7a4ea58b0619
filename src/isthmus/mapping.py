"""JSONata expressions, as resources use them to reshape requests and answers.

jsonatapy (Rust) evaluates them: side-effect free, no access to Python objects, files or
imports. Each evaluation is bounded in time and in sequence length; expressions come from
the project (Api owners), not from callers.

jsonatapy's compiled expressions belong to the thread that compiled them: used or even
dropped on another, they fail. So a :class:`Mapping` holds only its text, and compiled
expressions live in a cache per thread. A Mapping can then be dropped anywhere — by the
garbage collector in a resolver's thread, say, when it sat in an exception's frames.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

import jsonatapy
from pydantic import AfterValidator, Field

TIMEOUT_MS = 50
MAX_SEQUENCE = 100_000
MAX_DEPTH = 200
CACHE_SIZE = 4096  # compiled expressions kept per thread
_compiled = threading.local()


def _compiles(text: str) -> str:
    try:
        jsonatapy.compile(text)
    except ValueError as exc:
        raise ValueError(f"not a valid JSONata expression: {exc}") from None
    return text


Expression = Annotated[
    str,
    AfterValidator(_compiles),
    Field(description="A JSONata expression (https://jsonata.org).", min_length=1),
]


class MappingError(ValueError):
    """An expression failed on this input (or hit a guardrail)."""


def _expression(text: str) -> Any:
    """``text`` compiled, for this thread."""
    cache: dict[str, Any] | None = getattr(_compiled, "cache", None)
    if cache is None:
        cache = _compiled.cache = {}
    expression = cache.get(text)
    if expression is None:
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        expression = cache[text] = jsonatapy.compile(text)
    return expression


class Mapping:
    """An expression with its guardrails, compiled on first use in each thread."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text
        _expression(text)  # a bad expression fails here, not on first use

    def __call__(self, data: Any) -> Any:
        try:
            return _expression(self.text).evaluate(
                data,
                timeout=TIMEOUT_MS,
                max_sequence_length=MAX_SEQUENCE,
                max_stack_depth=MAX_DEPTH,
            )
        except ValueError as exc:
            raise MappingError(str(exc)) from None
