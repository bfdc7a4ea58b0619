"""The transactional outbox, on real PostgreSQL and MariaDB: rows an application writes in
the same transaction as its change become events of the hub's bus; a rolled-back
transaction publishes nothing; a row that does not fit goes to the dead letters while
the rest flow; a relay that dies between publishing and deleting publishes the same
rows again with the same event ids, so nothing is lost and nothing is new."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from isthmus.connectors.base import ConnectorContext
from isthmus.connectors.registry import connector_type
from isthmus.connectors.sql.outbox import create_statement
from isthmus.events.base import Bus, Message
from isthmus.events.compose import CompiledEvent
from isthmus.events.naming import trigger_name
from isthmus.events.outbox import OutboxRelay
from isthmus.model import EventType, ResourceKey
from isthmus.model.trigger import OutboxSource
from isthmus.store import Change
from isthmus.testing.buses import Inbox
from tests.conftest import (
    _drop_database,
    _drop_mariadb_database,
    _mariadb_database,
    _postgres_database,
)
from tests.e2e.proc import isthmus
from tests.events.test_reliability import SECRET, Hub, Ledger, ledger, project, until
from tests.gateway.conftest import Running, resource
from tests.helpers import assert_problem

DATABASES = [pytest.param("postgres", marks=pytest.mark.postgres), "mysql"]


@pytest.fixture(params=DATABASES)
async def shop(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh database with a customers table and the outbox, made from the statement
    ``isthmus connection outbox`` prints."""
    postgres = request.param == "postgres"
    name, url = await (_postgres_database() if postgres else _mariadb_database())
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                sa.text("CREATE TABLE customers (id VARCHAR(20) PRIMARY KEY, name VARCHAR(100))")
            )
            for statement in create_statement("isthmus_outbox", engine.dialect).split(";"):
                if statement.strip():
                    await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()
    yield url
    await (_drop_database(name) if postgres else _drop_mariadb_database(name))


async def create_customer(engine: AsyncEngine, data: dict[str, Any], commit: bool = True) -> None:
    """The application's own transaction: the business row and its event together."""
    async with engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(
            sa.text("INSERT INTO customers (id, name) VALUES (:id, :name)"),
            {"id": data["id"], "name": data.get("name")},
        )
        await connection.execute(
            sa.text(
                "INSERT INTO isthmus_outbox (event_type, subject, payload) "
                "VALUES ('customer-created', :subject, :payload)"
            ),
            {"subject": data["id"], "payload": orjson.dumps(data).decode()},
        )
        await (transaction.commit() if commit else transaction.rollback())


async def outbox_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(
            (await connection.execute(sa.text("SELECT COUNT(*) FROM isthmus_outbox"))).scalar_one()
        )


async def test_committed_rows_become_events_and_rolled_back_ones_never_do(
    running: Running, events: Inbox, shop: str
) -> None:
    connection = resource(
        {
            "kind": "Connection",
            "metadata": {"name": "shop", "environment": "sandbox"},
            "spec": {
                "system": "crm",
                "connector": "sql",
                "config": {"url": shop, "allowPrivateNetwork": True},
                "triggers": [
                    {
                        "name": "customers",
                        "eventType": "customer-created",
                        "outbox": {"pollSeconds": 0.05},
                    }
                ],
            },
        }
    )
    await running.hub.store.resources.apply([Change("create", connection.key, connection)])
    await running.hub.snapshots.refresh()
    engine = create_async_engine(shop)
    try:
        await create_customer(engine, {"id": "c-1", "name": "Ada"})
        await create_customer(engine, {"id": "c-2", "name": "Grace"}, commit=False)
        await create_customer(engine, {"id": "c-3"})  # no name: does not fit the schema
        await create_customer(engine, {"id": "c-4", "name": "Edsger"})
        got = await events.take(2)
        await events.nothing_more()
        assert await outbox_rows(engine) == 0
    finally:
        await engine.dispose()
    bodies = [orjson.loads(d.message.body) for d in got]
    assert [(b["subject"], b["data"]["name"]) for b in bodies] == [
        ("c-1", "Ada"),
        ("c-4", "Edsger"),
    ]
    assert bodies[0]["source"] == "/connections/shop"
    assert bodies[0]["dataschema"] == "urn:isthmus:eventtype:customer-created:v2"
    for delivery in got:
        await delivery.ack()
    name = trigger_name("sandbox", "shop", "customers")
    (letter,) = await running.hub.store.dead_letters.list(name)
    assert "/data: is missing the required properties ['name']" in letter.error
    assert orjson.loads(letter.event)["data"] == {"id": "c-3"}
    shown = await running.admin_call("GET", "/admin/v1/dead-letters", query=f"subscription={name}")
    assert shown.json()[0]["event_id"] == letter.event_id
    replay = await running.admin_call("POST", f"/admin/v1/dead-letters/{letter.id}/replay")
    assert_problem(replay, 409, "conflict")


class Crash(BaseException):
    """The relay's process dying: nothing after it runs, no handler catches it."""


class DiesAfterPublishing(Bus):
    """The hub's bus, but the process dies the moment the bus has the events: before the
    relay could delete the rows."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus

    async def publish(self, messages: Sequence[Message]) -> None:
        await self.bus.publish(messages)
        raise Crash

    async def declare(self, topic: str, group: str) -> None:
        await self.bus.declare(topic, group)

    def consume(self, topic: str, group: str, prefetch: int = 64) -> Any:
        return self.bus.consume(topic, group, prefetch)

    async def forget(self, topic: str, group: str) -> None:
        await self.bus.forget(topic, group)

    async def close(self) -> None:
        pass


async def test_a_relay_that_dies_after_publishing_loses_nothing_and_repeats_its_ids(
    running: Running, events: Inbox, shop: str
) -> None:
    customer_created = await running.hub.store.resources.get(
        ResourceKey("EventType", "customer-created")
    )
    assert isinstance(customer_created, EventType)
    engine = create_async_engine(shop)
    kind = connector_type("sql")
    config = kind.config_model.model_validate({"url": shop, "allowPrivateNetwork": True})
    context = ConnectorContext("shop", "sandbox", running.hub.vault)
    try:
        for n in range(5):
            await create_customer(engine, {"id": f"c-{n}", "name": f"n{n}"})
        async with kind.open(config, context) as connector:
            relay = lambda bus: OutboxRelay(  # noqa: E731
                "trigger:sandbox/shop/customers",
                "sandbox",
                "shop",
                OutboxSource(batch=3),
                CompiledEvent.of(customer_created),
                bus,
                running.hub.store.dead_letters,
            )
            with pytest.raises(Crash):
                await relay(DiesAfterPublishing(running.hub.bus)).round(connector.runner)
            assert await outbox_rows(engine) == 5  # published, never deleted
            first = await events.take(3)
            again = relay(running.hub.bus)  # the hub started again
            assert await again.round(connector.runner) == 3
            assert await again.round(connector.runner) == 2
            assert await again.round(connector.runner) == 0
            rest = await events.take(5)
            await events.nothing_more()
        assert await outbox_rows(engine) == 0
    finally:
        await engine.dispose()
    ids = [orjson.loads(d.message.body)["id"] for d in first + rest]
    subjects = [orjson.loads(d.message.body)["subject"] for d in first + rest]
    assert ids[:3] == ids[3:6]  # the same rows again, with the same event ids
    assert len(set(ids)) == 5
    assert subjects == ["c-0", "c-1", "c-2", "c-0", "c-1", "c-2", "c-3", "c-4"]


@pytest.mark.parametrize(
    "shop", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_rows_written_while_the_relaying_hub_is_killed_arrive_once(
    shop: str, tmp_path: Path, ledger: tuple[Ledger, str]
) -> None:
    """1,500 transactions each write an outbox row — every tenth rolled back — while
    the hub relaying the outbox is SIGKILLed twice and started again (on PostgreSQL;
    the tests above run MariaDB too): the receiver's ledger holds each committed row's
    event exactly once, and none of a rolled-back transaction."""
    sink, sink_url = ledger
    run = secrets.token_hex(3)
    event_type = f"ledger-{run}"
    home = tmp_path / "hub"
    home.mkdir()
    shop_db = {
        "kind": "Connection",
        "metadata": {"name": "shop", "environment": "sandbox"},
        "spec": {
            "system": "shop",
            "connector": "sql",
            "config": {"url": shop, "allowPrivateNetwork": True},
            "triggers": [
                {"name": "ledger", "eventType": event_type, "outbox": {"pollSeconds": 0.05}}
            ],
        },
    }
    system = {"kind": "System", "metadata": {"name": "shop", "owner": "finance"}}
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "ledger.yaml").write_text(
        "\n---\n".join([project(event_type, sink_url), *map(_json, (system, shop_db))])
    )
    isthmus("apply", str(tmp_path / "project"), home=home)
    isthmus("secret", "set", "sink", "--value", SECRET, home=home)
    env = {**os.environ, "ISTHMUS_TRIGGER_LEASE_SECONDS": "1", "ISTHMUS_ACCESS_LOG": "false"}
    hub = Hub(home, env)
    engine = create_async_engine(shop)
    committed = [seq for seq in range(ROWS) if seq % 10 != 9]
    try:
        await hub.start()
        writing = asyncio.create_task(write_ledger(engine, event_type))
        await until(lambda: len(sink.applied) >= 400, hub)
        await hub.kill_and_restart()
        await until(lambda: len(sink.applied) >= 900, hub)
        await hub.kill_and_restart()
        await writing
        await until(lambda: len(sink.applied) >= len(committed), hub)
        await asyncio.sleep(0.5)  # anything more would show now
        left = await outbox_rows(engine)
    finally:
        hub.stop()
        await engine.dispose()
    assert sorted(sink.applied) == committed  # none missing, none rolled back
    assert [seq for seq, times in sink.applied.items() if times > 1] == []
    assert left == 0
    assert hub.kills == 2


ROWS = 1_500


def _json(resource: dict[str, Any]) -> str:
    return orjson.dumps(resource).decode()


async def write_ledger(engine: AsyncEngine, event_type: str) -> None:
    """The application: each entry in its own transaction, every tenth rolled back."""
    for seq in range(ROWS):
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(
                sa.text(
                    "INSERT INTO isthmus_outbox (event_type, subject, payload) "
                    "VALUES (:type, :subject, :payload)"
                ),
                {"type": event_type, "subject": str(seq), "payload": f'{{"seq": {seq}}}'},
            )
            await (transaction.rollback() if seq % 10 == 9 else transaction.commit())
        if seq % 50 == 0:
            await asyncio.sleep(0.01)  # writing goes on while the hub is killed


__all__ = ["ledger"]  # the idempotent receiver fixture, used here too
