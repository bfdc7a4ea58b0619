"""What the planner can read in one Environment: Views, and the streams of Connections."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

from isthmus.connectors.base import Connector, SqlSource, StreamSpec
from isthmus.errors import NotFound
from isthmus.model.connection import SourceCaching
from isthmus.model.view import View
from isthmus.virtual.types import sql_type


class UnknownTable(NotFound):
    code = "virtual-unknown-table"
    title = "The query names a table that does not exist"
    remediation = "Name a View, or a stream as 'connection.stream' (see the catalog for both)."


@dataclass(frozen=True)
class SourceTable:
    """One stream of one Connection, as a table."""

    connection: str
    spec: StreamSpec
    connector: Connector
    environment: str = ""
    ttl: float | None = None  # how long its rows may be reused (the Connection's cache)

    @property
    def name(self) -> str:
        return f"{self.connection}.{self.spec.name}"

    @cached_property
    def types(self) -> dict[str, str]:
        """Column → SQL type, from the stream's JSON Schema."""
        properties = self.spec.json_schema.get("properties") or {}
        return {name: sql_type(schema or {}) for name, schema in properties.items()}

    @cached_property
    def database(self) -> SqlSource | None:
        """The connector, where it runs whole SELECTs over its streams (asked once per
        plan: isinstance() against a runtime-checkable Protocol is slow)."""
        return self.connector if isinstance(self.connector, SqlSource) else None


class Sources:
    """Views and the streams of one Environment's Connections, as the planner sees them.
    ``connector_for`` opens nothing: it hands out the hub's open connector or raises the
    problem that says why there is none."""

    def __init__(
        self,
        environment: str,
        views: Mapping[str, View],
        connector_for: Callable[[str], Connector],
        revision: int = 0,
        caching: Mapping[str, SourceCaching] | None = None,
    ) -> None:
        self.environment = environment
        self.views = dict(views)
        self._connector_for = connector_for
        self.revision = revision
        self._caching = caching or {}  # connection → its cache settings

    def view(self, name: str) -> View | None:
        return self.views.get(name)

    def table(self, connection: str, stream: str) -> SourceTable:
        connector = self._connector_for(connection)
        streams = connector.streams()
        spec = streams.get(stream)
        if spec is None:
            known = ", ".join(sorted(streams)) or "none"
            raise UnknownTable(
                f"Connection '{connection}' has no stream '{stream}'. Its streams: {known}."
            )
        caching = self._caching.get(connection)
        cached = caching is not None and (not caching.streams or stream in caching.streams)
        ttl = caching.ttl_seconds if caching is not None and cached else None
        table = SourceTable(connection, spec, connector, self.environment, ttl)
        if not table.types:
            raise UnknownTable(
                f"Stream '{table.name}' declares no fields, so it cannot be queried.",
                remediation="Declare the stream's fields in its schema (properties).",
            )
        return table
