"""The outbox relay: rows an application wrote to its outbox table, in the same
transaction as its business change, become events on the bus.

A round takes the oldest rows of the trigger's EventType, publishes them (the bus has
them when ``publish`` returns), and only then deletes them. A relay that stops between
the two publishes the same rows again with the same event ids (derived from the row),
so consumers that keep idempotency keys see no second side effect; a rolled-back
transaction never wrote a row, so nothing is published for it. A row whose payload is
not JSON or does not fit the EventType goes to the dead letters with the reason, and
the rows behind it keep flowing. One hub relays a given outbox at a time (a lease in
the store), so several hubs do not publish everything twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC

import orjson

from isthmus.connectors.sql.outbox import OutboxRow, remove, take
from isthmus.connectors.sql.runner import Runner
from isthmus.events.base import Bus, Message
from isthmus.events.compose import CompiledEvent
from isthmus.model.trigger import OutboxSource
from isthmus.store.dead_letters import DeadLetterRepository

_IDS = uuid.UUID("6b1e3c0a-5d8f-4f8e-9a53-2f1f6f0b7c11")  # namespace of outbox event ids


@dataclass
class OutboxRelay:
    """Relays one outbox trigger of one Connection."""

    name: str  # trigger:ENVIRONMENT/CONNECTION/TRIGGER: the lease, and the dead letters' owner
    environment: str
    connection: str
    source: OutboxSource
    event: CompiledEvent
    bus: Bus
    dead: DeadLetterRepository

    async def round(self, runner: Runner) -> int:
        """Relay one batch; returns how many rows it took (0: the outbox is empty)."""
        rows = await take(runner, self.source.table, self.event.name, self.source.batch)
        if not rows:
            return 0
        messages: list[Message] = []
        for row in rows:
            message = await self._message(row)
            if message is not None:
                messages.append(message)
        await self.bus.publish(messages)  # durable on the bus from here on …
        await remove(runner, self.source.table, [row.id for row in rows])  # … then gone
        return len(rows)

    def event_id(self, row: OutboxRow) -> str:
        """The same for a row however often it is relayed (and for no other row: the
        creation time tells apart rows of a table whose ids started again)."""
        created = row.created_at.isoformat() if row.created_at is not None else ""
        seed = f"{self.environment}/{self.connection}/{self.source.table}/{row.id}/{created}"
        return uuid.uuid5(_IDS, seed).hex

    async def _message(self, row: OutboxRow) -> Message | None:
        event_id = self.event_id(row)
        try:
            data = orjson.loads(row.payload)
        except orjson.JSONDecodeError:
            await self._reject(row, event_id, row.payload, "the payload is not JSON")
            return None
        if said := self.event.misfit(data):
            await self._reject(row, event_id, data, f"the payload does not fit: {said}")
            return None
        attributes = {"id": event_id}
        if row.subject:
            attributes["subject"] = row.subject
        if row.created_at is not None:
            created = row.created_at
            created = created if created.tzinfo else created.replace(tzinfo=UTC)
            attributes["time"] = created.isoformat()
        _, message = self.event.compose(
            self.environment, data, f"/connections/{self.connection}", attributes
        )
        return message

    async def _reject(self, row: OutboxRow, event_id: str, data: object, why: str) -> None:
        kept = {"id": event_id, "type": self.event.type, "outboxRow": row.id, "data": data}
        # once: a round whose publish failed rejects the same row again
        await self.dead.add_once(
            self.name, self.environment, event_id, orjson.dumps(kept),
            f"outbox row {row.id}: {why}", 1,
        )  # fmt: skip
