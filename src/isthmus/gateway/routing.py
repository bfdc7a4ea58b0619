"""The route table: ``/{api}/{version}/{route path}`` to a compiled route.

Built once per snapshot; matching is a dict lookup for the version and, inside it, a
dict lookup for parameterless paths or a short regex scan for templated ones.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import format_datetime
from urllib.parse import unquote

import orjson

from isthmus.errors import FatalError, MethodNotAllowed, NotFound
from isthmus.events.compose import CompiledEvent
from isthmus.gateway.collections import CompiledCollection
from isthmus.gateway.cors import CorsPolicy
from isthmus.gateway.imported import ImportedContract
from isthmus.gateway.openapi import DOCUMENT_PATH, document
from isthmus.gateway.sandbox import document as sandbox_document
from isthmus.gateway.schemas import SchemaCheck
from isthmus.gateway.transform import CompiledMapping, compile_mapping
from isthmus.gateway.validation import CompiledContract, compile_contract
from isthmus.model import Api, ApiVersion, EventType, ProxyTarget, Route
from isthmus.model.api import PATH_PARAM, EventTarget
from isthmus.virtual.routes import with_view_routes
from isthmus.virtual.shapes import ViewShape


class RouteNotFound(NotFound):
    code = "route-not-found"
    title = "No such route"
    remediation = "Check the Api name, version and path against the Api's documentation."


class VersionRetired(FatalError):
    status = 410
    code = "api-version-retired"
    title = "This Api version is retired"
    remediation = "Move to a newer version of the Api (see 'versions' in this problem)."


@dataclass(frozen=True)
class CompiledRoute:
    api: str
    version: str
    route: Route
    pattern: re.Pattern[str] | None  # None for parameterless paths
    contract: CompiledContract | None = None
    response: SchemaCheck | None = None
    version_spec: ApiVersion | None = None
    mapping: CompiledMapping | None = None
    collection: CompiledCollection | None = None
    event: CompiledEvent | None = None  # what an event route publishes

    @property
    def template(self) -> str:
        return self.route.path


@dataclass
class VersionTable:
    status: str
    # Added to every answer of this version: Deprecation, Sunset, successor Link.
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    successor: str | None = None
    sunset: float | None = None  # epoch seconds after which it answers as retired
    static: dict[str, dict[str, CompiledRoute]] = field(default_factory=dict)
    templated: list[CompiledRoute] = field(default_factory=list)


@dataclass(frozen=True)
class Match:
    route: CompiledRoute
    params: dict[str, str]
    headers: list[tuple[bytes, bytes]]


def _compile(template: str) -> re.Pattern[str] | None:
    if not PATH_PARAM.search(template):
        return None
    parts = PATH_PARAM.split(template)
    # split() alternates literal text and parameter names
    regex = "".join(
        re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
        for index, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def _mapping_of(route: Route) -> CompiledMapping | None:
    target = route.target
    if isinstance(target, ProxyTarget) and target.mapping is not None:
        return compile_mapping(target.mapping)
    return None


def _response_validator(route: Route) -> SchemaCheck | None:
    if route.response is None:
        return None
    if route.collection is not None:  # the schema is of one record: check each in the page
        return SchemaCheck(
            {"type": "object", "properties": {"value": {"type": "array", "items": route.response}}}
        )
    return SchemaCheck(route.response)


def _lifecycle_headers(
    api: Api, version: ApiVersion, successor: str | None
) -> list[tuple[bytes, bytes]]:
    """RFC 9745 Deprecation, RFC 8594 Sunset and an RFC 5829 successor-version Link."""
    if version.status != "deprecated":
        return []
    assert version.deprecated_at is not None
    assert version.sunset is not None
    headers = [
        (b"deprecation", f"@{int(version.deprecated_at.timestamp())}".encode()),
        (b"sunset", format_datetime(version.sunset.astimezone(UTC), usegmt=True).encode()),
    ]
    if successor:
        link = f'</{api.metadata.name}/{successor}>; rel="successor-version"'
        headers.append((b"link", link.encode()))
    return headers


class RouteTable:
    def __init__(
        self,
        apis: Iterable[Api],
        event_types: Mapping[str, EventType] | None = None,
        view_shapes: Mapping[str, ViewShape] | None = None,
    ) -> None:
        event_types = event_types or {}
        self._event_types = event_types
        self._versions: dict[tuple[str, str], VersionTable] = {}
        self._contracts: dict[tuple[str, str], tuple[Api, ApiVersion]] = {}
        self._documents: dict[tuple[str, str, bool], bytes] = {}
        self._published: dict[str, list[str]] = {}
        self.cors: dict[str, CorsPolicy] = {}  # the Apis browsers may call, by name
        for api in apis:
            if api.spec.cors is not None:
                self.cors[api.metadata.name] = CorsPolicy.of(api.spec.cors)
            for declared in api.spec.versions:
                if declared.status == "draft":
                    continue
                version = with_view_routes(declared, view_shapes or {})
                successor = api.spec.successor_of(declared)
                table = VersionTable(
                    version.status,
                    _lifecycle_headers(api, version, successor),
                    successor,
                    version.sunset.timestamp() if version.sunset else None,
                )
                self._versions[(api.metadata.name, version.name)] = table
                if version.status != "retired":
                    self._published.setdefault(api.metadata.name, []).append(version.name)
                    self._contracts[(api.metadata.name, version.name)] = (api, version)
                imported = ImportedContract(version) if version.openapi else None
                for route in version.routes:
                    contract = compile_contract(route.request) if route.request else None
                    response = _response_validator(route)
                    if imported is not None:  # what the route leaves out, the document says
                        contract = contract or imported.request(route)
                        if response is None and route.collection is None:
                            response = imported.response(route)
                    compiled = CompiledRoute(
                        api.metadata.name,
                        version.name,
                        route,
                        _compile(route.path),
                        contract,
                        response,
                        version,
                        _mapping_of(route),
                        CompiledCollection.of(route.collection) if route.collection else None,
                        _event_of(route, event_types),
                    )
                    if compiled.pattern is None:
                        table.static.setdefault(route.path, {})[route.method] = compiled
                    else:
                        table.templated.append(compiled)

    def document(self, path: str, issuer: str, sandbox: bool = False) -> tuple[str, bytes] | None:
        """``(api, OpenAPI JSON)`` if ``path`` is ``/{api}/{version}/openapi.json``; with
        ``sandbox``, the sandbox endpoint's document (its server differs, nothing else)."""
        _, api, version, rest = [*path.split("/", 3), "", "", ""][:4]
        if "/" + rest != DOCUMENT_PATH or (api, version) not in self._contracts:
            return None
        key = (api, version, sandbox)
        if key not in self._documents:  # built once per snapshot, on first request
            resource, spec = self._contracts[(api, version)]
            built = document(resource, spec, issuer, self._event_types)
            if sandbox:
                built = sandbox_document(built, issuer, api, version)
            self._documents[key] = orjson.dumps(built)
        return api, self._documents[key]

    def version(self, api: str, version: str) -> VersionTable:
        """The served version ``api`` ``version``; the problem if it is not served."""
        table = self._versions.get((api, version))
        if table is None:
            raise RouteNotFound(
                f"No published Api version answers '/{api}/{version}'.",
                extensions={"versions": self._published.get(api, [])} if api else None,
            )
        if table.status == "retired" or (table.sunset is not None and time.time() >= table.sunset):
            raise VersionRetired(
                f"Version {version} of Api '{api}' is retired"
                + (f"; use {table.successor}." if table.successor else "."),
                extensions={
                    "versions": self._published.get(api, []),
                    "successor": table.successor,
                },
                headers={"Link": f'</{api}/{table.successor}>; rel="successor-version"'}
                if table.successor
                else None,
            )
        return table

    def match(self, method: str, path: str) -> Match:
        _, api, version, rest = [*path.split("/", 3), "", "", ""][:4]
        table = self.version(api, version)
        sub = "/" + rest
        # A literal path wins over a template for the same method; other methods may
        # still be answered by templates (GET /items/search beside POST /items/{id}).
        by_method = dict(table.static.get(sub, {}))
        params: dict[str, str] = {}
        for compiled in table.templated:
            assert compiled.pattern is not None
            if compiled.route.method in by_method:
                continue
            found = compiled.pattern.match(sub)
            if found:
                by_method[compiled.route.method] = compiled
                if compiled.route.method == method:
                    params = {k: unquote(v) for k, v in found.groupdict().items()}
        if not by_method:
            raise RouteNotFound(f"Api '{api}' {version} has no route '{sub}'.")
        chosen = by_method.get(method)
        if chosen is None:
            allowed = ", ".join(sorted(by_method))
            raise MethodNotAllowed(
                f"'{sub}' answers {allowed}, not {method}.", headers={"Allow": allowed}
            )
        return Match(chosen, params, table.headers)


def _event_of(route: Route, event_types: Mapping[str, EventType]) -> CompiledEvent | None:
    target = route.target
    if not isinstance(target, EventTarget) or target.event_type not in event_types:
        return None  # the gateway answers an event route without its EventType as unavailable
    event_type = event_types[target.event_type]
    known = {v.version for v in event_type.spec.versions}
    if target.version is not None and target.version not in known:
        return None
    return CompiledEvent.of(event_type, target.version)
