"""Exports of an Api version's contract, as files low-code platforms import: OpenAPI 3.1
and 3.0, a Power Platform custom connector, a Postman collection."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from isthmus.errors import NotFound
from isthmus.governance.exports import FORMATS, export_format, serialize
from isthmus.governance.exports.native import Environment, served_document, server_url
from isthmus.hub import Hub
from isthmus.model import Api, ResourceKey

router = APIRouter(tags=["Api"])

_FORMATS_TEXT = "; ".join(f"'{f.name}': {f.summary}" for f in FORMATS.values())


@router.get(
    "/apis/{api}/versions/{version}/export",
    summary="Download an Api version's contract in a format a platform imports",
    response_class=Response,
    responses={
        200: {
            "description": "The document, as a file to save (Content-Disposition: attachment)",
            "content": {f.media_type: {} for f in FORMATS.values()},
        }
    },
)
async def export(
    api: str,
    version: str,
    request: Request,
    format: str = Query(
        ...,
        description=f"One of: {_FORMATS_TEXT}.",
        json_schema_extra={"enum": list(FORMATS)},
    ),
    environment: Environment = Query(
        "production", description="Whose endpoint the document calls."
    ),
) -> Response:
    chosen = export_format(format)  # an unknown format is refused before any lookup
    hub: Hub = request.app.state.hub
    resource = await hub.store.resources.get(ResourceKey(Api.__name__, api))
    if not isinstance(resource, Api):
        raise NotFound(f"No Api '{api}'.", remediation="List the Apis with GET /admin/v1/apis.")
    native = await served_document(hub, resource, version)
    issuer = hub.settings.issuer()
    body = serialize(chosen.render(native, server_url(issuer, api, version, environment)))
    filename = chosen.filename(api, version, environment)
    return Response(
        body,
        media_type=chosen.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
