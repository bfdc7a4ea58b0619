"""What the rules look at: one Api version's OpenAPI document — as the gateway serves
it, View routes included — with each operation tied back to the route that made it and
to where that route sits in the Api resource."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from isthmus.gateway.openapi import document
from isthmus.model import Api, ApiVersion, EventType, Route, View
from isthmus.model.api import ViewTarget
from isthmus.virtual.plans import Column
from isthmus.virtual.routes import with_view_routes
from isthmus.virtual.shapes import ViewShape

from .findings import ResourcePath, pointer

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Where the lint pretends the gateway is: only the document's URLs depend on it.
ISSUER = "https://gateway.invalid"


@dataclass(frozen=True)
class Operation:
    path: str  # the template in the document, e.g. /customers/{id}
    method: str  # lower case, as in the document
    spec: dict[str, Any]  # the document's operation object
    route: Route | None  # the route that serves it (None: only in an imported document)
    source: ResourcePath  # the route (or the View it publishes) in the Api resource

    @property
    def label(self) -> str:
        return f"{self.method.upper()} {self.path}"

    @property
    def pointer(self) -> str:
        return pointer("paths", self.path, self.method)

    @property
    def declared(self) -> bool:
        """Written by the author as a route (not added for a published View)."""
        return len(self.source) > 3 and self.source[-2] == "routes"

    @property
    def route_named(self) -> bool:
        """The route sets its operationId (rather than taking one made from its path)."""
        return self.route is not None and self.route.operation_id is not None

    @property
    def view_route(self) -> bool:
        return self.route is not None and isinstance(self.route.target, ViewTarget)


@dataclass(frozen=True)
class VersionContext:
    api: Api
    version: ApiVersion  # as declared
    index: int  # its position in spec.versions
    document: dict[str, Any]

    @property
    def source(self) -> ResourcePath:
        return ("spec", "versions", self.index)

    @property
    def imported(self) -> bool:
        return self.version.openapi is not None

    def operations(self) -> Iterator[Operation]:
        served = with_view_routes(self.version, {})
        routes = {(r.path, r.method.lower()): (i, r) for i, r in enumerate(served.routes)}
        declared = len(self.version.routes)
        for path, item in (self.document.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            for method in METHODS:
                spec = item.get(method)
                if not isinstance(spec, dict):
                    continue
                index, route = routes.get((path, method), (None, None))
                if index is None:
                    source: ResourcePath = self.source
                elif index < declared:
                    source = (*self.source, "routes", index)
                else:  # a View the version publishes
                    source = (*self.source, "views", index - declared)
                yield Operation(path, method, spec, route, source)


def declared_shape(view: View) -> ViewShape | None:
    """A View's shape as far as its declaration tells (its key and described columns):
    what the lint goes by when the View has not been planned against its sources."""
    columns = {name: "string" for name in view.spec.key}
    for name, column in view.spec.columns.items():
        columns[name] = column.type or columns.get(name, "string")
    if not columns:
        return None
    return ViewShape(view, tuple(Column(name, kind) for name, kind in columns.items()))


def contexts(
    api: Api,
    event_types: Mapping[str, EventType] | None = None,
    shapes: Mapping[str, ViewShape] | None = None,
    views: Mapping[str, View] | None = None,
) -> Iterator[VersionContext]:
    """Each version the gateway would serve (drafts included: they are on their way),
    with its document as the gateway builds it. A View's columns are known once it is
    planned against its sources (``shapes``); for Views not planned, their declaration
    (``views``) stands in."""
    known: dict[str, ViewShape] = {}
    for name, view in (views or {}).items():
        if (shape := declared_shape(view)) is not None:
            known[name] = shape
    known.update(shapes or {})
    for index, version in enumerate(api.spec.versions):
        if version.status == "retired":
            continue
        served = with_view_routes(version, known)
        yield VersionContext(api, version, index, document(api, served, ISSUER, event_types))
