"""Rules on what a low-code tool shows its maker: each operation's name, one-line
summary, longer description and examples.

Power Apps custom connectors show ``summary`` as the action's name and ``description``
as its help; Retool, Appsmith and n8n list operations by ``operationId`` and fill test
requests from examples. An operation without them imports as ``get_customers_id`` with
no help and nothing to try.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from isthmus.governance.lint.context import Operation, VersionContext
from isthmus.governance.lint.findings import Severity
from isthmus.governance.lint.rules.base import Hit, rule


@rule("operation-id", Severity.error, "Every operation has a unique operationId")
def operation_id(context: VersionContext) -> Iterator[Hit]:
    operations = list(context.operations())
    names = Counter(op.spec.get("operationId") for op in operations)
    for op in operations:
        name = op.spec.get("operationId")
        if not isinstance(name, str) or not name:
            yield Hit(
                op,
                f"{op.label} has no operationId",
                "Add an operationId to the operation in the version's OpenAPI document: "
                "low-code tools name the action after it.",
                at=("operationId",),
            )
        elif names[name] > 1:
            yield Hit(
                op,
                f"operationId '{name}' is used by {names[name]} operations",
                "Give each operation its own operationId: tools key actions by it, and "
                "a repeated one hides all but one.",
                at=("operationId",),
                field=("operationId",),
            )
        elif op.declared and not op.route_named and not _named_by_document(context, op):
            yield Hit(
                op,
                f"{op.label} is named '{name}', made from its method and path",
                "Set the route's operationId to a name a maker would look for, such as "
                "listCustomers or getCustomer.",
                field=("operationId",),
                severity=Severity.warning,
            )


@rule("operation-summary", Severity.warning, "Every operation has a one-line summary")
def operation_summary(context: VersionContext) -> Iterator[Hit]:
    for op in context.operations():
        if _text(op.spec.get("summary")):
            continue
        yield Hit(
            op,
            f"{op.label} has no summary",
            _fix(op, "summary", "one line saying what it does, e.g. 'List customers'"),
            at=("summary",),
            field=("summary",),
        )


@rule("operation-description", Severity.warning, "Every operation has a description")
def operation_description(context: VersionContext) -> Iterator[Hit]:
    for op in context.operations():
        if _text(op.spec.get("description")):
            continue
        yield Hit(
            op,
            f"{op.label} has no description",
            _fix(op, "description", "what it returns and when to use it"),
            at=("description",),
            field=("description",),
        )


@rule("operation-examples", Severity.warning, "Bodies and path parameters have examples")
def operation_examples(context: VersionContext) -> Iterator[Hit]:
    for op in context.operations():
        for index, parameter in enumerate(op.spec.get("parameters") or []):
            if not isinstance(parameter, dict) or parameter.get("in") != "path":
                continue
            if not _has_example(parameter):
                name = parameter.get("name")
                yield Hit(
                    op,
                    f"path parameter '{name}' of {op.label} has no example",
                    f"Give request.path.{name} an example: a value that exists in the "
                    "sandbox, so a maker can try the action.",
                    at=("parameters", index),
                    field=("request", "path", str(name), "example"),
                )
        body = (op.spec.get("requestBody") or {}).get("content") or {}
        if body and not any(_has_example(media) for media in body.values()):
            yield Hit(
                op,
                f"the request body of {op.label} has no example",
                "Add examples.request to the route: a body the route accepts.",
                at=("requestBody",),
                field=("examples", "request"),
            )
        yield from _response_examples(op)


def _response_examples(op: Operation) -> Iterator[Hit]:
    responses = op.spec.get("responses") or {}
    for status, response in responses.items():
        if not str(status).startswith("2") or not isinstance(response, dict):
            continue
        content = response.get("content") or {}
        if not content or any(_has_example(media) for media in content.values()):
            continue
        if op.view_route and not op.declared:
            yield Hit(
                op,
                f"the {status} answer of {op.label} has no example",
                "A View published with 'views' has no place for examples: publish it "
                "with a route (target: view) that has examples.response.",
                at=("responses", status),
                severity=Severity.info,
            )
        else:
            yield Hit(
                op,
                f"the {status} answer of {op.label} has no example",
                "Add examples.response to the route: a successful answer (for a "
                "collection, one record).",
                at=("responses", status),
                field=("examples", "response"),
            )


def _named_by_document(context: VersionContext, op: Operation) -> bool:
    """The version's imported OpenAPI document names the operation itself."""
    item = ((context.version.openapi or {}).get("paths") or {}).get(op.path) or {}
    original = item.get(op.method) if isinstance(item, dict) else None
    return isinstance(original, dict) and bool(original.get("operationId"))


def _fix(op: Operation, field: str, what: str) -> str:
    if op.view_route and not op.declared:
        return f"Give the View a metadata.description: {what}."
    if op.route is None or not op.declared:
        return f"Add a {field} to the operation in the version's OpenAPI document: {what}."
    return f"Add a {field} to the route: {what}."


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _has_example(node: dict[str, Any]) -> bool:
    if node.get("example") is not None or node.get("examples"):
        return True
    schema = node.get("schema")
    return isinstance(schema, dict) and (
        schema.get("example") is not None or bool(schema.get("examples"))
    )
