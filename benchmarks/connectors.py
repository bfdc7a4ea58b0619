"""Reading a paged REST API into records: a declarative connector vs dlt's rest_api
source, side by side in one run.

The API is 200,000 records in pages of 1,000, each page naming the next in its body
(`{"data": [...], "next": "/pages/2.json"}`), served by Debian's nginx when installed
(else a raw ASGI app), so the server is not what is measured. Both readers follow the
same links and hand over every record as a Python dict; each round alternates which
goes first; median of 3 rounds.

    python benchmarks/connectors.py [--quick]

Last line: RESULT connectors vs_dlt=… records_per_s=…
Needs dlt (pip install 'isthmus[bench]').
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway import start_upstream  # same folder: the gateway benchmark's upstream
from isthmus.connectors.base import StreamQuery
from isthmus.connectors.registry import connector_type
from isthmus.testing import ConnectorCase

PAGE = 1000


def write_pages(www: Path, records: int) -> None:
    pages = (records + PAGE - 1) // PAGE
    folder = www / "pages"
    folder.mkdir(parents=True)
    for number in range(1, pages + 1):
        start = (number - 1) * PAGE
        rows = [
            {
                "id": i,
                "name": f"Customer {i}",
                "email": f"customer{i}@example.com",
                "tier": ("gold", "silver", "bronze")[i % 3],
                "country": "GB",
                "active": i % 7 != 0,
                "balance": round(i * 1.37, 2),
                "created": "2026-01-01T00:00:00Z",
            }
            for i in range(start, min(start + PAGE, records))
        ]
        following = f"/pages/{number + 1}.json" if number < pages else None
        (folder / f"{number}.json").write_text(json.dumps({"data": rows, "next": following}))


async def read_isthmus(base: str) -> int:
    case = ConnectorCase(
        connector_type("declarative"),
        {
            "spec": {
                "baseUrl": base,
                "streams": {
                    "items": {
                        "path": "/pages/1.json",
                        "records": "data",
                        "pagination": {"type": "next-url", "url": "next"},
                    }
                },
            },
            "allowPrivateNetwork": True,
        },
    )
    count = 0
    async with case.open() as connector:
        async for _ in connector.read("items", StreamQuery()):
            count += 1
    return count


def read_dlt(base: str) -> int:
    from dlt.sources.rest_api import rest_api_source

    source = rest_api_source(
        {
            "client": {
                "base_url": base + "/",
                "paginator": {"type": "json_link", "next_url_path": "next"},
            },
            "resources": [
                {"name": "items", "endpoint": {"path": "pages/1.json", "data_selector": "data"}}
            ],
        }
    )
    count = 0
    for item in source.resources["items"]:
        count += len(item) if isinstance(item, list) else 1
    return count


def timed(read: Any, base: str) -> tuple[int, float]:
    started = time.perf_counter()
    count = asyncio.run(read(base)) if asyncio.iscoroutinefunction(read) else read(base)
    return count, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50,000 records, one round")
    options = parser.parse_args()
    records, rounds = (50_000, 1) if options.quick else (200_000, 3)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    with tempfile.TemporaryDirectory(prefix="isthmus-bench-") as tmp:
        workdir = Path(tmp)
        url, process, kind = start_upstream(workdir, prepare=lambda www: write_pages(www, records))
        base = url.rsplit("/", 1)[0]
        rates: dict[str, list[float]] = {"isthmus": [], "dlt": []}
        try:
            readers = {"isthmus": read_isthmus, "dlt": read_dlt}
            for read in readers.values():  # imports, first connections: not measured
                timed(read, base)
            for index in range(rounds):
                order = list(readers) if index % 2 == 0 else list(reversed(readers))
                for name in order:
                    count, seconds = timed(readers[name], base)
                    if count != records:
                        raise SystemExit(f"{name} read {count} records, not {records}")
                    rates[name].append(count / seconds)
        finally:
            process.terminate()
            process.wait(10)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"upstream: {kind}; {records:,} records in pages of {PAGE:,}; {rounds} round(s)")
    for name, value in median.items():
        print(f"  {name:8} {value:12,.0f} records/s")
    print(
        f"RESULT connectors vs_dlt={median['isthmus'] / median['dlt']:.2f} "
        f"records_per_s={median['isthmus']:.0f}"
    )


if __name__ == "__main__":
    main()
