"""The native OpenAPI 3.1 document of one Api version — the one every export starts from —
with the View routes the gateway adds, and the address of an Environment's endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from isthmus.errors import NotFound
from isthmus.gateway.openapi import document
from isthmus.model import Api, EventType
from isthmus.virtual.routes import with_view_routes
from isthmus.virtual.shapes import ViewShape

if TYPE_CHECKING:  # the hub imports the gateway, which this module's callers serve
    from isthmus.hub import Hub

Environment = Literal["production", "sandbox"]


def server_url(issuer: str, api: str, version: str, environment: Environment) -> str:
    """Where the gateway answers ``api`` ``version`` in ``environment``: the sandbox
    endpoint sits under ``/sandbox`` on the same host, so one connector definition per
    Environment differs only in its base path."""
    base = issuer.rstrip("/")
    if environment == "sandbox":
        return f"{base}/sandbox/{api}/{version}"
    return f"{base}/{api}/{version}"


def native_document(
    api: Api,
    version: str,
    issuer: str,
    event_types: Mapping[str, EventType] | None = None,
    view_shapes: Mapping[str, ViewShape] | None = None,
) -> dict[str, Any]:
    """The version's document as the gateway serves it at ``…/openapi.json``.

    Views are described from their shapes (planned against the Connections); a View
    without a known shape still gets its route, with an open record schema."""
    found = next((v for v in api.spec.versions if v.name == version), None)
    if found is None:
        raise NotFound(
            f"Api '{api.metadata.name}' has no version '{version}'.",
            remediation="Use one of the versions listed in 'versions'.",
            extensions={"versions": [v.name for v in api.spec.versions]},
        )
    if found.views:
        found = with_view_routes(found, view_shapes or {})
    return document(api, found, issuer.rstrip("/"), event_types or {})


async def served_document(hub: Hub, api: Api, version: str) -> dict[str, Any]:
    """The version's document as a running hub's gateway serves it: its EventTypes from
    the store, its Views as the current snapshot planned them."""
    event_types = {
        r.metadata.name: r
        for r in await hub.store.resources.list(EventType.__name__)
        if isinstance(r, EventType)
    }
    snapshot = hub.snapshots.current
    shapes = snapshot.view_shapes if snapshot else None
    return native_document(api, version, hub.settings.issuer(), event_types, shapes)
