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

import re
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


# A path of plain names (`data`, `meta.next`, `\`@odata.nextLink\``): what most
# record selectors and cursors are. Walked here over dicts, such a path gives what
# JSONata gives, without handing a whole page to jsonatapy and back (most of a paged
# read's cost); anything else, or a list on the way, goes to jsonatapy.
_STEP = r"(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)"
_PLAIN_PATH = re.compile(rf"{_STEP}(?:\.{_STEP})*")
_MISSING = object()


def _plain_steps(text: str) -> tuple[str, ...] | None:
    if not _PLAIN_PATH.fullmatch(text.strip()):
        return None
    return tuple(step.strip("`") for step in re.findall(_STEP, text))


class Mapping:
    """An expression with its guardrails, compiled on first use in each thread."""

    __slots__ = ("_steps", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._steps = _plain_steps(text)
        _expression(text)  # a bad expression fails here, not on first use

    def __call__(self, data: Any) -> Any:
        if self._steps is not None:
            value = data
            for step in self._steps:
                if not isinstance(value, dict):
                    break  # a list or a scalar on the way: JSONata's rules apply
                value = value.get(step, _MISSING)
                if value is _MISSING:
                    return None  # undefined
            else:
                return value
        try:
            return _expression(self.text).evaluate(
                data,
                timeout=TIMEOUT_MS,
                max_sequence_length=MAX_SEQUENCE,
                max_stack_depth=MAX_DEPTH,
            )
        except ValueError as exc:
            raise MappingError(str(exc)) from None
