"""An Api's page: what it is for, its reference per version, copy-paste examples, a
try-it console against the sandbox, the Power Platform download, and asking for access."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from isthmus.errors import BadRequest, IsthmusError
from isthmus.governance.exports import export_format, serialize
from isthmus.governance.lint import lint_api
from isthmus.model import App, Plan, View
from isthmus.portal import session
from isthmus.portal.app import PREFIX, render
from isthmus.portal.examples import operation_examples
from isthmus.portal.reference import (
    api_or_404,
    operations,
    pretty,
    sandbox_contract,
    served_versions,
)

router = APIRouter()
TRY_TIMEOUT_SECONDS = 15
_SHOWN_HEADERS = ("content-type", "x-request-id", "x-isthmus-mock", "ratelimit", "retry-after")


def _pick(versions: list[str], wanted: str | None) -> str:
    if not versions:
        raise BadRequest("This Api serves no version yet.", remediation="Ask its owner.")
    return wanted if wanted in versions else versions[-1]


async def _page(
    request: Request,
    name: str,
    version: str | None,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    hub = session.hub_of(request)
    principal = await session.required(request)
    api = await api_or_404(hub, name)
    versions = served_versions(api)
    chosen = _pick(versions, version)
    document = await sandbox_contract(hub, api, chosen)
    download = f"{PREFIX}/apis/{quote(name)}/{quote(chosen)}/power-platform.json"
    ops = operations(document)
    power_platform = str(request.base_url).rstrip("/") + download
    for op in ops:
        method = op.method.lower()
        op.examples.extend(
            operation_examples(document, op.path, method, power_platform_url=power_platform)
        )
    everything = await hub.store.resources.list()
    report = lint_api(api, views={r.metadata.name: r for r in everything if isinstance(r, View)})
    apps = [r for r in everything if isinstance(r, App) and principal.owns(r)]
    plans = [r.metadata.name for r in everything if isinstance(r, Plan)]
    context = {
        "api": api,
        "version": chosen,
        "versions": versions,
        "server": document["servers"][0]["url"],
        "operations": ops,
        "findings": [f for f in report if str(f.severity) != "info" and f.version == chosen],
        "apps": apps,
        "plans": plans,
        "download": download,
        "environments": ["sandbox", "production"],
        **(extra or {}),
    }
    return await render(request, "api.html", context, status)


@router.get("/apis/{name}")
async def api_page(request: Request, name: str, version: str | None = None) -> Response:
    return await _page(request, name, version)


@router.get("/apis/{name}/{version}/power-platform.json")
async def power_platform(request: Request, name: str, version: str) -> Response:
    """The Power Platform connector profile on the sandbox endpoint, to import."""
    await session.required(request)
    hub = session.hub_of(request)
    api = await api_or_404(hub, name)
    chosen = _pick(served_versions(api), version)
    document = await sandbox_contract(hub, api, chosen)
    profile = export_format("power-platform")
    body = serialize(profile.render(document, document["servers"][0]["url"]))
    disposition = f'attachment; filename="{profile.filename(name, chosen, "sandbox")}"'
    return Response(
        body, media_type=profile.media_type, headers={"Content-Disposition": disposition}
    )


@router.post("/apis/{name}/try")
async def try_it(request: Request, name: str) -> Response:
    """Send one request to the sandbox endpoint with the key the person typed (kept
    nowhere) and show the answer on the page."""
    await session.required(request)  # nothing is sent for someone not signed in
    form = await request.form()
    session.check_csrf(request, form.get("csrf"))
    hub = session.hub_of(request)
    api = await api_or_404(hub, name)
    version = _pick(served_versions(api), str(form.get("version", "")))
    document = await sandbox_contract(hub, api, version)
    wanted = str(form.get("operation", ""))
    operation = next((op for op in operations(document) if op.id == wanted), None)
    if operation is None:
        raise BadRequest(f"Version {version} has no operation '{wanted}'.")
    path, query, headers = operation.path, {}, {"X-Api-Key": str(form.get("key", "")).strip()}
    for parameter in operation.parameters:
        value = str(form.get(f"param.{parameter.name}", "")).strip()
        if not value:
            continue
        if parameter.where == "path":
            path = path.replace("{" + parameter.name + "}", quote(value, safe=""))
        elif parameter.where == "query":
            query[parameter.name] = value
        else:
            headers[parameter.name] = value
    body = str(form.get("body", "")) if operation.body_schema else ""
    url = document["servers"][0]["url"] + path + (f"?{urlencode(query)}" if query else "")
    result = await _send(operation.method, url, headers, body)
    return await _page(request, name, version, {"tried": {"operation": wanted, **result}})


async def _send(method: str, url: str, headers: dict[str, str], body: str) -> dict[str, Any]:
    if body:
        headers["Content-Type"] = "application/json"
    timeout = aiohttp.ClientTimeout(total=TRY_TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as client,
            client.request(
                method, url, headers=headers, data=body.encode() or None, allow_redirects=False
            ) as answer,
        ):
            raw = await answer.read()
            shown = {k.lower(): v for k, v in answer.headers.items()
                     if k.lower() in _SHOWN_HEADERS}  # fmt: skip
            try:
                text = pretty(orjson.loads(raw)) if raw else ""
            except orjson.JSONDecodeError:
                text = raw.decode("utf-8", "replace")
            return {"method": method, "url": url, "status": answer.status,
                    "headers": shown, "body": text}  # fmt: skip
    except (aiohttp.ClientError, TimeoutError) as error:
        return {"method": method, "url": url, "status": None, "headers": {},
                "body": f"The sandbox did not answer ({type(error).__name__})."}  # fmt: skip


@router.post("/apis/{name}/access")
async def ask_access(
    request: Request,
    name: str,
    app: Annotated[str, Form()],
    version: Annotated[str, Form()],
    environment: Annotated[str, Form()],
    csrf: Annotated[str, Form()],
    justification: Annotated[str, Form()] = "",
    plan: Annotated[str, Form()] = "",
) -> Response:
    session.check_csrf(request, csrf)
    principal = await session.required(request)
    hub = session.hub_of(request)
    try:
        outcome = await hub.access.ask(
            principal, app, name, version, environment, justification, plan or None
        )
    except IsthmusError as error:
        return await _page(request, name, version, {"access_error": error}, error.status)
    await hub.snapshots.refresh()
    if outcome.issued:  # self-service: the credentials, shown this once
        return await render(request, "credentials_shown.html", {
            "title": f"Sandbox access to {name} for {app}",
            "credentials": outcome.issued, "app": app,
        })  # fmt: skip
    request.session["flash"] = (
        f"Asked for {environment} access to {name} for {app}; the Api's owner decides."
    )
    return RedirectResponse(f"{PREFIX}/requests", status_code=303)
