"""The OpenAPI 3.1 document of one Api version, generated from its routes.

Served by the gateway at ``/{api}/{version}/openapi.json`` (to callers allowed to use
the Api), so low-code tools can import the contract: Power Apps custom connectors,
Retool and Appsmith REST resources, n8n's HTTP node.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from isthmus.errors import Problem
from isthmus.model import Api, ApiVersion, EventType, Route
from isthmus.model.api import EventTarget, path_params
from isthmus.model.collection import Collection

DOCUMENT_PATH = "/openapi.json"
_PROBLEM = {"$ref": "#/components/schemas/Problem"}
_ERRORS = {
    "401": "No valid API key or access token",
    "403": "The App is not granted this Api",
    "429": "The App's Plan is used up; see Retry-After",
    "502": "The backend failed or could not be reached",
    "503": "The backend is unavailable, or the route is not configured",
    "504": "The backend did not answer in time",
}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": _PROBLEM}},
    }


def _operation_id(route: Route) -> str:
    if route.operation_id:
        return route.operation_id
    words = re.sub(r"[{}]", "", route.path).strip("/").replace("/", "_").replace("-", "_")
    return f"{route.method.lower()}_{words or 'root'}"


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
        out += _collection_parameters(route.collection)
    return out


_SCHEMA_OF = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date-time": {"type": "string", "format": "date-time"},
}


def _collection_parameters(collection: Collection) -> list[dict[str, Any]]:
    sortable = [n for n, f in collection.fields.items() if f.sortable]
    filterable = [n for n, f in collection.fields.items() if f.filterable]
    out: list[dict[str, Any]] = [
        {
            "name": "limit",
            "in": "query",
            "description": f"Records per page (default {collection.default_limit}).",
            "schema": {"type": "integer", "minimum": 1, "maximum": collection.max_limit},
        },
        {
            "name": "cursor",
            "in": "query",
            "description": "Where the next page starts: follow 'nextLink' rather than building it.",
            "schema": {"type": "string"},
        },
        {
            "name": "sort",
            "in": "query",
            "description": f"Fields to sort by, comma-separated, '-' for descending: {sortable}.",
            "schema": {"type": "string"},
        },
        {
            "name": "filter",
            "in": "query",
            "description": "An OData filter expression over "
            f"{filterable}, e.g. \"{filterable[0] if filterable else 'name'} eq 'x'\"; "
            "eq ne gt ge lt le in, and or not, contains startswith endswith.",
            "schema": {"type": "string"},
        },
    ]
    for name in filterable:
        field = collection.fields[name]
        entry: dict[str, Any] = {
            "name": name,
            "in": "query",
            "description": field.description or f"Only records whose {name} equals this.",
            "schema": _SCHEMA_OF[field.type],
        }
        out.append(entry)
    return out


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
            "value": {"type": "array", "items": record},
            "nextLink": {
                "type": "string",
                "format": "uri",
                "description": "The next page; absent on the last.",
            },
        },
    }


def _operation(
    route: Route, deprecated: bool, event_types: Mapping[str, EventType]
) -> dict[str, Any]:
    if isinstance(route.target, EventTarget) and route.target.event_type in event_types:
        return _event_operation(route, route.target, event_types[route.target.event_type])
    success: dict[str, Any] = {"description": "Success"}
    if route.collection is not None:
        success["content"] = {"application/json": {"schema": _envelope(route)}}
    elif route.response is not None:
        success["content"] = {"application/json": {"schema": route.response}}
    responses: dict[str, Any] = {"200": success}
    if route.method == "POST":
        responses["201"] = {"description": "Created"}
    if route.method == "DELETE":
        responses["204"] = {"description": "Deleted"}
    # 4xx answers come from the gateway (problem+json) or from the backend, as it sent them.
    responses["4XX"] = {
        "description": "Refused by the gateway, or the backend's own answer",
        "content": {"application/problem+json": {"schema": _PROBLEM}, "application/json": {}},
    }
    responses.update({status: _problem(text) for status, text in _ERRORS.items()})
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
        "parameters": _parameters(route),
        "responses": responses,
    }
    if route.summary:
        operation["summary"] = route.summary
    if route.description:
        operation["description"] = route.description
    if deprecated:
        operation["deprecated"] = True
    if route.request is not None and route.request.body is not None:
        body: dict[str, Any] = {"schema": route.request.body}
        if route.examples is not None and route.examples.request is not None:
            body["example"] = route.examples.request
        operation["requestBody"] = {"required": True, "content": {"application/json": body}}
    example = _response_example(route)
    if example is not None and "content" in success:
        success["content"]["application/json"]["example"] = example
    return operation


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
            "id": {"type": "string"},
            "source": {"type": "string"},
            "type": {"const": event_type.cloudevents_type},
            "subject": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "data": version.data_schema,
        },
    }
    accepted = {
        "type": "object",
        "required": ["id", "type", "dataschema"],
        "properties": {
            "id": {"type": "string"},
            "type": {"type": "string"},
            "dataschema": {"type": "string"},
        },
    }
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
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
            "202": {
                "description": "Published: the bus has it",
                "content": {"application/json": {"schema": accepted}},
            },
            "4XX": {
                "description": "Refused by the gateway; nothing was published",
                "content": {"application/problem+json": {"schema": _PROBLEM}},
            },
            **{status: _problem(text) for status, text in _ERRORS.items()},
        },
    }
    if version.deprecated:
        operation["deprecated"] = True
    return operation


def _imported(api: Api, version: ApiVersion, issuer: str) -> dict[str, Any]:
    """The version's own document, narrowed to what is routed, on the gateway's URL and
    with the gateway's ways to authenticate."""
    assert version.openapi is not None
    name = api.metadata.name
    doc = copy.deepcopy(version.openapi)
    routed: dict[str, set[str]] = {}
    for route in version.routes:
        routed.setdefault(route.path, set()).add(route.method.lower())
    paths = {}
    for path, item in doc.get("paths", {}).items():
        if path in routed:
            paths[path] = {k: v for k, v in item.items() if k in routed[path] or k not in _METHODS}
    doc["paths"] = paths
    doc["servers"] = [{"url": f"{issuer}/{name}/{version.name}"}]
    doc.setdefault("components", {}).setdefault("securitySchemes", {}).update(
        _security(issuer, name)
    )
    doc["security"] = [{"apiKey": []}, {"oauth2": [name]}]
    return doc


_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _security(issuer: str, name: str) -> dict[str, Any]:
    return {
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
        "oauth2": {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": f"{issuer}/oauth/token",
                    "scopes": {name: f"Call {name}"},
                }
            },
        },
    }


def document(
    api: Api,
    version: ApiVersion,
    issuer: str,
    event_types: Mapping[str, EventType] | None = None,
) -> dict[str, Any]:
    if version.openapi is not None:
        return _imported(api, version, issuer)
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
        "servers": [{"url": f"{issuer}/{name}/{version.name}"}],
        "paths": paths,
        "components": {
            "schemas": {"Problem": Problem.model_json_schema()},
            "securitySchemes": _security(issuer, name),
        },
        "security": [{"apiKey": []}, {"oauth2": [name]}],
    }
