"""Runs the triggers Connections declare: each outbox relay and each poller as a task,
started, replaced and stopped as the resources change — the same shape as the
Subscription worker. Webhook triggers need no task: the gateway receives them.

Each trigger holds a lease in the store while it works, so among several hubs on one
store one relays a given outbox (or polls a given stream); when that hub dies, another
takes over once the lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

from isthmus.connectors.sql.connector import SqlConnector
from isthmus.errors import ConfigurationError, IsthmusError
from isthmus.events.base import Bus
from isthmus.events.compose import CompiledEvent
from isthmus.events.delivery import RESTART
from isthmus.events.naming import trigger_name
from isthmus.events.outbox import OutboxRelay
from isthmus.events.poller import ROUND_LIMIT, Poller
from isthmus.gateway.pool import ConnectionPool
from isthmus.model import Connection, EventType, ResourceKey
from isthmus.model.trigger import Trigger
from isthmus.store.cursors import CursorRepository
from isthmus.store.dead_letters import DeadLetterRepository
from isthmus.store.leases import LeaseRepository

log = structlog.get_logger(__name__)


@dataclass
class _Running:
    fingerprint: tuple[Any, ...]
    task: asyncio.Task[None]


class TriggerWorker:
    def __init__(
        self,
        bus: Bus,
        connections: ConnectionPool,
        leases: LeaseRepository,
        dead: DeadLetterRepository,
        cursors: CursorRepository,
        lease_seconds: float,
    ) -> None:
        self._bus = bus
        self._connections = connections
        self._leases = leases
        self._dead = dead
        self._cursors = cursors
        self._lease_seconds = lease_seconds
        self._holder = uuid.uuid4().hex  # this hub process
        self._running: dict[str, _Running] = {}

    async def sync(
        self, connections: Mapping[ResourceKey, Connection], event_types: Mapping[str, EventType]
    ) -> None:
        wanted: dict[str, tuple[ResourceKey, Trigger, EventType]] = {}
        for key, connection in connections.items():
            for trigger in connection.spec.triggers:
                event_type = event_types.get(trigger.event_type)
                if trigger.source == "webhook" or event_type is None:
                    continue
                name = trigger_name(key.environment or "", key.name, trigger.name)
                wanted[name] = (key, trigger, event_type)
        for name in [n for n in self._running if n not in wanted]:
            await self._stop(name)
        for name, (key, trigger, event_type) in wanted.items():
            # a changed Connection config reopens the connector in the pool; the task
            # asks the pool each round, so only the trigger's own spec restarts it
            fingerprint = (key, trigger, event_type.latest().version)
            current = self._running.get(name)
            if current is not None and current.fingerprint == fingerprint:
                continue
            await self._stop(name)
            self._start(name, key, trigger, event_type, fingerprint)

    def _start(
        self,
        name: str,
        key: ResourceKey,
        trigger: Trigger,
        event_type: EventType,
        fingerprint: tuple[Any, ...],
    ) -> None:
        environment, event = key.environment or "", CompiledEvent.of(event_type)
        if trigger.outbox is not None:
            relay = OutboxRelay(
                name, environment, key.name, trigger.outbox, event, self._bus, self._dead
            )
            step = lambda: relay.round(_runner(self._connections, key))  # noqa: E731
            full, idle = trigger.outbox.batch, trigger.outbox.poll_seconds
        else:
            assert trigger.poll is not None
            poller = Poller(
                name, environment, key.name, trigger.poll, event, self._bus, self._cursors,
                self._dead,
            )  # fmt: skip
            step = lambda: poller.round(self._connections.get(key))  # noqa: E731
            full, idle = ROUND_LIMIT, trigger.poll.interval_seconds
        task = asyncio.create_task(self._run_forever(name, step, full, idle), name=name)
        self._running[name] = _Running(fingerprint, task)

    async def _run_forever(
        self, name: str, step: Callable[[], Awaitable[int]], full: int, idle: float
    ) -> None:
        """Rounds while this hub holds the trigger's lease: at once after a full round,
        after ``idle`` otherwise."""
        failures = 0
        while True:
            try:
                if not await self._leases.take(name, self._holder, self._lease_seconds):
                    await asyncio.sleep(self._lease_seconds / 3)  # another hub runs it
                    continue
                # held through the round and the wait after it: a long round, or an
                # interval longer than the lease, does not let another hub in
                renewing = asyncio.create_task(self._renew(name))
                try:
                    taken = await step()
                    failures = 0
                    if taken < full:
                        await asyncio.sleep(idle)
                finally:
                    renewing.cancel()
                    await asyncio.gather(renewing, return_exceptions=True)
            except Exception as error:
                # the System, the database or the bus is away: try again later; nothing
                # is lost (outbox rows stay, a cursor moves only after publishing)
                failures += 1
                pause = RESTART.delay(failures)
                log.warning(
                    "trigger.failed",
                    trigger=name,
                    error=type(error).__name__,
                    detail=error.detail if isinstance(error, IsthmusError) else None,
                    retry_in=pause,
                )
                await asyncio.sleep(pause)

    async def _renew(self, name: str) -> None:
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            with contextlib.suppress(Exception):  # a missed renewal: the next one may do
                await self._leases.take(name, self._holder, self._lease_seconds)

    async def _stop(self, name: str) -> None:
        running = self._running.pop(name, None)
        if running is None:
            return
        running.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running.task
        with contextlib.suppress(Exception):
            await self._leases.release(name, self._holder)

    async def aclose(self) -> None:
        for name in list(self._running):
            await self._stop(name)


def _runner(connections: ConnectionPool, key: ResourceKey) -> Any:
    connector = connections.get(key)
    if not isinstance(connector, SqlConnector) or connector.runner is None:
        raise ConfigurationError(
            f"Connection '{key.name}' has an outbox trigger but is not a SQL Connection.",
            remediation="Declare outbox triggers on Connections of the 'sql' connector.",
        )
    return connector.runner
