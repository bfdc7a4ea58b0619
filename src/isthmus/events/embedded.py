"""The ``embedded`` bus: durable events in the hub's own database (SQLite or PostgreSQL).

Nothing to install, and it survives a restart. Messages are rows in publish order; a
group has a position (the last message handed out) and a row per message handed to one
of its members and not yet acked. Handing out is one transaction that takes the group's
row first — the write lock on SQLite, a row lock on PostgreSQL — so members of a group
never get the same message, and a member that dies leaves rows whose lease runs out,
which hands them to the next member that asks. Acks are grouped into one delete per
batch: a crash before the delete redelivers (at least once), never loses.

A publish in the same process wakes its consumers at once; other processes' consumers
look every ``pollSeconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from isthmus.events.base import Bus, Delivery, Message, checked_name
from isthmus.store import Store
from isthmus.store.tables import bus_groups, bus_inflight, bus_messages

M, G, F = bus_messages.c, bus_groups.c, bus_inflight.c


class EmbeddedDelivery(Delivery):
    __slots__ = ("_consumer", "seq")

    def __init__(self, message: Message, redelivered: int, seq: int, consumer: _Consumer):
        super().__init__(message, redelivered)
        self.seq = seq
        self._consumer = consumer

    async def ack(self) -> None:
        self._consumer.settle(self.seq, acked=True)

    async def nack(self, delay: float = 0.0) -> None:
        self._consumer.settle(self.seq, acked=False)
        await self._consumer.bus._release(
            self._consumer.topic, self._consumer.group, [self.seq], delay
        )


class _Consumer:
    """One member of a group: what it holds, and acks waiting to be written."""

    def __init__(self, bus: EmbeddedBus, topic: str, group: str) -> None:
        self.bus, self.topic, self.group = bus, topic, group
        self.held: set[int] = set()
        self.acked: list[int] = []
        self.room = asyncio.Event()

    def settle(self, seq: int, acked: bool) -> None:
        if seq in self.held:
            self.held.discard(seq)
            if acked:
                self.acked.append(seq)
            self.room.set()


class EmbeddedBus(Bus):
    def __init__(self, url: str, redeliver_after: float = 30.0, poll: float = 0.2) -> None:
        self._store = Store.open(url)
        self.engine: AsyncEngine = self._store.engine
        self._lease = timedelta(seconds=redeliver_after)
        self._poll = poll
        self._published: dict[str, asyncio.Event] = {}
        self._sweeper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> EmbeddedBus:
        await self._store.__aenter__()  # migrations: the tables exist
        self._sweeper = asyncio.create_task(self._sweep_forever())
        return self

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self._store.__aexit__(None, None, None)

    async def publish(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        now = datetime.now(UTC)
        rows = [
            {
                "topic": checked_name("topic", m.topic),
                "key": _short(m.key),
                "headers": dict(m.headers),
                "body": m.body,
                "published_at": now,
            }
            for m in messages
        ]
        async with self.engine.begin() as conn:
            # The topics' group rows first, in one order: a member handing out waits for
            # this commit, so it never moves past a number still uncommitted (PostgreSQL
            # numbers rows at insert, and commits may land in another order).
            for topic in sorted({m.topic for m in messages}):
                await conn.execute(
                    sa.select(G.name).where(G.topic == topic).order_by(G.name).with_for_update()
                )
            await conn.execute(sa.insert(bus_messages), rows)
        for topic in {m.topic for m in messages}:
            if (event := self._published.get(topic)) is not None:
                event.set()

    async def declare(self, topic: str, group: str) -> None:
        checked_name("topic", topic)
        checked_name("group", group)
        try:
            async with self.engine.begin() as conn:
                exists = await conn.execute(
                    sa.select(G.position).where(G.topic == topic, G.name == group)
                )
                if exists.first() is not None:
                    return
                last = (await conn.execute(sa.select(sa.func.max(M.seq)))).scalar() or 0
                await conn.execute(
                    sa.insert(bus_groups).values(topic=topic, name=group, position=last)
                )
        except IntegrityError:  # declared by another member at the same moment
            return

    async def consume(self, topic: str, group: str, prefetch: int = 64) -> AsyncIterator[Delivery]:
        await self.declare(topic, group)
        consumer = _Consumer(self, topic, group)
        wake = self._published.setdefault(topic, asyncio.Event())
        try:
            while True:
                await self._write_acks(consumer)
                room = prefetch - len(consumer.held)
                claimed = await self._claim(topic, group, room) if room > 0 else []
                for seq, message, redelivered in claimed:
                    consumer.held.add(seq)
                    yield EmbeddedDelivery(message, redelivered, seq, consumer)
                if claimed:
                    continue
                wake.clear()
                consumer.room.clear()
                waits = [asyncio.ensure_future(wake.wait())] if room > 0 else []
                waits.append(asyncio.ensure_future(consumer.room.wait()))
                _, pending = await asyncio.wait(
                    waits, timeout=self._poll, return_when=asyncio.FIRST_COMPLETED
                )
                for waiting in pending:
                    waiting.cancel()
        finally:
            # a member that stops hands back what it held at once, not at its lease's end
            held = sorted(consumer.held)
            consumer.held.clear()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._finish(consumer, held))

    async def _finish(self, consumer: _Consumer, held: list[int]) -> None:
        await self._write_acks(consumer)
        if held:
            await self._release(consumer.topic, consumer.group, held, 0.0)

    async def forget(self, topic: str, group: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(sa.delete(bus_inflight).where(F.topic == topic, F.name == group))
            await conn.execute(sa.delete(bus_groups).where(G.topic == topic, G.name == group))

    # -- storage --------------------------------------------------------------------------

    async def _claim(self, topic: str, group: str, room: int) -> list[tuple[int, Message, int]]:
        now = datetime.now(UTC)
        until = now + self._lease
        async with self.engine.begin() as conn:
            # the group's row first: the write lock (SQLite) or row lock (PostgreSQL)
            # that makes this member's hand-out the only one in progress for the group
            await conn.execute(
                sa.update(bus_groups)
                .where(G.topic == topic, G.name == group)
                .values(position=G.position)
            )
            position = (
                await conn.execute(sa.select(G.position).where(G.topic == topic, G.name == group))
            ).scalar()
            if position is None:  # forgotten meanwhile
                return []
            due = (
                await conn.execute(
                    sa.select(F.seq, F.deliveries)
                    .where(F.topic == topic, F.name == group, F.visible_at <= now)
                    .order_by(F.seq)
                    .limit(room)
                )
            ).all()
            if due:
                await conn.execute(
                    sa.update(bus_inflight)
                    .where(F.topic == topic, F.name == group, F.seq.in_([d.seq for d in due]))
                    .values(visible_at=until, deliveries=F.deliveries + 1)
                )
            fresh = (
                (
                    await conn.execute(
                        sa.select(M.seq)
                        .where(M.topic == topic, M.seq > position)
                        .order_by(M.seq)
                        .limit(room - len(due))
                    )
                )
                .scalars()
                .all()
                if room > len(due)
                else []
            )
            if fresh:
                await conn.execute(
                    sa.insert(bus_inflight),
                    [
                        {
                            "topic": topic,
                            "name": group,
                            "seq": s,
                            "visible_at": until,
                            "deliveries": 1,
                        }
                        for s in fresh
                    ],
                )
                await conn.execute(
                    sa.update(bus_groups)
                    .where(G.topic == topic, G.name == group)
                    .values(position=fresh[-1])
                )
            counts = {d.seq: d.deliveries for d in due} | dict.fromkeys(fresh, 0)
            return await _messages(conn, topic, counts)

    async def _write_acks(self, consumer: _Consumer) -> None:
        if not consumer.acked:
            return
        done, consumer.acked = consumer.acked, []
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.delete(bus_inflight).where(
                    F.topic == consumer.topic, F.name == consumer.group, F.seq.in_(done)
                )
            )

    async def _release(self, topic: str, group: str, seqs: list[int], delay: float) -> None:
        visible = datetime.now(UTC) + timedelta(seconds=delay)
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(bus_inflight)
                .where(F.topic == topic, F.name == group, F.seq.in_(seqs))
                .values(visible_at=visible)
            )
        if delay == 0 and (event := self._published.get(topic)) is not None:
            event.set()

    async def _sweep_forever(self, every: float = 5.0) -> None:
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                await self.sweep()

    async def sweep(self) -> int:
        """Delete messages every group of their topic is past; returns how many."""
        removed = 0
        async with self.engine.begin() as conn:
            topics = (await conn.execute(sa.select(M.topic).distinct())).scalars().all()
            for topic in topics:
                floor = await _floor(conn, topic)
                if floor is not None:
                    gone = await conn.execute(
                        sa.delete(bus_messages).where(M.topic == topic, M.seq <= floor)
                    )
                    removed += gone.rowcount or 0
        return removed


def _short(key: str | None) -> str | None:
    """Keys fit the column: a longer one is kept as its digest (it only groups events)."""
    if key is None or len(key) <= 200:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


async def _messages(
    conn: AsyncConnection, topic: str, counts: Mapping[int, int]
) -> list[tuple[int, Message, int]]:
    if not counts:
        return []
    rows = (
        await conn.execute(
            sa.select(M.seq, M.key, M.headers, M.body)
            .where(M.seq.in_(list(counts)))
            .order_by(M.seq)
        )
    ).all()
    return [(r.seq, Message(topic, bytes(r.body), r.headers, r.key), counts[r.seq]) for r in rows]


async def _floor(conn: AsyncConnection, topic: str) -> int | None:
    """The last message of ``topic`` that no group can be handed again."""
    lowest_group = (
        await conn.execute(sa.select(sa.func.min(G.position)).where(G.topic == topic))
    ).scalar()
    if lowest_group is None:  # no group: nobody will ever read them (new groups start at the end)
        last = (await conn.execute(sa.select(sa.func.max(M.seq)).where(M.topic == topic))).scalar()
        return None if last is None else int(last)
    held = (await conn.execute(sa.select(sa.func.min(F.seq)).where(F.topic == topic))).scalar()
    return int(lowest_group) if held is None else min(int(lowest_group), int(held) - 1)


class EmbeddedBusType:
    name: ClassVar[str] = "embedded"
    summary: ClassVar[str] = "Durable events in the hub's own database; nothing to install."
    extra: ClassVar[str] = ""

    def open(self, config: Mapping[str, Any]) -> Bus:
        return EmbeddedBus(
            str(config["url"]),
            redeliver_after=float(config.get("redeliverAfterSeconds", 30.0)),
            poll=float(config.get("pollSeconds", 0.2)),
        )
