"""The routes a version's Views add to it: a collection at ``/{view}`` for each View it
publishes; and every View route's collection and record schema, from the View's shape,
and the schemas of its path parameters (the columns a row is found by), which the
gateway then checks. The route table and the OpenAPI document then treat them as any
other route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from isthmus.gateway.collections import INT64_MIN, INTEGER_PATTERN
from isthmus.model import ApiVersion, Route, ViewTarget
from isthmus.model.api import Parameter, RequestContract, path_params
from isthmus.virtual.shapes import ViewShape


def with_view_routes(version: ApiVersion, shapes: Mapping[str, ViewShape]) -> ApiVersion:
    """The version with a collection route for each View it publishes, and the
    collection and record schema of every View route filled in from the View's shape."""
    routes = [_filled(route, shapes) for route in version.routes]
    for view in version.views:
        shape = shapes.get(view)
        route = Route(
            method="GET",
            path=f"/{view}",
            summary=shape.view.metadata.description if shape else None,
            target=ViewTarget(type="view", view=view),
        )
        routes.append(_filled(route, shapes))
    return version.model_copy(update={"routes": routes})


def _filled(route: Route, shapes: Mapping[str, ViewShape]) -> Route:
    target = route.target
    if not isinstance(target, ViewTarget) or target.view not in shapes:
        return route
    shape = shapes[target.view]
    update: dict[str, Any] = {}
    if route.response is None:
        update["response"] = shape.record_schema()
    if route.collection is None and not path_params(route.path):
        update["collection"] = shape.collection()
    if (request := _key_contract(route, shape)) is not None:
        update["request"] = request
    return route.model_copy(update=update)


def _key_contract(route: Route, shape: ViewShape) -> RequestContract | None:
    """The route's request with a schema for each path parameter naming a column that
    it leaves undeclared; None when there is none to add."""
    declared = route.request.path if route.request is not None else {}
    missing = {
        name: Parameter(
            schema_=_key_schema(shape.types[name], shape.max_text),
            required=True,
            description=shape.description(name) or f"The {name} of the row.",
        )
        for name in path_params(route.path)
        if name in shape.types and name not in declared
    }
    if not missing:
        return None
    if route.request is None:
        return RequestContract(path=missing)
    return route.request.model_copy(update={"path": {**declared, **missing}})


def _key_schema(kind: str, max_text: int) -> dict[str, Any]:
    """A column's value in a path, as the REST face compares it (faces/rest.py)."""
    if kind == "integer":  # text of digits: a key names a row, it is no quantity
        return {"type": "string", "pattern": INTEGER_PATTERN, "maxLength": len(str(INT64_MIN))}
    if kind == "number":
        return {"type": "number"}
    if kind == "boolean":
        return {"type": "boolean"}
    if kind in ("date", "date-time"):
        return {"type": "string", "format": kind, "maxLength": 10 if kind == "date" else 32}
    return {"type": "string", "maxLength": max_text}
