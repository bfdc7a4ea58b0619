"""A governed SQL Connection's config: where the database is, what callers may do there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from isthmus.connectors.base import ConnectorConfig
from isthmus.connectors.sql.guard import Write
from isthmus.model.base import SecretRef


@dataclass(frozen=True)
class Driver:
    """What the hub knows of one SQLAlchemy driver."""

    family: str  # how statements are bounded and planned (database.py)
    parser: str  # the sqlglot dialect the guard reads and writes ("": ANSI)
    extra: str  # pip install 'isthmus[EXTRA]' brings the driver
    threaded: bool  # a blocking DB-API driver: its work runs in worker threads
    tested: bool  # run against a real server by the test suite
    # What the URL's host is: an address the hub judges and then connects to as judged
    # ("pin"); a name judged but kept, for drivers that verify a TLS certificate against
    # it ("check"); or no address at all (a Snowflake account, a BigQuery project), the
    # driver reaching its vendor's public endpoint ("none").
    host: Literal["pin", "check", "none"] = "pin"


DRIVERS: dict[str, Driver] = {
    "postgresql+asyncpg": Driver("postgres", "postgres", "postgres", False, True),
    "mysql+aiomysql": Driver("mysql", "mysql", "mysql", False, True),
    "mariadb+aiomysql": Driver("mysql", "mysql", "mysql", False, True),
    "mysql+pymysql": Driver("mysql", "mysql", "mysql", True, True),
    "sqlite+aiosqlite": Driver("sqlite", "sqlite", "", False, True),
    "sqlite+pysqlite": Driver("sqlite", "sqlite", "", True, True),
    "mssql+pymssql": Driver("mssql", "tsql", "mssql", True, False),
    "oracle+oracledb": Driver("oracle", "oracle", "oracle", True, False),
    "db2+ibm_db": Driver("db2", "", "db2", True, False),
    "snowflake": Driver("snowflake", "snowflake", "snowflake", True, False, "none"),
    "bigquery": Driver("bigquery", "bigquery", "bigquery", True, False, "none"),
    "databricks": Driver("databricks", "databricks", "databricks", True, False, "check"),
}
# Only these planners' estimates are read: elsewhere the cost guard has nothing to read.
PLANNED = frozenset({"postgres", "mysql", "sqlite"})


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
    connect_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        le=300,
        description="How long opening the Connection (connect, read the schema) may take.",
    )
    max_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    max_cost: float | None = Field(
        default=1_000_000,
        gt=0,
        description="Refuse a read whose planned cost is above this (PostgreSQL's cost "
        "units; rows examined on MariaDB/MySQL and SQLite). None: no guard. Other "
        "databases have no guard: leave it out or set it to null.",
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

    @model_validator(mode="after")
    def _guard_where_planned(self) -> SqlConfig:
        chosen = "max_cost" in self.model_fields_set and self.max_cost is not None
        if chosen and self.driver.family not in PLANNED:
            raise ValueError(
                "maxCost: the cost guard reads the planner of PostgreSQL, MariaDB/MySQL "
                f"and SQLite only; for {self.driver.family} set it to null and rely on "
                "statementTimeoutSeconds and maxRows"
            )
        return self

    @property
    def driver(self) -> Driver:
        return DRIVERS[make_url(self.url).drivername]

    @property
    def cost_limit(self) -> float | None:
        """The cost guard's limit, where the database's planner is read."""
        return self.max_cost if self.driver.family in PLANNED else None
