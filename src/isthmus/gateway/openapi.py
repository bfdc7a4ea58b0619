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
from isthmus.events.naming import schema_uri
from isthmus.gateway.declarations import (
    ALLOW_ORIGIN,
    ANSWER_HEADERS,
    collection_parameters,
    header_refs,
    headers,
    next_link_schema,
    security,
)
from isthmus.gateway.events import MAX_ATTRIBUTE_LENGTH, MAX_TIME_LENGTH
from isthmus.governance.exports.openapi31 import is_openapi30, up_convert
from isthmus.model import Api, ApiVersion, EventType, Route
from isthmus.model.api import EventTarget, ViewTarget, path_params

DOCUMENT_PATH = "/openapi.json"
_PROBLEM = {"$ref": "#/components/schemas/Problem"}
# What the gateway itself answers, on any route, as problems.
_ERRORS = {
    "400": "The request cannot be read (a body that is not JSON, or nested too deep)",
    "401": "No valid API key or access token",
    "403": "The App is not granted this Api",
    "422": "The request does not match the contract; 'errors' lists each problem",
    "429": "The App's Plan is used up; see Retry-After",
    "500": "The hub failed; the problem's instance names the request for its operators",
    "502": "The backend failed or could not be reached",
    "503": "The backend is unavailable, or the route is not configured",
    "504": "The backend did not answer in time",
}


def _problem_schema() -> dict[str, Any]:
    schema = Problem.model_json_schema()
    # every problem the hub answers is a client (4xx) or server (5xx) error
    schema["properties"]["status"].update(format="int32", minimum=400, maximum=599)
    return schema


def _problem(status: str, description: str, schema: dict[str, Any] = _PROBLEM) -> dict[str, Any]:
    names = (*ANSWER_HEADERS, "Retry-After") if status == "429" else ANSWER_HEADERS
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/problem+json": {"schema": schema}},
    }
    if status.startswith("4"):  # 5xx answers come before or without counting
        answer["headers"] = header_refs(names)
    return answer


def _gateway_errors(schema: dict[str, Any] = _PROBLEM) -> dict[str, Any]:
    return {status: _problem(status, text, schema) for status, text in _ERRORS.items()}


def _success(description: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "headers": header_refs(ANSWER_HEADERS)}
    if content is not None:
        answer["content"] = content
    return answer


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
    success = _success("Success")
    if route.collection is not None:
        success["content"] = {"application/json": {"schema": _envelope(route)}}
    elif route.response is not None:
        success["content"] = {"application/json": {"schema": route.response}}
    responses: dict[str, Any] = {"200": success}
    if route.method == "POST":
        responses["201"] = _success("Created")
    if route.method == "DELETE":
        responses["204"] = _success("Deleted")
    # 4xx answers come from the gateway (problem+json) or from the backend, as it sent them.
    responses["4XX"] = {
        "description": "Refused by the gateway, or the backend's own answer",
        "headers": header_refs(ANSWER_HEADERS),
        "content": {"application/problem+json": {"schema": _PROBLEM}, "application/json": {}},
    }
    responses.update(_gateway_errors())
    operation: dict[str, Any] = {
        "operationId": _operation_id(route),
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
    if example is not None and "content" in success:
        success["content"]["application/json"]["example"] = example
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
            "202": _success(
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
                "content": {"application/problem+json": {"schema": _PROBLEM}},
            },
            **_gateway_errors(),
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


def _imported(api: Api, version: ApiVersion, issuer: str) -> dict[str, Any]:
    """The version's own document, narrowed to what is routed, on the gateway's URL and
    with the gateway's ways to authenticate."""
    assert version.openapi is not None
    name = api.metadata.name
    # served as 3.1, whatever it was imported as: the gateway's additions are 3.1 schemas
    original = version.openapi
    doc = up_convert(original) if is_openapi30(original) else copy.deepcopy(original)
    routed: dict[str, set[str]] = {}
    routes = {(r.path, r.method.lower()): r for r in version.routes}
    for route in version.routes:
        routed.setdefault(route.path, set()).add(route.method.lower())
    components = doc.setdefault("components", {})
    # the gateway's problems, under a name the document does not use for its own schema
    problem_name = next(
        n for n in ("Problem", "IsthmusProblem", "GatewayProblem")
        if n not in components.get("schemas", {})
    )  # fmt: skip
    problem = {"$ref": f"#/components/schemas/{problem_name}"}
    paths = {}
    for path, item in doc.get("paths", {}).items():
        if path in routed:
            paths[path] = {
                k: v for k, v in item.items()
                if (k in routed[path] or k not in _METHODS) and k != "servers"
            }  # fmt: skip
            for method in routed[path] & set(paths[path]):
                _add_gateway_answers(paths[path][method], problem)
                named = paths[path][method]
                if isinstance(named, dict):
                    _as_gateway(named)
                if isinstance(named, dict) and not named.get("operationId"):
                    # named as the gateway names its own routes: tools need a name
                    named["operationId"] = _operation_id(routes[(path, method)])
    doc["paths"] = paths
    doc["servers"] = [_server(issuer, name, version)]
    doc.pop("webhooks", None)  # the backend's callbacks to others: not the gateway's to serve
    components.setdefault("schemas", {})[problem_name] = _problem_schema()
    components.setdefault("headers", {}).update(headers(api))
    # callers authenticate to the gateway, never to the backend: its schemes are not ours
    components["securitySchemes"] = security(issuer, name)
    doc["security"] = [{"apiKey": []}, {"oauth2": [name]}]
    return doc


def _as_gateway(operation: dict[str, Any]) -> None:
    """An imported operation as the gateway serves it: no backend server of its own (an
    internal address, and a way around the gateway), the gateway's authentication."""
    operation.pop("servers", None)
    operation.pop("security", None)  # the document's, which is the gateway's
    for answer in (operation.get("responses") or {}).values():
        for link in (
            ((answer or {}).get("links") or {}).values() if isinstance(answer, dict) else ()
        ):
            if isinstance(link, dict):
                link.pop("server", None)
    for callback in (operation.get("callbacks") or {}).values():
        for item in callback.values() if isinstance(callback, dict) else ():
            if isinstance(item, dict):
                item.pop("servers", None)


def _add_gateway_answers(operation: dict[str, Any], problem: dict[str, Any]) -> None:
    """What the gateway answers on any route (auth, grant, rate limit, its own and the
    backend's failures), where the imported operation does not say already."""
    if not isinstance(operation, dict):
        return
    responses = operation.setdefault("responses", {})
    for status, answer in _gateway_errors(problem).items():
        if status == "429" and isinstance(responses.get("429"), dict):
            named = responses["429"].setdefault("headers", {})
            for header, ref in header_refs((*ANSWER_HEADERS, "Retry-After")).items():
                named.setdefault(header, ref)
        responses.setdefault(status, answer)
    # the gateway adds its CORS header to the backend's answers too
    for answer in responses.values():
        if isinstance(answer, dict) and isinstance(answer.get("headers"), dict):
            answer["headers"].setdefault(ALLOW_ORIGIN, header_refs((ALLOW_ORIGIN,))[ALLOW_ORIGIN])


_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _server(issuer: str, name: str, version: ApiVersion) -> dict[str, Any]:
    return {
        "url": f"{issuer}/{name}/{version.name}",
        "description": "The Isthmus gateway, for every Environment (such as sandbox and "
        "production): the Environment of the key or token decides which systems a call "
        "reaches.",
        # for the Apps granted the Api, wherever they run: not an internal-only server
        "x-internal": False,
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
        "servers": [_server(issuer, name, version)],
        "paths": paths,
        "components": {
            "schemas": {"Problem": _problem_schema()},
            "headers": headers(api),
            "securitySchemes": security(issuer, name),
        },
        "security": [{"apiKey": []}, {"oauth2": [name]}],
    }
