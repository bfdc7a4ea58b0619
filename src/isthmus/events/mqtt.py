"""The ``mqtt`` bus, on aiomqtt (MQTT 5, QoS 1): for hubs that already run an MQTT broker.

A topic is ``isthmus/TOPIC``; publishing waits for each PUBACK. A group is one
persistent broker session subscribed to its topic (see :mod:`mqtt_session`): the
members of a group in one hub share that session's messages, and one hub at a time
holds it — when that hub stops or dies, the next takes the session over and gets what
was left unacknowledged. MQTT has no negative acknowledgement, so a ``nack`` publishes
the message again to the group's own retry topic (after its delay) and acknowledges the
original: only that group sees it again.

The broker must keep what it promises: ``persistence true`` and ``max_queued_messages
0`` (Mosquitto's default drops a session's messages past 1,000 queued) — see
docs/events.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from isthmus.errors import ConfigurationError
from isthmus.events.base import Bus, Delivery, Message, checked_name
from isthmus.events.clients import client_of
from isthmus.events.mqtt_session import Login, Turns, session_client

REDELIVERED, KEY = "isthmus-redelivered", "isthmus-key"


def _topic(topic: str) -> str:
    return f"isthmus/{checked_name('topic', topic)}"


def _properties(headers: Mapping[str, str], key: str | None, redelivered: int = 0) -> Any:
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    pairs = [(k, v) for k, v in headers.items()]
    if key is not None:
        pairs.append((KEY, key))
    if redelivered:
        pairs.append((REDELIVERED, str(redelivered)))
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    if pairs:
        properties.UserProperty = pairs
    return properties


class MqttDelivery(Delivery):
    __slots__ = ("_group", "_mid", "_session", "settled_here")

    def __init__(self, group: _Group, session: Any, incoming: Any, dup: bool) -> None:
        user = dict(getattr(incoming.properties, "UserProperty", None) or [])
        earlier = int(user.pop(REDELIVERED, "0")) + (1 if dup else 0)
        key = user.pop(KEY, None)
        super().__init__(Message(group.topic, bytes(incoming.payload), user, key), earlier)
        self._group, self._session, self._mid = group, session, incoming.mid
        self.settled_here = False

    async def ack(self) -> None:
        # on a session that has gone since, the broker hands it to the next holder
        if self._session is self._group.session:
            self._session.ack(self._mid)
        self._group.settled(self)

    async def nack(self, delay: float = 0.0) -> None:
        self._group.settled(self)
        if delay > 0:  # held here meanwhile; if this hub dies, the session keeps it
            later = asyncio.ensure_future(self._again(delay))
            _HELD.add(later)
            later.add_done_callback(_HELD.discard)
            return
        await self._again(0.0)

    async def _again(self, delay: float) -> None:
        await asyncio.sleep(delay)
        m = self.message
        properties = _properties(m.headers, m.key, self.redelivered + 1)
        with contextlib.suppress(Exception):  # not republished: the original comes again
            await self._group.bus.control.publish(
                self._group.retry_topic, m.body, qos=1, properties=properties
            )
            if self._session is self._group.session:
                self._session.ack(self._mid)


_HELD: set[asyncio.Future[None]] = set()  # delayed nacks, kept from the garbage collector


class _Group:
    """One group's session in this hub, shared by the group's members here."""

    def __init__(self, bus: MqttBus, topic: str, group: str) -> None:
        digest = hashlib.sha256(f"{topic}\n{group}".encode()).hexdigest()[:20]
        self.bus, self.topic = bus, topic
        self.client_id = f"ig-{digest}"  # 23 characters: fits every broker's limit
        self.turn = f"isthmus-turn/{digest}"
        self.retry_topic = f"isthmus-retry/{digest}"
        self.session: Any = None
        self.queue: asyncio.Queue[MqttDelivery | Exception] = asyncio.Queue()
        self.members = 0
        self._token: bytes | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._settle = asyncio.Event()

    def settled(self, delivery: MqttDelivery) -> None:
        delivery.settled_here = True
        self._settle.set()

    async def open_session(self, wait: bool) -> bool:
        """Take the group's turn and connect its session; false when another hub holds
        it (and ``wait`` is false)."""
        self._token = await self.bus.turns.take(self.turn, wait)
        if self._token is None:
            return False
        session = session_client(
            self.bus.host, self.bus.port, self.client_id, self.bus.login, keep=True,
            will=(self.turn, b""),
        )  # fmt: skip
        await session.__aenter__()
        await session.subscribe(_topic(self.topic), qos=1)
        await session.subscribe(self.retry_topic, qos=1)
        self.session = session
        return True

    async def close_session(self) -> None:
        session, self.session = self.session, None
        if session is not None:
            with contextlib.suppress(Exception):  # what it did not ack stays in the session
                await session.__aexit__(None, None, None)
        if self._token is not None:
            with contextlib.suppress(Exception):
                await self.bus.turns.give_back(self.turn, self._token)
            self._token = None

    async def join(self) -> None:
        async with self._lock:
            self.members += 1
            if self.session is None:
                try:
                    await self.open_session(wait=True)
                except BaseException:
                    self.members -= 1
                    await self.close_session()
                    raise
                self._reader = asyncio.create_task(self._read(self.session))

    async def leave(self, held: list[MqttDelivery]) -> None:
        async with self._lock:
            self.members -= 1
            if self.members > 0:
                for delivery in held:  # unacked in the session: another member here takes it
                    self.queue.put_nowait(delivery)
                return
            if self._reader is not None:
                self._reader.cancel()
                await asyncio.gather(self._reader, return_exceptions=True)
            self.queue = asyncio.Queue()  # unacked: the next holder's connection gets them
            await self.close_session()

    async def _read(self, session: Any) -> None:
        try:
            async for incoming in session.messages:
                dup = session.dup.pop(incoming.mid, False)
                self.queue.put_nowait(MqttDelivery(self, session, incoming, dup))
        except Exception as error:  # the connection is gone: every member learns of it
            self.queue.put_nowait(error)
        else:
            self.queue.put_nowait(ConnectionError("the MQTT session's messages ended"))

    async def next(self, held: list[MqttDelivery], prefetch: int) -> MqttDelivery:
        """The next message for a member holding ``held``, once it has room for one."""
        while sum(not d.settled_here for d in held) >= prefetch:
            self._settle.clear()
            await self._settle.wait()
        got = await self.queue.get()
        if isinstance(got, Exception):
            self.queue.put_nowait(got)  # every member of the group learns of it
            raise got
        return got


class MqttBus(Bus):
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ConfigurationError(
                f"The MQTT bus takes mqtt:// or mqtts:// URLs, not {parts.scheme or 'none'}://.",
                remediation="Set ISTHMUS_BUS_URL to mqtt://[user:password@]host[:port] "
                "(mqtts:// for TLS).",
            )
        tls = parts.scheme == "mqtts"
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883)
        self.login = Login(unquote(parts.username or ""), unquote(parts.password or ""), tls)
        self.control: Any = None
        self._turns: Turns | None = None
        self._groups: dict[tuple[str, str], _Group] = {}
        self._reader: asyncio.Task[None] | None = None
        self._reconnecting = asyncio.Lock()

    async def __aenter__(self) -> MqttBus:
        await self._connect_control()
        return self

    async def _connect_control(self) -> None:
        name = f"isthmus-{uuid.uuid4().hex[:12]}"
        control = session_client(self.host, self.port, name, self.login, keep=False)
        await control.__aenter__()
        self.control = control
        self._turns = Turns(control)
        self._reader = asyncio.create_task(self._read_turns(control))
        await self._turns.start()

    async def _ready(self) -> None:
        """Connect the control connection again if it was lost (aiomqtt does not)."""
        if self._reader is not None and not self._reader.done():
            return
        async with self._reconnecting:
            if self._reader is not None and self._reader.done():
                with contextlib.suppress(Exception):
                    await self.control.__aexit__(None, None, None)
                await self._connect_control()

    @property
    def turns(self) -> Turns:
        assert self._turns is not None, "open the bus first (async with)"
        return self._turns

    async def _read_turns(self, control: Any) -> None:
        with contextlib.suppress(client_of("mqtt").MqttError):
            async for incoming in control.messages:
                self.turns.seen(str(incoming.topic), bytes(incoming.payload))
                control.ack(incoming.mid)

    async def close(self) -> None:
        for group in self._groups.values():
            if group.members:
                group.members = 1
                await group.leave([])
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        if self.control is not None:
            with contextlib.suppress(Exception):
                await self.control.__aexit__(None, None, None)

    def _group(self, topic: str, group: str) -> _Group:
        checked_name("group", group)
        found = self._groups.get((topic, group))
        if found is None:
            found = self._groups[(topic, group)] = _Group(self, checked_name("topic", topic), group)
        return found

    async def publish(self, messages: Sequence[Message]) -> None:
        await self._ready()
        await asyncio.gather(
            *(
                self.control.publish(
                    _topic(m.topic), m.body, qos=1, properties=_properties(m.headers, m.key)
                )
                for m in messages
            )
        )  # every PUBACK awaited, all in flight together

    async def declare(self, topic: str, group: str) -> None:
        await self._ready()
        state = self._group(topic, group)
        async with state._lock:
            if state.session is not None:
                return  # open here: it exists
            # held by another hub: it exists too; otherwise make it exist, then let go
            if await state.open_session(wait=False):
                await state.close_session()

    async def consume(self, topic: str, group: str, prefetch: int = 64) -> AsyncIterator[Delivery]:
        await self._ready()
        state = self._group(topic, group)
        await state.join()
        held: list[MqttDelivery] = []
        try:
            while True:
                held[:] = [d for d in held if not d.settled_here]
                delivery = await state.next(held, prefetch)
                held.append(delivery)
                yield delivery
        finally:
            await asyncio.shield(state.leave([d for d in held if not d.settled_here]))

    async def forget(self, topic: str, group: str) -> None:
        await self._ready()
        state = self._group(topic, group)
        async with state._lock:
            token = await self.turns.take(state.turn, wait=True)
            assert token is not None
            try:  # a clean start with no expiry: the broker drops the session
                gone = session_client(self.host, self.port, state.client_id, self.login, keep=False)
                await gone.__aenter__()
                await gone.__aexit__(None, None, None)
            finally:
                await self.turns.give_back(state.turn, token)
        self._groups.pop((topic, group), None)


class MqttBusType:
    name: ClassVar[str] = "mqtt"
    summary: ClassVar[str] = "MQTT 5, QoS 1: a persistent broker session per group."
    extra: ClassVar[str] = "mqtt"

    def open(self, config: Mapping[str, Any]) -> Bus:
        return MqttBus(str(config.get("url", "mqtt://127.0.0.1:1883")))
