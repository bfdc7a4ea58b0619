"""The audit log through the admin API and the CLI: a governed SQL Connection called
through the gateway records who called, what ran and how it ended."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from isthmus.cli.main import app
from isthmus.store import Change
from tests.gateway.conftest import Running, publish, resource


async def test_gateway_calls_to_a_governed_database_are_in_the_audit_log(
    running: Running, tmp_path: Path
) -> None:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
        db.executemany("INSERT INTO orders VALUES (?, ?)", [(i, i * 2.5) for i in range(1, 21)])
    shop = resource(
        {
            "kind": "Connection",
            "metadata": {"name": "shop", "environment": "sandbox"},
            "spec": {
                "system": "crm",
                "connector": "sql",
                "config": {
                    "url": f"sqlite+aiosqlite:///{database}",
                    "queries": {
                        "orderById": {
                            "sql": "SELECT id, total FROM orders WHERE id = :id",
                            "parameters": {"id": {"type": "string", "pattern": "^[0-9]+$"}},
                        }
                    },
                },
            },
        }
    )
    await running.hub.store.resources.apply([Change("create", shop.key, shop)])
    target = {"type": "operation", "connection": "shop", "operation": "orderById"}
    await publish(
        running, "orders", [{"name": "v1", "routes": [{"path": "/orders/{id}", "target": target}]}]
    )

    found = await running.get("/orders/v1/orders/7", running.key)
    assert found.status == 200, found.body
    refused = await running.get("/orders/v1/orders/x", running.key)
    assert refused.status == 422

    reply = await running.admin_call(
        "GET", "/admin/v1/audit", query="target=connection/shop@sandbox"
    )
    assert reply.status == 200
    entries = reply.json()["entries"]
    assert [(e["actor"], e["action"], e["outcome"]) for e in entries] == [
        ("portal", "sql.select", "refused"),
        ("portal", "sql.select", "ok"),
    ]
    assert entries[1]["detail"]["rows"] == 1
    assert entries[1]["detail"]["operation"] == "orderById"
    paged = (await running.admin_call("GET", "/admin/v1/audit", query="limit=1")).json()
    assert len(paged["entries"]) == 1
    older = await running.admin_call(
        "GET", "/admin/v1/audit", query=f"limit=1&before={paged['next_before']}"
    )
    assert older.json()["entries"][0]["outcome"] == "ok"

    # the CLI reads the same store (on a thread: it runs a loop of its own)
    shown = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        ["audit", "--home", str(running.hub.settings.home), "--json", "--outcome", "ok"],
    )
    assert shown.exit_code == 0, shown.output
    assert '"action":"sql.select"' in shown.output


async def test_the_audit_window_takes_iso_times_only(running: Running) -> None:
    reply = await running.admin_call("GET", "/admin/v1/audit", query="since=0.5")
    assert reply.status == 422
    assert reply.json()["errors"][0]["pointer"] == "/since"
    later = await running.admin_call(
        "GET", "/admin/v1/audit", query="since=2999-01-01T00:00:00%2B00:00"
    )
    assert later.json() == {"entries": [], "next_before": None}
