"""Credentials of Apps: API keys and client secrets — issued (shown once), listed,
rotated with a grace period, collected once after an approval, revoked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from isthmus.control.security import principal
from isthmus.governance.credentials import DEFAULT_GRACE, MAX_GRACE, Issued
from isthmus.hub import Hub
from isthmus.model.base import Name
from isthmus.store import ApiKeyInfo

router = APIRouter(tags=["Credential"])


class KeyRequest(BaseModel):
    environment: Name = Field(default="sandbox", description="Environment the key calls into.")
    label: str = Field(default="", max_length=200)
    kind: Literal["api-key", "client-secret"] = Field(
        default="api-key",
        description="api-key: sent with every call; client-secret: traded at /oauth/token "
        "for access tokens (client_id is the App's name).",
    )


class KeyOut(BaseModel):
    id: str
    app: str
    environment: str
    label: str
    kind: str
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = Field(
        default=None, description="A rotated credential works until then."
    )
    rotated_from: str | None = None
    awaiting_pickup: bool = Field(
        default=False, description="Issued by an approval; the App's owner collects it once."
    )


class IssuedKey(KeyOut):
    key: str = Field(description="The credential itself. Shown only now: store it safely.")


class Rotation(BaseModel):
    grace_seconds: int = Field(
        default=int(DEFAULT_GRACE.total_seconds()),
        ge=0,
        le=int(MAX_GRACE.total_seconds()),
        description="How long the old value keeps working.",
    )


def out(info: ApiKeyInfo) -> KeyOut:
    return KeyOut(**info.__dict__)


def issued(credential: Issued) -> IssuedKey:
    return IssuedKey(**credential.info.__dict__, key=credential.value)


@router.post("/apps/{app}/keys", status_code=201, summary="Issue a credential for an App")
async def issue(app: str, body: KeyRequest, request: Request) -> IssuedKey:
    hub: Hub = request.app.state.hub
    made = await hub.credentials.issue(
        principal(request), app, body.environment, body.kind, body.label
    )
    await hub.snapshots.refresh()
    return issued(made)


@router.get("/apps/{app}/keys", summary="List an App's credentials (never their values)")
async def list_keys(app: str, request: Request) -> list[KeyOut]:
    hub: Hub = request.app.state.hub
    return [out(info) for info in await hub.credentials.list(principal(request), app)]


@router.post(
    "/keys/{key_id}/rotate",
    status_code=201,
    summary="Rotate a credential: a new value; the old one works for the grace period",
)
async def rotate(key_id: str, body: Rotation, request: Request) -> IssuedKey:
    hub: Hub = request.app.state.hub
    grace = timedelta(seconds=body.grace_seconds)
    made = await hub.credentials.rotate(principal(request), key_id, grace)
    await hub.snapshots.refresh()
    return issued(made)


@router.post(
    "/keys/{key_id}/collect",
    summary="Collect a credential an approval issued (its value is handed out once)",
)
async def collect(key_id: str, request: Request) -> IssuedKey:
    hub: Hub = request.app.state.hub
    return issued(await hub.credentials.collect(principal(request), key_id))


@router.delete("/keys/{key_id}", status_code=204, summary="Revoke a credential at once")
async def revoke(key_id: str, request: Request) -> None:
    hub: Hub = request.app.state.hub
    await hub.credentials.revoke(principal(request), key_id)
    await hub.snapshots.refresh()
