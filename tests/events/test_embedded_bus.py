"""The embedded bus passes the bus contract on SQLite and PostgreSQL, and survives a
restart of the process that held its messages."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from isthmus.events.base import BusType, Message
from isthmus.events.registry import bus_type
from isthmus.testing.buses import BusContract, take


class TestEmbeddedBus(BusContract):
    @pytest.fixture
    def bus_type(self) -> BusType:  # type: ignore[override]
        return bus_type("embedded")

    @pytest.fixture
    def bus_config(self, store_url: str) -> Mapping[str, Any]:  # type: ignore[override]
        return {"url": store_url, "redeliverAfterSeconds": 1.0, "pollSeconds": 0.05}


async def test_delivered_messages_are_swept_and_held_ones_kept(store_url: str) -> None:
    async with bus_type("embedded").open({"url": store_url}) as bus:
        await bus.declare("sweep", "a")
        await bus.publish([Message("sweep", str(i).encode()) for i in range(10)])
        consumer = bus.consume("sweep", "a")
        got = await take(consumer, 10)
        for delivery in got[:6]:
            await delivery.ack()
        await consumer.aclose()  # type: ignore[attr-defined]
        assert await bus.sweep() == 6  # the four held are kept for redelivery
        await bus.publish([Message("orphan", b"x")])  # a topic no group reads
        assert await bus.sweep() == 1
