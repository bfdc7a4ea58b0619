"""The catalog: browse, search and filter everything the hub offers."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from isthmus.errors import NotFound
from isthmus.governance.catalog import Filters, current_catalog
from isthmus.portal import session
from isthmus.portal.app import PREFIX, render

router = APIRouter()
FACETS = ("kind", "owner", "system", "lifecycle", "tag")
PAGE = 25


@router.get("/")
async def catalog_page(request: Request, q: str = "", page: int = 1) -> Response:
    await session.required(request)
    chosen = {f: request.query_params.get(f, "") for f in FACETS}
    catalog = await current_catalog(session.hub_of(request).store)
    filters = Filters(**{f: [v] for f, v in chosen.items() if v})
    page = max(1, page)
    result = catalog.search(q.strip(), filters, limit=PAGE, offset=(page - 1) * PAGE)

    def link(**changes: str | int) -> str:
        values: dict[str, str | int] = {"q": q, **chosen, **changes}
        kept = {k: v for k, v in values.items() if v and not (k == "page" and v == 1)}
        return f"{PREFIX}/?{urlencode(kept)}" if kept else f"{PREFIX}/"

    return await render(request, "catalog.html", {
        "q": q, "chosen": chosen, "result": result, "link": link, "page": page,
        "pages": max(1, -(-result.total // PAGE)),
    })  # fmt: skip


@router.get("/catalog/{kind}/{name}")
async def entry_page(request: Request, kind: str, name: str) -> Response:
    await session.required(request)
    catalog = await current_catalog(session.hub_of(request).store)
    entry = catalog.get(kind, name)
    if entry is None:
        raise NotFound(f"The catalog has no {kind} '{name}'.", remediation="Search the catalog.")
    return await render(request, "entry.html", {"entry": entry})
