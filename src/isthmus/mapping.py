"""JSONata expressions, as resources use them to reshape requests and answers.

jsonatapy (Rust) evaluates them: side-effect free, no access to Python objects, files or
imports. Each evaluation is bounded in time and in sequence length; expressions come from
the project (Api owners), not from callers. A compiled expression must stay on the thread
that compiled it, which the gateway's single event-loop thread guarantees.
"""

from __future__ import annotations

from typing import Annotated, Any

import jsonatapy
from pydantic import AfterValidator, Field

TIMEOUT_MS = 50
MAX_SEQUENCE = 100_000
MAX_DEPTH = 200


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


class Mapping:
    """A compiled expression with its guardrails."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._compiled = jsonatapy.compile(text)

    def __call__(self, data: Any) -> Any:
        try:
            return self._compiled.evaluate(
                data,
                timeout=TIMEOUT_MS,
                max_sequence_length=MAX_SEQUENCE,
                max_stack_depth=MAX_DEPTH,
            )
        except ValueError as exc:
            raise MappingError(str(exc)) from None
