"""API keys of Apps: stored as SHA-256 digests, the plain key shown once at creation.

Keys carry 192 random bits, so a plain SHA-256 digest is enough to make a stolen
table useless (no password-style stretching needed). The key names its Environment,
like test and live keys of payment APIs, so one gateway serves both without confusion.
"""

from __future__ import annotations

import builtins  # the repositories' list() methods shadow the builtin in class scope
import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.errors import NotFound
from isthmus.store.db import utc
from isthmus.store.resources import bump_revision
from isthmus.store.tables import api_keys

PREFIX = "isk"


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    app: str
    environment: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(environment: str) -> tuple[str, str]:
    """A fresh (id, plain key); the id is the key's public prefix, safe to log."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX}_{environment}_{key_id}_{secrets.token_urlsafe(24)}"


class KeyRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(self, app: str, environment: str, label: str = "") -> tuple[ApiKeyInfo, str]:
        key_id, plain = new_key(environment)
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await conn.execute(
                insert(api_keys).values(
                    id=key_id,
                    app=app,
                    environment=environment,
                    label=label,
                    digest=digest(plain),
                    created_at=now,
                )
            )
            await bump_revision(conn)
        return ApiKeyInfo(key_id, app, environment, label, now, None), plain

    async def list(self, app: str | None = None) -> builtins.list[ApiKeyInfo]:
        query = select(
            api_keys.c.id,
            api_keys.c.app,
            api_keys.c.environment,
            api_keys.c.label,
            api_keys.c.created_at,
            api_keys.c.revoked_at,
        ).order_by(api_keys.c.app, api_keys.c.created_at)
        if app:
            query = query.where(api_keys.c.app == app)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            ApiKeyInfo(
                r.id,
                r.app,
                r.environment,
                r.label,
                utc(r.created_at),
                utc(r.revoked_at) if r.revoked_at else None,
            )
            for r in rows
        ]

    async def revoke(self, key_id: str) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            if result.rowcount != 1:
                raise NotFound(f"No active API key '{key_id}'.")
            await bump_revision(conn)

    async def active_digests(self) -> dict[str, tuple[str, str, str]]:
        """digest -> (key id, app, environment) for every unrevoked key."""
        query = select(api_keys.c.digest, api_keys.c.id, api_keys.c.app, api_keys.c.environment)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query.where(api_keys.c.revoked_at.is_(None)))).all()
        return {row[0]: (row[1], row[2], row[3]) for row in rows}
