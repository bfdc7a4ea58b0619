"""The memory connector: operations, stream queries, change triggers."""

from __future__ import annotations

import asyncio

import pytest

from isthmus.connectors.base import Filter, StreamQuery
from isthmus.connectors.registry import connector_type
from isthmus.errors import BadRequest, Conflict, NotFound
from isthmus.testing import ConnectorCase

RECORDS = [
    {"id": 1, "name": "Ada", "tier": "gold", "updated": 10},
    {"id": 2, "name": "Grace", "tier": "platinum", "updated": 20},
    {"id": 3, "name": "Alan", "tier": "silver", "updated": 30},
    {"id": 4, "name": "Hedy", "tier": None, "updated": 40},
]


def case() -> ConnectorCase:
    config = {"collections": {"people": {"records": RECORDS, "cursorField": "updated"}}}
    return ConnectorCase(connector_type("memory"), config)


async def test_crud_operations() -> None:
    async with case().open() as people:
        assert len(await people.call("people.list", {})) == 4
        assert (await people.call("people.get", {"id": "2"}))["name"] == "Grace"  # path text
        created = await people.call("people.create", {"body": {"id": 5, "name": "Katherine"}})
        assert created == {"id": 5, "name": "Katherine"}
        with pytest.raises(Conflict):
            await people.call("people.create", {"body": {"id": 5}})
        with pytest.raises(BadRequest):
            await people.call("people.create", {"body": {"name": "no key"}})
        updated = await people.call("people.update", {"id": 5, "body": {"tier": "gold", "id": 9}})
        assert updated == {"id": 5, "name": "Katherine", "tier": "gold"}  # key cannot move
        assert await people.call("people.delete", {"id": 5}) is None
        with pytest.raises(NotFound):
            await people.call("people.get", {"id": 5})


async def test_seed_records_are_not_mutated() -> None:
    async with case().open() as people:
        await people.call("people.update", {"id": 1, "body": {"name": "Changed"}})
    assert RECORDS[0]["name"] == "Ada"
    async with case().open() as people:
        assert (await people.call("people.get", {"id": 1}))["name"] == "Ada"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (StreamQuery(filters=(Filter("tier", "eq", "gold"),)), [1]),
        (StreamQuery(filters=(Filter("tier", "in", ["gold", "silver"]),)), [1, 3]),
        (StreamQuery(filters=(Filter("name", "contains", "a"),)), [1, 2, 3]),
        (StreamQuery(filters=(Filter("updated", "ge", 20), Filter("updated", "lt", 40))), [2, 3]),
        (StreamQuery(filters=(Filter("tier", "gt", "a"),)), [1, 2, 3]),  # None never matches
        (StreamQuery(sort=(("name", False),)), [1, 3, 2, 4]),
        (StreamQuery(sort=(("tier", True),)), [3, 2, 1, 4]),  # None last either way
        (StreamQuery(sort=(("updated", True),), limit=2), [4, 3]),
        (StreamQuery(cursor=20), [3, 4]),
    ],
)
async def test_stream_queries(query: StreamQuery, expected: list[int]) -> None:
    async with case().open() as people:
        rows = [r async for r in people.read("people", query)]
    assert [r["id"] for r in rows] == expected


async def test_projection() -> None:
    async with case().open() as people:
        rows = [r async for r in people.read("people", StreamQuery(fields=("name",), limit=1))]
    assert rows == [{"name": "Ada"}]


async def test_change_trigger_delivers_each_change() -> None:
    async with case().open() as people:
        assert "people.changed" in people.triggers()
        events = people.subscribe("people.changed")
        first = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)
        await people.call("people.update", {"id": 3, "body": {"tier": "gold"}})
        change = await asyncio.wait_for(first, 2)
        assert change["change"] == "updated"
        assert change["record"]["tier"] == "gold"
        await people.call("people.delete", {"id": 3})
        change = await asyncio.wait_for(anext(events), 2)
        assert change == {"change": "deleted", "id": 3}
        await events.aclose()


async def test_sorting_unlike_types_does_not_fail() -> None:
    config = {"collections": {"m": {"records": [{"id": 1, "v": "b"}, {"id": 2, "v": 3}]}}}
    async with ConnectorCase(connector_type("memory"), config).open() as mixed:
        rows = [r async for r in mixed.read("m", StreamQuery(sort=(("v", False),)))]
    assert [r["id"] for r in rows] == [2, 1]
