"""The control plane's FastAPI application."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from isthmus import __version__
from isthmus.connectors import registry as connector_registry
from isthmus.control import (
    access,
    audit,
    catalog,
    dead_letters,
    exports,
    keys,
    problems,
    secrets,
    signing,
    subscriptions,
)
from isthmus.control.resources import kind_router
from isthmus.control.security import require_admin
from isthmus.errors import StoreUnavailable
from isthmus.events.asyncapi import events_document
from isthmus.hub import Hub
from isthmus.model import kinds
from isthmus.portal.app import PREFIX as PORTAL
from isthmus.portal.app import create_portal_app

ADMIN_PREFIX = "/admin/v1"


def create_control_app(hub: Hub) -> FastAPI:
    app = FastAPI(
        title="Isthmus admin API",
        version=__version__,
        description="Manage the resources, keys and secrets of an Isthmus hub.",
        openapi_url="/admin/openapi.json",
        docs_url="/admin/docs",
        redoc_url=None,
        responses=problems.PROBLEM_RESPONSES,
    )
    app.state.hub = hub
    problems.install(app)
    problems.document(app)

    admin = APIRouter(prefix=ADMIN_PREFIX, dependencies=[Depends(require_admin)])
    for cls in kinds().values():
        admin.include_router(kind_router(cls))
    admin.include_router(keys.router)
    admin.include_router(access.router)
    admin.include_router(exports.router)
    admin.include_router(secrets.router)
    admin.include_router(signing.router)
    admin.include_router(audit.router)
    admin.include_router(dead_letters.router)
    admin.include_router(subscriptions.router)
    admin.include_router(catalog.router)

    @admin.get("/connectors", tags=["Connector"], summary="Installed connector types")
    async def connectors() -> list[dict[str, Any]]:
        out = []
        for name in connector_registry.names():
            kind = connector_registry.connector_type(name)
            out.append(
                {
                    "name": name,
                    "summary": kind.summary,
                    "configSchema": kind.config_model.model_json_schema(by_alias=True),
                }
            )
        return out

    @admin.get("/asyncapi", tags=["EventType"], summary="AsyncAPI 3.0 document of every event")
    async def asyncapi() -> dict[str, Any]:
        return await events_document(hub.store)

    @admin.get("/status", tags=["Health"], summary="What the gateway serves, and what fails")
    async def status() -> dict[str, Any]:
        snapshot = hub.snapshots.current
        return {
            "revision": await hub.store.resources.revision(),
            "servedRevision": snapshot.revision if snapshot else None,
            "connections": [state.__dict__ for state in hub.pool.states()],
            # published Views that cannot be served, and why (their SQL no longer plans)
            "views": [
                {"view": name, "code": error.code, "cause": error.detail}
                for name, error in (snapshot.view_problems.items() if snapshot else ())
            ],
        }

    app.include_router(admin)

    @app.get(
        "/metrics",
        tags=["Health"],
        summary="Prometheus metrics of the gateway",
        response_class=PlainTextResponse,
    )
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(
            generate_latest(hub.metrics.registry), media_type=CONTENT_TYPE_LATEST
        )

    # the developer portal: server-rendered pages, signed-in people, its own errors
    app.mount(PORTAL, create_portal_app(hub))

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse(PORTAL + "/", status_code=307)

    @app.get("/healthz", tags=["Health"], summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz", tags=["Health"], summary="The hub can serve: store reachable, snapshot loaded"
    )
    async def readyz(request: Request) -> dict[str, Any]:
        try:
            revision = await hub.store.resources.revision()
        except Exception as exc:
            raise StoreUnavailable("The store does not answer.") from exc
        snapshot = hub.snapshots.current
        if snapshot is None:
            raise StoreUnavailable("The gateway has not loaded its configuration yet.")
        return {"status": "ready", "revision": revision, "servedRevision": snapshot.revision}

    return app
