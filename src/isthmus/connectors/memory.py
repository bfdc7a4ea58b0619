"""The ``memory`` connector: named collections of records held in the hub's memory.

For tests, docs and prototyping an Api before its System exists. State lives as long
as the open Connection (the gateway keeps a Connection open while its config is
unchanged) and starts from the records in the config.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar, get_args

from pydantic import Field

from isthmus.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    FilterOp,
    Health,
    OperationSpec,
    Pushdown,
    Record,
    StreamQuery,
    StreamSpec,
    TriggerSpec,
    UnknownOperation,
    tally,
)
from isthmus.connectors.query import apply_query, infer_schema
from isthmus.errors import BadRequest, Conflict, NotFound

ALL_OPS: frozenset[FilterOp] = frozenset(get_args(FilterOp))
VERBS = ("list", "get", "create", "update", "delete")


class Collection(ConnectorConfig):
    primary_key: str = "id"
    cursor_field: str | None = Field(default=None, description="Field for incremental reads.")
    records: list[dict[str, Any]] = Field(default_factory=list)


class MemoryConfig(ConnectorConfig):
    collections: dict[str, Collection] = Field(
        default_factory=dict, description="Collections by name, each with its seed records."
    )


class MemoryConnector(Connector):
    def __init__(self, config: MemoryConfig, context: ConnectorContext) -> None:
        super().__init__(context)
        self.config = config
        self.data: dict[str, dict[Any, Record]] = {
            name: {r[c.primary_key]: copy.deepcopy(r) for r in c.records if c.primary_key in r}
            for name, c in config.collections.items()
        }
        self._listeners: dict[str, set[asyncio.Queue[Record]]] = {}

    def operations(self) -> Mapping[str, OperationSpec]:
        return {
            f"{name}.{verb}": OperationSpec(
                name=f"{name}.{verb}",
                description=f"{verb} records of '{name}'",
                idempotent=verb in ("list", "get", "update", "delete"),
            )
            for name in self.data
            for verb in VERBS
        }

    async def call(self, operation: str, payload: Mapping[str, Any]) -> Any:
        collection, _, verb = operation.rpartition(".")
        if collection not in self.data or verb not in VERBS:
            raise UnknownOperation(f"The memory connector has no operation '{operation}'.")
        rows = self.data[collection]
        key_field = self.config.collections[collection].primary_key
        if verb == "list":
            return list(rows.values())
        key = _coerce_key(payload.get(key_field), rows)
        if verb == "get":
            if key not in rows:
                raise NotFound(f"No record '{key}' in '{collection}'.")
            return rows[key]
        if verb == "delete":
            if rows.pop(key, None) is None:
                raise NotFound(f"No record '{key}' in '{collection}'.")
            self._emit(collection, {"change": "deleted", key_field: key})
            return None
        body = payload.get("body")
        if not isinstance(body, dict):
            raise BadRequest("Send the record as a JSON object in the request body.")
        if verb == "create":
            key = body.get(key_field)
            if key is None:
                raise BadRequest(f"The record needs its primary key '{key_field}'.")
            if key in rows:
                raise Conflict(f"A record '{key}' already exists in '{collection}'.")
            rows[key] = dict(body)
        else:
            if key not in rows:
                raise NotFound(f"No record '{key}' in '{collection}'.")
            rows[key] = {**rows[key], **body, key_field: key}
        self._emit(collection, {"change": f"{verb}d", "record": rows[key]})
        return rows[key]

    def streams(self) -> Mapping[str, StreamSpec]:
        return {
            name: StreamSpec(
                name=name,
                primary_key=(c.primary_key,),
                json_schema=infer_schema(c.records),
                pushdown=Pushdown(ALL_OPS, True, True, True, c.cursor_field),
            )
            for name, c in self.config.collections.items()
        }

    async def read(self, stream: str, query: StreamQuery) -> AsyncIterator[Record]:
        if stream not in self.data:
            raise NotFound(f"The memory connector has no stream '{stream}'.")
        cursor_field = self.config.collections[stream].cursor_field
        for record in apply_query(list(self.data[stream].values()), query, cursor_field):
            tally(records=1)
            yield record

    def triggers(self) -> Mapping[str, TriggerSpec]:
        return {
            f"{name}.changed": TriggerSpec(f"{name}.changed", "subscribe", f"changes to '{name}'")
            for name in self.data
        }

    async def subscribe(self, trigger: str) -> AsyncIterator[Record]:
        collection = trigger.removesuffix(".changed")
        if trigger == collection or collection not in self.data:
            raise NotFound(f"The memory connector has no trigger '{trigger}'.")
        queue: asyncio.Queue[Record] = asyncio.Queue()
        self._listeners.setdefault(collection, set()).add(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._listeners[collection].discard(queue)

    def _emit(self, collection: str, event: Record) -> None:
        for queue in self._listeners.get(collection, ()):
            queue.put_nowait(copy.deepcopy(event))

    async def check(self) -> Health:
        total = sum(len(rows) for rows in self.data.values())
        return Health(ok=True, detail=f"{len(self.data)} collections, {total} records")


def _coerce_key(raw: Any, rows: Mapping[Any, Record]) -> Any:
    """Path parameters arrive as text; match them to integer keys where the data has them."""
    if isinstance(raw, str) and raw not in rows and raw.lstrip("-").isdigit():
        return int(raw)
    return raw


class MemoryConnectorType:
    name: ClassVar[str] = "memory"
    summary: ClassVar[str] = "Collections of records kept in the hub's memory."
    config_model: ClassVar[type[ConnectorConfig]] = MemoryConfig

    def open(self, config: Any, context: ConnectorContext) -> Connector:
        return MemoryConnector(config, context)
