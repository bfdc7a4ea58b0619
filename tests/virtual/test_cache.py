"""The per-source result cache: rows reused for the Connection's time to live, dropped
when an event says their stream changed."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from isthmus.virtual.cache import SourceCache
from tests.helpers import asgi_call
from tests.virtual import crm_api
from tests.virtual.conftest import Virtual


def crm_connection(url: str, **spec: Any) -> dict[str, Any]:
    return {
        "kind": "Connection",
        "metadata": {"name": "crm", "environment": "sandbox"},
        "spec": {
            "system": "crm",
            "connector": "declarative",
            "config": {"spec": crm_api.SPEC, "values": {"url": url}, "allowPrivateNetwork": True},
            **spec,
        },
    }


CHANGED = {
    "kind": "EventType",
    "metadata": {"name": "customer-changed", "owner": "crm-team"},
    "spec": {
        "changes": ["crm.customers"],
        "versions": [{"version": 1, "schema": {"type": "object"}}],
    },
}


async def test_rows_are_reused_until_an_event_says_they_changed(virtual: Virtual) -> None:
    await virtual.add(
        crm_connection(virtual.crm.url, cache={"ttlSeconds": 600}),
        CHANGED,
        {
            "kind": "Api",
            "metadata": {"name": "crm-events"},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "routes": [
                            {
                                "method": "POST",
                                "path": "/changed",
                                "target": {"type": "event", "eventType": "customer-changed"},
                            }
                        ],
                    }
                ]
            },
        },
        {
            "kind": "App",
            "metadata": {"name": "dashboard"},
            "spec": {"apis": ["analytics", "crm-events"]},
        },
    )
    sql = "SELECT name FROM customers WHERE id IN (1, 2)"
    first = await virtual.query(sql)
    assert first["sources"] == [
        {"source": "crm.customers", "rows": 2, "requests": 1, "cached": False}
    ]
    again = await virtual.query(sql)
    assert again["value"] == first["value"]
    assert again["sources"][0]["cached"] is True
    assert virtual.crm.requests == 1

    # the CRM renames a customer and says so; the next query reads it
    virtual.crm.records[0]["name"] = "Renamed"
    reply = await asgi_call(
        virtual.gateway,
        "POST",
        "/crm-events/v1/changed",
        headers={"X-Api-Key": virtual.key, "Content-Type": "application/json"},
        body=b'{"id": 1}',
    )
    assert reply.status == 202, reply.json()
    after = await virtual.query(sql)
    assert after["sources"][0]["cached"] is False
    assert {"name": "Renamed"} in after["value"]
    assert virtual.crm.requests == 2
    assert virtual.hub.virtual.cache.dropped == 1


async def test_a_cached_read_of_other_columns_is_not_reused(virtual: Virtual) -> None:
    await virtual.add(crm_connection(virtual.crm.url, cache={"ttlSeconds": 600}))
    first = await virtual.query("SELECT id, name FROM customers WHERE id IN (1, 2)")
    second = await virtual.query("SELECT id, tier FROM customers WHERE id IN (1, 2)")
    assert {r["tier"] for r in second["value"]} == {"silver", "bronze"}
    assert first["value"][0].keys() == {"id", "name"}


async def test_sources_without_a_cache_are_read_every_time(virtual: Virtual) -> None:
    for _ in range(2):
        answer = await virtual.query("SELECT name FROM customers WHERE id = 3")
        assert answer["sources"][0]["cached"] is False
    assert virtual.crm.requests == 2


def test_entries_expire_and_the_oldest_go_first() -> None:
    now = [0.0]
    cache = SourceCache(max_rows=5, clock=lambda: now[0])
    rows = pa.table({"a": [1, 2, 3]})
    cache.put(("a",), rows, 10, [("sandbox", "crm", "customers")])
    assert cache.get(("a",)) is rows
    now[0] = 10.5
    assert cache.get(("a",)) is None
    cache.put(("b",), rows, 10, [])
    cache.put(("c",), rows, 10, [])  # 6 rows held: the oldest entry goes
    assert cache.get(("b",)) is None
    assert cache.get(("c",)) is rows
    cache.put(("big",), pa.table({"a": list(range(6))}), 10, [])  # larger than the cache
    assert cache.get(("big",)) is None
    assert (cache.hits, cache.misses) == (2, 3)
