"""The audit log kept in the store: what governed Connections record, batched writes,
queries, and entries that survive a store that cannot take them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from isthmus.connectors.base import CALLER, ConnectorContext
from isthmus.connectors.registry import connector_type
from isthmus.connectors.sql.guard import StatementRefused
from isthmus.governance.audit import AuditEntry, AuditLog
from isthmus.store import Store
from isthmus.store.audit import AuditFilter
from isthmus.testing import StaticSecrets


async def test_a_governed_connection_writes_every_attempt_to_the_store(
    store: Store, tmp_path: Path
) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO customers VALUES (?, ?)", [(i, f"c{i}") for i in range(50)])
    audit = AuditLog(store.audit)
    kind = connector_type("sql")
    config = kind.config_model.model_validate({"url": f"sqlite+aiosqlite:///{tmp_path}/shop.db"})
    context = ConnectorContext("shop", "production", StaticSecrets(), audit)
    token = CALLER.set("orders-app")
    try:
        async with kind.open(config, context) as connector:
            statements = [
                connector.call(
                    "sql", {"sql": "SELECT name FROM customers WHERE id = :id", "params": {"id": i}}
                )
                for i in range(40)
            ]
            await asyncio.gather(*statements)
            with pytest.raises(StatementRefused):
                await connector.call("sql", {"sql": "DELETE FROM customers"})
    finally:
        CALLER.reset(token)
    # 41 entries, written in fewer transactions than entries: concurrent ones share one
    assert audit.batches < 41
    target = "connection/shop@production"
    entries = await store.audit.list(AuditFilter(target=target, limit=100))
    assert len(entries) == 41
    assert entries[0].outcome == "refused"  # newest first
    assert entries[0].action == "sql.delete"
    assert {e.actor for e in entries} == {"orders-app"}
    refused = await store.audit.list(AuditFilter(outcome="refused"))
    assert [e.detail["code"] for e in refused] == ["sql-refused"]
    reads = await store.audit.list(AuditFilter(action="sql.", limit=10))
    assert len(reads) == 10
    older = await store.audit.list(AuditFilter(action="sql.", before_id=reads[-1].id, limit=100))
    assert len(older) == 31
    assert all(e.id < reads[-1].id for e in older)  # type: ignore[operator]


async def test_entries_the_store_cannot_take_go_to_the_log(store: Store) -> None:
    audit = AuditLog(store.audit)
    await store.engine.dispose()
    async with store.engine.begin() as conn:  # the table is gone: every write fails
        await conn.exec_driver_sql("DROP TABLE audit_events")
    with capture_logs() as logs:
        await audit.record(AuditEntry("ops", "secret.write", "secret/crm-token", "ok"))
    lost = [e for e in logs if e["event"] == "audit.not_stored"]
    assert len(lost) == 1
    assert lost[0]["target"] == "secret/crm-token"
    assert audit.batches == 0
