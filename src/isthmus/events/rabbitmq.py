"""The ``rabbitmq`` bus, on aio-pika: a durable direct exchange, a quorum queue per group.

A topic is a routing key on one exchange (``isthmus.events``); a group is a quorum queue
(``isthmus:TOPIC:GROUP``) bound to it, so each group gets every message and its members
(consumers of the queue) share them. Publishing waits for the broker's confirm, and
messages are persistent. A robust connection reconnects by itself and restores its
queues and consumers; what a consumer held unacked when a connection dropped is
delivered again (the quorum queue counts deliveries in ``x-delivery-count``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from isthmus.events.base import Bus, Delivery, Message, checked_name
from isthmus.events.clients import client_of

if TYPE_CHECKING:
    import aio_pika
    from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

EXCHANGE = "isthmus.events"
QUORUM = {"x-queue-type": "quorum"}
CLOSE_SECONDS = 5.0  # how long a stopping consumer waits for the broker to close its channel


class RabbitDelivery(Delivery):
    __slots__ = ("_incoming",)

    def __init__(self, incoming: AbstractIncomingMessage) -> None:
        headers = {k: str(v) for k, v in (incoming.headers or {}).items() if k != "x-key"}
        key = incoming.headers.get("x-key") if incoming.headers else None
        message = Message(incoming.routing_key or "", incoming.body, headers, _text(key))
        count = incoming.headers.get("x-delivery-count", 0) if incoming.headers else 0
        super().__init__(message, int(count) if isinstance(count, int) else 0)
        self._incoming = incoming

    async def ack(self) -> None:
        await _settle(self._incoming.ack())

    async def nack(self, delay: float = 0.0) -> None:
        if delay <= 0:
            await _settle(self._incoming.nack(requeue=True))
            return
        # AMQP has no delayed requeue: the message is held, then handed back
        later = asyncio.ensure_future(self._later(delay))
        _HELD.add(later)
        later.add_done_callback(_HELD.discard)

    async def _later(self, delay: float) -> None:
        await asyncio.sleep(delay)
        await _settle(self._incoming.nack(requeue=True))


_HELD: set[asyncio.Future[None]] = set()  # delayed nacks, kept from the garbage collector


async def _settle(settling: Any) -> None:
    pika = client_of("rabbitmq")
    # a settle on a channel that is gone: the broker delivers it again (at least once)
    with contextlib.suppress(pika.exceptions.ChannelInvalidStateError, pika.exceptions.AMQPError):
        await settling


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _queue_name(topic: str, group: str) -> str:
    # ':' is in no topic or group name, so no two (topic, group) pairs share a queue
    return f"isthmus:{checked_name('topic', topic)}:{checked_name('group', group)}"


class RabbitBus(Bus):
    def __init__(self, url: str) -> None:
        self._url = url
        self._connection: AbstractRobustConnection | None = None
        self._exchange: aio_pika.abc.AbstractExchange | None = None

    async def __aenter__(self) -> RabbitBus:
        pika = client_of("rabbitmq")
        self._connection = await pika.connect_robust(self._url)
        channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await channel.declare_exchange(
            EXCHANGE, pika.ExchangeType.DIRECT, durable=True
        )
        return self

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()

    async def publish(self, messages: Sequence[Message]) -> None:
        assert self._exchange is not None
        pika = client_of("rabbitmq")
        persistent = pika.DeliveryMode.PERSISTENT
        confirms = []
        for m in messages:
            headers: dict[str, Any] = dict(m.headers)
            if m.key is not None:
                headers["x-key"] = m.key
            amqp = pika.Message(m.body, headers=headers, delivery_mode=persistent)
            confirms.append(
                self._exchange.publish(amqp, routing_key=checked_name("topic", m.topic))
            )
        await asyncio.gather(*confirms)  # every confirm in flight at once

    async def _queue(self, channel: Any, topic: str, group: str) -> Any:
        assert self._exchange is not None
        name = _queue_name(topic, group)
        queue = await channel.declare_queue(name, durable=True, arguments=QUORUM)
        await queue.bind(EXCHANGE, routing_key=topic)
        return queue

    async def declare(self, topic: str, group: str) -> None:
        assert self._connection is not None
        async with self._connection.channel() as channel:
            await self._queue(channel, topic, group)

    async def consume(self, topic: str, group: str, prefetch: int = 64) -> AsyncIterator[Delivery]:
        assert self._connection is not None
        channel = await self._connection.channel()
        # a plain consumer feeding a local queue, not aio-pika's QueueIterator: closing
        # that one waits on a basic.cancel reply that may never come (seen on shutdown)
        inbox: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        try:
            await channel.set_qos(prefetch_count=prefetch)
            queue = await self._queue(channel, topic, group)
            tag = await queue.consume(inbox.put)

            def cancelled(frame: Any) -> None:  # the broker ended it (its queue was deleted…)
                if frame.consumer_tag == tag:
                    inbox.put_nowait(None)

            (await channel.get_underlay_channel()).on_consumer_cancel_callbacks.add(cancelled)
            while (incoming := await inbox.get()) is not None:
                yield RabbitDelivery(incoming)
            raise ConnectionError("the broker cancelled the consumer")  # consumed again
        finally:
            # closing the channel ends the consumer; what it held unacked goes back to
            # the queue (and if the close is not answered, it goes back when the
            # connection closes)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(channel.close()), CLOSE_SECONDS)

    async def forget(self, topic: str, group: str) -> None:
        assert self._connection is not None
        async with self._connection.channel() as channel:
            await channel.queue_delete(_queue_name(topic, group))


class RabbitBusType:
    name: ClassVar[str] = "rabbitmq"
    summary: ClassVar[str] = "RabbitMQ: quorum queues per group, publisher confirms."
    extra: ClassVar[str] = "rabbitmq"

    def open(self, config: Mapping[str, Any]) -> Bus:
        return RabbitBus(str(config.get("url", "amqp://guest:guest@127.0.0.1:5672/")))
