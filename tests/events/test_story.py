"""The pattern's story: a low-code workflow publishes CustomerCreated once through the
gateway; billing (a webhook), marketing (a connector operation) and the success
dashboard (a webhook) each receive it. Then a fourth consumer is added by applying one
more resource — the publisher unchanged — and receives the next event."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from isthmus.store import Change
from tests.connectors.fakes.common import running as serving
from tests.events.test_subscriptions import SECRET, Receiver, publish, until, until_async
from tests.gateway.conftest import Running, resource


def subscription(name: str, target: dict[str, Any]) -> Any:
    return resource(
        {
            "kind": "Subscription",
            "metadata": {"name": name, "environment": "sandbox", "owner": f"{name}-team"},
            "spec": {"eventType": "customer-created", **target},
        }
    )


def webhook(url: str) -> dict[str, Any]:
    hook = {"url": url, "secret": "secret://hook-secret", "allowPrivateNetwork": True}
    return {"webhook": hook}


async def test_customer_created_reaches_three_consumers_then_a_fourth(
    running: Running, events: object
) -> None:
    billing, dashboard, analytics = Receiver(), Receiver(), Receiver()
    apps = []
    for receiver in (billing, dashboard, analytics):
        app = web.Application()
        app.router.add_post("/hooks", receiver.handle)
        apps.append(app)
    async with serving(apps[0]) as b, serving(apps[1]) as d, serving(apps[2]) as a:
        await running.hub.vault.set("hook-secret", SECRET)
        marketing = {"operation": {"connection": "stock", "operation": "items.create",
                                   "mapping": '{"sku": data.id, "qty": 1}'}}  # fmt: skip
        three = [
            subscription("billing", webhook(b + "/hooks")),
            subscription("marketing", marketing),
            subscription("dashboard", webhook(d + "/hooks")),
        ]
        await running.hub.store.resources.apply([Change("create", s.key, s) for s in three])
        await running.hub.snapshots.refresh()

        await publish(running, "c-100")  # once

        async def in_marketing(sku: str) -> int:
            return (await running.get(f"/stock/v1/items/{sku}", running.key)).status

        await until(lambda: len(billing.events) == 1 and len(dashboard.events) == 1)
        await until_async(lambda: in_marketing("c-100"), lambda status: status == 200)
        assert billing.events[0]["id"] == dashboard.events[0]["id"]  # the same event

        # a fourth consumer: one more resource applied; the hub picks it up by itself
        fourth = subscription("analytics", webhook(a + "/hooks"))
        await running.hub.store.resources.apply([Change("create", fourth.key, fourth)])
        await until(lambda: ("Subscription", "analytics") in _delivering(running), 5.0)

        await publish(running, "c-101")  # the publisher is the same as before
        await until(
            lambda: (len(analytics.events), len(billing.events), len(dashboard.events)) == (1, 2, 2)
        )
        await until_async(lambda: in_marketing("c-101"), lambda status: status == 200)
        assert analytics.events[0]["subject"] == "c-101"  # from when it was added on
        assert [e["subject"] for e in dashboard.events] == ["c-100", "c-101"]
        await asyncio.sleep(0.2)
        assert len(billing.events) == 2  # once each, no more


def _delivering(running: Running) -> set[tuple[str, str]]:
    return {(k.kind, k.name) for k in running.hub.deliveries.deliverers}
