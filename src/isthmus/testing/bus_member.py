"""A member of a bus group in a process of its own, for the contract test of a member
that dies: it takes COUNT deliveries, acks none, says 'held' and waits to be killed.

    python -m isthmus.testing.bus_member BUS CONFIG_JSON TOPIC GROUP COUNT
"""

from __future__ import annotations

import asyncio
import sys

import orjson

from isthmus.events.registry import bus_type


async def hold(name: str, config: str, topic: str, group: str, count: int) -> None:
    async with bus_type(name).open(orjson.loads(config)) as bus:
        held = 0
        async for _ in bus.consume(topic, group, prefetch=count):
            held += 1
            if held == count:
                sys.stdout.write("held\n")
                sys.stdout.flush()
                await asyncio.sleep(3600)  # until killed


if __name__ == "__main__":
    name, config, topic, group, count = sys.argv[1:6]
    asyncio.run(hold(name, config, topic, group, int(count)))
