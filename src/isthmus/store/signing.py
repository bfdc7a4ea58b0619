"""Token signing keys: one active, the recently retired ones still published."""

from __future__ import annotations

import builtins  # the repository's list() method shadows the builtin in class scope
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.store.db import utc
from isthmus.store.resources import bump_revision
from isthmus.store.tables import signing_keys


@dataclass(frozen=True)
class StoredKey:
    kid: str
    alg: str
    private_jwk: bytes  # ciphertext
    public_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None


class SigningKeyRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def list(self) -> builtins.list[StoredKey]:
        query = select(signing_keys).order_by(signing_keys.c.created_at)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            StoredKey(
                r.kid,
                r.alg,
                bytes(r.private_jwk),
                dict(r.public_jwk),
                utc(r.created_at),
                utc(r.retired_at) if r.retired_at else None,
            )
            for r in rows
        ]

    async def ensure(self, make: Callable[[], tuple[str, str, bytes, dict[str, Any]]]) -> bool:
        """Store ``make()`` as the active key unless there is one; True if it did.

        Safe when several hubs start at once: the check runs under the store's write lock.
        """
        active = select(signing_keys.c.kid).where(signing_keys.c.retired_at.is_(None))
        async with self.engine.connect() as conn:
            if (await conn.execute(active)).first() is not None:
                return False
        async with self.engine.begin() as conn:
            await bump_revision(conn)
            if (await conn.execute(active)).first() is not None:
                return False
            kid, alg, private_jwk, public_jwk = make()
            await conn.execute(
                insert(signing_keys).values(
                    kid=kid,
                    alg=alg,
                    private_jwk=private_jwk,
                    public_jwk=public_jwk,
                    created_at=datetime.now(UTC),
                )
            )
            return True

    async def add(
        self,
        kid: str,
        alg: str,
        private_jwk: bytes,
        public_jwk: dict[str, Any],
        *,
        retire_others: bool,
    ) -> None:
        """Store a new active key; with ``retire_others`` the previous active key retires."""
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            await bump_revision(conn)  # gateways reload their keys
            if retire_others:
                await conn.execute(
                    update(signing_keys)
                    .where(signing_keys.c.retired_at.is_(None))
                    .values(retired_at=now)
                )
            await conn.execute(
                insert(signing_keys).values(
                    kid=kid,
                    alg=alg,
                    private_jwk=private_jwk,
                    public_jwk=public_jwk,
                    created_at=now,
                )
            )

    async def sealed(self) -> dict[str, bytes]:
        """kid -> sealed private half, of every key (for re-encryption)."""
        return {key.kid: key.private_jwk for key in await self.list()}

    async def reseal(self, kid: str, old: bytes, new: bytes) -> bool:
        """Swap a key's sealed private half, unless it changed meanwhile; True if swapped."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(signing_keys)
                .where(signing_keys.c.kid == kid, signing_keys.c.private_jwk == old)
                .values(private_jwk=new)
            )
            return bool(result.rowcount == 1)
