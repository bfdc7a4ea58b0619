"""Fixtures shared by the whole suite."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from isthmus.store import Store
from tests.services import POSTGRES_ADMIN_DSN, unavailable


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """asyncio's own loop for every test; a module that sets ``BOTH_LOOPS = True`` runs
    each of its tests on uvloop too, the loop the hub serves on."""
    module = getattr(item, "module", None)
    if getattr(module, "BOTH_LOOPS", False):
        import uvloop

        return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
    return {"asyncio": asyncio.new_event_loop}


async def _postgres_database() -> tuple[str, str]:
    import asyncpg

    name = f"isthmus_test_{secrets.token_hex(6)}"
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        unavailable("PostgreSQL", exc)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return name, f"{base}/{name}"


async def _drop_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


MARIADB_ADMIN_URL = "mysql+aiomysql://root@127.0.0.1:3306/test"


async def _mariadb_database() -> tuple[str, str]:
    """A new, empty MariaDB database: its name and async URL."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"isthmus_test_{secrets.token_hex(6)}"
    admin = create_async_engine(MARIADB_ADMIN_URL)
    try:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except (OSError, sa.exc.DBAPIError) as exc:
        unavailable("MariaDB", exc)
    finally:
        await admin.dispose()
    return name, MARIADB_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def _drop_mariadb_database(name: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(MARIADB_ADMIN_URL)
    try:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    finally:
        await admin.dispose()


@asynccontextmanager
async def seeded_database(
    kind: str, tmp_path: Path, seed: Callable[[Any], None], file: str = "seeded.db"
) -> AsyncIterator[str]:
    """A fresh database of ``kind`` (sqlite, postgres, mysql) that ``seed`` filled (a
    function of a SQLAlchemy connection), analyzed; its async URL. Dropped after."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    name = ""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / file}"
    elif kind == "postgres":
        name, url = await _postgres_database()
    else:
        name, url = await _mariadb_database()
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(seed)
        if kind == "postgres":
            await connection.execute(sa.text("ANALYZE"))
    await engine.dispose()
    try:
        yield url
    finally:
        if kind == "postgres":
            await _drop_database(name)
        elif kind == "mysql":
            await _drop_mariadb_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty store database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    name, url = await _postgres_database()
    try:
        yield url
    finally:
        await _drop_database(name)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with Store.open(store_url) as opened:
        yield opened
