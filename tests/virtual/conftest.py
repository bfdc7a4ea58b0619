"""A hub with three real sources behind Views: a CRM's REST API (declarative connector
over a loopback fake), a billing database (SQLite, PostgreSQL or MariaDB) and a plant's
sensor readings in a Parquet file; an App granted the Views through an Api."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from isthmus.gateway.app import Gateway
from isthmus.hub import Hub
from isthmus.model import Resource, kind_of
from isthmus.settings import Settings
from isthmus.store import Change
from tests.conftest import seeded_database
from tests.helpers import Reply, asgi_call
from tests.virtual import crm_api

CUSTOMERS = 200
INVOICES = 3000
READINGS = 6000
START = datetime(2026, 1, 1, 0, 0)


def invoice_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "customer_id": 1 + (i * 7) % CUSTOMERS,
            "amount": Decimal(i % 500) + Decimal("0.25"),
            "issued": START + timedelta(hours=i),
            "status": ("paid", "open", "late")[i % 3],
        }
        for i in range(1, INVOICES + 1)
    ]


def reading_rows() -> list[dict[str, Any]]:
    return [
        {
            "customer_id": 1 + i % CUSTOMERS,
            "sensor": f"s{i % 5}",
            "value": round((i % 97) * 0.5, 2),
            "read_at": START + timedelta(minutes=7 * i),
        }
        for i in range(READINGS)
    ]


def _seed(sync: sa.Connection) -> None:
    meta = sa.MetaData()
    invoices = sa.Table(
        "invoices",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.Integer, nullable=False, index=True),
        sa.Column("amount", sa.Numeric(10, 2), nullable=False),
        sa.Column("issued", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
    )
    meta.create_all(sync)
    sync.execute(invoices.insert(), invoice_rows())


BILLING = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres), "mysql"]


def billing_database(kind: str, tmp_path: Path) -> AbstractAsyncContextManager[str]:
    """A fresh billing database of ``kind`` holding the invoices; its URL."""
    return seeded_database(kind, tmp_path, _seed, "billing.db")


def write_readings(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = reading_rows()
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, folder / "readings.parquet", row_group_size=500)
    return folder


VIEWS = {
    "customers": "SELECT id, name, tier, country, created FROM crm.customers",
    "invoices": "SELECT * FROM billing.invoices",
    "readings": "SELECT * FROM plant.readings",
    "customer_360": """
        SELECT c.id, c.name, c.tier, b.invoices, b.billed, r.last_reading
        FROM crm.customers AS c
        LEFT JOIN (SELECT customer_id, count(*) AS invoices, sum(amount) AS billed
                   FROM billing.invoices GROUP BY customer_id) AS b ON b.customer_id = c.id
        LEFT JOIN (SELECT customer_id, max(read_at) AS last_reading
                   FROM plant.readings GROUP BY customer_id) AS r ON r.customer_id = c.id
    """,
}


KEYS = {"customers": ["id"], "invoices": ["id"], "customer_360": ["id"]}
RELATIONS = {
    "customers": {"invoices": {"view": "invoices", "on": {"id": "customer_id"}, "many": True}},
    "invoices": {"customer": {"view": "customers", "on": {"customer_id": "id"}}},
}


def project(crm_url: str, billing_url: str, plant: Path) -> list[dict[str, Any]]:
    systems = [
        {"kind": "System", "metadata": {"name": n, "owner": "data-team"}}
        for n in ("crm", "billing", "plant")
    ]
    connections = [
        {
            "kind": "Connection",
            "metadata": {"name": "crm", "environment": "sandbox"},
            "spec": {
                "system": "crm",
                "connector": "declarative",
                "config": {
                    "spec": crm_api.SPEC,
                    "values": {"url": crm_url},
                    "allowPrivateNetwork": True,
                },
            },
        },
        {
            "kind": "Connection",
            "metadata": {"name": "billing", "environment": "sandbox"},
            "spec": {
                "system": "billing",
                "connector": "sql",
                "config": {"url": billing_url, "allowPrivateNetwork": True, "maxRows": 100_000},
            },
        },
        {
            "kind": "Connection",
            "metadata": {"name": "plant", "environment": "sandbox"},
            "spec": {
                "system": "plant",
                "connector": "files",
                "config": {
                    "root": str(plant),
                    "tables": {"readings": {"path": "readings.parquet"}},
                },
            },
        },
    ]
    views = [
        {
            "kind": "View",
            "metadata": {"name": name, "owner": "data-team"},
            "spec": {"sql": sql, "key": KEYS.get(name, []), "relations": RELATIONS.get(name, {})},
        }
        for name, sql in VIEWS.items()
    ]
    api = {
        "kind": "Api",
        "metadata": {"name": "analytics"},
        "spec": {"versions": [{"name": "v1", "views": sorted(VIEWS)}]},
    }
    app = {"kind": "App", "metadata": {"name": "dashboard"}, "spec": {"apis": ["analytics"]}}
    return [*systems, *connections, *views, api, app]


def resource(document: dict[str, Any]) -> Resource:
    cls = kind_of(document["kind"])
    assert cls is not None
    return cls.model_validate(document)


@dataclass
class Virtual:
    hub: Hub
    gateway: Gateway
    key: str
    crm: crm_api.Crm

    async def post(self, body: dict[str, Any], key: str | None = None) -> Reply:
        return await asgi_call(
            self.gateway,
            "POST",
            "/query",
            headers={"X-Api-Key": key or self.key, "Content-Type": "application/json"},
            body=orjson.dumps(body),
        )

    async def query(self, sql: str) -> dict[str, Any]:
        reply = await self.post({"sql": sql})
        assert reply.status == 200, reply.json()
        answer: dict[str, Any] = reply.json()
        return answer

    async def refused(self, sql: str, status: int = 422) -> dict[str, Any]:
        reply = await self.post({"sql": sql})
        assert reply.status == status, reply.json()
        assert reply.headers["content-type"] == "application/problem+json"
        problem: dict[str, Any] = reply.json()
        return problem

    async def add(self, *documents: dict[str, Any]) -> None:
        store = self.hub.store.resources
        changes = []
        for document in documents:
            item = resource(document)
            exists = await store.get(item.key) is not None
            changes.append(Change("update" if exists else "create", item.key, item))
        await store.apply(changes)
        await self.hub.snapshots.refresh()


@asynccontextmanager
async def running_hub(
    tmp_path: Path, billing_url: str, *, extra: list[dict[str, Any]] = (), **settings: Any
) -> AsyncIterator[Virtual]:
    plant = write_readings(tmp_path / "plant")
    async with crm_api.serving(crm_api.customers(CUSTOMERS)) as crm:
        config = Settings(home=tmp_path / "home", admin_token="admin-secret-token", **settings)
        async with Hub(config) as hub:
            documents = [*project(crm.url, billing_url, plant), *extra]
            changes = [Change("create", r.key, r) for r in map(resource, documents)]
            await hub.store.resources.apply(changes)
            _, key = await hub.store.keys.create("dashboard", "sandbox")
            await hub.snapshots.refresh()
            states = {s.connection: s for s in hub.pool.states()}
            assert all(s.open for s in states.values()), states
            gateway = Gateway(hub.snapshots, hub.limiter, issuer="https://hub.example.test")
            yield Virtual(hub, gateway, key, crm)


@pytest.fixture
async def virtual(tmp_path: Path) -> AsyncIterator[Virtual]:
    """The hub over SQLite billing (the other databases: see the counter tests)."""
    async with billing_database("sqlite", tmp_path) as url, running_hub(tmp_path, url) as hub:
        yield hub
