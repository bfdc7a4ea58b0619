"""A CRM's REST API on loopback for virtual data tests: customers paged by offset and
limit, filtered by id (one or a comma-separated list) and tier, as such APIs document.
It counts the requests it answers and the records it sends, so tests can assert what
a query cost at the source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PAGE_LIMIT = 50  # the most records the API sends per page, whatever is asked

TIERS = ("gold", "silver", "bronze")
COUNTRIES = ("NL", "DE", "FR", "US")


def customers(count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": n,
            "name": f"Customer {n:03d}",
            "tier": TIERS[n % 3],
            "country": COUNTRIES[n % 4],
            "created": f"2026-{1 + n % 12:02d}-{1 + n % 28:02d}T08:00:00Z",
        }
        for n in range(1, count + 1)
    ]


@dataclass
class Crm:
    records: list[dict[str, Any]]
    url: str = ""
    requests: int = 0
    sent: int = 0
    delay: float = 0.0
    seen: list[str] = field(default_factory=list)

    async def list_customers(self, request: web.Request) -> web.Response:
        self.requests += 1
        self.seen.append(request.path_qs)
        if self.delay:
            await asyncio.sleep(self.delay)
        query = request.query
        rows = self.records
        if "id" in query:
            wanted = {int(v) for v in query["id"].split(",") if v.strip().isdigit()}
            rows = [r for r in rows if r["id"] in wanted]
        if "tier" in query:
            rows = [r for r in rows if r["tier"] == query["tier"]]
        offset = int(query.get("offset", "0"))
        limit = min(int(query.get("limit", str(PAGE_LIMIT))), PAGE_LIMIT)
        page = rows[offset : offset + limit]
        self.sent += len(page)
        return web.json_response({"data": page, "total": len(rows)})


SPEC: dict[str, Any] = {
    "title": "Demo CRM",
    "baseUrl": "{config.url}",
    "config": {"url": {"description": "where the CRM is"}},
    "pagination": {"type": "offset", "pageSize": PAGE_LIMIT},
    "maxPages": 20,
    "streams": {
        "customers": {
            "path": "/customers",
            "records": "data",
            "primaryKey": ["id"],
            "filters": {
                "id": {"param": "id", "ops": ["eq", "in"]},
                "tier": {"param": "tier", "ops": ["eq"]},
            },
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "tier": {"type": "string"},
                    "country": {"type": "string"},
                    "created": {"type": "string", "format": "date-time"},
                },
            },
        },
        "notes": {
            "path": "/customers",
            "records": "data",
            "primaryKey": ["id"],
            "filters": {"tier": {"param": "tier", "ops": ["eq"], "required": True}},
            "schema": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "tier": {"type": "string"}},
            },
        },
    },
}


@asynccontextmanager
async def serving(records: list[dict[str, Any]]) -> AsyncIterator[Crm]:
    crm = Crm(records)
    app = web.Application()
    app.router.add_get("/customers", crm.list_customers)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    crm.url = f"http://127.0.0.1:{port}"
    try:
        yield crm
    finally:
        await runner.cleanup()
