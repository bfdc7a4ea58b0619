"""The bus extension point: where events travel between publishers and Subscriptions.

A :class:`BusType` (registered under the ``isthmus.buses`` entry point) opens a
:class:`Bus` from its config. Every bus offers the same few things, and passes the same
contract suite (:mod:`isthmus.testing.buses`):

* ``publish`` — hand messages to the bus; when it returns the bus has them durably
  (publisher confirms, a JetStream ack, a committed row);
* ``declare`` — make a consumer *group* exist on a topic: from then on every message
  published to the topic is kept for the group until one of its members acks it;
* ``consume`` — read a group's messages; each goes to one member of the group, and
  every group gets every message;
* ``ack`` / ``nack`` on each :class:`Delivery` — done, or deliver again (after a delay);
  a member that dies holding messages has them delivered again to another (at least
  once, never lost);
* ``forget`` — remove a group and what is kept for it.

Topics and groups are names of letters, digits, ``.``, ``-`` and ``_``; each bus maps
them onto its own objects (exchanges and quorum queues, JetStream consumers, stream
consumer groups, table rows).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self

from isthmus.errors import ConfigurationError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")


@dataclass(frozen=True)
class Message:
    """What is published: an encoded event, its headers, and an optional ordering key."""

    topic: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    key: str | None = None


class Delivery(ABC):
    """One message handed to one member of a group; settle it with ack or nack."""

    __slots__ = ("message", "redelivered")

    def __init__(self, message: Message, redelivered: int) -> None:
        self.message = message
        self.redelivered = redelivered  # earlier deliveries of it, where the bus knows (0: first)

    @abstractmethod
    async def ack(self) -> None:
        """Done with it: the group never sees it again."""

    @abstractmethod
    async def nack(self, delay: float = 0.0) -> None:
        """Not done: deliver it again, not before ``delay`` seconds."""


class Bus(ABC):
    """An open bus. Use ``async with``."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def publish(self, messages: Sequence[Message]) -> None:
        """Hand ``messages`` to the bus; returns once the bus keeps every one of them."""

    @abstractmethod
    async def declare(self, topic: str, group: str) -> None:
        """Keep every message published to ``topic`` from now on for ``group``."""

    @abstractmethod
    def consume(self, topic: str, group: str, prefetch: int = 64) -> AsyncIterator[Delivery]:
        """The group's messages, as one member of it (declares the group first). At most
        ``prefetch`` deliveries are handed out unsettled at a time."""

    @abstractmethod
    async def forget(self, topic: str, group: str) -> None:
        """Remove the group and the messages kept for it."""

    @abstractmethod
    async def close(self) -> None: ...


class BusType(Protocol):
    name: ClassVar[str]
    summary: ClassVar[str]
    extra: ClassVar[str]  # pip install 'isthmus[EXTRA]' brings its client ("" built in)

    def open(self, config: Mapping[str, Any]) -> Bus:
        """A bus from its config (``url`` and the bus's own settings); enter it to connect."""
        ...


def checked_name(kind: str, value: str) -> str:
    if not NAME.match(value):
        raise ConfigurationError(
            f"'{value}' is not a valid {kind} name.",
            remediation="Use letters, digits, '.', '-' and '_' (at most 200).",
        )
    return value
