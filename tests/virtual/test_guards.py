"""What a virtual query may not do, and what it may not cost: each refusal is a problem
with a stable code and a remediation, decided before a source is read where it can be."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from isthmus.store.audit import AuditFilter
from tests.virtual import crm_api
from tests.virtual.conftest import Virtual, billing_database, running_hub


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE invoices",
        "SELECT 1; DELETE FROM invoices",
        "INSERT INTO invoices VALUES (1)",
        "UPDATE invoices SET amount = 0",
        "SELECT * INTO copy FROM invoices",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT getenv('HOME') AS home FROM invoices",
        "SELECT * FROM invoices WHERE id = (SELECT count(*) FROM read_parquet('x'))",
        "SELECT * FROM query('SELECT 1')",
        "COPY invoices TO '/tmp/out.csv'",
        "ATTACH '/tmp/other.db'",
        "SET enable_external_access = true",
        "SELECT * FROM",
        "SELECT * FROM invoices WHERE id = $1",
    ],
)
async def test_only_one_read_only_select_runs(virtual: Virtual, sql: str) -> None:
    problem = await virtual.refused(sql, 400)
    assert problem["code"] == "virtual-sql-invalid"
    assert problem["remediation"]
    assert virtual.crm.requests == 0


async def test_apps_read_views_published_to_them_not_streams(virtual: Virtual) -> None:
    problem = await virtual.refused("SELECT * FROM crm.customers", 404)
    assert problem["code"] == "virtual-unknown-table"
    assert "Views published to you" in problem["detail"]
    await virtual.add({"kind": "View", "metadata": {"name": "secret_view"},
                       "spec": {"sql": "SELECT id FROM crm.customers"}})  # fmt: skip
    problem = await virtual.refused("SELECT * FROM secret_view", 404)
    assert problem["code"] == "virtual-unknown-table"
    assert virtual.crm.requests == 0


async def test_an_unknown_column_is_named(virtual: Virtual) -> None:
    problem = await virtual.refused("SELECT colour FROM customers", 400)
    assert problem["code"] == "virtual-sql-invalid"
    assert "colour" in problem["detail"]


async def test_reading_an_api_whole_is_refused_above_the_call_limit(tmp_path: Path) -> None:
    async with (
        billing_database("sqlite", tmp_path) as url,
        running_hub(tmp_path, url, virtual_max_api_calls=5) as hub,
    ):
        problem = await hub.refused("SELECT name FROM customers")
        assert problem["code"] == "virtual-unbounded-scan"
        assert "crm.customers" in problem["detail"]
        assert "20" in problem["detail"]  # the spec's maxPages
        assert "id, tier" in problem["remediation"]
        problem = await hub.refused("SELECT name FROM customers WHERE country = 'NL'")
        assert problem["code"] == "virtual-unbounded-scan"  # the API cannot filter that
        assert hub.crm.requests == 0
        answer = await hub.query("SELECT name FROM customers WHERE id = 3")
        assert answer["value"] == [{"name": "Customer 003"}]
        answer = await hub.query("SELECT name FROM customers LIMIT 120")
        assert len(answer["value"]) == 120


async def test_a_connections_request_budget_bounds_a_query(virtual: Virtual) -> None:
    spec = {**crm_api.SPEC, "budget": {"requests": 2, "perSeconds": 60}}
    await virtual.add(
        {"kind": "System", "metadata": {"name": "crm-eu", "owner": "data-team"}},
        {
            "kind": "Connection",
            "metadata": {"name": "crm-eu", "environment": "sandbox"},
            "spec": {
                "system": "crm-eu",
                "connector": "declarative",
                "config": {
                    "spec": spec,
                    "values": {"url": virtual.crm.url},
                    "allowPrivateNetwork": True,
                },
            },
        },
        {"kind": "View", "metadata": {"name": "eu_customers"},
         "spec": {"sql": 'SELECT id, name FROM "crm-eu".customers'}},
        {"kind": "Api", "metadata": {"name": "eu"},
         "spec": {"versions": [{"name": "v1", "views": ["eu_customers"]}]}},
        {"kind": "App", "metadata": {"name": "dashboard"}, "spec": {"apis": ["analytics", "eu"]}},
    )  # fmt: skip
    problem = await virtual.refused("SELECT name FROM eu_customers LIMIT 150")
    assert problem["code"] == "virtual-quota-exceeded"
    assert "budget (2)" in problem["detail"]
    answer = await virtual.query("SELECT name FROM eu_customers LIMIT 60")
    assert len(answer["value"]) == 60
    assert virtual.crm.requests == 2


async def test_a_stream_that_needs_a_filter_says_which(virtual: Virtual) -> None:
    await virtual.add(
        {"kind": "View", "metadata": {"name": "notes"},
         "spec": {"sql": "SELECT * FROM crm.notes"}},
        {"kind": "Api", "metadata": {"name": "analytics"},
         "spec": {"versions": [{"name": "v1", "views": ["customers", "notes"]}]}},
    )  # fmt: skip
    problem = await virtual.refused("SELECT * FROM notes")
    assert problem["code"] == "virtual-key-filter-missing"
    assert "tier" in problem["detail"]
    answer = await virtual.query("SELECT count(*) AS n FROM notes WHERE tier = 'gold'")
    assert answer["value"] == [{"n": 66}]


async def test_row_and_scan_caps(tmp_path: Path) -> None:
    async with (
        billing_database("sqlite", tmp_path) as url,
        running_hub(tmp_path, url, virtual_max_rows=100, virtual_max_scan_rows=1000) as hub,
    ):
        problem = await hub.refused("SELECT id FROM invoices WHERE id <= 101")
        assert problem["code"] == "virtual-too-many-rows"
        answer = await hub.query("SELECT id FROM invoices WHERE id <= 100")
        assert len(answer["value"]) == 100
        # the invoices table (3,000 rows) must come whole to be joined with the API's rows
        problem = await hub.refused(
            "SELECT count(*) AS n FROM invoices i JOIN customers c ON c.id = i.customer_id"
        )
        assert problem["code"] == "virtual-scan-too-large"
        assert "billing.invoices" in problem["detail"]


async def test_a_slow_source_times_the_query_out(tmp_path: Path) -> None:
    async with (
        billing_database("sqlite", tmp_path) as url,
        running_hub(tmp_path, url, virtual_timeout_seconds=0.3) as hub,
    ):
        hub.crm.delay = 2.0
        problem = await hub.refused("SELECT name FROM customers WHERE id = 1", 504)
        assert problem["code"] == "upstream-timeout"
        assert "0.3 s" in problem["detail"]


async def test_every_query_is_audited_with_its_costs(virtual: Virtual) -> None:
    await virtual.query("SELECT * FROM customer_360 WHERE id = 11")
    await virtual.refused("SELECT * FROM crm.customers", 404)
    await virtual.hub.audit.drain()
    entries = await virtual.hub.store.audit.list(AuditFilter(action="virtual.query"))
    by_outcome = {e.outcome: e for e in entries}
    ok, refused = by_outcome["ok"], by_outcome["refused"]
    assert ok.actor == "dashboard"
    assert ok.target == "views/customer_360"
    assert ok.detail["rows"] == 1
    assert {s["source"] for s in ok.detail["sources"]} == {
        "crm.customers", "billing.invoices", "plant.readings"
    }  # fmt: skip
    assert refused.detail["code"] == "virtual-unknown-table"
    # the database's own audit names the statement the planner sent it
    statements = await virtual.hub.store.audit.list(AuditFilter(action="sql.select"))
    assert statements
    assert all(":k0" in e.detail["sql"] for e in statements)  # keys bound as parameters


async def test_explain_shows_what_each_source_is_asked_without_reading(
    virtual: Virtual,
) -> None:
    reply = await virtual.post(
        {"sql": "SELECT * FROM customer_360 WHERE tier = 'gold' AND id < 30", "explain": True}
    )
    assert reply.status == 200, reply.json()
    plan: dict[str, Any] = reply.json()
    assert plan["views"] == ["customer_360"]
    by_connection = {s["connection"]: s for s in plan["sources"]}
    crm = by_connection["crm"]
    assert crm["stream"] == "customers"
    assert {"field": "tier", "op": "eq", "value": "gold"} in crm["request"]["filters"]
    assert crm["estimate"]["apiCalls"] == 20  # maxPages: nothing tells it fewer
    billing = by_connection["billing"]
    assert "GROUP BY" in billing["sql"]
    assert billing["keysFrom"]["into"] == "customer_id"
    assert isinstance(billing["estimate"]["rows"], int)
    assert by_connection["plant"]["keysFrom"]["column"] == "id"
    assert [c["name"] for c in plan["columns"]] == [
        "id", "name", "tier", "invoices", "billed", "last_reading"
    ]  # fmt: skip
    assert virtual.crm.requests == 0


async def test_a_published_view_that_no_longer_plans_says_why(virtual: Virtual) -> None:
    from isthmus.control.app import create_control_app
    from tests.helpers import asgi_call

    # written straight to the store, as if its source had changed under it since apply
    await virtual.add(
        {"kind": "View", "metadata": {"name": "broken"},
         "spec": {"sql": "SELECT shoe_size FROM crm.customers"}},
        {"kind": "Api", "metadata": {"name": "analytics"},
         "spec": {"versions": [{"name": "v1", "views": ["customers", "broken"]}]}},
    )  # fmt: skip
    reply = await asgi_call(
        virtual.gateway, "GET", "/analytics/v1/broken", headers={"X-Api-Key": virtual.key}
    )
    assert reply.status == 503
    assert reply.json()["code"] == "view-unavailable"
    assert "shoe_size" in reply.json()["detail"]
    control = create_control_app(virtual.hub)
    reply = await asgi_call(
        control, "GET", "/admin/v1/status", headers={"Authorization": "Bearer admin-secret-token"}
    )
    assert reply.json()["views"] == [
        {"view": "broken", "code": "view-unavailable", "cause": reply.json()["views"][0]["cause"]}
    ]
    assert "shoe_size" in reply.json()["views"][0]["cause"]


async def test_a_long_query_in_a_file_source_is_stopped_in_time(tmp_path: Path) -> None:
    async with (
        billing_database("sqlite", tmp_path) as url,
        running_hub(tmp_path, url, virtual_timeout_seconds=1) as hub,
    ):
        problem = await hub.refused(
            "SELECT count(*) AS n FROM readings a, readings b, readings c "
            "WHERE (a.value * b.value + c.value + a.customer_id) % 7 = 3",
            504,
        )
        assert problem["code"] == "upstream-timeout"
        answer = await hub.query("SELECT count(*) AS n FROM readings")  # still serving
        assert answer["value"] == [{"n": 6000}]
