"""The catalog: search and filter every Api, EventType, View, System and App; read one
entry with its relations; download it all as Backstage's ``catalog-info.yaml``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from isthmus.errors import NotFound
from isthmus.governance.catalog import (
    CATALOGUED,
    Entry,
    EntrySummary,
    Filters,
    current_catalog,
)
from isthmus.governance.catalog.backstage import HubComponent
from isthmus.governance.catalog.cache import current_backstage
from isthmus.hub import Hub

router = APIRouter(tags=["Catalog"])


class Found(EntrySummary):
    score: float = Field(description="How well it matches the text (0 without a query).")


class CatalogPage(BaseModel):
    total: int = Field(description="Entries matching the text and filters, in all.")
    entries: list[Found]
    facets: dict[str, dict[str, int]] = Field(
        description="Per filter (kind, owner, system, lifecycle, tag), entries per value: "
        "the text and the other filters applied."
    )


def _many(description: str) -> Any:
    return Query([], description=description + " Repeat it for several (any of them).")


@router.get("/catalog", summary="Search the catalog")
async def search(
    request: Request,
    q: str = Query("", max_length=500, description="Words to find; the last may be a prefix."),
    kind: list[str] = _many(f"Only these kinds: {', '.join(CATALOGUED)}."),
    owner: list[str] = _many("Only what these owners own."),
    system: list[str] = _many("Only what touches these Systems."),
    lifecycle: list[str] = _many("Only experimental, production or deprecated ones."),
    tag: list[str] = _many("Only entries with this tag."),
    limit: int = Query(20, ge=1, le=200),
    offset: int = Query(0, ge=0),
) -> CatalogPage:
    hub: Hub = request.app.state.hub
    catalog = await current_catalog(hub.store)
    filters = Filters(kind=kind, owner=owner, system=system, lifecycle=lifecycle, tag=tag)
    found = catalog.search(q, filters, limit=limit, offset=offset)
    return CatalogPage(
        total=found.total,
        entries=[
            Found(**hit.entry.summary().model_dump(), score=round(hit.score, 4))
            for hit in found.hits
        ],
        facets=found.facets,
    )


@router.get(
    "/catalog/backstage",
    summary="The catalog as Backstage entities (catalog-info.yaml)",
    response_class=Response,
    responses={200: {"description": "Multi-document YAML", "content": {"application/yaml": {}}}},
)
async def backstage(
    request: Request,
    owner: str = Query(
        HubComponent.owner,
        min_length=1,
        max_length=200,
        description="Who owns the hub's own Component (and anything without an owner).",
    ),
) -> Response:
    hub: Hub = request.app.state.hub
    snapshot = hub.snapshots.current
    # Built off the event loop the gateway shares, once per store revision (and owner).
    text = await current_backstage(
        hub.store,
        hub.settings.issuer(),
        HubComponent(owner=owner),
        view_shapes=snapshot.view_shapes if snapshot else None,
    )
    return Response(
        text,
        media_type="application/yaml",
        headers={"Content-Disposition": 'attachment; filename="catalog-info.yaml"'},
    )


@router.get("/catalog/{kind}/{name}", summary="One catalog entry, with its relations")
async def entry(kind: str, name: str, request: Request) -> Entry:
    hub: Hub = request.app.state.hub
    found = (await current_catalog(hub.store)).get(kind, name)
    if found is None:
        raise NotFound(
            f"The catalog has no {kind} '{name}'.",
            remediation=f"Search for it with GET /admin/v1/catalog?q={name}; catalogued "
            f"kinds are {', '.join(CATALOGUED)}.",
        )
    return found
