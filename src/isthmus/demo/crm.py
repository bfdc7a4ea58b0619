"""A small CRM REST service for the demo: customers behind a bearer token.

It behaves like a modest real backend: it checks its token, pages with ``limit`` and
``offset``, answers 404 with a JSON error body, and knows nothing about the hub.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web

CUSTOMERS: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "Ada Lovelace",
        "company": "Analytical Engines Ltd",
        "tier": "gold",
        "email": "ada@example.com",
        "country": "GB",
    },
    {
        "id": 2,
        "name": "Grace Hopper",
        "company": "Compiler Works",
        "tier": "platinum",
        "email": "grace@example.com",
        "country": "US",
    },
    {
        "id": 3,
        "name": "Katherine Johnson",
        "company": "Orbital Dynamics",
        "tier": "gold",
        "email": "katherine@example.com",
        "country": "US",
    },
    {
        "id": 4,
        "name": "Hedy Lamarr",
        "company": "Frequency Hopping Inc",
        "tier": "silver",
        "email": "hedy@example.com",
        "country": "AT",
    },
    {
        "id": 5,
        "name": "Alan Turing",
        "company": "Bletchley Computing",
        "tier": "silver",
        "email": "alan@example.com",
        "country": "GB",
    },
    {
        "id": 6,
        "name": "Margaret Hamilton",
        "company": "Apollo Software",
        "tier": "platinum",
        "email": "margaret@example.com",
        "country": "US",
    },
]


# The production CRM's customers: other people than the sandbox's, so a call shows which
# Environment answered it.
PRODUCTION_CUSTOMERS: list[dict[str, Any]] = [
    {"id": 101, "name": "Mary Jackson", "company": "Langley Research", "tier": "gold",
     "email": "mary@example.com", "country": "US"},
    {"id": 102, "name": "Karen Spärck Jones", "company": "Cambridge Retrieval", "tier": "silver",
     "email": "karen@example.com", "country": "GB"},
    {"id": 103, "name": "Hedy Lamarr", "company": "Frequency Hopping Inc", "tier": "platinum",
     "email": "hedy@example.com", "country": "AT"},
]  # fmt: skip


def crm_app(token: str, customers: list[dict[str, Any]] | None = None) -> web.Application:
    records = [dict(c) for c in (customers if customers is not None else CUSTOMERS)]
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return web.json_response({"error": "invalid token"}, status=401)
        response: web.StreamResponse = await handler(request)
        return response

    async def list_customers(request: web.Request) -> web.Response:
        try:
            limit = min(int(request.query.get("limit", "50")), 100)
            offset = max(int(request.query.get("offset", "0")), 0)
        except ValueError:
            return web.json_response({"error": "limit and offset must be integers"}, status=400)
        page = records[offset : offset + limit]
        return web.json_response({"items": page, "total": len(records), "offset": offset})

    async def get_customer(request: web.Request) -> web.Response:
        wanted = request.match_info["id"]
        for record in records:
            if str(record["id"]) == wanted:
                return web.json_response(record)
        return web.json_response({"error": f"customer {wanted} not found"}, status=404)

    app = web.Application(middlewares=[require_token])
    app.router.add_get("/customers", list_customers)
    app.router.add_get("/customers/{id}", get_customer)
    return app


async def start_crm(
    token: str, host: str, port: int, customers: list[dict[str, Any]] | None = None
) -> tuple[web.AppRunner, int]:
    """The CRM listening on ``port`` (0: any free port); the runner and the port."""
    runner = web.AppRunner(crm_app(token, customers), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, int(bound)
