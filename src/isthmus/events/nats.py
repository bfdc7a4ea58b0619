"""The ``nats`` bus, on nats-py and JetStream: one stream, a durable pull consumer per group.

Every topic is a subject under ``isthmus.`` in one stream (``ISTHMUS_EVENTS``, kept on
disk); a group is a durable pull consumer filtered to its topic's subject, so each group
gets every message and its members fetch from it in turn. Publishing waits for
JetStream's ack; many publishes are in flight at once. A message not acked within
``redeliverAfterSeconds`` (a member died, a connection dropped) is delivered again;
``nak`` with a delay is JetStream's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

import structlog

from isthmus.events.base import Bus, Delivery, Message, checked_name
from isthmus.events.clients import client_of

log = structlog.get_logger(__name__)
STREAM = "ISTHMUS_EVENTS"
KEY = "Isthmus-Key"
# How long one pull request waits on the server for messages. A fetch returns as soon as
# messages are there; at 0.25 s a member starved of CPU missed what was redelivered to it
# (1 run in 5 of the killed-member contract test under load), at 1 s none in 12.
FETCH_WAIT = 1.0


def _subject(topic: str) -> str:
    return f"isthmus.{checked_name('topic', topic)}"


def _durable(topic: str, group: str) -> str:
    # durable names take no '.', '*' or '>'; the digest keeps 'a.b' and 'a_b' apart
    name = f"{checked_name('group', group)}--{topic}"
    digest = hashlib.sha256(f"{topic}\n{group}".encode()).hexdigest()[:10]
    return f"{name.replace('.', '_')}--{digest}"


class NatsDelivery(Delivery):
    __slots__ = ("_held", "_msg")

    def __init__(self, msg: Any, topic: str, held: set[NatsDelivery]) -> None:
        headers = dict(msg.headers or {})
        key = headers.pop(KEY, None)
        super().__init__(Message(topic, msg.data, headers, key), msg.metadata.num_delivered - 1)
        self._msg = msg
        self._held = held
        held.add(self)

    async def ack(self) -> None:
        self._held.discard(self)
        await self._msg.ack()

    async def nack(self, delay: float = 0.0) -> None:
        self._held.discard(self)
        await self._msg.nak(delay=delay if delay > 0 else None)


class NatsBus(Bus):
    def __init__(self, url: str, redeliver_after: float) -> None:
        self._url = url
        self._redeliver_after = redeliver_after
        self._nc: Any = None
        self._js: Any = None

    async def __aenter__(self) -> NatsBus:
        nats = client_of("nats")
        self._nc = await nats.connect(self._url, max_reconnect_attempts=-1, name="isthmus")
        self._js = self._nc.jetstream()
        api = nats.js.api
        # interest retention: a message is kept while a group has yet to ack it, and
        # not at all when no group is declared (as on every bus)
        config = api.StreamConfig(
            name=STREAM,
            subjects=["isthmus.>"],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.INTEREST,
        )
        try:
            found = await self._js.stream_info(STREAM)
        except nats.js.errors.NotFoundError:
            await self._js.add_stream(config)
        else:
            if found.config.retention != api.RetentionPolicy.INTEREST:
                # JetStream cannot change a stream's retention: say what to do
                log.warning(
                    "bus.nats_stream_keeps_everything",
                    stream=STREAM,
                    remediation="delete the stream once drained ('nats stream rm "
                    f"{STREAM}'); the hub recreates it with interest retention",
                )
        return self

    async def close(self) -> None:
        if self._nc is not None:
            # not drain(): every publish has waited for its JetStream ack, so nothing is
            # left to flush, and a drain can wait out its whole timeout on a pull
            # subscription's pending request after a reconnect
            await self._nc.close()

    async def publish(self, messages: Sequence[Message]) -> None:
        sent = []
        for m in messages:
            headers = dict(m.headers)
            if m.key is not None:
                headers[KEY] = m.key
            sent.append(self._js.publish(_subject(m.topic), m.body, headers=headers or None))
        await asyncio.gather(*sent)  # the acks in flight together

    async def declare(self, topic: str, group: str) -> None:
        api = client_of("nats").js.api
        name = _durable(topic, group)
        try:
            await self._js.consumer_info(STREAM, name)
            return
        except client_of("nats").js.errors.NotFoundError:
            pass
        await self._js.add_consumer(
            STREAM,
            api.ConsumerConfig(
                durable_name=name,
                filter_subject=_subject(topic),
                ack_policy=api.AckPolicy.EXPLICIT,
                deliver_policy=api.DeliverPolicy.NEW,
                ack_wait=self._redeliver_after,
                max_ack_pending=-1,
            ),
        )

    async def consume(self, topic: str, group: str, prefetch: int = 64) -> AsyncIterator[Delivery]:
        nats = client_of("nats")
        await self.declare(topic, group)
        pull = await self._js.pull_subscribe_bind(durable=_durable(topic, group), stream=STREAM)
        held: set[NatsDelivery] = set()
        try:
            while True:
                room = prefetch - len(held)
                if room <= 0:
                    await asyncio.sleep(0.005)
                    continue
                try:
                    batch = await pull.fetch(batch=room, timeout=FETCH_WAIT)
                except nats.errors.TimeoutError:
                    continue
                for msg in batch:
                    yield NatsDelivery(msg, topic, held)
        finally:
            await asyncio.shield(self._hand_back(pull, held))

    async def _hand_back(self, pull: Any, held: set[NatsDelivery]) -> None:
        """A stopping member hands back what it held — once its last pull request has
        expired on the server, or that request could take what is handed back."""
        nats = client_of("nats")
        try:
            await pull.unsubscribe()
            if held:
                await asyncio.sleep(FETCH_WAIT)
                for delivery in list(held):
                    await delivery.nack()
        except (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError):
            pass  # the connection is gone: JetStream redelivers after redeliverAfterSeconds

    async def forget(self, topic: str, group: str) -> None:
        with contextlib.suppress(client_of("nats").js.errors.NotFoundError):
            await self._js.delete_consumer(STREAM, _durable(topic, group))


class NatsBusType:
    name: ClassVar[str] = "nats"
    summary: ClassVar[str] = "NATS JetStream: one stream, a durable pull consumer per group."
    extra: ClassVar[str] = "nats"

    def open(self, config: Mapping[str, Any]) -> Bus:
        return NatsBus(
            str(config.get("url", "nats://127.0.0.1:4222")),
            float(config.get("redeliverAfterSeconds", 30.0)),
        )
