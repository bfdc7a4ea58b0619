"""Polling triggers: a Connection's stream is read from a cursor kept in the store, and
each new record becomes an event — once: the next round starts past the last record
published, a record that does not fit goes to the dead letters, and a poller started
again (a new hub) takes up from the stored cursor."""

from __future__ import annotations

from typing import Any

import orjson

from isthmus.events.compose import CompiledEvent
from isthmus.events.naming import trigger_name
from isthmus.events.poller import Poller
from isthmus.model import EventType, ResourceKey
from isthmus.model.trigger import PollSource
from isthmus.store import Change
from isthmus.testing.buses import Inbox
from tests.gateway.conftest import Running, resource

NAME = trigger_name("sandbox", "crm-feed", "customers")


def record(n: int, name: str | None = "someone") -> dict[str, object]:
    fields: dict[str, object] = {"key": f"c-{n}", "changedAt": f"2026-12-01T10:00:{n:02d}Z"}
    if name is not None:
        fields["fullName"] = name
    return fields


MAPPING = '{"id": key, "name": fullName}'


async def feed(running: Running, name: str, records: list[dict[str, object]], **spec: Any) -> Any:
    """A memory Connection ``name`` whose ``customers`` stream has a cursor, applied; its
    connector."""
    connection = resource(
        {
            "kind": "Connection",
            "metadata": {"name": name, "environment": "sandbox"},
            "spec": {
                "system": "crm",
                "connector": "memory",
                "config": {
                    "collections": {
                        "customers": {
                            "primaryKey": "key",
                            "cursorField": "changedAt",
                            "records": records,
                        }
                    }
                },
                **spec,
            },
        }
    )
    await running.hub.store.resources.apply([Change("create", connection.key, connection)])
    await running.hub.snapshots.refresh()
    return running.hub.pool.get(connection.key)


async def poller_of(running: Running, connection: str) -> Poller:
    """A poller of ``connection``'s customers, as a hub starts one."""
    hub = running.hub
    event_type = await hub.store.resources.get(ResourceKey("EventType", "customer-created"))
    assert isinstance(event_type, EventType)
    return Poller(
        trigger_name("sandbox", connection, "customers"),
        "sandbox",
        connection,
        PollSource(stream="customers", mapping=MAPPING),
        CompiledEvent.of(event_type),
        hub.bus,
        hub.store.cursors,
        hub.store.dead_letters,
    )


async def test_new_records_become_events_once_from_the_stored_cursor(
    running: Running, events: Inbox
) -> None:
    trigger = {"name": "customers", "eventType": "customer-created"}
    poll = {"stream": "customers", "intervalSeconds": 0.05, "mapping": MAPPING}
    records = [record(2, "Grace"), record(1, "Ada")]
    memory = await feed(running, "crm-feed", records, triggers=[{**trigger, "poll": poll}])
    hub = running.hub
    first = await events.take(2)
    bodies = [orjson.loads(d.message.body) for d in first]
    assert [b["data"] for b in bodies] == [
        {"id": "c-1", "name": "Ada"},
        {"id": "c-2", "name": "Grace"},
    ]
    assert bodies[0]["source"] == "/connections/crm-feed"
    await memory.call("customers.create", {"body": record(3, "Edsger")})
    await memory.call("customers.create", {"body": record(4, name=None)})  # does not fit
    (third,) = await events.take(1)
    assert orjson.loads(third.message.body)["data"] == {"id": "c-3", "name": "Edsger"}
    await events.nothing_more()
    for delivery in [*first, third]:
        await delivery.ack()
    assert await hub.store.cursors.get(NAME) == "2026-12-01T10:00:04Z"
    (letter,) = await hub.store.dead_letters.list(NAME)
    assert "/data: is missing the required properties ['name']" in letter.error
    # the hub stops; a poller started afresh (another hub) reads from the stored cursor
    await hub.triggers.aclose()
    again = await poller_of(running, "crm-feed")
    assert await again.round(memory) == 0
    await memory.call("customers.create", {"body": record(5, "Barbara")})
    assert await again.round(memory) == 1
    (fifth,) = await events.take(1)
    assert orjson.loads(fifth.message.body)["subject"] == "c-5"


async def test_a_full_round_leaves_a_cut_run_of_equal_cursors_to_the_next(
    running: Running, events: Inbox
) -> None:
    """1,010 records, the last 20 sharing one cursor value: the first round (1,000 at
    most) stops before that run instead of cutting it; the next one takes all of it."""
    stamps = [f"2026-12-01T10:{n // 60:02d}:{n % 60:02d}Z" for n in range(990)]
    rows = [{"key": f"c-{n}", "changedAt": stamps[n], "fullName": "x"} for n in range(990)]
    rows += [
        {"key": f"c-{n}", "changedAt": "2026-12-01T23:00:00Z", "fullName": "x"}
        for n in range(990, 1010)
    ]
    memory = await feed(running, "bulk", rows)
    poller = await poller_of(running, "bulk")
    name = poller.name
    hub = running.hub
    assert await poller.round(memory) == 1000
    assert poller.published == 990  # the run of 20 was cut after 10: none of it yet
    assert await hub.store.cursors.get(name) == stamps[-1]
    assert await poller.round(memory) == 20
    assert poller.published == 1010
    assert await poller.round(memory) == 0
    subjects: list[str] = []
    while len(subjects) < 1010:  # acked as they come: the consumer holds 64 at most
        for delivery in await events.take(min(50, 1010 - len(subjects))):
            subjects.append(orjson.loads(delivery.message.body)["subject"])
            await delivery.ack()
    assert sorted(subjects) == sorted(r["key"] for r in rows)
