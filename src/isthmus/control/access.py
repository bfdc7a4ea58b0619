"""Access requests and grants: ask, decide (approve / reject with a reason), withdraw;
list grants and revoke them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from isthmus.control.keys import IssuedKey, issued
from isthmus.control.security import principal
from isthmus.governance.access import Outcome
from isthmus.hub import Hub
from isthmus.model.api import VersionName
from isthmus.model.base import Name
from isthmus.store.access import AccessRequest, Grant

router = APIRouter(tags=["Access"])
Status = Literal["pending", "approved", "rejected", "withdrawn"]


class AccessAsk(BaseModel):
    app: Name = Field(description="The App that needs access (you own it).")
    api: Name
    version: VersionName = Field(description="The version the App is built against.")
    environment: Name = Field(
        default="sandbox", description="sandbox is granted at once; production needs approval."
    )
    plan: Name | None = Field(default=None, description="The Plan asked for; default: the App's.")
    justification: str = Field(
        default="", max_length=2000, description="Why the App needs it (for the Api's owner)."
    )


class Decision(BaseModel):
    reason: str | None = Field(
        default=None, max_length=2000, description="Why; required to reject."
    )


class RequestOut(BaseModel):
    id: int
    app: str
    api: str
    version: str
    environment: str
    plan: str | None
    justification: str
    status: Status
    requested_by: str
    requested_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


class OutcomeOut(BaseModel):
    request: RequestOut
    credentials: list[IssuedKey] = Field(
        default_factory=list, description="Issued to you now (self-service): shown only once."
    )
    awaiting_pickup: list[str] = Field(
        default_factory=list,
        description="Credentials an approval issued, for the App's owner to collect once.",
    )


class GrantOut(BaseModel):
    id: int
    app: str
    api: str
    environment: str
    plan: str | None
    request_id: int | None
    granted_by: str
    granted_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None


def request_out(request: AccessRequest) -> RequestOut:
    return RequestOut(**request.__dict__)


def grant_out(grant: Grant) -> GrantOut:
    return GrantOut(**grant.__dict__)


def outcome_out(outcome: Outcome) -> OutcomeOut:
    return OutcomeOut(
        request=request_out(outcome.request),
        credentials=[issued(c) for c in outcome.issued],
        awaiting_pickup=outcome.awaiting_pickup,
    )


@router.post("/access-requests", status_code=201, summary="Ask for access to an Api")
async def ask(body: AccessAsk, request: Request) -> OutcomeOut:
    hub: Hub = request.app.state.hub
    outcome = await hub.access.ask(
        principal(request), body.app, body.api, body.version, body.environment,
        body.justification, body.plan,
    )  # fmt: skip
    await hub.snapshots.refresh()
    return outcome_out(outcome)


@router.get("/access-requests", summary="Access requests, newest first")
async def list_requests(
    request: Request, status: Annotated[Status | None, Query()] = None
) -> list[RequestOut]:
    hub: Hub = request.app.state.hub
    return [request_out(r) for r in await hub.access.visible(principal(request), status)]


@router.get("/access-requests/{request_id}", summary="One access request")
async def get_request(request_id: int, request: Request) -> RequestOut:
    hub: Hub = request.app.state.hub
    return request_out(await hub.access.seen_by(principal(request), request_id))


@router.post(
    "/access-requests/{request_id}/approve",
    summary="Approve: grant the Api and issue the credentials the App lacks",
)
async def approve(request_id: int, body: Decision, request: Request) -> OutcomeOut:
    hub: Hub = request.app.state.hub
    outcome = await hub.access.decide(principal(request), request_id, True, body.reason)
    await hub.snapshots.refresh()
    return outcome_out(outcome)


@router.post("/access-requests/{request_id}/reject", summary="Reject, with a reason")
async def reject(request_id: int, body: Decision, request: Request) -> OutcomeOut:
    hub: Hub = request.app.state.hub
    return outcome_out(await hub.access.decide(principal(request), request_id, False, body.reason))


@router.post("/access-requests/{request_id}/withdraw", summary="Withdraw a pending request")
async def withdraw(request_id: int, request: Request) -> RequestOut:
    hub: Hub = request.app.state.hub
    return request_out(await hub.access.withdraw(principal(request), request_id))


@router.get("/grants", summary="Access granted by decisions (declared grants are in Apps)")
async def list_grants(
    request: Request, app: Annotated[str | None, Query()] = None
) -> list[GrantOut]:
    hub: Hub = request.app.state.hub
    return [grant_out(g) for g in await hub.store.access.grants(app)]


@router.delete("/grants/{grant_id}", summary="Revoke a grant")
async def revoke_grant(grant_id: int, request: Request) -> GrantOut:
    hub: Hub = request.app.state.hub
    grant = await hub.access.revoke_grant(principal(request), grant_id)
    await hub.snapshots.refresh()
    return grant_out(grant)
