"""Trigger cursors: how far each polling trigger has read its stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.store.tables import trigger_cursors

C = trigger_cursors.c


class CursorRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, name: str) -> Any:
        """The stored cursor of ``name`` (None: it has read nothing yet)."""
        async with self.engine.connect() as conn:
            return (await conn.execute(select(C.cursor).where(C.name == name))).scalar()

    async def set(self, name: str, cursor: Any) -> None:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            moved = await conn.execute(
                update(trigger_cursors).where(C.name == name).values(cursor=cursor, updated_at=now)
            )
            if moved.rowcount == 0:
                await conn.execute(
                    insert(trigger_cursors).values(name=name, cursor=cursor, updated_at=now)
                )
