"""Delivering events to Subscriptions: one consumer group per Subscription on its
EventType's topic, at least once.

Each event is filtered (JSONata over the CloudEvent), then POSTed to the webhook as the
structured CloudEvent, signed as Standard Webhooks has it, its ``webhook-id`` the
event's id so a receiver can ignore a redelivery — or handed to a connector operation
with an idempotency key made of the event's id and the Subscription. A 2xx (or an
operation that returns) acks it. Anything else — an
error status, a refused address, a timeout — nacks it to come back after the
Subscription's backoff; after the last attempt it goes to the dead letters with the
error and is acked, so the events behind it keep flowing. A dead letter replays at
most once. Outbound calls go through the hub's HTTP client: the address policy holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from yarl import URL

from isthmus.connectors.base import SecretResolver
from isthmus.connectors.http import Limits, OriginPools
from isthmus.errors import IsthmusError
from isthmus.events.base import Bus, Delivery
from isthmus.events.naming import STRUCTURED, topic_of
from isthmus.events.webhooks import signed_headers
from isthmus.gateway.pool import ConnectionPool
from isthmus.mapping import Mapping as Jsonata
from isthmus.mapping import MappingError
from isthmus.model import ResourceKey, Subscription
from isthmus.model.subscription import Retry
from isthmus.store.dead_letters import DeadLetterRepository

log = structlog.get_logger(__name__)

# the wait before a failed consumer (or trigger) works again: 0.2 s, doubling up to 30 s
RESTART = Retry(initial_delay_seconds=0.2, max_delay_seconds=30.0)


class DeliveryFailed(Exception):
    """Why one attempt did not deliver: said in the dead letter, never to a caller."""


def group_of(subscription: Subscription) -> str:
    return f"subscription.{subscription.metadata.name}"


@dataclass
class _Running:
    deliverer: Deliverer
    task: asyncio.Task[None]


class Deliverer:
    """Delivers one Subscription's events; its config is fixed for its lifetime."""

    def __init__(
        self,
        subscription: Subscription,
        secrets: SecretResolver,
        dead: DeadLetterRepository,
        connections: ConnectionPool,
    ) -> None:
        self.subscription = subscription
        spec = subscription.spec
        self._secrets = secrets
        self._dead = dead
        self._connections = connections
        self._filter = Jsonata(spec.filter) if spec.filter else None
        mapping = spec.operation.mapping if spec.operation else None
        self._mapping = Jsonata(mapping) if mapping else None
        webhook = spec.webhook
        timeout = webhook.timeout_seconds if webhook else 10.0
        limits = Limits(
            connect_timeout=min(5.0, timeout), read_timeout=timeout, total_timeout=timeout
        )
        private = webhook.allow_private_network if webhook else False
        self._pools = OriginPools(allow_private=private, limits=limits)
        self._url = URL(webhook.url) if webhook else URL()

    async def close(self) -> None:
        await self._pools.close()

    def wanted(self, event: object) -> bool:
        if self._filter is None:
            return True
        try:
            return bool(self._filter(event))
        except MappingError:
            return False  # a filter that cannot judge an event does not let it through

    async def post(self, body: bytes, event: dict[str, Any]) -> None:
        """One attempt with ``body`` (``event`` parsed); raises :class:`DeliveryFailed`
        saying why it did not deliver."""
        event_id = str(event.get("id", ""))
        if self.subscription.spec.operation is not None:
            await self._call(event, event_id)
            return
        webhook = self.subscription.spec.webhook
        assert webhook is not None
        try:
            secret = await self._secrets.resolve(webhook.secret)
            headers = [
                (b"content-type", STRUCTURED),
                *signed_headers([secret], event_id, body),
            ]
            answer = await self._pools(self._url.origin()).request(
                "POST", self._url.raw_path_qs, headers, body
            )
        except IsthmusError as error:
            raise DeliveryFailed(f"{error.code}: {error.detail}") from None
        if not 200 <= answer.status < 300:
            raise DeliveryFailed(f"the receiver answered HTTP {answer.status}")

    async def _call(self, event: dict[str, Any], event_id: str) -> None:
        target = self.subscription.spec.operation
        assert target is not None
        meta = self.subscription.metadata
        try:
            payload = self._mapping(event) if self._mapping else event.get("data")
        except MappingError as error:
            raise DeliveryFailed(f"the mapping failed: {error}") from None
        key = ResourceKey("Connection", target.connection, meta.environment)
        try:
            connector = self._connections.get(key)
            await connector.call(
                target.operation,
                # as the gateway calls operations; the key is the same on every redelivery
                {"body": payload, "query": {}, "idempotencyKey": f"{event_id}:{meta.name}"},
            )
        except IsthmusError as error:
            raise DeliveryFailed(f"{error.code}: {error.detail}") from None

    async def handle(self, delivery: Delivery) -> None:
        body = delivery.message.body
        try:
            event = orjson.loads(body)
        except orjson.JSONDecodeError:
            event = None
        if not isinstance(event, dict) or not self.wanted(event):
            await delivery.ack()
            return
        attempt = delivery.redelivered + 1
        retry = self.subscription.spec.retry
        meta = self.subscription.metadata
        if attempt > retry.max_attempts:
            # a bus counts deliveries, and not every one was an attempt (a stopping member
            # hands back what it had not started): past the count, a dead letter already
            # there means its ack was lost; otherwise it gets one last attempt
            if await self._dead.waiting(meta.name, meta.environment, str(event.get("id", ""))):
                await delivery.ack()
                return
            attempt = retry.max_attempts
        while True:
            try:
                await self.post(body, event)
            except DeliveryFailed as failure:
                if attempt >= retry.max_attempts:
                    await self._dead_letter(delivery, event, failure, attempt)
                    return
                if not self.subscription.spec.ordered:
                    await delivery.nack(delay=retry.delay(attempt))  # the others flow meanwhile
                    return
                # in order: the next events of its key wait behind it, so it waits here
                await asyncio.sleep(retry.delay(attempt))
                attempt += 1
                continue
            await delivery.ack()
            return

    async def _dead_letter(
        self, delivery: Delivery, event: dict[str, Any], failure: DeliveryFailed, attempt: int
    ) -> None:
        meta = self.subscription.metadata
        event_id = str(event.get("id", ""))
        body = delivery.message.body
        await self._dead.add_once(
            meta.name, meta.environment, event_id, body, str(failure), attempt
        )
        log.warning(
            "subscription.dead_letter",
            subscription=meta.name,
            environment=meta.environment,
            event_id=event_id,
            attempts=attempt,
        )
        await delivery.ack()


class Lanes:
    """Runs up to ``concurrency`` deliveries at once; with ``ordered``, those of one key
    one after another in the order they came (a lane per key), the others beside them."""

    def __init__(self, deliverer: Deliverer, concurrency: int, ordered: bool) -> None:
        self._deliverer = deliverer
        self._slots = asyncio.Semaphore(concurrency)
        self._ordered = ordered
        self._tails: dict[str | None, asyncio.Task[None]] = {}  # the last delivery of each key
        self._running: set[asyncio.Task[None]] = set()

    async def add(self, delivery: Delivery) -> None:
        """Start ``delivery``: it takes a slot once its key's previous event has settled,
        so a key held up by retries keeps no slot from other keys (the bus's prefetch
        bounds how many wait)."""
        key = delivery.message.key if self._ordered else None
        before = self._tails.get(key) if self._ordered else None
        task = asyncio.create_task(self._run(delivery, before))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        if self._ordered:
            self._tails[key] = task
            task.add_done_callback(lambda done: self._forget_tail(key, done))

    def _forget_tail(self, key: str | None, done: asyncio.Task[None]) -> None:
        if self._tails.get(key) is done:
            del self._tails[key]

    async def _run(self, delivery: Delivery, before: asyncio.Task[None] | None) -> None:
        if before is not None:
            await asyncio.wait([before])  # its key's previous event is settled first
        async with self._slots:
            try:
                await self._deliverer.handle(delivery)
            except Exception:
                # the store, the bus or a connector failed mid-delivery: the event comes
                # again after the Subscription's backoff (at least once)
                log.exception("subscription.delivery_crashed")
                retry = self._deliverer.subscription.spec.retry
                with contextlib.suppress(Exception):
                    await delivery.nack(delay=retry.delay(delivery.redelivered + 1))

    async def drain(self) -> None:
        """Wait for the deliveries in progress to settle."""
        await asyncio.gather(*self._running, return_exceptions=True)

    async def aclose(self) -> None:
        for task in list(self._running):
            task.cancel()
        await self.drain()


class SubscriptionWorker:
    """Runs a Deliverer per Subscription, started, replaced and stopped as they change."""

    def __init__(
        self,
        bus: Bus,
        secrets: SecretResolver,
        dead: DeadLetterRepository,
        connections: ConnectionPool,
    ) -> None:
        self._bus = bus
        self._secrets = secrets
        self._dead = dead
        self._connections = connections
        self._running: dict[ResourceKey, _Running] = {}
        self._declared: dict[ResourceKey, Subscription] = {}  # groups kept, paused or not
        self.restarts = 0  # consumers started again after a failure: a counter tests read

    @property
    def deliverers(self) -> dict[ResourceKey, Deliverer]:
        """The Subscriptions delivering now (not paused)."""
        return {key: running.deliverer for key, running in self._running.items()}

    async def sync(self, subscriptions: Mapping[ResourceKey, Subscription]) -> None:
        for key, subscription in subscriptions.items():
            if self._declared.get(key) == subscription:
                continue
            if key in self._running:
                await self._stop(key)
            topic = topic_of(subscription.metadata.environment, subscription.spec.event_type)
            # declared now, so what is published from now on is kept for it, paused or not
            await self._bus.declare(topic, group_of(subscription))
            self._declared[key] = subscription
            if not subscription.spec.paused:
                self._start(key, subscription, topic)
        for key in [k for k in self._declared if k not in subscriptions]:
            gone = self._declared.pop(key)  # running or paused: its group goes with it
            await self._stop(key)
            topic = topic_of(gone.metadata.environment, gone.spec.event_type)
            await self._bus.forget(topic, group_of(gone))

    def _start(self, key: ResourceKey, subscription: Subscription, topic: str) -> None:
        deliverer = Deliverer(subscription, self._secrets, self._dead, self._connections)

        async def run() -> None:
            failures = 0
            spec = subscription.spec
            prefetch = max(64, 2 * spec.concurrency)
            lanes = Lanes(deliverer, spec.concurrency, spec.ordered)
            try:
                while True:
                    consumed = self._bus.consume(topic, group_of(subscription), prefetch)
                    failure: Exception | None = None
                    async with contextlib.aclosing(consumed):  # type: ignore[type-var]
                        try:
                            async for delivery in consumed:
                                await lanes.add(delivery)
                                failures = 0
                        except Exception as error:
                            failure = error
                        # what is in progress finishes before consuming again; its acks
                        # may no longer reach a bus whose consumer failed, and then those
                        # events come again (at least once)
                        await lanes.drain()
                    # a broker or store hiccup must not stop a Subscription for good: what
                    # it held went back to the group, and it consumes again
                    failures += 1
                    pause = RESTART.delay(failures)
                    log.warning(
                        "subscription.consumer_failed",
                        subscription=subscription.metadata.name,
                        environment=subscription.metadata.environment,
                        error=type(failure).__name__ if failure else "the consumer ended",
                        retry_in=pause,
                        exc_info=failure,
                    )
                    self.restarts += 1
                    await asyncio.sleep(pause)
            finally:
                await lanes.aclose()
                await deliverer.close()

        task = asyncio.create_task(run(), name=f"deliver:{key}")
        self._running[key] = _Running(deliverer, task)

    async def _stop(self, key: ResourceKey) -> None:
        running = self._running.pop(key, None)
        if running is not None:
            running.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await running.task

    async def aclose(self) -> None:
        for key in list(self._running):
            await self._stop(key)
