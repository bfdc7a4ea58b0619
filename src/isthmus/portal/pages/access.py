"""Access requests: waiting for my decision, and mine, with their outcome."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from isthmus.errors import IsthmusError
from isthmus.model import Api
from isthmus.portal import session
from isthmus.portal.app import PREFIX, render

router = APIRouter()


@router.get("/requests")
async def requests_page(request: Request) -> Response:
    principal = await session.required(request)
    hub = session.hub_of(request)
    visible = await hub.access.visible(principal)
    mine_apis = {r.metadata.name for r in await hub.store.resources.list("Api")
                 if isinstance(r, Api) and principal.owns(r)}  # fmt: skip
    to_decide = [r for r in visible if r.status == "pending" and r.api in mine_apis]
    others = [r for r in visible if r not in to_decide]
    return await render(request, "requests.html", {"to_decide": to_decide, "others": others})


async def _decide(request: Request, request_id: int, approve: bool, reason: str) -> Response:
    principal = await session.required(request)
    hub = session.hub_of(request)
    try:
        outcome = await hub.access.decide(principal, request_id, approve, reason or None)
    except IsthmusError as error:
        request.session["flash"] = f"{error.title}: {error.detail}"
        return RedirectResponse(f"{PREFIX}/requests", status_code=303)
    await hub.snapshots.refresh()
    decided = outcome.request
    verb = "Approved" if approve else "Rejected"
    request.session["flash"] = (
        f"{verb} {decided.app}'s access to {decided.api} ({decided.environment})."
        + (" Its owner collects the credentials under My Apps." if outcome.awaiting_pickup else "")
    )
    return RedirectResponse(f"{PREFIX}/requests", status_code=303)


@router.post("/requests/{request_id}/withdraw")
async def withdraw(request: Request, request_id: int, csrf: Annotated[str, Form()]) -> Response:
    session.check_csrf(request, csrf)
    principal = await session.required(request)
    try:
        await session.hub_of(request).access.withdraw(principal, request_id)
        request.session["flash"] = f"Withdrew request {request_id}."
    except IsthmusError as error:
        request.session["flash"] = f"{error.title}: {error.detail}"
    return RedirectResponse(f"{PREFIX}/requests", status_code=303)


# after /withdraw: routes match in order, and this one takes any last segment
@router.post("/requests/{request_id}/{decision}")
async def decide(
    request: Request,
    request_id: int,
    decision: Literal["approve", "reject"],
    csrf: Annotated[str, Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    session.check_csrf(request, csrf)
    return await _decide(request, request_id, decision == "approve", reason)
