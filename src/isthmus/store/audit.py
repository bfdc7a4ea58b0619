"""The audit log's rows: appended in batches, read newest first with filters."""

from __future__ import annotations

import builtins  # the repository's list() method shadows the builtin in class scope
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.governance.audit import AuditEntry
from isthmus.store.db import utc
from isthmus.store.tables import audit_events


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    action: str | None = None  # exact, or a prefix ending in '.' ("sql.")
    target: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    before_id: int | None = None  # paging: entries older than this one
    limit: int = 100


class AuditRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        """Write ``entries`` in one transaction."""
        if not entries:
            return
        rows = [
            {
                "at": e.at,
                "actor": e.actor[:200],
                "action": e.action[:64],
                "target": e.target[:300],
                "outcome": e.outcome[:16],
                "detail": e.detail,
            }
            for e in entries
        ]
        async with self.engine.begin() as conn:
            await conn.execute(insert(audit_events), rows)

    async def list(self, where: AuditFilter) -> builtins.list[AuditEntry]:
        c = audit_events.c
        query = select(audit_events).order_by(c.id.desc()).limit(where.limit)
        if where.actor is not None:
            query = query.where(c.actor == where.actor)
        if where.action is not None:
            if where.action.endswith("."):
                query = query.where(c.action.startswith(where.action, autoescape=True))
            else:
                query = query.where(c.action == where.action)
        if where.target is not None:
            query = query.where(c.target == where.target)
        if where.outcome is not None:
            query = query.where(c.outcome == where.outcome)
        if where.since is not None:
            query = query.where(c.at >= where.since)
        if where.before_id is not None:
            query = query.where(c.id < where.before_id)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            AuditEntry(r.actor, r.action, r.target, r.outcome, r.detail, utc(r.at), r.id)
            for r in rows
        ]
