"""The ``redis`` bus, on redis-py: a stream per topic, a consumer group per group.

Publishing is one pipelined ``XADD`` per batch (Redis has it once the reply comes, and
keeps it as its persistence settings say). A group reads with ``XREADGROUP``; an idle
member looks again every 5 ms for a second, then every ``pollSeconds``; acks are
written together on the member's next turn (a crash before that delivers them again,
never loses them). Messages a member held when it died are taken over by the next
member once idle for ``redeliverAfterSeconds`` (``XAUTOCLAIM``); a member that stops
cleanly marks what it held as long idle, so the next one takes them at once. A nack is
the member claiming the message back after its delay. ``sweep`` trims what every
group is done with.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, ClassVar

import orjson

from isthmus.events.base import Bus, Delivery, Message, checked_name
from isthmus.events.clients import client_of

PREFIX = "isthmus:bus:"
BUSY_POLL = 0.005  # how soon an idle member looks again in its first second of idleness
SWEEP_EVERY = 30.0  # seconds between trims of what every group is done with


def _key(topic: str) -> str:
    return PREFIX + checked_name("topic", topic)


class RedisDelivery(Delivery):
    __slots__ = ("_member", "id")

    def __init__(self, message: Message, redelivered: int, id: bytes, member: _Member) -> None:
        super().__init__(message, redelivered)
        self.id = id
        self._member = member
        member.held.add(id)

    async def ack(self) -> None:
        if self.id in self._member.held:
            self._member.held.discard(self.id)
            self._member.acked.append(self.id)

    async def nack(self, delay: float = 0.0) -> None:
        if self.id in self._member.held:
            self._member.held.discard(self.id)
            due = time.monotonic() + delay
            self._member.again.append((due, self.id, self.redelivered + 1))


class _Member:
    def __init__(self, topic: str, group: str) -> None:
        self.topic, self.group = topic, group
        self.name = f"m-{secrets.token_hex(6)}"
        self.held: set[bytes] = set()
        self.acked: list[bytes] = []
        self.again: list[tuple[float, bytes, int]] = []
        self.orphans_due = 0.0  # when to look for messages other members left idle
        self.idle_since = 0.0  # when the member last found nothing (0: it is busy)
        self.cursor: bytes | str = "0-0"  # where the next look for abandoned messages starts
        self.sweep_due = 0.0


def _decode(topic: str, fields: Mapping[bytes, bytes]) -> Message:
    headers = fields.get(b"h")
    key = fields.get(b"k")
    return Message(
        topic,
        fields[b"b"],
        orjson.loads(headers) if headers else {},
        key.decode() if key is not None else None,
    )


class RedisBus(Bus):
    def __init__(self, url: str, redeliver_after: float, poll: float = 0.05) -> None:
        self._url = url
        self._idle_ms = int(redeliver_after * 1000)
        self._poll = poll
        self._redis: Any = None

    async def __aenter__(self) -> RedisBus:
        self._redis = client_of("redis").Redis.from_url(self._url)
        await self._redis.ping()
        return self

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, messages: Sequence[Message]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        for m in messages:
            fields = {"b": m.body}  # headers and key only when there are any
            if m.headers:
                fields["h"] = orjson.dumps(dict(m.headers))
            if m.key is not None:
                fields["k"] = m.key.encode()
            pipe.xadd(_key(m.topic), fields)
        await pipe.execute()

    async def declare(self, topic: str, group: str) -> None:
        try:
            await self._redis.xgroup_create(
                _key(topic), checked_name("group", group), id="$", mkstream=True
            )
        except client_of("redis").ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def consume(self, topic: str, group: str, prefetch: int = 64) -> AsyncIterator[Delivery]:
        await self.declare(topic, group)
        member = _Member(topic, group)
        key, redis = _key(topic), self._redis
        me = asyncio.current_task()
        try:
            while True:
                if me is not None and me.cancelling():
                    # redis-py's reads can swallow a cancellation that lands in them
                    # (asyncio.timeout on 3.11): honour it here rather than run on
                    raise asyncio.CancelledError
                await self._write_acks(member)
                room = prefetch - len(member.held)
                if room <= 0:
                    await asyncio.sleep(0.005)
                    continue
                found = await self._again(member, room)
                if not found and time.monotonic() >= member.orphans_due:
                    # none can be older than the idle time: no need to look more often
                    member.orphans_due = time.monotonic() + self._idle_ms / 2000
                    await self._keep_delayed(member)
                    found = await self._orphans(member, room)
                    if time.monotonic() >= member.sweep_due:
                        member.sweep_due = time.monotonic() + SWEEP_EVERY
                        await self.sweep(topic)
                if not found:
                    # no BLOCK: redis-py can lose a blocking read's connection state when
                    # the read is cancelled (a stopping member), so idle waits are ours
                    answer = await redis.xreadgroup(group, member.name, {key: ">"}, count=room)
                    found = [
                        RedisDelivery(_decode(topic, fields), 0, id, member)
                        for _, entries in answer or []
                        for id, fields in entries
                    ]
                if not found:  # idle: look again soon, and less often after a second
                    now = time.monotonic()
                    member.idle_since = member.idle_since or now
                    busy = now - member.idle_since < 1.0
                    await asyncio.sleep(BUSY_POLL if busy else self._poll)
                    continue
                member.idle_since = 0.0
                for delivery in found:
                    yield delivery
        finally:
            await asyncio.shield(self._stop(member))

    async def _again(self, member: _Member, room: int) -> list[RedisDelivery]:
        """Nacked messages whose delay is over, claimed back to this member."""
        now = time.monotonic()
        due = [a for a in member.again if a[0] <= now][:room]
        if not due:
            return []
        member.again = [a for a in member.again if a not in due]
        counts = {id: count for _, id, count in due}
        claimed = await self._redis.xclaim(
            _key(member.topic), member.group, member.name, 0, list(counts)
        )
        return [
            RedisDelivery(_decode(member.topic, fields), counts[id], id, member)
            for id, fields in claimed
            if fields
        ]

    async def _orphans(self, member: _Member, room: int) -> list[RedisDelivery]:
        """Messages another member held and left idle: taken over."""
        key = _key(member.topic)
        # from where the last look stopped: Redis scans a bounded part of the list a call
        member.cursor, claimed, *_ = await self._redis.xautoclaim(
            key, member.group, member.name, self._idle_ms, member.cursor, count=room
        )
        claimed = [(id, fields) for id, fields in claimed if fields]
        if not claimed:
            return []
        pending = await self._redis.xpending_range(
            key, member.group, min=claimed[0][0], max=claimed[-1][0], count=len(claimed)
        )
        times = {p["message_id"]: p["times_delivered"] for p in pending}
        return [
            RedisDelivery(_decode(member.topic, fields), max(1, times.get(id, 2) - 1), id, member)
            for id, fields in claimed
        ]

    async def _keep_delayed(self, member: _Member) -> None:
        """Nacked messages waiting out their delay stay this member's: claiming them
        again resets their idle time, so no member (this one included) takes them over
        as abandoned before the delay is over."""
        if member.again:
            ids = [id for _, id, _ in member.again]
            await self._redis.xclaim(
                _key(member.topic), member.group, member.name, 0, ids, justid=True
            )

    async def _write_acks(self, member: _Member) -> None:
        if member.acked:
            done, member.acked = member.acked, []
            await self._redis.xack(_key(member.topic), member.group, *done)

    async def _stop(self, member: _Member) -> None:
        await self._write_acks(member)
        left = list(member.held) + [id for _, id, _ in member.again]
        if left:  # long idle: the next member takes them over at once
            await self._redis.xclaim(
                _key(member.topic),
                member.group,
                member.name,
                0,
                left,
                idle=self._idle_ms + 1,
                justid=True,
            )

    async def forget(self, topic: str, group: str) -> None:
        await self._redis.xgroup_destroy(_key(topic), group)

    async def sweep(self, topic: str) -> int:
        """Trim the entries every group of ``topic`` has been handed and has acked."""
        key = _key(topic)
        groups = await self._redis.xinfo_groups(key)
        if not groups:
            return 0
        floors = []
        for info in groups:
            floors.append(info["last-delivered-id"])
            summary = await self._redis.xpending(key, info["name"])
            if summary["pending"]:
                floors.append(summary["min"])
        floor = min(floors, key=lambda i: tuple(int(p) for p in i.split(b"-")))
        return int(await self._redis.xtrim(key, minid=floor))


class RedisBusType:
    name: ClassVar[str] = "redis"
    summary: ClassVar[str] = "Redis Streams: a stream per topic, a consumer group per group."
    extra: ClassVar[str] = "redis"

    def open(self, config: Mapping[str, Any]) -> Bus:
        return RedisBus(
            str(config.get("url", "redis://127.0.0.1:6379/0")),
            float(config.get("redeliverAfterSeconds", 30.0)),
            float(config.get("pollSeconds", 0.05)),
        )
