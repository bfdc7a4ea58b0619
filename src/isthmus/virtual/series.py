"""Event streams as time series for Views.

An EventType with ``series`` has its events kept in the store as they are published
through the hub (:class:`SeriesRecorder`), for ``keepDays``. Views read them as the
stream ``events.<event type>`` (:class:`SeriesConnector`): the event's id, time and
subject, the top-level fields of its data as columns (typed by the latest version's
schema), and the whole data as JSON text. Filters on id, time and subject run in the
store; the rest in DuckDB.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import structlog

from isthmus.connectors.base import (
    Connector,
    ConnectorContext,
    Filter,
    FilterOp,
    Pushdown,
    Record,
    StreamQuery,
    StreamSpec,
    tally,
)
from isthmus.errors import BadRequest, NotFound
from isthmus.events.base import Message
from isthmus.model.event_type import EventType
from isthmus.store.series import SeriesEvent, SeriesRepository

SOURCE = "events"  # the name Views use for it, as if it were a Connection
BASE = {
    "id": {"type": "string"},
    "time": {"type": "string", "format": "date-time"},
    "subject": {"type": "string"},
    "data": {"type": "string"},
}
OPS: frozenset[FilterOp] = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "in"})
MAX_EVENTS = 1_000_000  # most events one read takes from the store
PRUNE_EVERY = timedelta(minutes=1)

log = structlog.get_logger(__name__)


def series_types(event_types: Mapping[str, EventType]) -> dict[str, EventType]:
    return {name: e for name, e in event_types.items() if e.spec.series is not None}


class SeriesConnector(Connector):
    """The kept events of one Environment, one stream per EventType."""

    def __init__(
        self, environment: str, event_types: Mapping[str, EventType], store: SeriesRepository
    ) -> None:
        super().__init__(ConnectorContext(SOURCE, environment, _NoSecrets()))
        self.environment = environment
        self.event_types = dict(event_types)
        self.store = store

    def streams(self) -> Mapping[str, StreamSpec]:
        return {
            name: StreamSpec(
                name,
                ("id",),
                {"type": "object", "properties": {**_fields(e), **BASE}},
                Pushdown(OPS, filter_fields=frozenset({"id", "time", "subject"})),
            )
            for name, e in self.event_types.items()
        }

    async def read(self, stream: str, query: StreamQuery) -> AsyncIterator[Record]:
        if stream not in self.event_types:
            raise NotFound(f"EventType '{stream}' keeps no time series.")
        fields = _fields(self.event_types[stream])
        filters = [_typed(f) for f in query.filters if f.field in ("id", "time", "subject")]
        rows = await self.store.read(self.environment, stream, filters, MAX_EVENTS)
        tally(records=len(rows), requests=1)
        for row in rows:
            data = row["data"]
            record = {name: data.get(name) for name in fields} if isinstance(data, dict) else {}
            record |= {
                "id": row["id"],
                "time": row["time"],
                "subject": row["subject"],
                "data": orjson.dumps(data).decode(),
            }
            yield record


class SeriesRecorder:
    """Keeps the events of series EventTypes as they are published through the hub,
    writing them in batches; prunes what is older than each type's retention."""

    def __init__(self, store: SeriesRepository) -> None:
        self.store = store
        self.event_types: dict[str, EventType] = {}  # set with each snapshot
        self._waiting: list[SeriesEvent] = []
        self._writer: asyncio.Task[None] | None = None
        self._pruned: dict[tuple[str, str], datetime] = {}

    def published(self, messages: Sequence[Message]) -> None:
        for message in messages:
            environment, _, event_type = message.topic.partition(".")
            if event_type not in self.event_types:
                continue
            event = _event(environment, event_type, message.body)
            if event is not None:
                self._waiting.append(event)
        if self._waiting and (self._writer is None or self._writer.done()):
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def drain(self) -> None:
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def _write(self) -> None:
        while self._waiting:
            taken, self._waiting = self._waiting, []
            try:
                await self.store.append(taken)
                await self._prune({(e.environment, e.event_type) for e in taken})
            except Exception as error:  # the store is down: the events are on the bus still
                log.error("series.not_stored", error=type(error).__name__, events=len(taken))

    async def _prune(self, kinds: set[tuple[str, str]]) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        for environment, event_type in kinds:
            if now - self._pruned.get((environment, event_type), datetime.min) < PRUNE_EVERY:
                continue
            self._pruned[(environment, event_type)] = now
            series = self.event_types[event_type].spec.series
            assert series is not None
            await self.store.prune(environment, event_type, now - timedelta(days=series.keep_days))


def _typed(item: Filter) -> Filter:
    """A time compared as a time (queries and cursors bring it as ISO text)."""
    if item.field != "time":
        return item
    moments = [_moment(v) for v in item.value] if item.op == "in" else _moment(item.value)
    return Filter(item.field, item.op, moments)


def _moment(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRequest(f"'{value}' is not a time to compare events' times with.") from None
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _fields(event_type: EventType) -> dict[str, Any]:
    """The latest version's top-level data fields, as columns."""
    schema = event_type.spec.versions[-1].data_schema
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return {n: s for n, s in (properties or {}).items() if n not in BASE and isinstance(s, dict)}


def _event(environment: str, event_type: str, body: bytes) -> SeriesEvent | None:
    """A structured CloudEvent as a series row (None: not one)."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        return None
    try:
        time = datetime.fromisoformat(str(event.get("time")).replace("Z", "+00:00"))
    except ValueError:
        time = datetime.now(UTC)
    if time.tzinfo is not None:
        time = time.astimezone(UTC).replace(tzinfo=None)
    subject = event.get("subject")
    return SeriesEvent(
        environment,
        event_type,
        event["id"][:200],
        time,
        subject[:500] if isinstance(subject, str) else None,
        event.get("data"),
    )


class _NoSecrets:
    async def resolve(self, reference: str) -> str:
        raise NotFound("The event series has no secrets.")
