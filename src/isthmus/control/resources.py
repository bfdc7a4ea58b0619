"""CRUD for every resource kind, one router per kind, generated from the kind registry
so a new kind is served (and documented in the OpenAPI) without touching this file.

No ``from __future__ import annotations`` here: FastAPI must see each endpoint's body
type, a class local to ``kind_router``, as a real object rather than a string.
"""

from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from isthmus.control.security import actor
from isthmus.errors import BadRequest, Conflict, NotFound, ValidationFailed
from isthmus.governance.changes import record_change
from isthmus.governance.lint import lint_resource
from isthmus.hub import Hub
from isthmus.model import Api, Connection, EventType, Resource, ResourceKey, View
from isthmus.model.base import NAME_PATTERN
from isthmus.project.checks import Finding, resource_checks
from isthmus.project.evolution import evolution_findings
from isthmus.project.integrity import dependents, missing_references
from isthmus.project.issues import dotted
from isthmus.store import Change
from isthmus.virtual.check import check_views


def _hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _key(cls: type[Resource], name: str, environment: str | None) -> ResourceKey:
    if cls.environment_scoped and not environment:
        raise BadRequest(
            f"A {cls.__name__} is per Environment.",
            remediation="Add '?environment=sandbox' (or another Environment) to the address.",
        )
    return ResourceKey(cls.__name__, name, environment if cls.environment_scoped else None)


def _refuse(findings: list[Finding]) -> None:
    if findings:
        errors = [
            {"path": dotted(path), "message": message, "hint": hint}
            for path, message, hint in findings
        ]
        raise ValidationFailed("The resource is not valid.", extensions={"errors": errors})


async def write_checked(
    hub: Hub, resource: Resource, action: str, actor: str, read_at: int | None = None
) -> None:
    """Check ``resource`` against everything else and write it; refused (409) if the store
    moved on since now — or since ``read_at``, the revision the caller read it at."""
    revision, everything = await hub.store.resources.snapshot()
    if read_at is not None:
        revision = read_at
    others = [r for r in everything if r.key != resource.key]
    stored = next((r for r in everything if r.key == resource.key), None)
    findings = list(resource_checks(resource, resource.canonical()))
    findings += list(evolution_findings(resource, stored))
    findings += list(missing_references(resource, others))
    if isinstance(resource, Api):  # the API lint's errors refuse it, as on apply
        findings += [
            (f.path, f"[{f.rule}] {f.version}: {f.message}", f.remediation)
            for f in lint_resource(resource, [*others, resource]).errors
        ]
    _refuse(findings)
    if isinstance(resource, View):  # planned against its Connections, opened for it
        views = {r.metadata.name: r for r in others if isinstance(r, View)}
        views[resource.metadata.name] = resource
        report = await check_views(
            views,
            [resource.metadata.name],
            [r for r in others if isinstance(r, Connection)],
            {r.metadata.name: r for r in others if isinstance(r, EventType)},
            hub.vault,
            hub.store.series,
        )
        _refuse([(path, message, None) for _, path, message in report.problems])
    # Checked against `revision`: if anything changed since, the write is refused (409).
    change = Change(action, resource.key, resource)  # type: ignore[arg-type]
    await hub.store.resources.apply([change], expect_revision=revision)
    await record_change(hub.audit, actor, change, stored)
    await hub.snapshots.refresh()


def kind_router(cls: type[Resource]) -> APIRouter:
    kind = cls.__name__
    router = APIRouter(prefix=f"/{cls.plural}", tags=[kind])
    # Required for per-Environment kinds, absent from the others' documentation.
    env_param = Query(
        default=... if cls.environment_scoped else None,
        description="The Environment of the resource.",
        pattern=NAME_PATTERN,
        include_in_schema=cls.environment_scoped,
    )
    name_param = Path(pattern=cls.name_pattern, description=f"The {kind}'s name.")

    @router.get("", summary=f"List {kind} resources")
    async def list_(hub: Hub = Depends(_hub)) -> list[dict[str, Any]]:
        return [r.canonical() for r in await hub.store.resources.list(kind)]

    @router.get("/{name}", summary=f"Get one {kind}")
    async def get(
        name: str = name_param, environment: str | None = env_param, hub: Hub = Depends(_hub)
    ) -> dict[str, Any]:
        resource = await hub.store.resources.get(_key(cls, name, environment))
        if resource is None:
            raise NotFound(f"No {kind} '{name}'.")
        return resource.canonical()

    @router.post("", status_code=201, summary=f"Create a {kind}")
    async def create(body: cls, request: Request, hub: Hub = Depends(_hub)) -> dict[str, Any]:  # type: ignore[valid-type]
        resource: Resource = body
        await write_checked(hub, resource, "create", actor(request))
        return resource.canonical()

    @router.put(
        "/{name}",
        summary=f"Create or replace a {kind}",
        responses={201: {"description": f"The {kind} was created"}},
    )
    async def put(
        body: cls,  # type: ignore[valid-type]
        response: Response,
        request: Request,
        name: str = name_param,
        hub: Hub = Depends(_hub),
    ) -> dict[str, Any]:
        resource: Resource = body
        if resource.metadata.name != name:
            raise BadRequest("metadata.name must equal the name in the address.")
        exists = await hub.store.resources.get(resource.key) is not None
        await write_checked(hub, resource, "update" if exists else "create", actor(request))
        response.status_code = 200 if exists else 201
        return resource.canonical()

    @router.delete("/{name}", status_code=204, summary=f"Delete a {kind}")
    async def delete(
        request: Request,
        name: str = name_param,
        environment: str | None = env_param,
        hub: Hub = Depends(_hub),
    ) -> Response:
        key = _key(cls, name, environment)
        revision, everything = await hub.store.resources.snapshot()
        stored = next((r for r in everything if r.key == key), None)
        if stored is None:
            raise NotFound(f"No {kind} '{name}'.")
        users = dependents(key, everything)
        if users:
            raise Conflict(
                f"{key} is still used by {', '.join(map(str, users))}.",
                remediation="Change or delete those resources first.",
                extensions={"dependents": [str(u) for u in users]},
            )
        change = Change("delete", key, None)
        await hub.store.resources.apply([change], expect_revision=revision)
        await record_change(hub.audit, actor(request), change, stored)
        await hub.snapshots.refresh()
        return Response(status_code=204)

    return router
