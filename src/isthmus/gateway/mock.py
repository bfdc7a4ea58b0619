"""The sandbox's mock: what a route answers in the sandbox when its System has no
sandbox (no Connection declared for the sandbox Environment).

The answer follows the contract: the route's own example, else the example in its
imported OpenAPI document, else a sample of its response schema
(:mod:`isthmus.gateway.samples`). A collection route pages, sorts and filters the
example records like any other. Answers carry ``X-Isthmus-Mock`` so nobody mistakes
them for a System's.
"""

from __future__ import annotations

import weakref
from typing import Any

from jsonschema import Draft202012Validator

from isthmus.errors import FatalError
from isthmus.gateway.collections import page
from isthmus.gateway.http import GatewayRequest, GatewayResponse, json_response
from isthmus.gateway.pool import ConnectionPool
from isthmus.gateway.routing import CompiledRoute
from isthmus.gateway.samples import sample
from isthmus.model import ResourceKey

ENVIRONMENT = "sandbox"
HEADER = b"x-isthmus-mock"
_SUCCESS = ("200", "201", "202", "2XX", "default")


def wanted(pool: ConnectionPool, key: ResourceKey) -> bool:
    """Answer from the mock: a sandbox call to a Connection the sandbox lacks."""
    return key.environment == ENVIRONMENT and not pool.declares(key)


class MockCannotAnswer(FatalError):
    status = 501
    code = "mock-cannot-answer"
    title = "The sandbox's mock has no answer that fits the contract"
    remediation = (
        "Give the route an example answer (examples.response), or ask the Api's owner to; "
        "the sandbox answers it as it is."
    )


# What each route's mock answers, made once per compiled route (a snapshot's), by id:
# compiled routes are not hashable; each entry goes with its route.
_MADE: dict[int, tuple[Any, str, bool]] = {}


def answer(compiled: CompiledRoute, request: GatewayRequest, link_base: str) -> GatewayResponse:
    route = compiled.route
    if id(compiled) not in _MADE:
        body, source = _body(compiled)
        _MADE[id(compiled)] = (body, source, _fits(compiled, body, source))
        weakref.finalize(compiled, _MADE.pop, id(compiled), None)
    body, source, fits = _MADE[id(compiled)]
    headers = [(HEADER, source.encode())]
    if not fits:
        request.response_headers.append((HEADER, b"none"))
        raise MockCannotAnswer(
            f"No sample of the answer's schema for {route.method} {route.path} fits it."
        )
    if compiled.collection is not None:
        assert request.collection is not None
        records = body if isinstance(body, list) else [body]
        records = [r for r in records if isinstance(r, dict)]
        paged = page(compiled.collection, request.collection, records, link_base)
        return json_response(200, paged, headers)
    if route.method == "DELETE":
        return GatewayResponse(204, b"", headers)
    return json_response(201 if route.method == "POST" else 200, body, headers)


def _fits(compiled: CompiledRoute, body: Any, source: str) -> bool:
    """Does a sample fit the route's response schema (one record, for a collection)?
    Examples are the author's and answered as they are."""
    schema = compiled.route.response
    if source != "schema" or not isinstance(schema, dict):
        return True
    made = body if compiled.collection is None else (body[0] if body else None)
    return next(Draft202012Validator(schema).iter_errors(made), None) is None


def _body(compiled: CompiledRoute) -> tuple[Any, str]:
    """The answer (for a collection: its records) and where it came from."""
    route = compiled.route
    if route.examples is not None and route.examples.response is not None:
        return route.examples.response, "example"
    if route.collection is not None:
        record = route.response or {
            "type": "object",
            "properties": {
                name: {"type": "string", "format": "date-time"}
                if field.type == "date-time"
                else {"type": field.type}
                for name, field in route.collection.fields.items()
            },
        }
        return [sample(record)], "schema"
    document = compiled.version_spec.openapi if compiled.version_spec else None
    if document is not None:
        return _from_document(document, route.path, route.method.lower())
    return sample(route.response or {}), "schema"


def _from_document(document: dict[str, Any], path: str, method: str) -> tuple[Any, str]:
    operation = (document.get("paths", {}).get(path) or {}).get(method) or {}
    responses = operation.get("responses") or {}
    for status in _SUCCESS:
        content = ((responses.get(status) or {}).get("content") or {}).get("application/json")
        if not isinstance(content, dict):
            continue
        if "example" in content:
            return content["example"], "example"
        examples = content.get("examples") or {}
        for example in examples.values():
            if isinstance(example, dict) and "value" in example:
                return example["value"], "example"
        return sample(content.get("schema") or {}, document), "schema"
    return None, "schema"
