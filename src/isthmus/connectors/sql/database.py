"""What differs between the databases the SQL connector reaches: how to open them, how
to read the schema, how to ask for a plan's cost, how to bound a statement's time.

These are plain functions of a SQLAlchemy ``Connection``; :mod:`runner` runs them for
asyncio and blocking drivers alike.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import QueuePool

from isthmus.connectors.sql.config import Driver
from isthmus.connectors.sql.guard import Schema
from isthmus.connectors.sql.runner import AsyncRunner, Runner, ThreadRunner
from isthmus.errors import ConfigurationError

POOL = {"pool_size": 5, "max_overflow": 5, "pool_pre_ping": True}


@dataclass(frozen=True)
class Plan:
    cost: float
    full_scans: tuple[str, ...]  # tables read whole
    rows: float | None = None  # the rows the planner expects back, where it says


@dataclass(frozen=True)
class Catalog:
    schema: Schema
    tables: dict[str, sa.Table]  # reflected, for streams
    indexed: dict[str, tuple[str, ...]]  # table → columns that lead an index


def require_driver(url: URL, driver: Driver) -> None:
    """Refuse early, naming the extra, when the driver is not installed."""
    try:
        url.get_dialect().import_dbapi()
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigurationError(
            f"The {driver.family} driver is not installed ({url.drivername}).",
            remediation=f"Install it: pip install 'isthmus[{driver.extra}]'.",
        ) from exc


def open_runner(url: URL, driver: Driver, seconds: float) -> Runner:
    """An engine for ``url`` (address already pinned, password set), with the driver's
    own per-statement time limit where it has one, and the runner its driver needs."""
    require_driver(url, driver)
    try:
        if not driver.threaded:
            return AsyncRunner(
                create_async_engine(url, connect_args=_connect_args(driver, seconds), **POOL)
            )
        engine = sa.create_engine(
            url, poolclass=QueuePool, connect_args=_connect_args(driver, seconds), **POOL
        )
    except Exception as exc:  # each vendor's driver raises its own kinds (credentials, …)
        raise ConfigurationError(
            f"The {driver.family} driver refused the Connection's URL ({type(exc).__name__}).",
            remediation="Check the URL's form against the driver's documentation, and the "
            "credentials it expects on this machine.",
        ) from exc
    if driver.family == "oracle":

        @sa.event.listens_for(engine, "connect")
        def _call_timeout(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.call_timeout = math.ceil(seconds * 1000)  # oracledb: per round trip

    return ThreadRunner(engine, threads=int(POOL["pool_size"]) + int(POOL["max_overflow"]))


def _connect_args(driver: Driver, seconds: float) -> dict[str, Any]:
    if driver.family == "mssql":  # pymssql: the query timeout, in whole seconds
        return {"timeout": math.ceil(seconds), "login_timeout": 10}
    if bounded_at_connect(driver):  # asyncpg: the session's statement_timeout
        return {"server_settings": {"statement_timeout": str(int(seconds * 1000))}}
    return {}


def read_catalog(connection: sa.Connection, only: list[str] | None) -> Catalog:
    inspector = sa.inspect(connection)
    names = [n for n in inspector.get_table_names() if only is None or n in only]
    metadata = sa.MetaData()
    tables = {n.lower(): sa.Table(n, metadata, autoload_with=connection) for n in names}
    indexed: dict[str, tuple[str, ...]] = {}
    for name in names:
        leading = [i["column_names"][0] for i in inspector.get_indexes(name) if i["column_names"]]
        primary = inspector.get_pk_constraint(name).get("constrained_columns") or []
        leads = [str(c) for c in [*primary[:1], *leading] if c]
        indexed[name.lower()] = tuple(dict.fromkeys(leads))
    columns = {n: frozenset(c.name.lower() for c in t.columns) for n, t in tables.items()}
    return Catalog(Schema(columns), tables, indexed)


def bounded_at_connect(driver: Driver) -> bool:
    """Whether every connection of the pool carries the time limit from the start
    (asyncpg's server settings), so no statement needs a round trip to set it."""
    return driver.family == "postgres" and not driver.threaded


def bound_time(connection: sa.Connection, family: str, seconds: float) -> None:
    """Make the server stop this transaction's statements after ``seconds``. Where a
    database has no such setting the driver's own timeout (``open_runner``) or the
    caller's covers it: SQLite, Db2 and BigQuery are bounded by the caller only."""
    if family == "postgres":
        connection.execute(sa.text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
    elif family == "mysql":
        try:  # MariaDB
            connection.execute(sa.text(f"SET SESSION max_statement_time = {seconds:.3f}"))
        except sa.exc.DBAPIError:  # MySQL: SELECTs only
            connection.execute(sa.text(f"SET SESSION max_execution_time = {int(seconds * 1000)}"))
    elif family == "snowflake":
        whole = math.ceil(seconds)
        connection.execute(sa.text(f"ALTER SESSION SET STATEMENT_TIMEOUT_IN_SECONDS = {whole}"))
    elif family == "databricks":
        connection.execute(sa.text(f"SET STATEMENT_TIMEOUT = {math.ceil(seconds)}"))


def plan(
    connection: sa.Connection, family: str, sql: str, params: dict[str, Any], known: set[str]
) -> Plan:
    """The planner's estimate for ``sql`` (a SELECT), without running it. ``known``: the
    catalog's tables (what a plan names is matched against them)."""
    if family == "postgres":
        result = connection.execute(sa.text(f"EXPLAIN (FORMAT JSON) {sql}"), params)
        document = result.scalar_one()
        root = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
        scans = [n["Relation Name"] for n in _nodes(root) if n.get("Node Type") == "Seq Scan"]
        return Plan(
            float(root["Total Cost"]), tuple(dict.fromkeys(scans)), float(root["Plan Rows"])
        )
    if family == "mysql":
        steps = connection.execute(sa.text(f"EXPLAIN {sql}"), params).mappings().all()
        examined = math.prod(max(1, int(s["rows"] or 1)) for s in steps) if steps else 0
        scans = [str(s["table"]) for s in steps if s["type"] == "ALL" and s["table"]]
        # rows examined bounds the rows returned: MariaDB's EXPLAIN gives no better figure
        return Plan(float(examined), tuple(dict.fromkeys(scans)), float(examined))
    lines = connection.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"), params).all()
    details = [str(line[3]) for line in lines]
    scans = [
        d.removeprefix("SCAN ").removeprefix("TABLE ").split()[0]
        for d in details
        if d.startswith("SCAN ")
    ]
    scans = [t for t in scans if t.lower() in known]
    cost = 0.0
    for table in dict.fromkeys(scans):
        # a name the plan gave and the catalog holds, not a caller's text
        counted = connection.execute(sa.text(f'SELECT count(*) FROM "{table}"'))  # noqa: S608
        cost += float(counted.scalar_one())
    return Plan(cost, tuple(dict.fromkeys(scans)), cost if scans else None)


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node]
    for child in node.get("Plans", []):
        found += _nodes(child)
    return found
