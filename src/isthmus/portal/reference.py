"""An Api version's reference, read from its sandbox OpenAPI document: what the Api
page lists for every operation (parameters, body, answers, examples)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from isthmus.errors import NotFound
from isthmus.gateway.samples import sample
from isthmus.gateway.sandbox import document as sandbox_document
from isthmus.governance.exports.native import served_document
from isthmus.hub import Hub
from isthmus.model import Api, ResourceKey

SERVED = ("published", "deprecated")
_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Parameter:
    name: str
    where: str  # path, query, header
    required: bool
    type: str
    description: str
    example: str  # as text, for the try-it form


@dataclass(frozen=True)
class Answer:
    status: str
    description: str
    schema: str  # pretty JSON, or ""


@dataclass(frozen=True)
class Operation:
    id: str
    method: str
    path: str
    summary: str
    description: str
    deprecated: bool
    parameters: list[Parameter]
    body_schema: str
    body_example: str
    answers: list[Answer]
    example_answer: str
    examples: list[Any] = field(default_factory=list)  # portal.examples.Example


def pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


async def api_or_404(hub: Hub, name: str) -> Api:
    api = await hub.store.resources.get(ResourceKey("Api", name))
    if not isinstance(api, Api):
        raise NotFound(f"No Api '{name}'.", remediation="Find Apis in the catalog.")
    return api


def served_versions(api: Api) -> list[str]:
    return [v.name for v in api.spec.versions if v.status in SERVED]


async def sandbox_contract(hub: Hub, api: Api, version: str) -> dict[str, Any]:
    """The version's document as its sandbox endpoint serves it."""
    native = await served_document(hub, api, version)
    return sandbox_document(native, hub.settings.issuer(), api.metadata.name, version)


def operations(document: dict[str, Any]) -> list[Operation]:
    out = []
    for path, item in (document.get("paths") or {}).items():
        shared = item.get("parameters") or []
        for method in _METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                out.append(_operation(document, path, method, operation, shared))
    return out


def _operation(
    document: dict[str, Any], path: str, method: str, operation: dict[str, Any],
    shared: list[Any],
) -> Operation:  # fmt: skip
    parameters = [_parameter(document, p) for p in [*shared, *(operation.get("parameters") or [])]]
    body = (((operation.get("requestBody") or {}).get("content") or {}).get("application/json")
            or {})  # fmt: skip
    body_schema = body.get("schema")
    body_example = body.get("example", sample(body_schema, document) if body_schema else None)
    answers, example = [], None
    for status, answer in (operation.get("responses") or {}).items():
        content = (answer.get("content") or {}) if isinstance(answer, dict) else {}
        json_part = content.get("application/json") or content.get("application/problem+json")
        schema = json_part.get("schema") if isinstance(json_part, dict) else None
        answers.append(Answer(status, str(answer.get("description", "")),
                              pretty(schema) if schema else ""))  # fmt: skip
        if example is None and status.startswith("2") and isinstance(json_part, dict):
            example = json_part.get("example")
    return Operation(
        str(operation.get("operationId") or f"{method}_{path}"),
        method.upper(),
        path,
        str(operation.get("summary", "")),
        str(operation.get("description", "")),
        bool(operation.get("deprecated")),
        [p for p in parameters if p is not None],
        pretty(body_schema) if body_schema else "",
        pretty(body_example) if body_schema else "",
        answers,
        pretty(example) if example is not None else "",
    )


def _parameter(document: dict[str, Any], raw: Any) -> Parameter | None:
    if not isinstance(raw, dict) or raw.get("in") not in ("path", "query", "header"):
        return None
    schema = raw.get("schema") or {}
    example = raw.get("example")
    if example is None and raw.get("required"):
        example = sample(schema, document)
    kind = schema.get("type", "string") if isinstance(schema, dict) else "string"
    return Parameter(
        str(raw["name"]),
        str(raw["in"]),
        bool(raw.get("required")),
        str(kind),
        str(raw.get("description", "")),
        _text(example),
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else orjson.dumps(value).decode()
