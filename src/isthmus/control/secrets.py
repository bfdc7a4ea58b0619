"""Secrets in the vault: write-only values, listed by name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from isthmus.governance.vault import SECRET_NAME_PATTERN
from isthmus.hub import Hub

router = APIRouter(prefix="/secrets", tags=["Secret"])


class SecretValue(BaseModel):
    value: str = Field(min_length=1, description="Stored encrypted; never returned.")


@router.get("", summary="List secret names (values are never returned)")
async def list_secrets(request: Request) -> list[str]:
    hub: Hub = request.app.state.hub
    return await hub.vault.names()


SecretName = Annotated[
    str, Path(pattern=SECRET_NAME_PATTERN, description="The name in secret://NAME.")
]


@router.put("/{name:path}", status_code=204, summary="Store or replace a secret")
async def put_secret(name: SecretName, body: SecretValue, request: Request) -> None:
    hub: Hub = request.app.state.hub
    await hub.vault.set(name, body.value)
    await hub.snapshots.refresh()


@router.delete("/{name:path}", status_code=204, summary="Delete a secret")
async def delete_secret(name: SecretName, request: Request) -> None:
    hub: Hub = request.app.state.hub
    await hub.vault.delete(name)
    await hub.snapshots.refresh()
