"""The governed SQL connector against real PostgreSQL, MariaDB and SQLite databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from isthmus.connectors.base import CALLER, Filter, StreamQuery
from isthmus.connectors.registry import connector_type
from isthmus.connectors.sql.connector import SqlConnector, TooCostly
from isthmus.connectors.sql.guard import StatementRefused
from isthmus.errors import UpstreamTimeout, UpstreamUnreachable, ValidationFailed
from isthmus.testing import ConnectorCase, ConnectorContract
from tests.conftest import seeded_database

CUSTOMERS = 5000
# Each planner counts in its own units: PostgreSQL's cost, rows examined elsewhere.
PLACED = datetime(2026, 11, 30, 9, 0)
MAX_COST = {"postgres": 60.0, "mysql": 1000.0, "sqlite": 1000.0}


def _seed(sync: sa.Connection) -> None:
    metadata = sa.MetaData()
    customers = sa.Table(
        "customers",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80)),
        sa.Column("email", sa.String(120), index=True),
        sa.Column("tier", sa.String(10)),
    )
    orders = sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("customer_id", sa.Integer, index=True),
        sa.Column("total", sa.Numeric(10, 2)),
        sa.Column("placed_at", sa.DateTime),
    )
    metadata.create_all(sync)
    sync.execute(
        customers.insert(),
        [
            {
                "id": i,
                "name": f"Customer {i}",
                "email": f"c{i}@example.com",
                "tier": ("gold", "silver")[i % 2],
            }
            for i in range(1, CUSTOMERS + 1)
        ],
    )
    sync.execute(
        orders.insert(),
        [
            {
                "customer_id": i % 50 + 1,
                "total": i * 1.5,
                "placed_at": PLACED + timedelta(minutes=i),
            }
            for i in range(1, 201)
        ],
    )


# Each database through its asyncio driver, and SQLite and MariaDB through blocking
# drivers too: the path warehouses and commercial databases take (worker threads).
DATABASES = [
    "sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    "mysql",
    "sqlite-threads",
    "mysql-threads",
]
BLOCKING = {"sqlite-threads": "sqlite+pysqlite", "mysql-threads": "mysql+pymysql"}


@pytest.fixture(params=DATABASES)
async def database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    """(dialect, URL) of a fresh database holding customers and orders."""
    dialect = request.param.removesuffix("-threads")
    async with seeded_database(dialect, tmp_path, _seed, "shop.db") as url:
        if request.param in BLOCKING:
            yield dialect, url.replace(url.split("://")[0], BLOCKING[request.param])
        else:
            yield dialect, url


def case(database: tuple[str, str], **config: Any) -> ConnectorCase:
    dialect, url = database
    return ConnectorCase(
        connector_type("sql"),
        {
            "url": url,
            "allowPrivateNetwork": True,
            "maxCost": MAX_COST[dialect],
            "queries": {
                "customerById": {
                    "sql": "SELECT id, name, tier FROM customers WHERE id = :id",
                    "parameters": {"id": {"type": "integer", "minimum": 1}},
                }
            },
            **config,
        },
        sample_operation=("customerById", {"id": 7}),
    )


async def test_allowed_queries_return_and_everything_else_is_refused(
    database: tuple[str, str],
) -> None:
    token = CALLER.set("billing-app")
    try:
        governed = case(database)
        async with governed.open() as connector:
            assert isinstance(connector, SqlConnector)
            found = await connector.call("customerById", {"id": 7})
            assert found == {
                "rows": [{"id": 7, "name": "Customer 7", "tier": "silver"}],
                "truncated": False,
            }
            by_email = await connector.call(
                "sql",
                {
                    "sql": "SELECT id FROM customers WHERE email = :email",
                    "params": {"email": "c9@example.com"},
                },
            )
            assert by_email["rows"] == [{"id": 9}]
            for sql, error in [
                ("DROP TABLE customers", StatementRefused),
                ("SELECT id FROM customers WHERE id = 1; DELETE FROM customers", StatementRefused),
                ("DELETE FROM orders", StatementRefused),  # read-only by default
                ("SELECT * FROM customers WHERE name LIKE :part", TooCostly),  # a full scan
            ]:
                with pytest.raises(error):
                    await connector.call(
                        "sql", {"sql": sql, "params": {"part": "%7%"} if ":part" in sql else {}}
                    )
            with pytest.raises(ValidationFailed) as refused:  # an injection through a parameter
                await connector.call("customerById", {"id": "1 OR 1=1"})
            assert refused.value.extensions["errors"][0]["pointer"] == "/id"
            quoted = await connector.call(
                "sql",
                {
                    "sql": "SELECT id FROM customers WHERE email = :email",
                    "params": {"email": "x' OR '1'='1"},
                },
            )
            assert quoted["rows"] == []  # a value, never SQL
        # every attempt is in the audit: who, what, outcome, rows, time
        trail = governed.audit.entries
        assert [e.outcome for e in trail] == [
            "ok",
            "ok",
            "refused",
            "refused",
            "refused",
            "refused",
            "refused",
            "ok",
        ]
        assert all(e.actor == "billing-app" and "ms" in e.detail for e in trail)
        assert {e.target for e in trail} == {"connection/contract@sandbox"}
        assert trail[0].action == "sql.select"
        assert trail[0].detail["rows"] == 1
        assert trail[0].detail["operation"] == "customerById"
        assert [e.action for e in trail[2:5]] == ["sql.drop", "sql.statement", "sql.delete"]
        assert trail[5].detail["code"] == "sql-too-costly"
        # the values bound are never in the audit (they may be personal data)
        assert not any("x' OR" in str(e.detail) for e in trail)
        async with case(database, maxCost=None).open() as connector:  # nothing dropped
            count = await connector.call("sql", {"sql": "SELECT count(*) AS n FROM customers"})
        assert count["rows"] == [{"n": CUSTOMERS}]
    finally:
        CALLER.reset(token)


async def test_the_cost_guard_says_which_filter_would_help(database: tuple[str, str]) -> None:
    async with case(database).open() as connector:
        with pytest.raises(TooCostly) as refused:
            await connector.call("sql", {"sql": "SELECT * FROM customers WHERE tier = 'gold'"})
        assert "customers" in refused.value.extensions["fullScans"]
        assert "id" in refused.value.remediation
        assert "email" in refused.value.remediation  # the indexed columns to filter on
        cheap = await connector.call("sql", {"sql": "SELECT * FROM customers WHERE id = 3"})
        assert len(cheap["rows"]) == 1


async def test_granted_writes_run_and_row_caps_hold(database: tuple[str, str]) -> None:
    config = {"writes": {"orders": ["insert"]}, "maxRows": 10, "maxCost": None}
    async with case(database, **config).open() as connector:
        made = await connector.call(
            "sql",
            {
                "sql": "INSERT INTO orders (customer_id, total) VALUES (:c, :t)",
                "params": {"c": 3, "t": 9.5},
            },
        )
        assert made == {"count": 1}
        with pytest.raises(StatementRefused, match="UPDATE is not granted"):
            await connector.call("sql", {"sql": "UPDATE orders SET total = 0"})
        capped = await connector.call("sql", {"sql": "SELECT id FROM customers"})
        assert len(capped["rows"]) == 10
        assert capped["truncated"] is True


async def test_tables_are_streams_with_pushdown(database: tuple[str, str]) -> None:
    async with case(database).open() as connector:
        assert connector.streams()["customers"].primary_key == ("id",)
        query = StreamQuery(
            filters=(Filter("tier", "eq", "gold"), Filter("id", "le", 20)),
            fields=("id", "name"),
            sort=(("id", True),),
            limit=3,
        )
        rows = [r async for r in connector.read("customers", query)]
    assert rows == [
        {"id": 20, "name": "Customer 20"},
        {"id": 18, "name": "Customer 18"},
        {"id": 16, "name": "Customer 16"},
    ]


@pytest.mark.parametrize(
    "database",
    [pytest.param("postgres", marks=pytest.mark.postgres), "mysql", "mysql-threads"],
    indirect=True,
)
async def test_the_server_stops_a_statement_past_its_time(database: tuple[str, str]) -> None:
    config = {"statementTimeoutSeconds": 0.3, "maxCost": None}
    governed = case(database, **config)
    async with governed.open() as connector:
        with pytest.raises(UpstreamTimeout, match="longer than the Connection allows"):
            await connector.call(
                "sql", {"sql": "SELECT count(*) AS n FROM customers a, customers b, customers c"}
            )
    assert governed.audit.entries[-1].outcome == "failed"
    assert governed.audit.entries[-1].detail["code"] == "upstream-timeout"


class TestSqlConnector(ConnectorContract):
    @pytest.fixture
    def case(self, database: tuple[str, str]) -> ConnectorCase:  # type: ignore[override]
        return case(database)


async def test_a_cursor_column_makes_reads_incremental(database: tuple[str, str]) -> None:
    async with case(database, cursorFields={"orders": "id"}).open() as connector:
        assert connector.streams()["orders"].pushdown.cursor_field == "id"
        rows = [r async for r in connector.read("orders", StreamQuery(cursor=195))]
    assert [r["id"] for r in rows] == [196, 197, 198, 199, 200]


async def test_a_timestamp_cursor_kept_as_json_text_reads_on(database: tuple[str, str]) -> None:
    """A poller keeps the cursor as the JSON of the last record read: an ISO string."""
    async with case(database, cursorFields={"orders": "placed_at"}).open() as connector:
        oldest = StreamQuery(limit=195, sort=(("placed_at", False),))
        first = [r async for r in connector.read("orders", oldest)]
        cursor = first[-1]["placed_at"]
        assert isinstance(cursor, str)
        rows = [r async for r in connector.read("orders", StreamQuery(cursor=cursor))]
    assert [r["id"] for r in rows] == [196, 197, 198, 199, 200]


async def test_a_stream_left_early_gives_its_connection_back(database: tuple[str, str]) -> None:
    async with case(database, maxCost=None).open() as connector:
        assert isinstance(connector, SqlConnector)
        rows = connector.read("customers", StreamQuery())
        async for _ in rows:
            break  # the caller wanted one row of 5,000
        await rows.aclose()  # type: ignore[attr-defined]
        assert connector.runner is not None
        pool = connector.runner.engine.pool  # type: ignore[attr-defined]
        for _ in range(100):  # a blocking driver's connection closes on its own thread
            if pool.checkedout() == 0:
                break
            await asyncio.sleep(0.01)
        assert pool.checkedout() == 0
        # and the next read starts afresh
        assert len([r async for r in connector.read("orders", StreamQuery())]) == 200


async def test_a_database_that_never_answers_is_given_up_on_in_the_connect_time() -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # accepts, never greets: a hung server or a black-holed port

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hung = ConnectorCase(
        connector_type("sql"),
        {
            "url": f"mysql+aiomysql://root@127.0.0.1:{port}/shop",
            "allowPrivateNetwork": True,
            "connectTimeoutSeconds": 0.3,
        },
    )
    try:
        with pytest.raises(UpstreamUnreachable, match=r"connect time \(0.3 s\)"):
            async with hung.open():
                pass
    finally:
        for writer in accepted:
            writer.close()
            await writer.wait_closed()
        server.close()
        await server.wait_closed()
