"""The bus extension point: where events travel between triggers and Subscriptions.

A :class:`BusType` (registered under the ``isthmus.buses`` entry point) opens a
:class:`Bus`; a bus publishes encoded events to a topic and delivers them to
subscribers. Durable buses (RabbitMQ, NATS JetStream, Redis Streams) acknowledge
each delivery; the in-memory bus does not survive a restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self


@dataclass(frozen=True)
class Message:
    topic: str
    body: bytes
    headers: dict[str, str]


class Bus(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def publish(self, topic: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        """Hand one event to the bus; returns once the bus has accepted it."""
        ...

    def subscribe(self, topic: str) -> AsyncIterator[Message]:
        """Messages published to ``topic`` after the subscription started."""
        ...


class BusType(Protocol):
    name: ClassVar[str]
    summary: ClassVar[str]

    def open(self, config: dict[str, Any]) -> Bus: ...
