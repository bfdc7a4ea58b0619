"""A bus that tells the hub what it published: so the hub can act on its own events
(the virtual data layer drops cached rows an event says changed) without a consumer
group of its own on every broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Self

from isthmus.events.base import Bus, Delivery, Message


class ObservedBus(Bus):
    def __init__(self, inner: Bus, published: Callable[[Sequence[Message]], None]) -> None:
        self.inner = inner
        self._published = published

    async def __aenter__(self) -> Self:
        await self.inner.__aenter__()
        return self

    async def publish(self, messages: Sequence[Message]) -> None:
        await self.inner.publish(messages)
        self._published(messages)  # after the bus kept them: what changed is now known

    async def declare(self, topic: str, group: str) -> None:
        await self.inner.declare(topic, group)

    def consume(self, topic: str, group: str, prefetch: int = 64) -> AsyncIterator[Delivery]:
        return self.inner.consume(topic, group, prefetch)

    async def forget(self, topic: str, group: str) -> None:
        await self.inner.forget(topic, group)

    async def close(self) -> None:
        await self.inner.close()
