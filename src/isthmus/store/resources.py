"""Resources in the store: read them, and change many of them in one transaction."""

from __future__ import annotations

import builtins  # the repositories' list() methods shadow the builtin in class scope
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from isthmus.errors import Conflict
from isthmus.model import Resource, ResourceKey, kind_of
from isthmus.store.tables import resources, store_state


class StaleRevision(Conflict):
    code = "stale-revision"
    title = "The store changed meanwhile"
    remediation = "Look at the new state (run the diff again) and re-apply."


@dataclass(frozen=True)
class Change:
    action: Literal["create", "update", "delete"]
    key: ResourceKey
    resource: Resource | None  # None for deletes


def _env(key: ResourceKey) -> str:
    return key.environment or ""


def _where(key: ResourceKey):  # type: ignore[no-untyped-def]
    return and_(
        resources.c.kind == key.kind,
        resources.c.name == key.name,
        resources.c.environment == _env(key),
    )


def _parse(document: dict[str, object]) -> Resource:
    cls = kind_of(str(document.get("kind")))
    if cls is None:
        raise ValueError(f"store holds an unknown kind {document.get('kind')!r}")
    return cls.model_validate(document)


class ResourceRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def revision(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(store_state.c.revision))).scalar_one())

    async def list(self, kind: str | None = None) -> builtins.list[Resource]:
        query = select(resources.c.document).order_by(
            resources.c.kind, resources.c.name, resources.c.environment
        )
        if kind:
            query = query.where(resources.c.kind == kind)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).scalars().all()
        return [_parse(doc) for doc in rows]

    async def snapshot(self) -> tuple[int, builtins.list[Resource]]:
        """All resources and a revision no newer than them.

        The revision is read first: if a write lands in between, the caller sees newer
        resources under an older revision and simply rebuilds once more, never the reverse.
        """
        async with self.engine.begin() as conn:
            revision = int((await conn.execute(select(store_state.c.revision))).scalar_one())
            docs = (await conn.execute(select(resources.c.document))).scalars().all()
        return revision, [_parse(doc) for doc in docs]

    async def get(self, key: ResourceKey) -> Resource | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(resources.c.document).where(_where(key)))).scalar()
        return _parse(row) if row is not None else None

    async def apply(self, changes: Sequence[Change], expect_revision: int | None = None) -> int:
        """Write every change or none; returns the new store revision.

        With ``expect_revision``, refuses (``StaleRevision``) if anything changed since the
        caller computed its changes from that revision.
        """
        async with self.engine.begin() as conn:
            if not changes:
                current = int((await conn.execute(select(store_state.c.revision))).scalar_one())
                if expect_revision is not None and current != expect_revision:
                    raise _stale()
                return current
            revision = await bump_revision(conn, expect_revision)
            now = datetime.now(UTC)
            for change in changes:
                await _write(conn, change, revision, now)
            return revision


def _stale() -> StaleRevision:
    return StaleRevision("Resources changed after the diff was computed; nothing was written.")


async def bump_revision(conn: AsyncConnection, expect: int | None = None) -> int:
    """Increment the store revision as the transaction's first write; returns the new value.

    The UPDATE takes the write lock (SQLite) or the row lock (PostgreSQL) atomically, so
    two writers can never both move from the same revision; with ``expect`` it refuses
    unless the revision is still the one the caller read.
    """
    bump = update(store_state).values(revision=store_state.c.revision + 1)
    if expect is not None:
        bump = bump.where(store_state.c.revision == expect)
    if (await conn.execute(bump)).rowcount != 1:
        raise _stale()
    return int((await conn.execute(select(store_state.c.revision))).scalar_one())


async def _write(conn: AsyncConnection, change: Change, revision: int, now: datetime) -> None:
    key = change.key
    if change.action == "delete":
        result = await conn.execute(delete(resources).where(_where(key)))
        if result.rowcount != 1:
            raise Conflict(f"{key} does not exist.")
        return
    assert change.resource is not None
    document = change.resource.canonical()
    if change.action == "create":
        exists = (await conn.execute(select(resources.c.id).where(_where(key)))).first()
        if exists:
            raise Conflict(f"{key} already exists.", remediation="Update it instead.")
        await conn.execute(
            insert(resources).values(
                kind=key.kind,
                name=key.name,
                environment=_env(key),
                document=document,
                revision=revision,
                created_at=now,
                updated_at=now,
            )
        )
        return
    result = await conn.execute(
        update(resources)
        .where(_where(key))
        .values(document=document, revision=revision, updated_at=now)
    )
    if result.rowcount != 1:
        raise Conflict(f"{key} does not exist.", remediation="Create it instead.")
