"""Rules on failure: errors declared as RFC 9457 problems, and the rate limit's 429
declared with ``Retry-After``.

A low-code tool shows a failed call by reading the error body it was told about; with
problem+json declared it can show ``detail`` and ``remediation`` rather than "Error
400". Every route behind the gateway is subject to the calling App's Plan, so every
operation can answer 429, and a well-behaved client waits for ``Retry-After`` rather
than retrying at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from isthmus.governance.lint.context import VersionContext
from isthmus.governance.lint.findings import Severity
from isthmus.governance.lint.rules.base import Hit, rule

PROBLEM_JSON = "application/problem+json"
_ROUTE_FIX = (
    "The gateway declares its own problems; for an imported document, declare the "
    "operation's errors as application/problem+json (see the Problem schema)."
)


def _is_error(status: object) -> bool:
    text = str(status).upper()
    return text == "DEFAULT" or text[:1] in ("4", "5")


@rule("errors-problem-json", Severity.error, "Errors are declared as application/problem+json")
def errors_problem_json(context: VersionContext) -> Iterator[Hit]:
    for op in context.operations():
        responses: dict[str, Any] = op.spec.get("responses") or {}
        errors = {s: r for s, r in responses.items() if _is_error(s) and isinstance(r, dict)}
        as_problems = [s for s, r in errors.items() if PROBLEM_JSON in (r.get("content") or {})]
        if not as_problems:
            yield Hit(
                op,
                f"{op.label} declares no error answer as {PROBLEM_JSON}",
                _ROUTE_FIX,
                at=("responses",),
            )
            continue
        for status, response in errors.items():
            content = response.get("content") or {}
            if content and PROBLEM_JSON not in content:
                yield Hit(
                    op,
                    f"the {status} answer of {op.label} is declared as "
                    f"{', '.join(content)}, not as a problem",
                    "Have the backend's errors mapped to problems, or document them as "
                    f"{PROBLEM_JSON}, so a tool reads one error shape.",
                    at=("responses", status),
                    severity=Severity.warning,
                )


@rule(
    "rate-limit-429-retry-after",
    Severity.error,
    "Rate-limited operations declare 429 with Retry-After",
)
def rate_limit_429(context: VersionContext) -> Iterator[Hit]:
    for op in context.operations():
        responses: dict[str, Any] = op.spec.get("responses") or {}
        answer = responses.get("429")
        if not isinstance(answer, dict):
            yield Hit(
                op,
                f"{op.label} does not declare 429, though the App's Plan limits it",
                "Declare a 429 problem answer with a Retry-After header (the gateway's "
                "generated documents do).",
                at=("responses",),
            )
            continue
        headers = {name.lower() for name in answer.get("headers") or {}}
        if "retry-after" not in headers:
            yield Hit(
                op,
                f"the 429 answer of {op.label} does not declare Retry-After",
                "Declare the Retry-After header on the 429 answer: it says how many "
                "seconds to wait before trying again.",
                at=("responses", "429", "headers"),
            )
