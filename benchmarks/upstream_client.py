"""The outbound HTTP client against aiohttp's, as ratios measured side by side in one run.

Both fetch the same 1.3 KB JSON document from the same upstream (Debian nginx when
installed, else a raw ASGI app), from 64 concurrent tasks in one process on uvloop,
alternating which goes first each round, median of the rounds; then one request at a
time for the latency each adds.

    python benchmarks/upstream_client.py [--quick]

Last line: RESULT upstream_client vs_aiohttp=… sequential_vs_aiohttp=…
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import uvloop
from yarl import URL

from gateway import start_upstream  # same folder: the gateway benchmark's upstream
from isthmus.connectors.http import Limits, OriginPool

Fetch = Callable[[], Awaitable[bytes]]


async def rate(fetch: Fetch, tasks: int, seconds: float) -> float:
    """Requests per second from ``tasks`` concurrent loops for about ``seconds``."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            body = await fetch()
            assert body, "empty answer"
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(tasks)))
    return done / (time.perf_counter() - started)


async def measure(url: str, rounds: int, seconds: float) -> dict[str, list[float]]:
    target = URL(url)
    pool = OriginPool(target.origin(), allow_private=True, limits=Limits(max_connections=64))
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))

    async def ours() -> bytes:
        return (await pool.request("GET", target.raw_path)).body

    async def theirs() -> bytes:
        async with session.get(url) as response:
            return await response.read()

    clients = {"isthmus": ours, "aiohttp": theirs}
    results: dict[str, list[float]] = {f"{n}{k}": [] for n in clients for k in ("", "_seq")}
    try:
        for fetch in clients.values():  # warm both pools
            await rate(fetch, 64, 0.5)
        for index in range(rounds):
            order = list(clients) if index % 2 == 0 else list(reversed(clients))
            for name in order:
                results[name].append(await rate(clients[name], 64, seconds))
                results[f"{name}_seq"].append(await rate(clients[name], 1, seconds))
    finally:
        await pool.close()
        await session.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (< 1 min)")
    options = parser.parse_args()
    rounds, seconds = (1, 2.0) if options.quick else (3, 5.0)
    with tempfile.TemporaryDirectory(prefix="isthmus-bench-") as tmp:
        url, process, kind = start_upstream(Path(tmp))
        try:
            results = uvloop.run(measure(url, rounds, seconds))
        finally:
            process.terminate()
            process.wait(10)
    median = {name: statistics.median(values) for name, values in results.items()}
    print(f"upstream: {kind}; {rounds} round(s) of {seconds}s per client and mode")
    for name, value in median.items():
        print(f"  {name:12} {value:10.0f} req/s")
    print(
        f"RESULT upstream_client vs_aiohttp={median['isthmus'] / median['aiohttp']:.2f} "
        f"sequential_vs_aiohttp={median['isthmus_seq'] / median['aiohttp_seq']:.2f}"
    )


if __name__ == "__main__":
    main()
