"""Polling triggers: a Connection's stream read from a stored cursor, each new record
published as an event.

A round reads the records whose cursor field is past the stored cursor (the stream's
incremental read, pushed down to the System where it can be), oldest first, publishes
them, and only then stores the last one's cursor — so a poller stopped in between
publishes those records again, with the same event ids (derived from the record's key
and cursor). A record that does not fit the EventType goes to the dead letters.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from isthmus.connectors.base import Connector, StreamQuery
from isthmus.errors import ConfigurationError
from isthmus.events.base import Bus, Message
from isthmus.events.compose import CompiledEvent
from isthmus.mapping import Mapping, MappingError
from isthmus.model.trigger import PollSource
from isthmus.store.cursors import CursorRepository
from isthmus.store.dead_letters import DeadLetterRepository

_IDS = uuid.UUID("0f7d9b4e-52a1-4c36-8d0e-7b9a1c3e5f21")  # namespace of polled event ids
ROUND_LIMIT = 1000  # records published per round at most


@dataclass
class Poller:
    name: str  # trigger:ENVIRONMENT/CONNECTION/TRIGGER
    environment: str
    connection: str
    source: PollSource
    event: CompiledEvent
    bus: Bus
    cursors: CursorRepository
    dead: DeadLetterRepository
    published: int = 0  # events published: a counter tests and health read

    def __post_init__(self) -> None:
        self._mapping = Mapping(self.source.mapping) if self.source.mapping else None

    async def round(self, connector: Connector) -> int:
        """Publish what is new; returns how many records were read."""
        stream = connector.streams().get(self.source.stream)
        if stream is None or stream.pushdown.cursor_field is None:
            raise ConfigurationError(
                f"Connection '{self.connection}' has no stream '{self.source.stream}' with a "
                "cursor field to poll.",
                remediation="Name a stream of the Connection that declares a cursor field.",
            )
        field = stream.pushdown.cursor_field
        cursor = await self.cursors.get(self.name)
        query = StreamQuery(sort=((field, False),), limit=ROUND_LIMIT, cursor=cursor)
        read = [r async for r in connector.read(self.source.stream, query)]
        # oldest first even where the System could not sort; a record without a cursor
        # value is published once, on the first round, and never moves the cursor
        records = sorted(read, key=lambda r: (r.get(field) is not None, r.get(field)))
        records = records[:ROUND_LIMIT]
        if len(records) == ROUND_LIMIT:
            # a full round may have cut a run of records sharing the last cursor value:
            # leave that run to the next round, which reads past the value before it
            last = records[-1].get(field)
            records = [r for r in records if r.get(field) != last] or records
        if not records:
            return 0
        messages = [m for r in records if (m := await self._message(r, stream.primary_key, field))]
        await self.bus.publish(messages)  # the bus has them …
        moved = [r.get(field) for r in records if r.get(field) is not None]
        if moved:
            await self.cursors.set(self.name, moved[-1])  # … then the cursor moves
        self.published += len(messages)
        return len(read)

    async def _message(
        self, record: dict[str, Any], key: tuple[str, ...], field: str
    ) -> Message | None:
        identity = [record.get(k) for k in key] or [record]
        seed = orjson.dumps([self.name, identity, record.get(field)], option=orjson.OPT_SORT_KEYS)
        event_id = uuid.uuid5(_IDS, seed.decode()).hex
        try:
            data = self._mapping(record) if self._mapping else record
        except MappingError as error:
            await self._reject(event_id, record, f"the mapping failed: {error}")
            return None
        if said := self.event.misfit(data):
            await self._reject(event_id, record, f"the record does not fit: {said}")
            return None
        _, message = self.event.compose(
            self.environment, data, f"/connections/{self.connection}", {"id": event_id}
        )
        return message

    async def _reject(self, event_id: str, record: object, why: str) -> None:
        kept = orjson.dumps({"id": event_id, "type": self.event.type, "data": record})
        # once: a round whose publish failed rejects the same record again
        await self.dead.add_once(self.name, self.environment, event_id, kept, why, 1)
