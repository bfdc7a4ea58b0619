"""Encrypted secret values. Encryption happens in ``isthmus.governance.vault``;
this table only ever sees ciphertext."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.errors import NotFound
from isthmus.store.resources import bump_revision
from isthmus.store.tables import secrets


class SecretRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def put(self, name: str, ciphertext: bytes) -> None:
        now = datetime.now(UTC)
        async with self.engine.begin() as conn:
            # First write: serialises writers, so update-then-insert cannot race. The new
            # revision also makes Connections using the secret reopen with its new value.
            await bump_revision(conn)
            changed = await conn.execute(
                update(secrets)
                .where(secrets.c.name == name)
                .values(ciphertext=ciphertext, updated_at=now)
            )
            if changed.rowcount == 0:
                await conn.execute(
                    insert(secrets).values(
                        name=name, ciphertext=ciphertext, created_at=now, updated_at=now
                    )
                )

    async def get(self, name: str) -> bytes | None:
        async with self.engine.connect() as conn:
            query = select(secrets.c.ciphertext).where(secrets.c.name == name)
            value = (await conn.execute(query)).scalar()
        return bytes(value) if value is not None else None

    async def sealed(self) -> dict[str, bytes]:
        """name -> ciphertext of every secret (for re-encryption under a new key)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(secrets.c.name, secrets.c.ciphertext))).all()
        return {row[0]: bytes(row[1]) for row in rows}

    async def reseal(self, name: str, old: bytes, new: bytes) -> bool:
        """Swap a secret's ciphertext for the same value sealed anew, unless it was
        written meanwhile; True if swapped. The value is unchanged: no new revision."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(secrets)
                .where(secrets.c.name == name, secrets.c.ciphertext == old)
                .values(ciphertext=new)
            )
            return bool(result.rowcount == 1)

    async def versions(self) -> dict[str, datetime]:
        """name -> last change, for every secret (no values)."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(secrets.c.name, secrets.c.updated_at))).all()
        return {row[0]: row[1] for row in rows}

    async def delete(self, name: str) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(secrets).where(secrets.c.name == name))
            if result.rowcount != 1:
                raise NotFound(f"No secret '{name}'.")
            await bump_revision(conn)
