"""The routes a version's Views add to it: a collection at ``/{view}`` for each View it
publishes; and every View route's collection and record schema, from the View's shape.
The route table and the OpenAPI document then treat them as any other route."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from isthmus.model import ApiVersion, Route, ViewTarget
from isthmus.model.api import path_params
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
    return route.model_copy(update=update)
