"""A live sandbox for the portal's examples: an in-process hub whose gateway and admin
API listen on loopback ports, in front of a recording backend, so copied examples run
as a user runs them (curl, python, node) over real HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from isthmus.control.app import create_control_app
from isthmus.gateway.app import Gateway
from isthmus.hub import Hub
from isthmus.model import Resource, kind_of
from isthmus.servers import UvicornServer, listen, run_until_started
from isthmus.settings import Settings
from isthmus.store import Change
from tests.helpers import free_port

ADMIN_TOKEN = "admin-token-for-examples"
# What an Api's author may well write: quotes of both kinds, shell and PowerShell
# metacharacters, a line break, non-ASCII (one beyond the BMP) and a key that JavaScript
# object literals treat specially.
ORDER_EXAMPLE: dict[str, Any] = {
    "note": 'It\'s "quoted" — costs $5 `now` $(whoami) naïve 日本 😀\nsecond line',
    "amount": 12.5,
    "urgent": True,
    "tags": ["a'b", "c\\d", None],
    "__proto__": {"polluted": "no"},
}
CUSTOMER_EXAMPLE = "O'Brien & Søn $HOME `x`"
ORDER_ID_EXAMPLE = "A-1 'x'"
ENTRY_EXAMPLE = {"id": "LE-000042", "amount": 12.5, "booked": "2026-11-30T10:00:00Z"}


def project(backend_url: str) -> list[dict[str, Any]]:
    proxy = {"type": "proxy", "connection": "shop"}
    return [
        {"kind": "System", "metadata": {"name": "shop", "owner": "sales"}},
        {
            "kind": "Connection",
            "metadata": {"name": "shop", "environment": "sandbox"},
            "spec": {
                "system": "shop",
                "connector": "rest",
                "config": {"baseUrl": backend_url, "allowPrivateNetwork": True},
            },
        },
        {"kind": "System", "metadata": {"name": "ledger", "owner": "finance"}},
        {  # production only: in the sandbox the mock answers
            "kind": "Connection",
            "metadata": {"name": "ledger", "environment": "production"},
            "spec": {
                "system": "ledger",
                "connector": "rest",
                "config": {"baseUrl": "https://ledger.example.test"},
            },
        },
        {
            "kind": "Api",
            "metadata": {"name": "orders", "owner": "sales"},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "routes": [
                            {
                                "path": "/orders",
                                "operationId": "listOrders",
                                "target": proxy,
                                "request": {
                                    "query": {
                                        "status": {
                                            "schema": {"enum": ["open", "closed"]},
                                            "required": True,
                                        },
                                        "customer": {"example": CUSTOMER_EXAMPLE},
                                        "page": {"schema": {"type": "integer"}},
                                    }
                                },
                            },
                            {
                                "path": "/orders/{id}",
                                "operationId": "getOrder",
                                "target": proxy,
                                "request": {
                                    "path": {
                                        "id": {
                                            "schema": {"type": "string", "maxLength": 40},
                                            "example": ORDER_ID_EXAMPLE,
                                        }
                                    }
                                },
                            },
                            {
                                "method": "POST",
                                "path": "/orders",
                                "operationId": "createOrder",
                                "target": proxy,
                                "request": {
                                    "body": {
                                        "type": "object",
                                        "required": ["note", "amount"],
                                        "properties": {
                                            "note": {"type": "string"},
                                            "amount": {"type": "number"},
                                        },
                                    }
                                },
                                "response": {"type": "object"},
                                "examples": {"request": ORDER_EXAMPLE},
                            },
                            {
                                "method": "DELETE",
                                "path": "/orders/{id}",
                                "operationId": "deleteOrder",
                                "target": proxy,
                            },
                            {
                                "path": "/entries",
                                "operationId": "listEntries",
                                "target": {"type": "proxy", "connection": "ledger"},
                                "collection": {
                                    "key": "id",
                                    "fields": {"id": {}, "amount": {"type": "number"}},
                                },
                                "examples": {"response": ENTRY_EXAMPLE},
                            },
                        ],
                    }
                ]
            },
        },
        {"kind": "App", "metadata": {"name": "maker"}, "spec": {"apis": ["orders"]}},
    ]


@dataclass
class Seen:
    method: str
    raw_path: str
    content_type: str
    body: bytes


@dataclass
class LiveSandbox:
    gateway: str  # the gateway's base URL (also the token issuer)
    control: str  # the admin API's base URL
    key: str  # a sandbox API key of the App 'maker'
    seen: list[Seen] = field(default_factory=list)  # requests that reached the backend

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    async def document(self, api: str = "orders", version: str = "v1") -> dict[str, Any]:
        """The sandbox's OpenAPI document, as a developer downloads it."""
        url = f"{self.gateway}/sandbox/{api}/{version}/openapi.json"
        headers = {"X-Api-Key": self.key}
        async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as got:
            assert got.status == 200, await got.text()
            document: dict[str, Any] = await got.json()
            return document


async def _recording_backend(seen: list[Seen]) -> tuple[web.AppRunner, str]:
    async def record(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        seen.append(Seen(request.method, request.raw_path, request.content_type, body))
        if request.method == "DELETE":
            return web.Response(status=204)
        # deterministic, so an example's answer can be compared with a direct call's; the
        # body parsed, as each client spaces and escapes its JSON its own way
        received = json.loads(body) if body else None
        return web.json_response(
            {"method": request.method, "path": request.raw_path, "received": received}
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def _resource(document: dict[str, Any]) -> Resource:
    kind = kind_of(document["kind"])
    assert kind is not None
    return kind.model_validate(document)


@pytest.fixture
async def live_sandbox(tmp_path: Path) -> AsyncIterator[LiveSandbox]:
    seen: list[Seen] = []
    runner, backend_url = await _recording_backend(seen)
    gateway_socket, control_socket = listen("127.0.0.1", 0), listen("127.0.0.1", 0)
    gateway_port = gateway_socket.getsockname()[1]
    control_port = control_socket.getsockname()[1]
    settings = Settings(
        home=tmp_path / "home",
        admin_token=ADMIN_TOKEN,
        host="127.0.0.1",
        gateway_port=gateway_port,
        control_port=control_port,
    )
    try:
        async with Hub(settings) as hub:
            resources = [_resource(d) for d in project(backend_url)]
            await hub.store.resources.apply([Change("create", r.key, r) for r in resources])
            _, key = await hub.store.keys.create("maker", "sandbox")
            await hub.snapshots.refresh()
            gateway = Gateway(
                hub.snapshots, hub.limiter, metrics=hub.metrics, issuer=settings.issuer()
            )
            servers = [
                UvicornServer(gateway, gateway_socket),
                UvicornServer(create_control_app(hub), control_socket),
            ]
            tasks = await run_until_started(list(servers))
            assert all(server.started for server in servers), "the servers did not start"
            try:
                yield LiveSandbox(settings.issuer(), f"http://127.0.0.1:{control_port}", key, seen)
            finally:
                for server in servers:
                    server.stop()
                for task in tasks:
                    await task
    finally:
        gateway_socket.close()
        control_socket.close()
        await runner.cleanup()
