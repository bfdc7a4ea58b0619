"""The audit log, as far as the signed-in person may see it: everything for admins;
for others what they did and what was done to their Apps and Apis."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from isthmus.governance.audit import AuditEntry
from isthmus.governance.people import Principal
from isthmus.portal import session
from isthmus.portal.app import render
from isthmus.store.audit import AuditFilter

router = APIRouter()
SCAN = 1000  # newest entries looked through for a non-admin's page
SHOWN = 200


def _theirs(entry: AuditEntry, principal: Principal, owned: set[str]) -> bool:
    if entry.actor == principal.name or entry.target in owned:
        return True
    app = entry.detail.get("app") if isinstance(entry.detail, dict) else None
    return isinstance(app, str) and f"app/{app}" in owned


@router.get("/audit")
async def audit_page(request: Request, action: str | None = None) -> Response:
    principal = await session.required(request)
    hub = session.hub_of(request)
    await hub.audit.drain()
    wanted = action.strip() if action and action.strip() else None
    entries = await hub.store.audit.list(AuditFilter(action=wanted, limit=SCAN))
    if not principal.admin:
        owned = {f"{r.kind.lower()}/{r.metadata.name}"
                 for r in await hub.store.resources.list() if principal.owns(r)}  # fmt: skip
        entries = [e for e in entries if _theirs(e, principal, owned)]
    return await render(request, "audit.html", {"entries": entries[:SHOWN], "action": wanted})
