"""Selective queries move few rows: asserted from the planner's own counters (rows each
source sent, requests made), on PostgreSQL, MariaDB, SQLite, a REST stream and Parquet.
Each check holds the rows transferred from every source to at most twice what the
query needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.virtual.conftest import (
    BILLING,
    CUSTOMERS,
    Virtual,
    billing_database,
    invoice_rows,
    reading_rows,
    running_hub,
)


def sent(answer: dict[str, Any], source: str) -> tuple[int, int]:
    """(rows, requests) the source sent for the query."""
    found = [s for s in answer["sources"] if s["source"] == source]
    assert found, answer["sources"]
    return sum(s["rows"] for s in found), sum(s["requests"] for s in found)


@pytest.fixture(params=BILLING)
async def each_database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    async with (
        billing_database(request.param, tmp_path) as url,
        running_hub(tmp_path, url) as hub,
    ):
        yield hub


async def test_a_lookup_in_a_database_reads_only_its_rows(each_database: Virtual) -> None:
    hub = each_database
    wanted = sorted(r["id"] for r in invoice_rows() if r["customer_id"] == 8)
    answer = await hub.query("SELECT * FROM invoices WHERE customer_id = 8")
    assert sorted(r["id"] for r in answer["value"]) == wanted
    rows, requests = sent(answer, "billing.invoices")
    assert rows <= 2 * len(wanted)
    assert requests == 1

    answer = await hub.query("SELECT id, amount FROM invoices WHERE id BETWEEN 100 AND 109")
    assert [r["id"] for r in answer["value"]] == list(range(100, 110))
    assert sent(answer, "billing.invoices")[0] <= 20


async def test_an_aggregate_runs_in_the_database(each_database: Virtual) -> None:
    answer = await each_database.query(
        "SELECT customer_id, count(*) AS n, sum(amount) AS total FROM invoices "
        "WHERE status = 'late' GROUP BY customer_id ORDER BY customer_id LIMIT 5"
    )
    late = [r for r in invoice_rows() if r["status"] == "late"]
    firsts = sorted({r["customer_id"] for r in late})[:5]
    assert [r["customer_id"] for r in answer["value"]] == firsts
    for row in answer["value"]:
        mine = [r for r in late if r["customer_id"] == row["customer_id"]]
        assert row["n"] == len(mine)
        assert row["total"] == pytest.approx(float(sum(r["amount"] for r in mine)))
    assert sent(answer, "billing.invoices")[0] == 5


async def test_a_lookup_across_three_sources_reads_a_row_from_each(
    each_database: Virtual,
) -> None:
    hub = each_database
    answer = await hub.query("SELECT * FROM customer_360 WHERE id IN (3, 5)")
    assert sorted(r["id"] for r in answer["value"]) == [3, 5]
    for row in answer["value"]:
        mine = [r for r in invoice_rows() if r["customer_id"] == row["id"]]
        assert row["invoices"] == len(mine)
        readings = [r for r in reading_rows() if r["customer_id"] == row["id"]]
        assert row["last_reading"] == max(r["read_at"] for r in readings).isoformat() + "Z"
    for source in ("crm.customers", "billing.invoices", "plant.readings"):
        assert sent(answer, source)[0] <= 4, source
    assert sent(answer, "crm.customers")[1] == 1
    assert hub.crm.requests == 1


async def test_a_rest_stream_is_filtered_by_the_api(virtual: Virtual) -> None:
    answer = await virtual.query("SELECT name FROM customers WHERE id IN (3, 4) ORDER BY name")
    assert [r["name"] for r in answer["value"]] == ["Customer 003", "Customer 004"]
    assert sent(answer, "crm.customers") == (2, 1)
    assert virtual.crm.seen == ["/customers?id=3,4&offset=0&limit=50"]

    gold = [n for n in range(1, CUSTOMERS + 1) if n % 3 == 0]
    answer = await virtual.query("SELECT id FROM customers WHERE tier = 'gold'")
    assert sorted(r["id"] for r in answer["value"]) == gold
    rows, requests = sent(answer, "crm.customers")
    assert rows == len(gold)
    assert requests == 2  # 66 records in pages of 50


async def test_a_limit_stops_reading_a_stream_early(virtual: Virtual) -> None:
    answer = await virtual.query("SELECT id FROM customers LIMIT 3")
    assert len(answer["value"]) == 3
    assert sent(answer, "crm.customers") == (50, 1)  # the first page only


async def test_a_filtered_scan_hands_its_keys_to_its_join_partner(virtual: Virtual) -> None:
    """Only the customers of the invoices found are asked of the API, in one request."""
    answer = await virtual.query(
        "SELECT i.id, c.name FROM invoices i JOIN customers c ON c.id = i.customer_id "
        "WHERE i.id IN (10, 20, 30) ORDER BY i.id"
    )
    assert [r["id"] for r in answer["value"]] == [10, 20, 30]
    assert sent(answer, "billing.invoices")[0] == 3
    assert sent(answer, "crm.customers") == (3, 1)


async def test_parquet_filters_run_in_the_file_reader(virtual: Virtual) -> None:
    wanted = [r for r in reading_rows() if r["customer_id"] == 9 and r["sensor"] == "s3"]
    answer = await virtual.query(
        "SELECT value FROM readings WHERE customer_id = 9 AND sensor = 's3'"
    )
    assert len(answer["value"]) == len(wanted)
    assert sent(answer, "plant.readings")[0] == len(wanted)
