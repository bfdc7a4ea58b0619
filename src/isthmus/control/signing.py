"""Signing keys of the OAuth2 access tokens: listed (public data only) and rotated."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from isthmus.hub import Hub

router = APIRouter(prefix="/signing-keys", tags=["SigningKey"])


class SigningKeyOut(BaseModel):
    kid: str
    alg: str
    created_at: datetime
    retired_at: datetime | None


@router.get("", summary="Token signing keys (never the private halves)")
async def list_keys(request: Request) -> list[SigningKeyOut]:
    hub: Hub = request.app.state.hub
    return [
        SigningKeyOut(kid=k.kid, alg=k.alg, created_at=k.created_at, retired_at=k.retired_at)
        for k in await hub.store.signing_keys.list()
    ]


@router.post("/rotate", status_code=201, summary="Start signing with a new key")
async def rotate(request: Request) -> dict[str, str]:
    """The previous key keeps verifying (and stays in the JWKS) until its tokens expire."""
    hub: Hub = request.app.state.hub
    kid = await hub.tokens.rotate()
    await hub.snapshots.refresh()
    return {"kid": kid}
