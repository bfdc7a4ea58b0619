"""The ``memory`` bus: in-process fan-out for tests and a single embedded hub.

Each subscriber has its own bounded queue; a publisher waits when a subscriber's queue
is full rather than dropping events (back-pressure instead of loss).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, ClassVar, Self

from isthmus.events.base import Bus, Message

_CLOSED = Message("", b"", {})


class MemoryBus:
    def __init__(self, queue_size: int = 1000) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[asyncio.Queue[Message]]] = {}
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed = True
        for queues in self._subscribers.values():
            for queue in queues:
                queue.put_nowait(_CLOSED) if not queue.full() else None

    async def publish(self, topic: str, body: bytes, headers: dict[str, str] | None = None) -> None:
        if self._closed:
            raise RuntimeError("bus is closed")
        message = Message(topic, body, dict(headers or {}))
        for queue in list(self._subscribers.get(topic, ())):
            await queue.put(message)

    async def subscribe(self, topic: str) -> AsyncIterator[Message]:
        queue: asyncio.Queue[Message] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(topic, set()).add(queue)
        try:
            while True:
                message = await queue.get()
                if message is _CLOSED:
                    return
                yield message
        finally:
            self._subscribers[topic].discard(queue)


class MemoryBusType:
    name: ClassVar[str] = "memory"
    summary: ClassVar[str] = "In-process fan-out; nothing survives a restart."

    def open(self, config: dict[str, Any]) -> Bus:
        return MemoryBus(int(config.get("queueSize", 1000)))
