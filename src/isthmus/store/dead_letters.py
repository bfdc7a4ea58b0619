"""Dead letters: kept with their error, listed, and claimed for replay once."""

from __future__ import annotations

import builtins  # the repository's list() method shadows the builtin in class scope
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.store.db import utc
from isthmus.store.tables import dead_letters

D = dead_letters.c


@dataclass(frozen=True)
class DeadLetter:
    id: int
    subscription: str
    environment: str
    event_id: str
    event: bytes
    error: str
    attempts: int
    failed_at: datetime
    replayed_at: datetime | None


def _row(r: object) -> DeadLetter:
    return DeadLetter(
        r.id, r.subscription, r.environment, r.event_id, bytes(r.event), r.error,  # type: ignore[attr-defined]
        r.attempts, utc(r.failed_at), utc(r.replayed_at) if r.replayed_at else None,  # type: ignore[attr-defined]
    )  # fmt: skip


class DeadLetterRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(
        self,
        subscription: str,
        environment: str,
        event_id: str,
        event: bytes,
        error: str,
        attempts: int,
    ) -> int:
        row = {
            "subscription": subscription,
            "environment": environment,
            "event_id": event_id[:200],
            "event": event,
            "error": error[:500],
            "attempts": attempts,
            "failed_at": datetime.now(UTC),
        }
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(dead_letters).values(row).returning(D.id))
            return int(result.scalar_one())

    async def list(
        self, subscription: str | None = None, environment: str | None = None, limit: int = 100
    ) -> builtins.list[DeadLetter]:
        query = select(dead_letters).order_by(D.id.desc()).limit(limit)
        if subscription is not None:
            query = query.where(D.subscription == subscription)
        if environment is not None:
            query = query.where(D.environment == environment)
        async with self.engine.connect() as conn:
            return [_row(r) for r in (await conn.execute(query)).all()]

    async def get(self, id: int) -> DeadLetter | None:
        async with self.engine.connect() as conn:
            found = (await conn.execute(select(dead_letters).where(D.id == id))).first()
        return _row(found) if found is not None else None

    async def claim_replay(self, id: int) -> bool:
        """Whether this caller may replay ``id``: true once, for the first to ask."""
        async with self.engine.begin() as conn:
            claimed = await conn.execute(
                update(dead_letters)
                .where(D.id == id, D.replayed_at.is_(None))
                .values(replayed_at=datetime.now(UTC))
            )
        return claimed.rowcount == 1

    async def waiting(self, subscription: str, environment: str, event_id: str) -> bool:
        """Whether ``event_id`` is a dead letter of ``subscription`` not yet replayed (an
        event redelivered after it was dead-lettered — its ack lost to a crash — is not
        added twice)."""
        query = select(D.id).where(
            D.subscription == subscription,
            D.environment == environment,
            D.event_id == event_id[:200],
            D.replayed_at.is_(None),
        )
        async with self.engine.connect() as conn:
            return (await conn.execute(query.limit(1))).first() is not None

    async def add_once(
        self,
        subscription: str,
        environment: str,
        event_id: str,
        event: bytes,
        error: str,
        attempts: int,
    ) -> int | None:
        """Add the letter unless ``event_id`` is already waiting for ``subscription`` (an
        event seen again after a crash lost its ack); its id, or None when it was there."""
        if await self.waiting(subscription, environment, event_id):
            return None
        return await self.add(subscription, environment, event_id, event, error, attempts)
