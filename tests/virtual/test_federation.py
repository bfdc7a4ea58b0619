"""A federated query answers what the same query answers over copies in one DuckDB.

The same SQL runs through POST /query — over a CRM's REST API, a billing database
(each of SQLite, PostgreSQL, MariaDB) and a Parquet file — and over copies of the same
records in a single DuckDB database; the answers must be equal row for row. The
queries reach every pushdown path: whole parts sent to the database, filters, sorts and
limits given to streams, keys handed from one scan to another, outer joins whose
optional side must not be filtered below the join.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from tests.virtual import crm_api
from tests.virtual.conftest import (
    BILLING,
    CUSTOMERS,
    billing_database,
    invoice_rows,
    reading_rows,
    running_hub,
)

QUERIES = [
    # the three sources joined, aggregated, ordered
    """SELECT c.tier, count(DISTINCT c.id) AS customers, sum(i.amount) AS billed,
              max(r.value) AS peak
       FROM customers c JOIN invoices i ON i.customer_id = c.id
       JOIN readings r ON r.customer_id = c.id
       WHERE c.country IN ('NL', 'DE') AND i.status <> 'open'
       GROUP BY c.tier ORDER BY c.tier""",
    # a selective lookup across all three
    """SELECT c.name, i.id, i.amount, r.sensor, r.value FROM customers c
       JOIN invoices i ON i.customer_id = c.id JOIN readings r ON r.customer_id = c.id
       WHERE c.id = 42 AND r.sensor = 's1' ORDER BY i.id, r.value, r.sensor""",
    # the optional side of an outer join: IS NULL must not be filtered at the source
    """SELECT c.id FROM customers c LEFT JOIN invoices i
       ON i.customer_id = c.id AND i.amount > 490 WHERE i.id IS NULL ORDER BY c.id""",
    """SELECT c.id, count(i.id) AS late FROM customers c
       LEFT JOIN invoices i ON i.customer_id = c.id AND i.amount > 400
       WHERE c.tier = 'gold' GROUP BY c.id ORDER BY late DESC, c.id LIMIT 10""",
    # whole parts in the database, narrowed by the keys another source found
    "SELECT * FROM customer_360 WHERE tier = 'bronze' AND id < 40 ORDER BY id",
    "SELECT * FROM customer_360 WHERE id IN (3, 77, 150) ORDER BY id",
    # sorts and limits given to a source, with and without an offset
    "SELECT id, amount FROM invoices ORDER BY amount DESC, id LIMIT 7 OFFSET 3",
    "SELECT name FROM customers WHERE tier = 'silver' ORDER BY id LIMIT 5",
    "SELECT id, customer_id FROM invoices WHERE id BETWEEN 200 AND 230 AND status = 'paid'",
    # times compared as times wherever they come from
    """SELECT count(*) AS n FROM invoices
       WHERE issued >= TIMESTAMP '2026-02-01 00:00:00' AND issued < DATE '2026-03-01'""",
    "SELECT id FROM customers WHERE created > TIMESTAMP '2026-11-01 00:00:00' ORDER BY id",
    # set operations, subqueries, expressions DuckDB finishes
    """SELECT customer_id AS id FROM invoices WHERE amount > 495
       UNION SELECT customer_id FROM readings WHERE value > 48 ORDER BY id""",
    """SELECT id, name FROM customers WHERE id IN
       (SELECT customer_id FROM invoices WHERE status = 'late' AND amount > 480) ORDER BY id""",
    """SELECT c.id, (SELECT max(i.amount) FROM invoices i WHERE i.customer_id = c.id) AS top
       FROM customers c WHERE c.id <= 5 ORDER BY c.id""",
    """SELECT CASE WHEN amount > 250 THEN 'high' ELSE 'low' END AS band, count(*) AS n,
              round(avg(amount), 2) AS mean
       FROM invoices GROUP BY band ORDER BY band""",
    "SELECT DISTINCT sensor FROM readings WHERE value BETWEEN 10 AND 11 ORDER BY sensor",
    # one constant written twice: the database matches GROUP BY to the select list
    """SELECT CASE WHEN amount > 250 THEN 'high' ELSE 'low' END AS band, count(*) AS n
       FROM invoices GROUP BY CASE WHEN amount > 250 THEN 'high' ELSE 'low' END
       ORDER BY band""",
    "SELECT name FROM customers WHERE name LIKE '%7%' AND tier <> 'gold' ORDER BY name",
    """SELECT i.status, sum(i.amount) / count(*) AS mean FROM invoices i
       GROUP BY i.status ORDER BY i.status""",
]

VIEW_COPIES = """
    CREATE VIEW customer_360 AS
    SELECT c.id, c.name, c.tier, b.invoices, b.billed, r.last_reading
    FROM customers AS c
    LEFT JOIN (SELECT customer_id, count(*) AS invoices, sum(amount) AS billed
               FROM invoices GROUP BY customer_id) AS b ON b.customer_id = c.id
    LEFT JOIN (SELECT customer_id, max(read_at) AS last_reading
               FROM readings GROUP BY customer_id) AS r ON r.customer_id = c.id
"""


def copies() -> duckdb.DuckDBPyConnection:
    """The three sources' records in one DuckDB database, typed as the sources are."""
    database = duckdb.connect()
    crm = [
        {**c, "created": datetime.fromisoformat(c["created"].replace("Z", ""))}
        for c in crm_api.customers(CUSTOMERS)
    ]
    for name, rows in (
        ("customers", crm),
        ("invoices", invoice_rows()),
        ("readings", reading_rows()),
    ):
        database.register(f"{name}_rows", pa.Table.from_pylist(rows))
        database.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_rows")
    database.execute(VIEW_COPIES)
    return database


def plain(value: Any) -> Any:
    """One way to write a value, whichever side it came from."""
    if isinstance(value, Decimal | float):
        return round(float(value), 6)
    if isinstance(value, datetime):  # the faces write times in UTC, with a Z
        return value.isoformat() + "Z"
    return value


def rows_of(records: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [tuple(plain(v) for v in row) for row in records]


@pytest.mark.parametrize("kind", BILLING)
async def test_federated_queries_answer_as_one_duckdb_does(kind: str, tmp_path: Path) -> None:
    expected = copies()
    async with billing_database(kind, tmp_path) as url, running_hub(tmp_path, url) as hub:
        for sql in QUERIES:
            answer = await hub.query(sql)
            names = [c["name"] for c in answer["columns"]]
            got = rows_of(tuple(row[n] for n in names) for row in answer["value"])
            want = rows_of(iter(expected.execute(sql).fetchall()))
            if "ORDER BY" not in sql:
                got, want = sorted(got, key=repr), sorted(want, key=repr)
            assert got == want, sql
            assert want, f"the query should find rows: {sql}"
