"""What differs between the databases the SQL connector reaches: how to read the schema,
how to ask for a plan's cost, how to bound a statement's time."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from isthmus.connectors.sql.guard import Schema


@dataclass(frozen=True)
class Plan:
    cost: float
    full_scans: tuple[str, ...]  # tables read whole


@dataclass(frozen=True)
class Catalog:
    schema: Schema
    tables: dict[str, sa.Table]  # reflected, for streams
    indexed: dict[str, tuple[str, ...]]  # table → columns that lead an index


async def read_catalog(connection: AsyncConnection, only: list[str] | None) -> Catalog:
    def reflect(sync: sa.Connection) -> Catalog:
        inspector = sa.inspect(sync)
        names = [n for n in inspector.get_table_names() if only is None or n in only]
        metadata = sa.MetaData()
        tables = {n.lower(): sa.Table(n, metadata, autoload_with=sync) for n in names}
        indexed: dict[str, tuple[str, ...]] = {}
        for name in names:
            leading = [
                i["column_names"][0] for i in inspector.get_indexes(name) if i["column_names"]
            ]
            primary = inspector.get_pk_constraint(name).get("constrained_columns") or []
            leads = [str(c) for c in [*primary[:1], *leading] if c]
            indexed[name.lower()] = tuple(dict.fromkeys(leads))
        columns = {n: frozenset(c.name.lower() for c in t.columns) for n, t in tables.items()}
        return Catalog(Schema(columns), tables, indexed)

    return await connection.run_sync(reflect)


async def bound_time(connection: AsyncConnection, dialect: str, seconds: float) -> None:
    """Make the server stop this transaction's statements after ``seconds``."""
    if dialect == "postgres":
        await connection.execute(sa.text(f"SET LOCAL statement_timeout = {int(seconds * 1000)}"))
    elif dialect == "mysql":
        try:  # MariaDB
            await connection.execute(sa.text(f"SET SESSION max_statement_time = {seconds:.3f}"))
        except sa.exc.DBAPIError:  # MySQL: SELECTs only
            await connection.execute(
                sa.text(f"SET SESSION max_execution_time = {int(seconds * 1000)}")
            )
    # SQLite has no server to stop it: the caller's own timeout covers it


async def plan(
    connection: AsyncConnection, dialect: str, sql: str, params: dict[str, Any], known: set[str]
) -> Plan:
    """The planner's estimate for ``sql`` (a SELECT), without running it. ``known``: the
    catalog's tables (what a plan names is matched against them)."""
    if dialect == "postgres":
        result = await connection.execute(sa.text(f"EXPLAIN (FORMAT JSON) {sql}"), params)
        document = result.scalar_one()
        root = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
        scans = [n["Relation Name"] for n in _nodes(root) if n.get("Node Type") == "Seq Scan"]
        return Plan(float(root["Total Cost"]), tuple(dict.fromkeys(scans)))
    if dialect == "mysql":
        steps = (await connection.execute(sa.text(f"EXPLAIN {sql}"), params)).mappings().all()
        examined = math.prod(max(1, int(s["rows"] or 1)) for s in steps) if steps else 0
        scans = [str(s["table"]) for s in steps if s["type"] == "ALL" and s["table"]]
        return Plan(float(examined), tuple(dict.fromkeys(scans)))
    lines = (await connection.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"), params)).all()
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
        counted = await connection.execute(sa.text(f'SELECT count(*) FROM "{table}"'))  # noqa: S608
        cost += float(counted.scalar_one())
    return Plan(cost, tuple(dict.fromkeys(scans)))


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    found = [node]
    for child in node.get("Plans", []):
        found += _nodes(child)
    return found
