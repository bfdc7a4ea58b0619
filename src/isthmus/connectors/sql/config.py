"""A governed SQL Connection's config: where the database is, what callers may do there."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from isthmus.connectors.base import ConnectorConfig
from isthmus.connectors.sql.guard import Write
from isthmus.model.base import SecretRef

DRIVERS = {
    "postgresql+asyncpg": "postgres",
    "mysql+aiomysql": "mysql",
    "mariadb+aiomysql": "mysql",
    "sqlite+aiosqlite": "sqlite",
}


class NamedQuery(ConnectorConfig):
    """A statement written once by the Connection's owner, offered as an operation."""

    sql: str = Field(description="One statement with :name parameters.")
    description: str = ""
    parameters: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="A JSON Schema per parameter, checked before binding."
    )


class SqlConfig(ConnectorConfig):
    url: str = Field(
        description="SQLAlchemy URL without a password, e.g. "
        "postgresql+asyncpg://isthmus@db.internal:5432/crm; drivers: " + ", ".join(DRIVERS) + "."
    )
    password: SecretRef | None = None
    tables: list[str] | None = Field(
        default=None, description="The tables callers may reach (default: all in the schema)."
    )
    writes: dict[str, list[Write]] = Field(
        default_factory=dict,
        description="Writes granted per table, e.g. {orders: [insert, update]}; none by default.",
    )
    statement_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    max_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    max_cost: float | None = Field(
        default=1_000_000,
        gt=0,
        description="Refuse a read whose planned cost is above this (PostgreSQL's cost "
        "units; rows examined on MariaDB/MySQL and SQLite). None: no guard.",
    )
    queries: dict[str, NamedQuery] = Field(default_factory=dict)
    cursor_fields: dict[str, str] = Field(
        default_factory=dict,
        description="Per table, a column that grows with each change (updated_at, a "
        "sequence): incremental reads ask for rows after a cursor.",
    )
    allow_private_network: bool = False

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("not a SQLAlchemy database URL") from None
        if url.drivername not in DRIVERS:
            raise ValueError(f"use one of the drivers {sorted(DRIVERS)}")
        if url.password:
            raise ValueError("must not carry the password; use 'password: secret://…'")
        return value

    @property
    def dialect(self) -> str:
        return DRIVERS[make_url(self.url).drivername]
