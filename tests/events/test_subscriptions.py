"""Subscriptions deliver what Apps publish through the gateway to signed webhooks, at
least once: a receiver that fails is retried after a backoff, an event that never goes
through lands in the dead letters with its error while the others keep flowing, and a
dead letter replays once. A Subscription applied later receives the next event."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from isthmus.events.base import Bus, Delivery, Message
from isthmus.events.delivery import SubscriptionWorker
from isthmus.events.webhooks import SignatureRefused, new_secret, verify
from isthmus.store import Change
from tests.connectors.fakes.common import running as serving
from tests.events.test_asyncapi import official
from tests.gateway.conftest import Running, resource
from tests.helpers import assert_problem

SECRET = new_secret()


@dataclass
class Receiver:
    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)  # subjects answered with a 500
    fail_first: int = 0  # this many first attempts of every event fail
    slow: dict[str, int] = field(default_factory=dict)  # data.name -> first attempts that fail

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verify(SECRET, dict(request.headers), body)
        except SignatureRefused:
            return web.Response(status=401)
        event = orjson.loads(body)
        seen = self.attempts[event["id"]] = self.attempts.get(event["id"], 0) + 1
        if event.get("subject") in self.failing or seen <= self.fail_first:
            return web.Response(status=500, text="busy")
        if seen <= self.slow.get(event["data"].get("name"), 0):
            return web.Response(status=503, text="not yet")
        if request.headers["webhook-id"] != event["id"]:
            return web.Response(status=400)
        self.events.append(event)
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", state.handle)
    async with serving(app) as url:
        state.url = url + "/hooks"
        yield state


def subscription_of(name: str, url: str, **spec: Any) -> Any:
    return resource(
        {
            "kind": "Subscription",
            "metadata": {"name": name, "environment": "sandbox", "owner": "billing"},
            "spec": {
                "eventType": "customer-created",
                "webhook": {
                    "url": url,
                    "secret": "secret://hook-secret",
                    "allowPrivateNetwork": True,
                },
                "retry": {"maxAttempts": 3, "initialDelaySeconds": 0.05, "maxDelaySeconds": 0.2},
                **spec,
            },
        }
    )


async def subscribe(running: Running, name: str, url: str, **spec: Any) -> None:
    await running.hub.vault.set("hook-secret", SECRET)
    subscription = subscription_of(name, url, **spec)
    await running.hub.store.resources.apply([Change("create", subscription.key, subscription)])
    await running.hub.snapshots.refresh()


async def publish(running: Running, id: str, name: str = "Ada", tier: str = "gold") -> None:
    body = orjson.dumps({"id": id, "name": name, "email": f"{id}@example.test"})
    reply = await running.call(
        "POST",
        "/crm-events/v1/customers",
        running.key,
        headers={"Content-Type": "application/json"},
        body=body,
    )
    assert reply.status == 202, reply.body


async def until(condition: Any, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():
            await asyncio.sleep(0.02)


async def test_events_reach_a_signed_webhook_and_a_later_subscription_gets_the_next(
    running: Running, events: object, receiver: Receiver
) -> None:
    await subscribe(running, "billing", receiver.url)
    await publish(running, "c-1")
    await until(lambda: len(receiver.events) == 1)
    assert receiver.events[0]["data"]["id"] == "c-1"
    assert receiver.events[0]["type"] == "com.acme.crm.customer.created"
    # a new consumer, added by applying one more resource; the publisher is untouched
    second = Receiver()
    app = web.Application()
    app.router.add_post("/hooks", second.handle)
    async with serving(app) as url:
        await subscribe(running, "marketing", url + "/hooks", filter="$contains(subject, '2')")
        await publish(running, "c-2")
        await publish(running, "c-3")  # filtered out for marketing
        await until(lambda: len(second.events) == 1 and len(receiver.events) == 3)
    assert [e["subject"] for e in second.events] == ["c-2"]
    assert [e["subject"] for e in receiver.events] == ["c-1", "c-2", "c-3"]


async def test_failures_are_retried_then_dead_lettered_and_replayed_once(
    running: Running, events: object, receiver: Receiver
) -> None:
    receiver.fail_first = 1  # every event fails once, then goes through
    receiver.failing = {"poison"}
    await subscribe(running, "billing", receiver.url)
    await publish(running, "c-1")
    await publish(running, "poison")
    await publish(running, "c-2")
    await until(lambda: {e["subject"] for e in receiver.events} == {"c-1", "c-2"})
    letters = running.hub.store.dead_letters
    await until_async(lambda: letters.list("billing"), lambda found: len(found) == 1)
    (letter,) = await letters.list("billing")
    assert letter.attempts == 3
    assert "HTTP 500" in letter.error
    assert orjson.loads(letter.event)["subject"] == "poison"
    shown = await running.admin_call("GET", "/admin/v1/dead-letters", query="subscription=billing")
    assert shown.json()[0]["event"]["subject"] == "poison"
    receiver.failing.clear()  # the receiver is fixed
    replayed = await running.admin_call("POST", f"/admin/v1/dead-letters/{letter.id}/replay")
    assert replayed.json() == {"delivered": True}
    again = await running.admin_call("POST", f"/admin/v1/dead-letters/{letter.id}/replay")
    assert_problem(again, 409, "conflict")
    assert [e["subject"] for e in receiver.events].count("poison") == 1
    poison = orjson.loads(letter.event)["id"]
    assert receiver.attempts[poison] == 3 + 1  # three deliveries, then the one replay


async def until_async(fetch: Any, check: Any, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not check(await fetch()):
            await asyncio.sleep(0.05)


async def test_the_asyncapi_document_names_each_subscription(
    running: Running, events: object, receiver: Receiver
) -> None:
    await subscribe(running, "billing", receiver.url, filter="data.tier = 'gold'")
    document = (await running.admin_call("GET", "/admin/v1/asyncapi")).json()
    operation = document["operations"]["deliver-billing-sandbox"]
    assert operation["action"] == "receive"
    assert operation["channel"] == {"$ref": "#/channels/customer-created"}
    assert "data.tier = 'gold'" in operation["description"]
    assert list(official().iter_errors(document)) == []


async def test_an_operation_receives_the_mapped_event_with_an_idempotency_key(
    running: Running, events: object
) -> None:
    subscription = resource(
        {
            "kind": "Subscription",
            "metadata": {"name": "stock-mirror", "environment": "sandbox"},
            "spec": {
                "eventType": "customer-created",
                "operation": {
                    "connection": "stock",
                    "operation": "items.create",
                    "mapping": '{"sku": data.id, "qty": 1}',
                },
            },
        }
    )
    await running.hub.store.resources.apply([Change("create", subscription.key, subscription)])
    await running.hub.snapshots.refresh()
    await publish(running, "c-77")

    async def mirrored() -> int:
        return (await running.get("/stock/v1/items/c-77", running.key)).status

    await until_async(mirrored, lambda status: status == 200)
    item = (await running.get("/stock/v1/items/c-77", running.key)).json()
    assert item == {"sku": "c-77", "qty": 1}


class BreakingBus(Bus):
    """The hub's bus, except that the first consume breaks after handing out one event:
    the fault a dropped broker connection or a locked store causes."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.broke = False

    async def publish(self, messages: Sequence[Message]) -> None:
        await self.bus.publish(messages)

    async def declare(self, topic: str, group: str) -> None:
        await self.bus.declare(topic, group)

    async def consume(self, topic: str, group: str, prefetch: int = 64) -> AsyncIterator[Delivery]:
        async with contextlib.aclosing(self.bus.consume(topic, group, prefetch)) as inner:
            async for delivery in inner:
                yield delivery
                if not self.broke:
                    self.broke = True
                    raise ConnectionResetError("the connection to the bus dropped")

    async def forget(self, topic: str, group: str) -> None:
        await self.bus.forget(topic, group)

    async def close(self) -> None:
        pass


async def test_a_subscription_whose_bus_fails_consumes_again_and_loses_nothing(
    running: Running, events: object, receiver: Receiver
) -> None:
    hub = running.hub
    breaking = BreakingBus(hub.bus)
    worker = SubscriptionWorker(breaking, hub.vault, hub.store.dead_letters, hub.pool)
    await hub.vault.set("hook-secret", SECRET)
    subscription = subscription_of("billing", receiver.url)  # not applied: this worker alone
    await worker.sync({subscription.key: subscription})
    try:
        for n in range(5):
            await publish(running, f"c-{n}")
        await until(lambda: len({e["subject"] for e in receiver.events}) == 5)
    finally:
        await worker.aclose()
    assert breaking.broke
    assert worker.restarts == 1
    assert sorted({e["subject"] for e in receiver.events}) == [f"c-{n}" for n in range(5)]


async def test_a_paused_subscription_keeps_its_events_until_resumed(
    running: Running, events: object, receiver: Receiver
) -> None:
    await subscribe(running, "billing", receiver.url)
    where = "environment=sandbox"
    paused = await running.admin_call("POST", "/admin/v1/subscriptions/billing/pause", query=where)
    assert paused.json()["spec"]["paused"] is True
    await publish(running, "c-1")
    await publish(running, "c-2")
    await asyncio.sleep(0.5)
    assert receiver.events == []  # kept, not delivered
    stored = await running.admin_call("GET", "/admin/v1/subscriptions/billing", query=where)
    assert stored.json()["spec"]["paused"] is True  # what 'isthmus export' writes out
    resumed = await running.admin_call(
        "POST", "/admin/v1/subscriptions/billing/resume", query=where
    )
    assert "paused" not in resumed.json()["spec"]  # the default again
    await until(lambda: [e["subject"] for e in receiver.events] == ["c-1", "c-2"])
    missing = await running.admin_call("POST", "/admin/v1/subscriptions/nobody/pause", query=where)
    assert_problem(missing, 404, "not-found")


@pytest.mark.parametrize("ordered", [False, True])
async def test_ordered_subscriptions_keep_each_keys_order_through_retries(
    running: Running, events: object, receiver: Receiver, ordered: bool
) -> None:
    receiver.slow = {"first": 2}  # c-a's first event fails twice before it goes through
    await subscribe(running, "billing", receiver.url, ordered=ordered)
    await publish(running, "c-a", name="first")
    await publish(running, "c-a", name="second")
    await publish(running, "c-b", name="other")
    await until(lambda: len(receiver.events) == 3)
    got = [(e["subject"], e["data"]["name"]) for e in receiver.events]
    # another key never waits behind a failing one
    assert got.index(("c-b", "other")) < got.index(("c-a", "first"))
    if ordered:  # the key's second event waited for its first
        assert got.index(("c-a", "first")) < got.index(("c-a", "second"))
    else:  # without order, the second overtakes the first while that one is retried
        assert got.index(("c-a", "second")) < got.index(("c-a", "first"))


async def test_a_deleted_subscription_takes_its_group_with_it_even_when_paused(
    running: Running, events: object, receiver: Receiver
) -> None:
    import sqlalchemy as sa

    from isthmus.store.tables import bus_groups

    async def groups() -> list[str]:
        async with running.hub.store.engine.connect() as conn:
            found = await conn.execute(sa.select(bus_groups.c.name))
            return sorted(found.scalars())

    await subscribe(running, "billing", receiver.url, paused=True)
    assert "subscription.billing" in await groups()  # kept for it while paused
    key = subscription_of("billing", receiver.url).key
    await running.hub.store.resources.apply([Change("delete", key, None)])
    await running.hub.snapshots.refresh()
    assert "subscription.billing" not in await groups()  # nothing kept for no one


def test_a_subscription_delivers_to_exactly_one_target() -> None:
    from pydantic import ValidationError

    from isthmus.model import Subscription

    base = {
        "kind": "Subscription",
        "metadata": {"name": "x", "environment": "sandbox"},
        "spec": {"eventType": "customer-created"},
    }
    with pytest.raises(ValidationError, match="exactly one target"):
        Subscription.model_validate(base)
    both = {**base["spec"], "webhook": {"url": "https://h.example/x", "secret": "secret://s"},
            "operation": {"connection": "c", "operation": "o"}}  # fmt: skip
    with pytest.raises(ValidationError, match="exactly one target"):
        Subscription.model_validate({**base, "spec": both})
