"""API keys of Apps: issued (shown once), listed, revoked."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from isthmus.errors import NotFound
from isthmus.hub import Hub
from isthmus.model import App, ResourceKey
from isthmus.model.base import Name
from isthmus.store import ApiKeyInfo

router = APIRouter(tags=["ApiKey"])


class KeyRequest(BaseModel):
    environment: Name = Field(default="sandbox", description="Environment the key calls into.")
    label: str = Field(default="", max_length=200)


class KeyOut(BaseModel):
    id: str
    app: str
    environment: str
    label: str
    created_at: datetime
    revoked_at: datetime | None = None


class IssuedKey(KeyOut):
    key: str = Field(description="The key itself. Shown only now: store it safely.")


def _out(info: ApiKeyInfo) -> KeyOut:
    return KeyOut(**info.__dict__)


@router.post("/apps/{app}/keys", status_code=201, summary="Issue an API key for an App")
async def issue(app: str, body: KeyRequest, request: Request) -> IssuedKey:
    hub: Hub = request.app.state.hub
    if await hub.store.resources.get(ResourceKey(App.__name__, app)) is None:
        raise NotFound(f"No App '{app}'.", remediation="Create the App first.")
    info, plain = await hub.store.keys.create(app, body.environment, body.label)
    await hub.snapshots.refresh()
    return IssuedKey(**info.__dict__, key=plain)


@router.get("/apps/{app}/keys", summary="List an App's API keys (never the keys themselves)")
async def list_keys(app: str, request: Request) -> list[KeyOut]:
    hub: Hub = request.app.state.hub
    return [_out(info) for info in await hub.store.keys.list(app)]


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke an API key")
async def revoke(key_id: str, request: Request) -> None:
    hub: Hub = request.app.state.hub
    await hub.store.keys.revoke(key_id)
    await hub.snapshots.refresh()
