"""My Apps: their access, their credentials (collect once, issue, rotate, revoke)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from isthmus.governance.credentials import MAX_GRACE
from isthmus.model import App
from isthmus.model.base import NAME_PATTERN
from isthmus.portal import session
from isthmus.portal.app import PREFIX, render

router = APIRouter()


@router.get("/apps")
async def apps_page(request: Request) -> Response:
    principal = await session.required(request)
    hub = session.hub_of(request)
    apps = [r for r in await hub.store.resources.list("App")
            if isinstance(r, App) and principal.owns(r)]  # fmt: skip
    now = datetime.now(UTC)
    rows = []
    for app in apps:
        name = app.metadata.name
        keys = await hub.store.keys.list(name)
        rows.append({
            "app": app,
            "grants": await hub.store.access.grants(name),
            "credentials": [k for k in keys if k.active(now)],
            "ended": [k for k in keys if not k.active(now)][-5:],
        })  # fmt: skip
    return await render(request, "apps.html", {"rows": rows, "now": now})


def _shown(title: str, app: str, credentials: list[object]) -> dict[str, object]:
    return {"title": title, "app": app, "credentials": credentials}


@router.post("/apps/{app}/keys")
async def issue(
    request: Request,
    app: str,
    csrf: Annotated[str, Form()],
    kind: Annotated[Literal["api-key", "client-secret"], Form()] = "api-key",
    environment: Annotated[str, Form(pattern=NAME_PATTERN)] = "sandbox",
    label: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    session.check_csrf(request, csrf)
    principal = await session.required(request)
    hub = session.hub_of(request)
    made = await hub.credentials.issue(principal, app, environment, kind, label)
    await hub.snapshots.refresh()
    return await render(request, "credentials_shown.html", _shown("New credential", app, [made]))


@router.post("/keys/{key_id}/collect")
async def collect(request: Request, key_id: str, csrf: Annotated[str, Form()]) -> Response:
    session.check_csrf(request, csrf)
    principal = await session.required(request)
    made = await session.hub_of(request).credentials.collect(principal, key_id)
    context = _shown("Your new credential", made.info.app, [made])
    return await render(request, "credentials_shown.html", context)


@router.post("/keys/{key_id}/rotate")
async def rotate(
    request: Request,
    key_id: str,
    csrf: Annotated[str, Form()],
    grace_hours: Annotated[int, Form(ge=0, le=int(MAX_GRACE.total_seconds() // 3600))] = 24,
) -> Response:
    session.check_csrf(request, csrf)
    principal = await session.required(request)
    hub = session.hub_of(request)
    made = await hub.credentials.rotate(principal, key_id, timedelta(hours=grace_hours))
    await hub.snapshots.refresh()
    context = _shown(f"Rotated; the old value works {grace_hours} h more", made.info.app, [made])
    return await render(request, "credentials_shown.html", context)


@router.post("/keys/{key_id}/revoke")
async def revoke(request: Request, key_id: str, csrf: Annotated[str, Form()]) -> Response:
    session.check_csrf(request, csrf)
    principal = await session.required(request)
    hub = session.hub_of(request)
    await hub.credentials.revoke(principal, key_id)
    await hub.snapshots.refresh()
    request.session["flash"] = f"Revoked credential {key_id}: it stops working at once."
    return RedirectResponse(f"{PREFIX}/apps", status_code=303)
