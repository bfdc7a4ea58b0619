"""Leases: one holder at a time for a named piece of work, across hub processes.

A lease is a row with an expiry. Taking it is one conditional statement — insert it,
or take it over where it expired — so two processes can never both hold it; a holder
that dies without releasing it blocks others only until the expiry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.store.tables import leases


class LeaseRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def take(self, name: str, holder: str, seconds: float) -> bool:
        """Whether ``holder`` now holds ``name`` for ``seconds`` (it may already have)."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=seconds)
        async with self.engine.begin() as conn:
            taken = await conn.execute(
                update(leases)
                .where(leases.c.name == name)
                .where(or_(leases.c.expires_at < now, leases.c.holder == holder))
                .values(holder=holder, expires_at=until)
            )
            if taken.rowcount == 1:
                return True
        try:
            async with self.engine.begin() as conn:
                row = {"name": name, "holder": holder, "expires_at": until}
                await conn.execute(insert(leases).values(row))
        except IntegrityError:  # someone holds it (or took it first)
            return False
        return True

    async def release(self, name: str, holder: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(leases).where(leases.c.name == name).where(leases.c.holder == holder)
            )
