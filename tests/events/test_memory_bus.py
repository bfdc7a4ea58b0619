"""The in-memory bus, found through the isthmus.buses entry point."""

from __future__ import annotations

import asyncio

import pytest

from isthmus.events.registry import UnknownBus, bus_type, names


async def test_fan_out_to_every_subscriber_in_order() -> None:
    assert "memory" in names()
    async with bus_type("memory").open({}) as bus:
        first, second = bus.subscribe("orders"), bus.subscribe("orders")
        other = bus.subscribe("invoices")
        got_first = asyncio.ensure_future(anext(first))
        got_second = asyncio.ensure_future(anext(second))
        got_other = asyncio.ensure_future(anext(other))
        await asyncio.sleep(0)
        await bus.publish("orders", b"1", {"ce-type": "order.created"})
        await bus.publish("orders", b"2")
        assert (await got_first).body == b"1"
        assert (await got_second).headers == {"ce-type": "order.created"}
        assert (await anext(first)).body == b"2"
        assert not got_other.done()
        got_other.cancel()
        await first.aclose()
        await second.aclose()


async def test_a_full_subscriber_applies_back_pressure() -> None:
    async with bus_type("memory").open({"queueSize": 1}) as bus:
        slow = bus.subscribe("t")
        started = asyncio.ensure_future(anext(slow))
        await asyncio.sleep(0)
        await bus.publish("t", b"a")  # taken by the waiting subscriber
        await asyncio.sleep(0)
        await bus.publish("t", b"b")  # fills the queue
        blocked = asyncio.ensure_future(bus.publish("t", b"c"))
        await asyncio.sleep(0.05)
        assert not blocked.done()  # waits instead of dropping
        assert (await started).body == b"a"
        assert (await anext(slow)).body == b"b"
        await asyncio.wait_for(blocked, 1)
        assert (await anext(slow)).body == b"c"
        await slow.aclose()


def test_unknown_bus_names_the_installed_ones() -> None:
    with pytest.raises(UnknownBus, match="memory"):
        bus_type("kafka-nope")
