"""A running hub (in-process) with a real backend system on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict

from isthmus.control.app import create_control_app
from isthmus.gateway.app import Gateway
from isthmus.hub import Hub
from isthmus.model import Resource, kind_of
from isthmus.settings import Settings
from isthmus.store import Change
from tests.helpers import Reply, asgi_call, free_port

ISSUER = "https://hub.example.test"


# Records for collection routes: ties on 'age' and 'tier' on purpose, one without email.
PEOPLE = [
    {
        "id": 1,
        "name": "Ada",
        "age": 36,
        "tier": "gold",
        "country": "GB",
        "active": True,
        "joined": "2024-03-01T09:00:00Z",
        "email": "ada@example.test",
    },
    {
        "id": 2,
        "name": "Grace",
        "age": 45,
        "tier": "silver",
        "country": "US",
        "active": False,
        "joined": "2023-07-15T12:00:00Z",
        "email": "grace@example.test",
    },
    {
        "id": 3,
        "name": "Alan",
        "age": 41,
        "tier": "gold",
        "country": "GB",
        "active": True,
        "joined": "2022-01-10T08:30:00Z",
        "email": None,
    },
    {
        "id": 4,
        "name": "Edsger",
        "age": 36,
        "tier": "bronze",
        "country": "NL",
        "active": True,
        "joined": "2024-11-20T16:45:00Z",
        "email": "edsger@example.test",
    },
    {
        "id": 5,
        "name": "Barbara",
        "age": 41,
        "tier": "gold",
        "country": "US",
        "active": False,
        "joined": "2021-05-05T05:05:00Z",
        "email": "barbara@example.test",
    },
    {
        "id": 6,
        "name": "Tim",
        "age": 29,
        "tier": "silver",
        "country": "GB",
        "active": True,
        "joined": "2025-02-02T02:02:00Z",
        "email": "tim@example.test",
    },
    {
        "id": 7,
        "name": "Frances",
        "age": 52,
        "tier": "bronze",
        "country": "FR",
        "active": True,
        "joined": "2020-09-09T09:09:00Z",
        "email": "frances@example.test",
    },
]


@dataclass
class Backend:
    url: str
    seen: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    port = free_port()
    state = Backend(f"http://127.0.0.1:{port}")

    async def record(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        state.seen.append(
            {
                "method": request.method,
                "raw_path": request.raw_path,
                "headers": CIMultiDict(request.headers),  # names are case-insensitive
                "body": body,
            }
        )
        if request.path.startswith("/boom"):
            return web.Response(
                status=500,
                text='Traceback (most recent call last):\n  File "/srv/db.py" db01.internal',
            )
        if request.path.startswith("/busy"):
            return web.json_response({}, status=503, headers={"Retry-After": "7"})
        if request.path.startswith("/moved"):
            return web.Response(
                status=302,
                headers={
                    "Location": "http://10.0.0.5:8080/internal",
                    "X-Name": "履歴書",
                    "Link": "<http://10.0.0.5/next>; rel=next",
                },
            )
        if request.path.startswith("/cc/"):  # answers with the Cache-Control the path names
            headers = {"Vary": "Accept-Language"} if request.path == "/cc/vary" else {}
            directive = request.path.removeprefix("/cc/").replace("_", "=")
            if directive != "vary":
                headers["Cache-Control"] = directive
            language = request.headers.get("Accept-Language", "")
            return web.json_response({"n": len(state.seen), "lang": language}, headers=headers)
        if request.path == "/people":
            return web.json_response({"results": PEOPLE})
        if request.path.startswith("/missing"):
            return web.json_response({"error": "no such thing"}, status=404)
        return web.json_response(
            {"path": request.raw_path, "method": request.method},
            headers={"Connection": "keep-alive", "X-Backend": "crm", "Set-Cookie": "s=1"},
        )

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield state
    await runner.cleanup()


def resource(document: dict[str, Any]) -> Resource:
    cls = kind_of(document["kind"])
    assert cls is not None
    return cls.model_validate(document)


async def declare(running: Running, *documents: dict[str, Any]) -> None:
    """Create or replace resources in the running hub's store, and serve them."""
    changes = []
    for document in documents:
        made = resource(document)
        exists = await running.hub.store.resources.get(made.key) is not None
        changes.append(Change("update" if exists else "create", made.key, made))
    await running.hub.store.resources.apply(changes)
    await running.hub.snapshots.refresh()


def project(backend_url: str) -> list[dict[str, Any]]:
    target = {"type": "proxy", "connection": "crm"}
    return [
        {"kind": "System", "metadata": {"name": "crm", "owner": "sales"}},
        {
            "kind": "Connection",
            "metadata": {"name": "crm", "environment": "sandbox"},
            "spec": {
                "system": "crm",
                "connector": "rest",
                "config": {"baseUrl": backend_url, "allowPrivateNetwork": True},
            },
        },
        {
            "kind": "Connection",
            "metadata": {"name": "stock", "environment": "sandbox"},
            "spec": {
                "system": "crm",
                "connector": "memory",
                "config": {
                    "collections": {
                        "items": {"primaryKey": "sku", "records": [{"sku": "a", "qty": 1}]}
                    }
                },
            },
        },
        {
            "kind": "Api",
            "metadata": {"name": "customers"},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "status": "deprecated",
                        "deprecatedAt": "2026-10-01",
                        "sunset": "2027-03-31T12:00:00Z",
                        "routes": [{"path": "/customers", "target": target}],
                    },
                    {
                        "name": "v2",
                        "routes": [
                            {"path": "/customers", "target": target},
                            {"method": "POST", "path": "/customers", "target": target},
                            {
                                "path": "/customers/{id}",
                                "target": {**target, "path": "/people/{id}"},
                            },
                            {"path": "/boom", "target": target},
                            {"path": "/busy", "target": target},
                            {"path": "/missing", "target": target},
                            {"path": "/moved", "target": target},
                        ],
                    },
                    {
                        "name": "v3",
                        "status": "draft",
                        "routes": [{"path": "/customers", "target": target}],
                    },
                    {"name": "v0", "status": "retired", "routes": []},
                ]
            },
        },
        {
            "kind": "Api",
            "metadata": {"name": "stock"},
            "spec": {
                "versions": [
                    {
                        "name": "v1",
                        "routes": [
                            {
                                "path": "/items",
                                "target": {
                                    "type": "operation",
                                    "connection": "stock",
                                    "operation": "items.list",
                                },
                            },
                            {
                                "method": "POST",
                                "path": "/items",
                                "target": {
                                    "type": "operation",
                                    "connection": "stock",
                                    "operation": "items.create",
                                },
                            },
                            {
                                "path": "/items/{sku}",
                                "target": {
                                    "type": "operation",
                                    "connection": "stock",
                                    "operation": "items.get",
                                },
                            },
                            {
                                "method": "DELETE",
                                "path": "/items/{sku}",
                                "target": {
                                    "type": "operation",
                                    "connection": "stock",
                                    "operation": "items.delete",
                                },
                            },
                        ],
                    }
                ]
            },
        },
        {"kind": "App", "metadata": {"name": "portal"}, "spec": {"apis": ["customers", "stock"]}},
        {"kind": "App", "metadata": {"name": "other"}, "spec": {"apis": []}},
    ]


@dataclass
class Running:
    hub: Hub
    gateway: Gateway
    control: Any
    key: str
    admin: dict[str, str]

    async def get(self, path: str, key: str | None = None, **kw: Any) -> Reply:
        return await self.call("GET", path, key=key, **kw)

    async def call(
        self,
        method: str,
        path: str,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> Reply:
        all_headers = dict(headers or {})
        if key is not None:
            all_headers["X-Api-Key"] = key
        return await asgi_call(self.gateway, method, path, headers=all_headers, **kw)

    async def admin_call(self, method: str, path: str, **kw: Any) -> Reply:
        headers = {**self.admin, "Content-Type": "application/json", **kw.pop("headers", {})}
        return await asgi_call(self.control, method, path, headers=headers, **kw)


@pytest.fixture
async def running(tmp_path: Path, backend: Backend) -> AsyncIterator[Running]:
    settings = Settings(home=tmp_path / "home", admin_token="admin-secret-token")
    async with Hub(settings) as hub:
        changes = [Change("create", r.key, r) for r in map(resource, project(backend.url))]
        await hub.store.resources.apply(changes)
        _, key = await hub.store.keys.create("portal", "sandbox")
        await hub.snapshots.refresh()
        yield Running(
            hub,
            Gateway(
                hub.snapshots, hub.limiter, metrics=hub.metrics, issuer=ISSUER, max_body_bytes=4096
            ),
            create_control_app(hub),
            key,
            {"Authorization": "Bearer admin-secret-token"},
        )


async def publish(
    running: Running,
    name: str,
    versions: list[dict[str, Any]],
    grant_to: tuple[str, ...] = ("portal",),
) -> None:
    """Create or replace Api ``name`` and grant it to the given Apps."""
    from isthmus.model import App, ResourceKey

    api = resource({"kind": "Api", "metadata": {"name": name}, "spec": {"versions": versions}})
    store = running.hub.store.resources
    changes = [Change("update" if await store.get(api.key) else "create", api.key, api)]
    for app_name in grant_to:
        app = await store.get(ResourceKey("App", app_name))
        assert isinstance(app, App)
        apis = sorted({*app.spec.apis, name})
        granted = resource(
            app.canonical() | {"spec": {**app.canonical().get("spec", {}), "apis": apis}}
        )
        changes.append(Change("update", granted.key, granted))
    await store.apply(changes)
    await running.hub.snapshots.refresh()
