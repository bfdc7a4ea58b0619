"""Secrets in the vault: write-only values, listed by name; the master key's rotation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from isthmus.control.security import actor
from isthmus.governance.audit import AuditEntry
from isthmus.governance.vault import SECRET_NAME_PATTERN
from isthmus.hub import Hub

router = APIRouter(tags=["Secret"])


class SecretValue(BaseModel):
    value: str = Field(min_length=1, description="Stored encrypted; never returned.")


class VaultState(BaseModel):
    current_key: str = Field(description="Id (a fingerprint) of the master key that encrypts.")
    sealed_by: dict[str, int] = Field(
        description="How many values each master key seals, by key id ('fernet': the "
        "vault's old format)."
    )


class Rekeying(VaultState):
    resealed: int = Field(description="Values sealed anew by this call.")


@router.get("/secrets", summary="List secret names (values are never returned)")
async def list_secrets(request: Request) -> list[str]:
    hub: Hub = request.app.state.hub
    return await hub.vault.names()


SecretName = Annotated[
    str, Path(pattern=SECRET_NAME_PATTERN, description="The name in secret://NAME.")
]


@router.put("/secrets/{name:path}", status_code=204, summary="Store or replace a secret")
async def put_secret(name: SecretName, body: SecretValue, request: Request) -> None:
    hub: Hub = request.app.state.hub
    existed = name in await hub.vault.names()
    await hub.vault.set(name, body.value)
    await hub.audit.record(
        AuditEntry(actor(request), "secret.write", f"secret/{name}", "ok", {"replaced": existed})
    )
    await hub.snapshots.refresh()


@router.delete("/secrets/{name:path}", status_code=204, summary="Delete a secret")
async def delete_secret(name: SecretName, request: Request) -> None:
    hub: Hub = request.app.state.hub
    await hub.vault.delete(name)
    await hub.audit.record(AuditEntry(actor(request), "secret.delete", f"secret/{name}", "ok"))
    await hub.snapshots.refresh()


@router.get("/vault", summary="Which master key encrypts, and what each key seals")
async def vault_state(request: Request) -> VaultState:
    hub: Hub = request.app.state.hub
    return VaultState(current_key=hub.vault.keys.current_id, sealed_by=await hub.vault.sealed_by())


@router.post(
    "/vault/rotate",
    summary="Rotate the master key (key file): a new key, every value sealed anew",
    description="Only when the master key is kept in the key file. The older key stays in "
    "the file for hub processes that still hold values sealed under it; drop it with "
    "/vault/forget-old-keys. With ISTHMUS_MASTER_KEY, rotate by configuration (see the "
    "governance docs) and call /vault/rekey.",
)
async def rotate(request: Request) -> Rekeying:
    hub: Hub = request.app.state.hub
    old = hub.vault.keys.current_id
    new = hub.vault.keys.rotate_file()
    done = await hub.vault.rekey()
    await _audit_rekey(hub, request, "vault.rotate", done.resealed, old, new)
    return await _rekeying(hub, done.resealed)


@router.post("/vault/rekey", summary="Seal every value under the current master key")
async def rekey(request: Request) -> Rekeying:
    hub: Hub = request.app.state.hub
    done = await hub.vault.rekey()
    await _audit_rekey(hub, request, "vault.rekey", done.resealed, None, hub.vault.keys.current_id)
    return await _rekeying(hub, done.resealed)


@router.post(
    "/vault/forget-old-keys",
    summary="Drop the key file's older keys, once nothing is sealed under them",
    responses={409: {"description": "Values are still sealed under an older key"}},
)
async def forget_old_keys(request: Request) -> Rekeying:
    hub: Hub = request.app.state.hub
    done = await hub.vault.forget_old_keys()
    current = hub.vault.keys.current_id
    await _audit_rekey(hub, request, "vault.forget-old-keys", done.resealed, None, current)
    return await _rekeying(hub, done.resealed)


async def _audit_rekey(
    hub: Hub, request: Request, action: str, count: int, old: str | None, new: str
) -> None:
    detail = {"resealed": count, "key": new, **({"previousKey": old} if old else {})}
    await hub.audit.record(AuditEntry(actor(request), action, "vault", "ok", detail))


async def _rekeying(hub: Hub, resealed: int) -> Rekeying:
    sealed = await hub.vault.sealed_by()
    return Rekeying(current_key=hub.vault.keys.current_id, sealed_by=sealed, resealed=resealed)
