"""Events kept as time series: written as they are published, read by Views, pruned
after the EventType's retention."""

from __future__ import annotations

import builtins  # the repository's list() method shadows the builtin in class scope
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.connectors.base import Filter
from isthmus.store.tables import event_series

S = event_series.c
_COLUMNS = {"id": S.event_id, "time": S.time, "subject": S.subject}


@dataclass(frozen=True)
class SeriesEvent:
    environment: str
    event_type: str
    event_id: str
    time: datetime  # UTC, without a zone
    subject: str | None
    data: Any


class SeriesRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def append(self, events: Sequence[SeriesEvent]) -> None:
        """Keep ``events``; one already kept (same id) is not kept twice."""
        if not events:
            return
        rows = [
            {
                "environment": e.environment,
                "event_type": e.event_type,
                "event_id": e.event_id,
                "time": e.time,
                "subject": e.subject,
                "data": e.data,
            }
            for e in events
        ]
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(event_series).values(rows).on_conflict_do_nothing()
        async with self.engine.begin() as conn:
            await conn.execute(statement)

    async def prune(self, environment: str, event_type: str, before: datetime) -> int:
        async with self.engine.begin() as conn:
            gone = await conn.execute(
                delete(event_series).where(
                    S.environment == environment, S.event_type == event_type, S.time < before
                )
            )
        return int(gone.rowcount or 0)

    async def read(
        self, environment: str, event_type: str, filters: Sequence[Filter], cap: int
    ) -> builtins.list[dict[str, Any]]:
        """At most ``cap`` events, oldest first, filtered on id, time and subject."""
        query = select(S.event_id, S.time, S.subject, S.data).where(
            S.environment == environment, S.event_type == event_type
        )
        for item in filters:
            column = _COLUMNS[item.field]
            value = item.value
            if item.op == "in":
                query = query.where(column.in_(list(value)))
            elif item.op == "contains":
                query = query.where(column.contains(str(value), autoescape=True))
            else:
                method = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__",
                          "gt": "__gt__", "ge": "__ge__"}[item.op]  # fmt: skip
                query = query.where(getattr(column, method)(value))
        query = query.order_by(S.time, S.seq).limit(cap)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            {"id": r.event_id, "time": r.time, "subject": r.subject, "data": r.data} for r in rows
        ]
