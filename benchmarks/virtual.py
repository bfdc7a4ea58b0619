"""Data virtualization: the same three queries through Isthmus, through DuckDB's own
postgres and sqlite scanners, and natively on a copy in DuckDB, in one run.

The data: invoices in PostgreSQL, customers in a SQLite file. The queries:

* scan — a full-scan aggregate over the invoices (Isthmus sends it to PostgreSQL whole);
* lookup — one invoice by id, compared with asking PostgreSQL directly (SQLAlchemy +
  asyncpg, as an application's backend would);
* join — invoices of the gold customers of one country: PostgreSQL ⋈ SQLite.

Isthmus is measured through its gateway (POST /query, in-process ASGI: auth, planning
from cache, the sources, DuckDB, JSON). DuckDB's scanners exist offline only for DuckDB
1.4.4 (PyPI ``duckdb-ext-postgres``/``duckdb-ext-sqlite``): they run in a virtualenv of
their own under .cache/, made on first use; if it cannot be made they are reported as
not available. Median of the repetitions of each query.

    python benchmarks/virtual.py [--quick]

Last line: RESULT virtual lookup_vs_source=… scan_vs_duckdb=… rows_transferred_ratio=…
(rows_transferred_ratio: rows Isthmus moved from the sources for the three queries,
over the rows of the tables they read.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import duckdb
import orjson
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from isthmus.gateway.app import Gateway
from isthmus.hub import Hub
from isthmus.model import kind_of
from isthmus.settings import Settings
from isthmus.store import Change

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / ".cache" / "bench" / "duckdb-1.4.4"
TIERS = ("gold", "silver", "bronze")
COUNTRIES = ("NL", "DE", "FR", "US", "GB")

SCAN = (
    "SELECT status, count(*) AS n, sum(amount) AS total FROM invoices "
    "GROUP BY status ORDER BY status"
)
LOOKUP = "SELECT * FROM invoices WHERE id = {id}"
JOIN = (
    "SELECT c.country, count(*) AS n, sum(i.amount) AS total FROM invoices i "
    "JOIN customers c ON c.id = i.customer_id WHERE c.tier = 'gold' AND c.country = 'NL' "
    "GROUP BY c.country"
)


def invoices(count: int, customers: int) -> list[tuple[Any, ...]]:
    return [
        (n, 1 + (n * 7) % customers, Decimal(n % 997) + Decimal("0.5"), ("paid", "open")[n % 2])
        for n in range(1, count + 1)
    ]


def customers(count: int) -> list[tuple[Any, ...]]:
    return [(n, f"Customer {n}", TIERS[n % 3], COUNTRIES[n % 5]) for n in range(1, count + 1)]


async def make_postgres(rows: list[tuple[Any, ...]]) -> tuple[str, str]:
    name = f"isthmus_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = POSTGRES.rsplit("/", 1)[0] + f"/{name}"
    conn = await asyncpg.connect(url)
    await conn.execute(
        "CREATE TABLE invoices (id integer PRIMARY KEY, customer_id integer NOT NULL, "
        "amount numeric(10,2) NOT NULL, status text NOT NULL)"
    )
    await conn.copy_records_to_table("invoices", records=rows)
    await conn.execute("CREATE INDEX invoices_customer ON invoices (customer_id)")
    await conn.execute("ANALYZE invoices")
    await conn.close()
    return name, url


async def drop_postgres(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def make_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> None:
    with sqlite3.connect(path) as database:
        database.execute(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, tier TEXT, country TEXT)"
        )
        database.executemany("INSERT INTO customers VALUES (?, ?, ?, ?)", rows)


def native_copy(invoice_rows: list[tuple[Any, ...]], customer_rows: list[tuple[Any, ...]]) -> Any:
    database = duckdb.connect()
    frames = {
        "invoices": pa.table(
            list(zip(*invoice_rows, strict=True)),
            names=["id", "customer_id", "amount", "status"],
        ),
        "customers": pa.table(
            list(zip(*customer_rows, strict=True)), names=["id", "name", "tier", "country"]
        ),
    }
    for name, frame in frames.items():
        database.register(f"{name}_rows", frame)
        database.execute(f"CREATE TABLE {name} AS SELECT * FROM {name}_rows")
    return database


def project(postgres_url: str, sqlite_path: Path) -> list[dict[str, Any]]:
    def connection(name: str, url: str) -> dict[str, Any]:
        return {
            "kind": "Connection",
            "metadata": {"name": name, "environment": "sandbox"},
            "spec": {
                "system": name,
                "connector": "sql",
                "config": {"url": url, "allowPrivateNetwork": True, "maxRows": 1_000_000},
            },
        }

    return [
        {"kind": "System", "metadata": {"name": "billing", "owner": "finance"}},
        {"kind": "System", "metadata": {"name": "crm", "owner": "sales"}},
        connection("billing", postgres_url.replace("postgresql://", "postgresql+asyncpg://")),
        connection("crm", f"sqlite+aiosqlite:///{sqlite_path}"),
        {"kind": "View", "metadata": {"name": "invoices"},
         "spec": {"sql": "SELECT * FROM billing.invoices", "key": ["id"]}},
        {"kind": "View", "metadata": {"name": "customers"},
         "spec": {"sql": "SELECT * FROM crm.customers", "key": ["id"]}},
        {"kind": "Api", "metadata": {"name": "bench"},
         "spec": {"versions": [{"name": "v1", "views": ["invoices", "customers"]}]}},
        {"kind": "App", "metadata": {"name": "bench"}, "spec": {"apis": ["bench"]}},
    ]  # fmt: skip


async def post(gateway: Gateway, key: str, sql: str) -> dict[str, Any]:
    """POST /query straight into the gateway's ASGI app."""
    body = orjson.dumps({"sql": sql})
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/query", "raw_path": b"/query", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8400),
        "headers": [(b"x-api-key", key.encode()), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    sent = False
    chunks: list[bytes] = []
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await gateway(scope, receive, send)
    answer: dict[str, Any] = orjson.loads(b"".join(chunks))
    if status != 200:
        raise RuntimeError(f"{sql}: {answer}")
    return answer


async def median_ms(run: Callable[[int], Awaitable[Any]], times: int) -> float:
    await run(0)  # warm: connections, plans
    spent = []
    for n in range(1, times + 1):
        started = time.perf_counter()
        await run(n)
        spent.append(time.perf_counter() - started)
    return statistics.median(spent) * 1000


async def side_by_side(
    runs: dict[str, Callable[[int], Awaitable[Any]]],
    times: int,
    settle: Callable[[], Awaitable[Any]],
) -> dict[str, float]:
    """Each run's median, the runs taking turns in blocks of calls (the machine is
    shared: its noise then falls on both alike). ``settle``, untimed after each block,
    finishes work the calls left for later (the hub's audit commit), so it never lands
    on the other run's clock."""
    spent: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():
        await run(0)  # warm: connections, plans
    block = 20
    for first in range(1, times + 1, block):
        for name, run in runs.items():
            for n in range(first, min(first + block, times + 1)):
                started = time.perf_counter()
                await run(n)
                spent[name].append(time.perf_counter() - started)
            await settle()
    return {name: statistics.median(values) * 1000 for name, values in spent.items()}


def native_ms(database: Any, sql: str, times: int) -> float:
    database.execute(sql).fetchall()
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        database.execute(sql).fetchall()
        spent.append(time.perf_counter() - started)
    return statistics.median(spent) * 1000


PEER_SCRIPT = r"""
import json, pathlib, statistics, sys, time, duckdb
folder = next(pathlib.Path(duckdb.__file__).parent.parent.glob("duckdb_ext/extensions/*/*"))
database = duckdb.connect()
for name in ("postgres_scanner", "sqlite_scanner"):
    database.execute(f"LOAD '{folder / (name + '.duckdb_extension')}'")
pg, lite, times = sys.argv[1], sys.argv[2], int(sys.argv[3])
database.execute(f"ATTACH '{pg}' AS pg (TYPE postgres, READ_ONLY)")
database.execute(f"ATTACH '{lite}' AS lite (TYPE sqlite, READ_ONLY)")
database.execute("CREATE VIEW invoices AS SELECT * FROM pg.public.invoices")
database.execute("CREATE VIEW customers AS SELECT * FROM lite.customers")
out = {}
for name, sql in json.loads(sys.argv[4]).items():
    database.execute(sql).fetchall()
    spent = []
    for _ in range(times):
        started = time.perf_counter()
        database.execute(sql).fetchall()
        spent.append(time.perf_counter() - started)
    out[name] = statistics.median(spent) * 1000
print(json.dumps(out))
"""


def peer_python() -> Path | None:
    """DuckDB 1.4.4 with its postgres and sqlite scanners, in a virtualenv of its own."""
    python = PEER / "bin" / "python"
    if python.exists():
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
        subprocess.run(
            [str(PEER / "bin" / "pip"), "install", "-q", "duckdb==1.4.4",
             "duckdb-ext-postgres==1.4.4.*", "duckdb-ext-sqlite==1.4.4.*"],
            check=True, timeout=600,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return python


def scanners(pg: str, lite: Path, queries: dict[str, str], times: int) -> dict[str, float] | None:
    python = peer_python()
    if python is None:
        return None
    dsn = pg.replace("postgresql://", "").split("@")
    user, rest = dsn[0], dsn[1]
    host, database = rest.split("/")
    attach = f"dbname={database} host={host.split(':')[0]} port={host.split(':')[1]} user={user}"
    result = subprocess.run(
        [str(python), "-c", PEER_SCRIPT, attach, str(lite), str(times), json.dumps(queries)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if result.returncode != 0:
        print("DuckDB scanners failed:", result.stderr.strip()[-500:], file=sys.stderr)
        return None
    found: dict[str, float] = json.loads(result.stdout)
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 invoices, fewer rounds")
    options = parser.parse_args()
    count, people = (100_000, 5_000) if options.quick else (500_000, 20_000)
    rounds = {"scan": 5, "lookup": 100, "join": 5} if options.quick else {
        "scan": 15, "lookup": 400, "join": 15}  # fmt: skip
    invoice_rows, customer_rows = invoices(count, people), customers(people)
    name, pg_url = await make_postgres(invoice_rows)
    folder = Path(tempfile.mkdtemp(prefix="isthmus-bench-"))
    lite = folder / "crm.db"
    make_sqlite(lite, customer_rows)
    try:
        print(f"{count:,} invoices in PostgreSQL, {people:,} customers in SQLite", flush=True)
        native = native_copy(invoice_rows, customer_rows)
        ids = [1 + (n * 7919) % count for n in range(max(rounds.values()) + 1)]
        times: dict[str, dict[str, float]] = {"isthmus": {}, "native": {}}
        for label, sql in (("scan", SCAN), ("join", JOIN)):
            times["native"][label] = native_ms(native, sql, rounds[label])
        times["native"]["lookup"] = native_ms(native, LOOKUP.format(id=ids[0]), rounds["lookup"])

        # the pool the hub's SQL connector keeps (pre-ping on), so only what Isthmus adds
        # on top of a pooled driver is measured
        direct = create_async_engine(
            pg_url.replace("postgresql://", "postgresql+asyncpg://"),
            pool_size=5, max_overflow=5, pool_pre_ping=True,
        )  # fmt: skip

        async def lookup_direct(n: int) -> None:
            async with direct.connect() as connection:
                sql = sa.text("SELECT * FROM invoices WHERE id = :id")
                (await connection.execute(sql, {"id": ids[n]})).mappings().all()

        settings = Settings(home=folder / "home", admin_token="bench-admin-token")
        moved: dict[str, int] = {}
        async with Hub(settings) as hub:
            documents = [kind_of(d["kind"]).model_validate(d) for d in project(pg_url, lite)]  # type: ignore[union-attr]
            await hub.store.resources.apply([Change("create", r.key, r) for r in documents])
            _, key = await hub.store.keys.create("bench", "sandbox")
            await hub.snapshots.refresh(force=True)
            closed = [s for s in hub.pool.states() if not s.open]
            if closed:
                raise RuntimeError(f"Connections did not open: {closed}")
            gateway = Gateway(hub.snapshots, hub.limiter, issuer="http://bench", access_log=False)
            for label, sql in (("scan", SCAN), ("join", JOIN)):
                answer = await post(gateway, key, sql)
                moved[label] = sum(s["rows"] for s in answer["sources"])
                times["isthmus"][label] = await median_ms(
                    lambda _n, sql=sql: post(gateway, key, sql), rounds[label]
                )
            answer = await post(gateway, key, LOOKUP.format(id=ids[0]))
            moved["lookup"] = sum(s["rows"] for s in answer["sources"])
            lookups = await side_by_side(
                {
                    "isthmus": lambda n: post(gateway, key, LOOKUP.format(id=ids[n])),
                    "source": lookup_direct,
                },
                rounds["lookup"],
                hub.audit.drain,
            )
            times["isthmus"]["lookup"] = lookups["isthmus"]
            times["source"] = {"lookup": lookups["source"]}
        await direct.dispose()
        queries = {"scan": SCAN, "join": JOIN, "lookup": LOOKUP.format(id=ids[0])}
        peer = scanners(pg_url, lite, queries, max(3, rounds["scan"]))
        times["duckdb_scanners"] = peer or {}
    finally:
        await drop_postgres(name)

    heads = ("isthmus", "source", "scanners", "native")
    print(f"{'query':8} " + " ".join(f"{h:>11}" for h in heads) + f" {'rows moved':>12}")
    for label in ("scan", "lookup", "join"):
        cells = [times[k].get(label) for k in ("isthmus", "source", "duckdb_scanners", "native")]
        shown = [f"{c:9.2f}ms" if c is not None else f"{'n/a':>11}" for c in cells]
        print(f"{label:8} {' '.join(shown)} {moved[label]:>12,}")
    read = {"scan": count, "lookup": count, "join": count + people}
    ratio = sum(moved.values()) / sum(read.values())
    lookup = times["isthmus"]["lookup"] / times["source"]["lookup"]
    scan = times["isthmus"]["scan"] / times["native"]["scan"]
    print(
        f"RESULT virtual lookup_vs_source={lookup:.2f} scan_vs_duckdb={scan:.2f} "
        f"rows_transferred_ratio={ratio:.6f}"
    )


if __name__ == "__main__":
    os.environ.setdefault("ISTHMUS_LOG_LEVEL", "warning")
    asyncio.run(main())
