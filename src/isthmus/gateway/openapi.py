"""The OpenAPI 3.1 document of one Api version, generated from its routes.

Served by the gateway at ``/{api}/{version}/openapi.json`` (to callers allowed to use
the Api), so low-code tools can import the contract: Power Apps custom connectors,
Retool and Appsmith REST resources, n8n's HTTP node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from isthmus.events.naming import schema_uri
from isthmus.gateway.answers import (
    PROBLEM,
    gateway_errors,
    operation_id,
    problem_schema,
    server,
    success,
)
from isthmus.gateway.declarations import (
    ANSWER_HEADERS,
    collection_parameters,
    header_refs,
    headers,
    next_link_schema,
    security,
)
from isthmus.gateway.events import MAX_ATTRIBUTE_LENGTH, MAX_TIME_LENGTH
from isthmus.gateway.openapi_imported import imported_document
from isthmus.model import Api, ApiVersion, EventType, Route
from isthmus.model.api import EventTarget, ViewTarget, path_params

DOCUMENT_PATH = "/openapi.json"


def _parameters(route: Route) -> list[dict[str, Any]]:
    contract = route.request
    out = []
    for name in path_params(route.path):
        declared = contract.path.get(name) if contract else None
        schema = declared.schema_ if declared else {"type": "string"}
        entry = {"name": name, "in": "path", "required": True, "schema": schema}
        if declared is not None and declared.description:
            entry["description"] = declared.description
        if declared is not None and declared.example is not None:
            entry["example"] = declared.example
        out.append(entry)
    if contract is not None:
        for where, part in (("query", contract.query), ("header", contract.headers)):
            for name, parameter in part.items():
                entry = {
                    "name": name,
                    "in": where,
                    "required": parameter.required,
                    "schema": parameter.schema_,
                }
                if parameter.description:
                    entry["description"] = parameter.description
                if parameter.example is not None:
                    entry["example"] = parameter.example
                out.append(entry)
    if route.collection is not None:
        out += collection_parameters(route.collection)
    return out


_SCHEMA_OF = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date-time": {"type": "string", "format": "date-time"},
}


def _envelope(route: Route) -> dict[str, Any]:
    assert route.collection is not None
    record = route.response or {
        "type": "object",
        "properties": {n: _SCHEMA_OF[f.type] for n, f in route.collection.fields.items()},
    }
    return {
        "type": "object",
        "required": ["value"],
        "properties": {
            # the gateway cuts every page to the caller's limit, at most maxLimit
            "value": {"type": "array", "maxItems": route.collection.max_limit, "items": record},
            "nextLink": next_link_schema(),
        },
    }


def _operation(
    route: Route, deprecated: bool, event_types: Mapping[str, EventType]
) -> dict[str, Any]:
    if isinstance(route.target, EventTarget) and route.target.event_type in event_types:
        return _event_operation(route, route.target, event_types[route.target.event_type])
    answer = success("Success")
    if route.collection is not None:
        answer["content"] = {"application/json": {"schema": _envelope(route)}}
    elif route.response is not None:
        answer["content"] = {"application/json": {"schema": route.response}}
    responses: dict[str, Any] = {"200": answer}
    if route.method == "POST":
        responses["201"] = success("Created")
    if route.method == "DELETE":
        responses["204"] = success("Deleted")
    # 4xx answers come from the gateway (problem+json) or from the backend, as it sent them.
    responses["4XX"] = {
        "description": "Refused by the gateway, or the backend's own answer",
        "headers": header_refs(ANSWER_HEADERS),
        "content": {"application/problem+json": {"schema": PROBLEM}, "application/json": {}},
    }
    responses.update(gateway_errors())
    operation: dict[str, Any] = {
        "operationId": operation_id(route),
        "parameters": _parameters(route),
        "responses": responses,
    }
    if route.summary:
        operation["summary"] = route.summary
    description = route.description or _view_description(route)
    if description:
        operation["description"] = description
    if deprecated:
        operation["deprecated"] = True
    if route.request is not None and route.request.body is not None:
        body: dict[str, Any] = {"schema": route.request.body}
        if route.examples is not None and route.examples.request is not None:
            body["example"] = route.examples.request
        operation["requestBody"] = {"required": True, "content": {"application/json": body}}
    example = _response_example(route)
    if example is not None and "content" in answer:
        answer["content"]["application/json"]["example"] = example
    return operation


def _view_description(route: Route) -> str | None:
    """What the gateway does for a View route, where its author said nothing more."""
    if not isinstance(route.target, ViewTarget):
        return None
    view = route.target.view
    if route.collection is not None:
        return (
            f"Rows of the View '{view}', a page at a time: follow nextLink for the next "
            "page; sort with 'sort', filter with 'filter' or a column's name."
        )
    named = ", ".join(path_params(route.path))
    return f"The row of the View '{view}' whose {named} the path gives."


def _response_example(route: Route) -> Any:
    """The route's example answer; for a collection, one page holding the example record."""
    if route.examples is None or route.examples.response is None:
        return None
    if route.collection is not None:
        return {"value": [route.examples.response]}
    return route.examples.response


def _event_operation(route: Route, target: EventTarget, event_type: EventType) -> dict[str, Any]:
    """An event route: the data alone, or the whole CloudEvent; 202 with its id."""
    versions = {v.version: v for v in event_type.spec.versions}
    version = versions.get(target.version or event_type.latest().version, event_type.latest())
    envelope = {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "maxLength": MAX_ATTRIBUTE_LENGTH},
            "source": {
                "type": "string",
                "format": "uri-reference",
                "maxLength": MAX_ATTRIBUTE_LENGTH,
            },
            "type": {"const": event_type.cloudevents_type},
            "subject": {"type": "string", "maxLength": MAX_ATTRIBUTE_LENGTH},
            "time": {"type": "string", "format": "date-time", "maxLength": MAX_TIME_LENGTH},
            "data": version.data_schema,
        },
    }
    accepted = {
        "type": "object",
        "required": ["id", "type", "dataschema"],
        "properties": {
            # the caller's id (bounded as the request says) or the hub's own
            "id": {"type": "string", "maxLength": MAX_ATTRIBUTE_LENGTH},
            "type": {"const": event_type.cloudevents_type},
            "dataschema": {
                "const": schema_uri(event_type.metadata.name, version.version),
                "format": "uri",
            },
        },
    }
    operation: dict[str, Any] = {
        "operationId": operation_id(route),
        "summary": route.summary or f"Publish {event_type.cloudevents_type} (v{version.version})",
        "description": "The data alone as application/json, a structured CloudEvent, or a "
        "binary one (ce-* headers, the data as the body).",
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": version.data_schema},
                "application/cloudevents+json": {"schema": envelope},
            },
        },
        "responses": {
            "202": success(
                "Published: the bus has it",
                {
                    "application/json": {
                        "schema": accepted,
                        "example": _accepted_example(event_type, version.version),
                    }
                },
            ),
            "4XX": {
                "description": "Refused by the gateway; nothing was published",
                "headers": header_refs(ANSWER_HEADERS),
                "content": {"application/problem+json": {"schema": PROBLEM}},
            },
            **gateway_errors(),
        },
    }
    if route.description:
        operation["description"] = route.description
    if route.examples is not None and route.examples.request is not None:
        operation["requestBody"]["content"]["application/json"]["example"] = route.examples.request
    if version.deprecated:
        operation["deprecated"] = True
    return operation


def _accepted_example(event_type: EventType, version: int) -> dict[str, Any]:
    """The shape of the gateway's 202 answer; the id is made up, as each event's is."""
    return {
        "id": "0b9e0c0e8d8c4d539f5a3f1c2b7d6e41",
        "type": event_type.cloudevents_type,
        "dataschema": schema_uri(event_type.metadata.name, version),
    }


def document(
    api: Api,
    version: ApiVersion,
    issuer: str,
    event_types: Mapping[str, EventType] | None = None,
) -> dict[str, Any]:
    if version.openapi is not None:
        return imported_document(api, version, issuer)
    name = api.metadata.name
    paths: dict[str, dict[str, Any]] = {}
    for route in version.routes:
        operations = paths.setdefault(route.path, {})
        operations[route.method.lower()] = _operation(
            route, version.status == "deprecated", event_types or {}
        )
    info: dict[str, Any] = {"title": api.spec.title or name, "version": version.name}
    if api.metadata.description:
        info["description"] = api.metadata.description
    return {
        "openapi": "3.1.0",
        "info": info,
        "servers": [server(issuer, name, version)],
        "paths": paths,
        "components": {
            "schemas": {"Problem": problem_schema()},
            "headers": headers(api),
            "securitySchemes": security(issuer, name),
        },
        "security": [{"apiKey": []}, {"oauth2": [name]}],
    }
