"""The audit log, read: newest first, filtered, paged by the last id seen."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from isthmus.errors import ValidationFailed
from isthmus.hub import Hub
from isthmus.store.audit import AuditFilter

router = APIRouter(tags=["Audit"])


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="The App, admin or process that acted.")
    action: str = Field(description="What was done, e.g. sql.select, sql.read.")
    target: str = Field(description="What it was done to, e.g. connection/crm@production.")
    outcome: str = Field(description="ok, refused or failed.")
    detail: dict[str, Any]


class AuditPage(BaseModel):
    entries: list[AuditOut]
    next_before: int | None = Field(
        default=None, description="Pass as 'before' for the next (older) page; none at the end."
    )


@router.get("/audit", summary="Read the audit log (newest first)")
async def read_audit(
    request: Request,
    actor: str | None = None,
    action: Annotated[
        str | None, Query(description="An exact action, or a prefix ending in '.' (sql.).")
    ] = None,
    target: str | None = None,
    outcome: str | None = None,
    since: Annotated[
        str | None,
        Query(
            description="Entries at or after this ISO 8601 time (2026-12-01T09:00:00Z).",
            json_schema_extra={"format": "date-time"},
        ),
    ] = None,
    before: Annotated[int | None, Query(ge=1, description="Entries older than this id.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    hub: Hub = request.app.state.hub
    after = _instant(since) if since is not None else None
    await hub.audit.drain()  # what was recorded before this call is in the answer
    where = AuditFilter(actor, action, target, outcome, after, before, limit)
    entries = await hub.store.audit.list(where)
    page = [AuditOut(**{**e.__dict__, "id": e.id}) for e in entries]
    last = entries[-1].id if len(entries) == limit else None
    return AuditPage(entries=page, next_before=last)


def _instant(text: str) -> datetime:
    """An ISO 8601 time with its offset; numbers and times without a zone are refused
    (the log is in UTC, and a guess would silently shift the window)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ValidationFailed(
            "'since' must be an ISO 8601 time with a zone, e.g. 2026-12-01T09:00:00Z.",
            extensions={"errors": [{"pointer": "/since", "message": "not a date-time"}]},
        )
    return value
