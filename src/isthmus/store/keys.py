"""Credentials of Apps: API keys and OAuth2 client secrets, stored as SHA-256 digests;
the plain value is shown once when issued.

Keys carry 192 random bits, so a plain SHA-256 digest is enough to make a stolen
table useless (no password-style stretching needed). The key names its Environment,
like test and live keys of payment APIs, so one gateway serves both without confusion.
A rotated credential keeps working until its ``expires_at`` (the grace period), so the
App can switch without an outage.
"""

from __future__ import annotations

import builtins  # the repositories' list() methods shadow the builtin in class scope
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from isthmus.errors import Conflict, NotFound
from isthmus.store.db import utc
from isthmus.store.resources import bump_revision
from isthmus.store.tables import api_keys

CredentialKind = Literal["api-key", "client-secret"]
PREFIX: dict[str, str] = {"api-key": "isk", "client-secret": "isc"}


@dataclass(frozen=True)
class ApiKeyInfo:
    id: str
    app: str
    environment: str
    label: str
    created_at: datetime
    revoked_at: datetime | None
    kind: str = "api-key"
    expires_at: datetime | None = None
    rotated_from: str | None = None
    awaiting_pickup: bool = False

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


@dataclass(frozen=True)
class ActiveKey:
    id: str
    app: str
    environment: str
    kind: str
    expires_at: datetime | None


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key(environment: str, kind: CredentialKind = "api-key") -> tuple[str, str]:
    """A fresh (id, plain key); the id is the key's public prefix, safe to log."""
    key_id = secrets.token_hex(6)
    return key_id, f"{PREFIX[kind]}_{environment}_{key_id}_{secrets.token_urlsafe(24)}"


def _info(r: Any) -> ApiKeyInfo:  # a row of _COLUMNS
    return ApiKeyInfo(
        r.id,
        r.app,
        r.environment,
        r.label,
        utc(r.created_at),
        utc(r.revoked_at) if r.revoked_at else None,
        r.kind,
        utc(r.expires_at) if r.expires_at else None,
        r.rotated_from,
        r.pickup is not None,
    )


_COLUMNS = (
    api_keys.c.id,
    api_keys.c.app,
    api_keys.c.environment,
    api_keys.c.label,
    api_keys.c.created_at,
    api_keys.c.revoked_at,
    api_keys.c.kind,
    api_keys.c.expires_at,
    api_keys.c.rotated_from,
    api_keys.c.pickup,
)


class KeyRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def create(
        self,
        app: str,
        environment: str,
        label: str = "",
        kind: CredentialKind = "api-key",
        *,
        seal: Callable[[str, str], bytes] | None = None,
        conn: AsyncConnection | None = None,
    ) -> tuple[ApiKeyInfo, str]:
        """Issue a credential. With ``seal`` (plain -> ciphertext) its plain value is also
        kept sealed until :meth:`collect` hands it out once."""
        key_id, plain = new_key(environment, kind)
        now = datetime.now(UTC)
        pickup = seal(key_id, plain) if seal is not None else None
        values = {
            "id": key_id,
            "app": app,
            "environment": environment,
            "label": label,
            "digest": digest(plain),
            "created_at": now,
            "kind": kind,
            "pickup": pickup,
        }
        if conn is not None:
            await conn.execute(insert(api_keys).values(**values))
        else:
            async with self.engine.begin() as own:
                await own.execute(insert(api_keys).values(**values))
                await bump_revision(own)
        info = ApiKeyInfo(
            key_id, app, environment, label, now, None, kind, awaiting_pickup=pickup is not None
        )
        return info, plain

    async def get(self, key_id: str) -> ApiKeyInfo:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(*_COLUMNS).where(api_keys.c.id == key_id))).first()
        if row is None:
            raise NotFound(f"No credential '{key_id}'.")
        return _info(row)

    async def list(self, app: str | None = None) -> builtins.list[ApiKeyInfo]:
        query = select(*_COLUMNS).order_by(api_keys.c.app, api_keys.c.created_at)
        if app:
            query = query.where(api_keys.c.app == app)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_info(r) for r in rows]

    async def rotate(self, key_id: str, expires_at: datetime) -> tuple[ApiKeyInfo, str]:
        """A new credential like ``key_id``; the old one works until ``expires_at``."""
        old = await self.get(key_id)
        if not old.active(datetime.now(UTC)):
            raise NotFound(f"No active credential '{key_id}'.")
        if old.expires_at is not None:
            ends = f"{old.expires_at:%Y-%m-%d %H:%M} UTC"
            raise Conflict(
                f"Credential '{key_id}' was rotated already; it ends {ends}.",
                remediation="Rotate its successor, or revoke it to end it now.",
            )
        fresh_id, plain = new_key(old.environment, cast(CredentialKind, old.kind))
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await bump_revision(conn)
            ended = await conn.execute(
                update(api_keys)
                .where(
                    api_keys.c.id == key_id,
                    api_keys.c.revoked_at.is_(None),
                    api_keys.c.expires_at.is_(None),  # rotated once: its successor rotates
                )
                .values(expires_at=expires_at, pickup=None)
            )
            if ended.rowcount != 1:
                raise Conflict(
                    f"Credential '{key_id}' was rotated already.",
                    remediation="Rotate its successor (the credential whose rotated_from "
                    "names it), or revoke it to end it now.",
                )
            await conn.execute(
                insert(api_keys).values(
                    id=fresh_id,
                    app=old.app,
                    environment=old.environment,
                    label=old.label,
                    digest=digest(plain),
                    created_at=now,
                    kind=old.kind,
                    rotated_from=key_id,
                )
            )
        return await self.get(fresh_id), plain

    async def collect(self, key_id: str, open_: Callable[[bytes], str]) -> str:
        """The plain value awaiting pickup, opened by ``open_`` and removed in the same
        transaction: handed out once, and kept if it cannot be opened."""
        async with self.engine.begin() as conn:
            row = (
                await conn.execute(select(api_keys.c.pickup).where(api_keys.c.id == key_id))
            ).first()
            if row is None or row[0] is None:
                raise NotFound(
                    f"Credential '{key_id}' has no value waiting: it was collected already.",
                    remediation="Rotate the credential to get a new value.",
                )
            plain = open_(bytes(row[0]))
            taken = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.pickup == row[0])
                .values(pickup=None)
            )
            if taken.rowcount != 1:
                raise NotFound(f"Credential '{key_id}' was collected meanwhile.")
            return plain

    async def sealed(self) -> dict[str, bytes]:
        """id -> sealed value, of credentials awaiting pickup (for re-encryption)."""
        query = select(api_keys.c.id, api_keys.c.pickup).where(api_keys.c.pickup.is_not(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row[0]: bytes(row[1]) for row in rows}

    async def reseal(self, key_id: str, old: bytes, new: bytes) -> bool:
        """Swap a waiting value for the same one sealed anew, unless it was collected."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.pickup == old)
                .values(pickup=new)
            )
            return bool(result.rowcount == 1)

    async def revoke(self, key_id: str) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(api_keys)
                .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC), pickup=None)
            )
            if result.rowcount != 1:
                raise NotFound(f"No active API key '{key_id}'.")
            await bump_revision(conn)

    async def active_digests(self) -> dict[str, ActiveKey]:
        """digest -> the credential, for every one not revoked nor past its grace."""
        now = datetime.now(UTC)
        query = select(
            api_keys.c.digest,
            api_keys.c.id,
            api_keys.c.app,
            api_keys.c.environment,
            api_keys.c.kind,
            api_keys.c.expires_at,
        ).where(api_keys.c.revoked_at.is_(None))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        out = {}
        for row in rows:
            expires = utc(row.expires_at) if row.expires_at else None
            if expires is None or expires > now:
                out[row.digest] = ActiveKey(row.id, row.app, row.environment, row.kind, expires)
        return out
