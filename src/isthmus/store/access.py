"""Access requests and the grants their approvals create."""

from __future__ import annotations

import builtins  # the repositories' list() methods shadow the builtin in class scope
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from isthmus.errors import Conflict, NotFound
from isthmus.store.db import utc
from isthmus.store.resources import bump_revision
from isthmus.store.tables import access_requests, grants


@dataclass(frozen=True)
class AccessRequest:
    id: int
    app: str
    api: str
    version: str
    environment: str
    plan: str | None
    justification: str
    status: str  # pending approved rejected withdrawn
    requested_by: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Grant:
    id: int
    app: str
    api: str
    environment: str
    plan: str | None
    request_id: int | None
    granted_by: str
    granted_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None


def _request(r: Any) -> AccessRequest:
    return AccessRequest(
        r.id, r.app, r.api, r.version, r.environment, r.plan, r.justification, r.status,
        r.requested_by, utc(r.requested_at), r.decided_by,
        utc(r.decided_at) if r.decided_at else None, r.reason,
    )  # fmt: skip


def _grant(r: Any) -> Grant:
    return Grant(
        r.id, r.app, r.api, r.environment, r.plan, r.request_id, r.granted_by,
        utc(r.granted_at), utc(r.revoked_at) if r.revoked_at else None, r.revoked_by,
    )  # fmt: skip


class AccessRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_request(
        self, app: str, api: str, version: str, environment: str, plan: str | None,
        justification: str, requested_by: str,
    ) -> AccessRequest:  # fmt: skip
        values = {
            "app": app,
            "api": api,
            "version": version,
            "environment": environment,
            "plan": plan,
            "justification": justification,
            "status": "pending",
            "requested_by": requested_by,
            "requested_at": datetime.now(UTC),
        }
        async with self.engine.begin() as conn:
            open_one = (
                await conn.execute(
                    select(access_requests.c.id).where(
                        access_requests.c.app == app,
                        access_requests.c.api == api,
                        access_requests.c.environment == environment,
                        access_requests.c.status == "pending",
                    )
                )
            ).first()
            if open_one is not None:
                raise Conflict(
                    f"App '{app}' already waits for a decision on '{api}' ({environment}): "
                    f"request {open_one[0]}.",
                    remediation="Wait for the Api's owner, or withdraw that request first.",
                )
            result = await conn.execute(insert(access_requests).values(**values))
            request_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return await self.request(request_id)

    async def request(self, request_id: int) -> AccessRequest:
        async with self.engine.connect() as conn:
            query = select(access_requests).where(access_requests.c.id == request_id)
            row = (await conn.execute(query)).first()
        if row is None:
            raise NotFound(f"No access request {request_id}.")
        return _request(row)

    async def requests(
        self, *, apps: builtins.list[str] | None = None, apis: builtins.list[str] | None = None,
        status: str | None = None,
    ) -> builtins.list[AccessRequest]:  # fmt: skip
        """Newest first; ``apps`` and ``apis`` (either matching) narrow to what one
        person may see."""
        query = select(access_requests).order_by(access_requests.c.id.desc())
        if apps is not None or apis is not None:
            query = query.where(
                access_requests.c.app.in_(apps or []) | access_requests.c.api.in_(apis or [])
            )
        if status is not None:
            query = query.where(access_requests.c.status == status)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_request(r) for r in rows]

    async def decide(
        self, request_id: int, status: str, by: str, reason: str | None,
        conn: AsyncConnection,
    ) -> None:  # fmt: skip
        """Close a pending request; refused if someone decided (or it was withdrawn)."""
        result = await conn.execute(
            update(access_requests)
            .where(access_requests.c.id == request_id, access_requests.c.status == "pending")
            .values(status=status, decided_by=by, decided_at=datetime.now(UTC), reason=reason)
        )
        if result.rowcount != 1:
            raise Conflict(
                f"Access request {request_id} is no longer pending.",
                remediation="Reload it: someone decided it or it was withdrawn.",
            )

    async def add_grant(
        self, conn: AsyncConnection, app: str, api: str, environment: str, plan: str | None,
        request_id: int | None, by: str,
    ) -> None:  # fmt: skip
        """Grant (or re-grant, with a new plan) ``api`` to ``app`` in ``environment``."""
        now = datetime.now(UTC)
        await conn.execute(
            update(grants)
            .where(
                grants.c.app == app,
                grants.c.api == api,
                grants.c.environment == environment,
                grants.c.revoked_at.is_(None),
            )
            .values(revoked_at=now, revoked_by=by)
        )
        await conn.execute(
            insert(grants).values(
                app=app, api=api, environment=environment, plan=plan,
                request_id=request_id, granted_by=by, granted_at=now,
            )
        )  # fmt: skip
        await bump_revision(conn)

    async def grants(self, app: str | None = None, *, active: bool = True) -> builtins.list[Grant]:
        query = select(grants).order_by(grants.c.app, grants.c.api, grants.c.environment)
        if app is not None:
            query = query.where(grants.c.app == app)
        if active:
            query = query.where(grants.c.revoked_at.is_(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_grant(r) for r in rows]

    async def grant(self, grant_id: int) -> Grant:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(grants).where(grants.c.id == grant_id))).first()
        if row is None:
            raise NotFound(f"No grant {grant_id}.")
        return _grant(row)

    async def revoke_grant(self, grant_id: int, by: str) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(grants)
                .where(grants.c.id == grant_id, grants.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC), revoked_by=by)
            )
            if result.rowcount != 1:
                raise NotFound(f"No active grant {grant_id}.")
            await bump_revision(conn)
