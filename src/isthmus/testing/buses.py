"""The bus contract: what the hub relies on from every bus, built-in or third-party.

Subclass :class:`BusContract` and provide a ``bus_config`` fixture (the config that
opens your bus against a live broker, with a short ``redeliverAfterSeconds`` where the
bus has one); pytest collects the tests. Each test uses topics and groups of its own.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest

from isthmus.events.base import Bus, BusType, Delivery, Message

WAIT = 10.0  # seconds a test waits for what it expects


class Inbox:
    """A consumer read on a task of its own, so a test can wait for deliveries and for
    their absence without closing the consumer (cancelling an async generator's step
    would end it)."""

    def __init__(self, deliveries: AsyncIterator[Delivery]) -> None:
        self._deliveries = deliveries
        self._queue: asyncio.Queue[Delivery] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._pull())

    async def _pull(self) -> None:
        async for delivery in self._deliveries:
            await self._queue.put(delivery)

    async def take(self, count: int) -> list[Delivery]:
        """The next ``count`` deliveries, or a failure naming how many came."""
        got: list[Delivery] = []
        try:
            async with asyncio.timeout(WAIT):
                while len(got) < count:
                    got.append(await self._queue.get())
        except TimeoutError:
            pytest.fail(f"expected {count} deliveries within {WAIT:g} s, got {len(got)}")
        return got

    async def nothing_more(self, seconds: float = 0.5) -> None:
        try:
            extra = await asyncio.wait_for(self._queue.get(), seconds)
        except TimeoutError:
            return
        pytest.fail(f"an unexpected delivery: {extra.message.body!r}")

    async def close(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._deliveries.aclose()  # type: ignore[attr-defined]


async def take(deliveries: AsyncIterator[Delivery], count: int) -> list[Delivery]:
    """The next ``count`` deliveries of a consumer used once (closes nothing)."""
    got: list[Delivery] = []
    try:
        async with asyncio.timeout(WAIT):
            async for delivery in deliveries:
                got.append(delivery)
                if len(got) == count:
                    break
    except TimeoutError:
        pytest.fail(f"expected {count} deliveries within {WAIT:g} s, got {len(got)}")
    return got


def messages(topic: str, count: int, prefix: str = "m") -> list[Message]:
    return [
        Message(topic, f"{prefix}{i}".encode(), {"ce-id": f"{prefix}{i}"}, key=f"k{i % 3}")
        for i in range(count)
    ]


class BusContract:
    """Inherit and define a ``bus_type`` and a ``bus_config`` fixture."""

    @pytest.fixture
    def bus_type(self) -> BusType:
        raise pytest.UsageError("define a 'bus_type' fixture in the subclass")

    @pytest.fixture
    def bus_config(self) -> Mapping[str, Any]:
        raise pytest.UsageError("define a 'bus_config' fixture in the subclass")

    @pytest.fixture
    async def bus(self, bus_type: BusType, bus_config: Mapping[str, Any]) -> AsyncIterator[Bus]:
        async with bus_type.open(bus_config) as opened:
            yield opened

    @pytest.fixture
    def topic(self) -> str:
        return f"contract.{secrets.token_hex(4)}"

    async def test_a_group_gets_what_was_published_after_it_was_declared(
        self, bus: Bus, topic: str
    ) -> None:
        await bus.publish(messages(topic, 2, "before"))  # nobody's yet: kept for no one
        await bus.declare(topic, "billing")
        sent = messages(topic, 20)
        await bus.publish(sent)
        consumer = Inbox(bus.consume(topic, "billing"))
        got = await consumer.take(20)
        assert [d.message.body for d in got] == [m.body for m in sent]  # in order
        assert got[0].message.headers["ce-id"] == "m0"
        assert got[4].message.key == "k1"
        assert all(d.redelivered == 0 for d in got)
        for delivery in got:
            await delivery.ack()
        await consumer.nothing_more()
        await consumer.close()
        await bus.forget(topic, "billing")

    async def test_every_group_gets_every_message(self, bus: Bus, topic: str) -> None:
        for group in ("billing", "marketing"):
            await bus.declare(topic, group)
        await bus.publish(messages(topic, 5))
        for group in ("billing", "marketing"):
            consumer = Inbox(bus.consume(topic, group))
            got = await consumer.take(5)
            assert sorted(d.message.body for d in got) == [f"m{i}".encode() for i in range(5)]
            for delivery in got:
                await delivery.ack()
            await consumer.close()
            await bus.forget(topic, group)

    async def test_members_of_a_group_share_its_messages(self, bus: Bus, topic: str) -> None:
        await bus.declare(topic, "workers")
        await bus.publish(messages(topic, 60))
        seen: list[bytes] = []
        per_member: list[int] = [0, 0]

        async def member(number: int) -> None:
            async for delivery in bus.consume(topic, "workers", prefetch=5):
                seen.append(delivery.message.body)
                per_member[number] += 1
                await delivery.ack()
                await asyncio.sleep(0.005)  # work takes time: the other member gets some
                if len(seen) >= 60:
                    return

        members = [asyncio.ensure_future(member(number)) for number in range(2)]
        done, _ = await asyncio.wait(members, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        assert done, f"only {len(seen)} of 60 arrived"
        for running in members:
            running.cancel()
        await asyncio.gather(*members, return_exceptions=True)
        assert sorted(seen) == sorted(m.body for m in messages(topic, 60))  # each exactly once
        assert min(per_member) > 0, per_member  # both members took a share
        await bus.forget(topic, "workers")

    async def test_a_nacked_message_comes_again(self, bus: Bus, topic: str) -> None:
        await bus.declare(topic, "billing")
        await bus.publish(messages(topic, 1))
        consumer = Inbox(bus.consume(topic, "billing"))
        (first,) = await consumer.take(1)
        await first.nack()
        (again,) = await consumer.take(1)
        assert again.message.body == first.message.body
        assert again.redelivered >= 1
        await again.nack(delay=0.6)
        await consumer.nothing_more(0.3)  # not before the delay
        (third,) = await consumer.take(1)
        assert third.message.body == b"m0"
        await third.ack()
        await consumer.nothing_more()
        await consumer.close()
        await bus.forget(topic, "billing")

    async def test_what_a_stopped_member_held_goes_to_the_next(self, bus: Bus, topic: str) -> None:
        await bus.declare(topic, "billing")
        await bus.publish(messages(topic, 3))
        first = Inbox(bus.consume(topic, "billing"))
        held = await first.take(3)
        await held[0].ack()
        await first.close()  # two left unacked
        second = Inbox(bus.consume(topic, "billing"))
        again = await second.take(2)
        assert sorted(d.message.body for d in again) == [b"m1", b"m2"], [
            d.message.body for d in again
        ]
        for delivery in again:
            await delivery.ack()
        await second.nothing_more()
        await second.close()
        await bus.forget(topic, "billing")

    async def test_what_a_killed_member_held_goes_to_the_next(
        self, bus: Bus, bus_type: BusType, bus_config: Mapping[str, Any], topic: str
    ) -> None:
        """A member in another process takes three messages and is killed (SIGKILL)
        before it acks: they reach the next member (after the bus's redelivery time)."""
        await bus.declare(topic, "billing")
        await bus.publish(messages(topic, 3))
        member = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "isthmus.testing.bus_member",
            bus_type.name,
            orjson.dumps(dict(bus_config)).decode(),
            topic,
            "billing",
            "3",
            stdout=asyncio.subprocess.PIPE,
        )
        assert member.stdout is not None
        try:
            said = await asyncio.wait_for(member.stdout.readline(), WAIT)
            assert said == b"held\n"
        finally:
            member.send_signal(signal.SIGKILL)
            await member.wait()
        survivor = Inbox(bus.consume(topic, "billing"))
        again = await survivor.take(3)
        assert sorted(d.message.body for d in again) == [b"m0", b"m1", b"m2"]
        assert all(d.redelivered >= 1 for d in again)
        for delivery in again:
            await delivery.ack()
        await survivor.nothing_more()
        await survivor.close()
        await bus.forget(topic, "billing")

    async def test_messages_are_kept_across_a_reconnect(
        self, bus_type: BusType, bus_config: Mapping[str, Any], topic: str
    ) -> None:
        async with bus_type.open(bus_config) as bus:
            await bus.declare(topic, "billing")
            await bus.publish(messages(topic, 3))
        async with bus_type.open(bus_config) as bus:
            consumer = Inbox(bus.consume(topic, "billing"))
            got = await consumer.take(3)
            assert [d.message.body for d in got] == [b"m0", b"m1", b"m2"]
            for delivery in got:
                await delivery.ack()
            await consumer.close()
            await bus.forget(topic, "billing")

    async def test_a_large_batch_arrives_exactly_once_when_acked(
        self, bus: Bus, topic: str
    ) -> None:
        await bus.declare(topic, "ledger")
        sent = messages(topic, 2000)
        await bus.publish(sent)
        consumer = Inbox(bus.consume(topic, "ledger", prefetch=256))
        got: list[Delivery] = []
        while len(got) < 2000:  # acked as they come: a bus may hand out only its prefetch
            batch = await consumer.take(min(100, 2000 - len(got)))
            for delivery in batch:
                await delivery.ack()
            got += batch
        assert sorted(d.message.body for d in got) == sorted(m.body for m in sent)
        await consumer.nothing_more()
        await consumer.close()
        await bus.forget(topic, "ledger")

    async def test_a_forgotten_group_keeps_nothing(self, bus: Bus, topic: str) -> None:
        await bus.declare(topic, "gone")
        await bus.forget(topic, "gone")
        await bus.publish(messages(topic, 2))
        await bus.declare(topic, "gone")  # declared anew: starts from now
        await bus.publish(messages(topic, 1, "after"))
        consumer = Inbox(bus.consume(topic, "gone"))
        (only,) = await consumer.take(1)
        assert only.message.body == b"after0"
        await only.ack()
        await consumer.nothing_more()
        await consumer.close()
        await bus.forget(topic, "gone")
