"""An imported OpenAPI document as the gateway serves it: narrowed to the routed
operations, on the gateway's server and authentication only (the backend's servers and
security stay behind the gateway), with the gateway's own answers added, and as 3.1."""

from __future__ import annotations

import copy
from typing import Any

from isthmus.gateway.answers import gateway_errors, operation_id, problem_schema, server
from isthmus.gateway.declarations import (
    ALLOW_ORIGIN,
    ANSWER_HEADERS,
    header_refs,
    headers,
    security,
)
from isthmus.governance.exports.openapi31 import is_openapi30, up_convert
from isthmus.model import Api, ApiVersion

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def imported_document(api: Api, version: ApiVersion, issuer: str) -> dict[str, Any]:
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
                if (k in routed[path] or k not in METHODS) and k != "servers"
            }  # fmt: skip
            for method in routed[path] & set(paths[path]):
                _add_gateway_answers(paths[path][method], problem)
                named = paths[path][method]
                if isinstance(named, dict):
                    _as_gateway(named)
                if isinstance(named, dict) and not named.get("operationId"):
                    # named as the gateway names its own routes: tools need a name
                    named["operationId"] = operation_id(routes[(path, method)])
    doc["paths"] = paths
    doc["servers"] = [server(issuer, name, version)]
    doc.pop("webhooks", None)  # the backend's callbacks to others: not the gateway's to serve
    components.setdefault("schemas", {})[problem_name] = problem_schema()
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
    for status, answer in gateway_errors(problem).items():
        if status == "429" and isinstance(responses.get("429"), dict):
            named = responses["429"].setdefault("headers", {})
            for header, ref in header_refs((*ANSWER_HEADERS, "Retry-After")).items():
                named.setdefault(header, ref)
        responses.setdefault(status, answer)
    # the gateway adds its CORS header to the backend's answers too
    for answer in responses.values():
        if isinstance(answer, dict) and isinstance(answer.get("headers"), dict):
            answer["headers"].setdefault(ALLOW_ORIGIN, header_refs((ALLOW_ORIGIN,))[ALLOW_ORIGIN])


METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
