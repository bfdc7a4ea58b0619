"""Publish → deliver throughput: Isthmus's buses vs each broker's own client, side by side.

For RabbitMQ, NATS JetStream and Redis Streams (on loopback) the same N messages (a
CloudEvent of ~300 bytes each) are published in batches of 500 while one consumer of a
fresh group takes and acks them; the time runs from the first publish to the last ack.
"isthmus" goes through the bus adapters (`isthmus.events.*`); "raw" is the broker's
client used directly the way its documentation shows for the same guarantees
(publisher confirms / JetStream acks, explicit acks, the same batch and prefetch).
Rounds alternate which goes first; the median of the rounds is kept. The embedded bus
(the hub's SQLite store) has no broker client to compare with: its rate is reported.

    python benchmarks/events.py [--quick]

Last line: RESULT events rabbitmq=… nats=… redis=… embedded_msgs_per_s=…  (ratios to raw)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from isthmus.events.base import Message
from isthmus.events.registry import bus_type

BATCH = 500
PREFETCH = 500
URLS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672/",
    "nats": "nats://127.0.0.1:4222",
    "redis": "redis://127.0.0.1:6379/0",
}


def event(i: int) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": f"evt-{i:08d}",
            "type": "com.acme.crm.customer.created",
            "source": "/crm",
            "subject": f"c{i}",
            "time": "2026-12-01T09:00:00Z",
            "datacontenttype": "application/json",
            "dataschema": "urn:isthmus:eventtype:customer-created:1",
            "data": {"id": f"c{i}", "name": f"Customer {i}", "tier": "gold", "country": "GB"},
        }
    )


async def through_isthmus(name: str, config: dict[str, object], count: int) -> float:
    topic, group = f"bench.{secrets.token_hex(4)}", "bench"
    bodies = [event(i) for i in range(count)]
    async with bus_type(name).open(config) as bus:
        await bus.declare(topic, group)

        async def consume() -> None:
            seen = 0
            async with contextlib.aclosing(bus.consume(topic, group, PREFETCH)) as deliveries:
                async for delivery in deliveries:
                    await delivery.ack()
                    seen += 1
                    if seen == count:
                        return

        started = time.perf_counter()
        consumer = asyncio.ensure_future(consume())
        for at in range(0, count, BATCH):
            await bus.publish([Message(topic, b) for b in bodies[at : at + BATCH]])
        await consumer
        elapsed = time.perf_counter() - started
        await bus.forget(topic, group)
    return count / elapsed


async def raw_rabbitmq(count: int) -> float:
    import aio_pika

    bodies = [event(i) for i in range(count)]
    connection = await aio_pika.connect_robust(URLS["rabbitmq"])
    channel = await connection.channel(publisher_confirms=True)
    exchange = await channel.declare_exchange("bench.raw", aio_pika.ExchangeType.DIRECT)
    name = f"bench.raw.{secrets.token_hex(4)}"
    consuming = await connection.channel()
    await consuming.set_qos(prefetch_count=PREFETCH)
    queue = await consuming.declare_queue(name, durable=True, arguments={"x-queue-type": "quorum"})
    await queue.bind(exchange, routing_key=name)

    async def consume() -> None:
        seen = 0
        async with queue.iterator() as incoming:
            async for message in incoming:
                await message.ack()
                seen += 1
                if seen == count:
                    return

    started = time.perf_counter()
    consumer = asyncio.ensure_future(consume())
    mode = aio_pika.DeliveryMode.PERSISTENT
    for at in range(0, count, BATCH):
        await asyncio.gather(
            *(
                exchange.publish(aio_pika.Message(b, delivery_mode=mode), routing_key=name)
                for b in bodies[at : at + BATCH]
            )
        )
    await consumer
    elapsed = time.perf_counter() - started
    await queue.delete(if_unused=False, if_empty=False)
    await connection.close()
    return count / elapsed


async def raw_nats(count: int) -> float:
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    bodies = [event(i) for i in range(count)]
    nc = await nats.connect(URLS["nats"])
    js = nc.jetstream()
    stream = f"BENCHRAW{secrets.token_hex(4).upper()}"
    subject = f"benchraw.{stream.lower()}"
    await js.add_stream(name=stream, subjects=[subject])
    await js.add_consumer(
        stream,
        ConsumerConfig(
            durable_name="bench", ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.NEW
        ),
    )
    pull = await js.pull_subscribe_bind(durable="bench", stream=stream)

    async def consume() -> None:
        seen = 0
        while seen < count:
            try:
                batch = await pull.fetch(batch=PREFETCH, timeout=0.25)
            except nats.errors.TimeoutError:
                continue
            for msg in batch:
                await msg.ack()
            seen += len(batch)

    started = time.perf_counter()
    consumer = asyncio.ensure_future(consume())
    for at in range(0, count, BATCH):
        await asyncio.gather(*(js.publish(subject, b) for b in bodies[at : at + BATCH]))
    await consumer
    elapsed = time.perf_counter() - started
    await js.delete_stream(stream)
    await nc.close()
    return count / elapsed


async def raw_redis(count: int) -> float:
    import redis.asyncio as redis

    bodies = [event(i) for i in range(count)]
    client = redis.Redis.from_url(URLS["redis"])
    key = f"bench:raw:{secrets.token_hex(4)}"
    await client.xgroup_create(key, "bench", id="$", mkstream=True)

    async def consume() -> None:
        seen = 0
        while seen < count:
            answer = await client.xreadgroup("bench", "c1", {key: ">"}, count=PREFETCH)
            if not answer:
                await asyncio.sleep(0.005)
                continue
            ids = [id for _, entries in answer for id, _ in entries]
            await client.xack(key, "bench", *ids)
            seen += len(ids)

    started = time.perf_counter()
    consumer = asyncio.ensure_future(consume())
    for at in range(0, count, BATCH):
        pipe = client.pipeline(transaction=False)
        for b in bodies[at : at + BATCH]:
            pipe.xadd(key, {"b": b})
        await pipe.execute()
    await consumer
    elapsed = time.perf_counter() - started
    await client.delete(key)
    await client.aclose()
    return count / elapsed


RAW: dict[str, Callable[[int], Awaitable[float]]] = {
    "rabbitmq": raw_rabbitmq,
    "nats": raw_nats,
    "redis": raw_redis,
}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5,000 messages, one round")
    parser.add_argument("--only", choices=sorted(RAW), help="One broker (no RESULT line)")
    options = parser.parse_args()
    count, rounds = (5_000, 1) if options.quick else (20_000, 3)
    ratios: dict[str, float] = {}
    for name in [options.only] if options.only else ["rabbitmq", "nats", "redis"]:
        rates: dict[str, list[float]] = {"raw": [], "isthmus": []}
        for round_ in range(rounds):
            order = ("raw", "isthmus") if round_ % 2 == 0 else ("isthmus", "raw")
            for side in order:
                if side == "raw":
                    rate = await RAW[name](count)
                else:
                    rate = await through_isthmus(name, {"url": URLS[name]}, count)
                rates[side].append(rate)
        raw, ours = statistics.median(rates["raw"]), statistics.median(rates["isthmus"])
        ratios[name] = ours / raw
        line = f"{name:9} raw {raw:9,.0f} msg/s   isthmus {ours:9,.0f} msg/s"
        print(f"{line}   ratio {ratios[name]:.2f}")
    if options.only:
        return
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'hub.db'}"
        embedded = statistics.median(
            [await through_isthmus("embedded", {"url": url}, count) for _ in range(rounds)]
        )
    print(f"embedded  {embedded:9,.0f} msg/s (the hub's SQLite store)")
    print(
        f"RESULT events rabbitmq={ratios['rabbitmq']:.2f} nats={ratios['nats']:.2f} "
        f"redis={ratios['redis']:.2f} embedded_msgs_per_s={embedded:.0f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
