"""Checks on a single resource beyond its pydantic schema: owners, environments,
connector configs, and literal secrets where a ``secret://`` reference belongs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from isthmus.connectors import registry as connector_registry
from isthmus.errors import IsthmusError
from isthmus.events.compatibility import breaking_changes
from isthmus.governance.literals import literal_secrets as find_literal_secrets
from isthmus.model import Api, Connection, EventType, Resource
from isthmus.model.api import GATEWAY_OWNED
from isthmus.project.hints import LITERAL_SECRET, hint_for, message_for
from isthmus.project.issues import dotted
from isthmus.project.source import real_path
from isthmus.virtual.series import SOURCE as SERIES

Path_ = tuple[str | int, ...]
Finding = tuple[Path_, str, str | None]  # path, message, hint


NOT_A_SECRET = "isthmus.dev/not-a-secret"


def literal_secrets(
    data: Any, path: Path_ = (), labels: Any = None, shapes_only: bool = False
) -> Iterator[Finding]:
    """Literal credentials (by field name, by shape, by randomness) where a secret://
    reference belongs; the hint names a reference to write instead. Fields the resource
    lists in its label ``isthmus.dev/not-a-secret`` (dotted paths, comma-separated) are
    passed: the way out of a false alarm."""
    allowed = _not_secrets(labels)
    for here, what in find_literal_secrets(data, path, shapes_only=shapes_only):
        if dotted(here) not in allowed:
            yield here, f"{LITERAL_SECRET}: {what}", _reference_hint(here)


def _server_secrets(document: dict[str, Any], at: Path_, labels: Any) -> Iterator[Finding]:
    """Credentials in an imported document's server addresses (a password or a key in a
    URL). Its examples are the vendor's documentation, sample tokens included: not ours
    to judge."""
    places: list[tuple[Path_, Any]] = [((*at, "servers"), document.get("servers"))]
    for path, item in (document.get("paths") or {}).items():
        if isinstance(item, dict):
            places.append(((*at, "paths", path, "servers"), item.get("servers")))
            for method, operation in item.items():
                if isinstance(operation, dict):
                    places.append(
                        ((*at, "paths", path, method, "servers"), operation.get("servers"))
                    )
    for where, servers in places:
        for index, server in enumerate(servers if isinstance(servers, list) else []):
            if isinstance(server, dict):
                yield from literal_secrets({"url": server.get("url")}, (*where, index), labels)


def _not_secrets(labels: Any) -> set[str]:
    text = labels.get(NOT_A_SECRET) if isinstance(labels, dict) else None
    return {p.strip() for p in text.split(",") if p.strip()} if isinstance(text, str) else set()


def _reference_hint(path: Path_) -> str:
    words = [str(p) for p in path if isinstance(p, str) and p not in ("spec", "config")]
    name = re.sub(r"[^a-z0-9]+", "-", "-".join(words[-2:]).lower()).strip("-") or "name"
    return (
        f"store the value with 'isthmus secret set {name}' (or PUT /admin/v1/secrets/{name}) "
        f"and write 'secret://{name}' here; literal credentials never go into resources"
    )


def resource_checks(resource: Resource, raw: dict[str, Any]) -> Iterator[Finding]:
    """Every finding once per field path (a literal secret also fails its field's pattern)."""
    seen: set[Path_] = set()
    for path, message, hint in _all_checks(resource, raw):
        path = real_path(raw, path)
        if path not in seen:
            seen.add(path)
            yield path, message, hint


def _all_checks(resource: Resource, raw: dict[str, Any]) -> Iterator[Finding]:
    spec = raw.get("spec")
    labels = (raw.get("metadata") or {}).get("labels") if isinstance(raw, dict) else None
    if isinstance(spec, dict) and isinstance(spec.get("versions"), list):
        # an imported OpenAPI document is a contract: its examples are not credentials
        versions = [
            {k: v for k, v in version.items() if k != "openapi"}
            if isinstance(version, dict)
            else version
            for version in spec["versions"]
        ]
        spec = {**spec, "versions": versions}
        for index, version in enumerate(raw["spec"]["versions"]):
            if isinstance(version, dict) and isinstance(version.get("openapi"), dict):
                at = ("spec", "versions", index, "openapi")
                yield from _server_secrets(version["openapi"], at, labels)
    yield from literal_secrets(spec, ("spec",), labels)
    if isinstance(resource, Api) and resource.metadata.name in GATEWAY_OWNED:
        # a check, not a model rule: a store that already holds such an Api still loads
        yield (
            ("metadata", "name"),
            f"'{resource.metadata.name}' is a path of the gateway itself",
            "Name the Api otherwise.",
        )
    if isinstance(resource, Connection) and resource.metadata.name == SERIES:
        yield (
            ("metadata", "name"),
            f"'{SERIES}' is where Views read events kept as time series",
            "Name the Connection otherwise.",
        )
    if isinstance(resource, Connection):
        yield from connection_config(resource)
    if isinstance(resource, EventType):
        yield from event_versions(resource)


def connection_config(resource: Connection) -> Iterator[Finding]:
    spec = resource.spec
    try:
        connector = connector_registry.connector_type(spec.connector)
    except IsthmusError as exc:
        yield ("spec", "connector"), exc.detail, exc.remediation
        return
    try:
        connector.config_model.model_validate(spec.config)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            path = ("spec", "config", *error["loc"])
            yield path, message_for(error), hint_for(connector.config_model, error)
    for index, trigger in enumerate(spec.triggers):
        if trigger.outbox is not None and spec.connector != "sql":
            yield (
                ("spec", "triggers", index, "outbox"),
                f"an outbox is a table in a SQL database; connector '{spec.connector}' has none",
                "Declare the outbox trigger on a Connection of the 'sql' connector.",
            )


def event_versions(resource: EventType) -> Iterator[Finding]:
    """Each version is compatible with the earlier ones as the EventType's mode says:
    every breaking change, field by field."""
    spec = resource.spec
    for index, version in enumerate(spec.versions):
        here = ("spec", "versions", index, "schema")
        earlier = [(v.version, v.data_schema) for v in spec.versions[:index]]
        changes = breaking_changes(
            spec.compatibility, earlier, (version.version, version.data_schema)
        )
        if changes:
            yield (
                here,
                f"v{version.version} breaks {spec.compatibility} compatibility: "
                + "; ".join(changes),
                "Make the change compatible (a new field optional, a type wider), or publish "
                "it as a new EventType; compatibility: NONE turns the check off.",
            )
