"""Opening the store: the async engine, SQLite pragmas, and migrations on start."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from isthmus.errors import ConfigurationError

MIGRATIONS = Path(__file__).with_name("migrations")
_EXTRAS = {"postgresql": "postgres"}


def utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything the store keeps is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except ImportError as exc:  # the driver is an optional extra
        extra = _EXTRAS.get(parsed.get_backend_name(), "the database driver")
        raise ConfigurationError(
            f"The store's database driver is not installed ({exc.name or parsed.drivername}).",
            remediation=f"Install it: pip install 'isthmus[{extra}]'.",
        ) from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the CLI apply while a running hub reads; busy_timeout makes writers wait
    # for each other instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (safe to run on every start)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)
