"""People who sign in to the portal (password hashes only; hashing is governance's)."""

from __future__ import annotations

import builtins  # the repository's list() method shadows the builtin in class scope
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from isthmus.errors import Conflict, NotFound
from isthmus.store.tables import users


@dataclass(frozen=True)
class StoredUser:
    name: str
    display_name: str
    teams: tuple[str, ...]
    admin: bool
    password_hash: str = field(repr=False)
    session_epoch: int = 0


def _user(row: Any) -> StoredUser:
    return StoredUser(
        row.name, row.display_name, tuple(row.teams), bool(row.admin), row.password_hash,
        int(row.session_epoch),
    )  # fmt: skip


class UserRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add(
        self, name: str, display_name: str, password_hash: str, teams: list[str], admin: bool
    ) -> None:
        async with self.engine.begin() as conn:
            if (await conn.execute(select(users.c.name).where(users.c.name == name))).first():
                raise Conflict(f"User '{name}' exists.", remediation="Pick another name.")
            await conn.execute(
                insert(users).values(
                    name=name,
                    display_name=display_name,
                    password_hash=password_hash,
                    teams=teams,
                    admin=admin,
                    created_at=datetime.now(UTC),
                )
            )

    async def get(self, name: str) -> StoredUser | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(users).where(users.c.name == name))).first()
        if row is None:
            return None
        return _user(row)

    async def list(self) -> builtins.list[StoredUser]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(users).order_by(users.c.name))).all()
        return [_user(r) for r in rows]

    async def set_password(self, name: str, password_hash: str) -> None:
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(users)
                .where(users.c.name == name)
                .values(password_hash=password_hash, session_epoch=users.c.session_epoch + 1)
            )
            if result.rowcount != 1:
                raise NotFound(f"No user '{name}'.")

    async def end_sessions(self, name: str) -> None:
        """Every session of ``name`` is over (signing out ends them in every browser)."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(users)
                .where(users.c.name == name)
                .values(session_epoch=users.c.session_epoch + 1)
            )

    async def remove(self, name: str) -> None:
        async with self.engine.begin() as conn:
            if (await conn.execute(delete(users).where(users.c.name == name))).rowcount != 1:
                raise NotFound(f"No user '{name}'.")
