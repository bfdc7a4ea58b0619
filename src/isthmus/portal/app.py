"""The portal's web application, mounted on the control plane at ``/portal``.

Server-rendered (Jinja templates) with a little of our own JavaScript for copy buttons
and tabs; every page works without it. Errors render as pages in the portal's own
words, with the same stable codes and remediations the admin API's problems carry.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from isthmus.errors import IsthmusError
from isthmus.home import read_or_create
from isthmus.hub import Hub
from isthmus.portal import session
from isthmus.portal.markdown import render_markdown

log = structlog.get_logger(__name__)
HERE = Path(__file__).parent
PREFIX = "/portal"
templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
)
templates.env.filters["markdown"] = render_markdown
templates.env.filters["urlpart"] = lambda text: quote(str(text), safe="")


async def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """A page, with who is signed in, the CSRF token and the navigation."""
    values = {
        "principal": await session.current(request),
        "csrf": session.csrf_token(request),
        "prefix": PREFIX,
        "path": request.url.path,
        **(context or {}),
    }
    page: HTMLResponse = templates.TemplateResponse(request, name, values, status_code=status)
    return page


def session_secret(hub: Hub) -> str:
    configured = hub.settings.portal_secret
    if configured:
        return configured
    return read_or_create(hub.settings.home / "portal-secret", lambda: secrets.token_urlsafe(48))


def create_portal_app(hub: Hub) -> FastAPI:
    from isthmus.portal.pages import access, apis, apps, audit, catalog, signin

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.hub = hub
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(hub),
        session_cookie=session.COOKIE,
        max_age=8 * 3600,
        same_site="lax",
        https_only=hub.settings.issuer().startswith("https://"),
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for module in (signin, catalog, apis, apps, access, audit):
        app.include_router(module.router)

    @app.exception_handler(session.SignInNeeded)
    async def sign_in_first(request: Request, error: session.SignInNeeded) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target)}", status_code=303)

    @app.middleware("http")
    async def no_store(request: Request, call_next: Any) -> Response:
        """Pages may show a credential once: no browser or proxy may keep a copy."""
        response: Response = await call_next(request)
        if "/static/" not in request.url.path:
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(RequestValidationError)
    async def form_page(request: Request, error: RequestValidationError) -> Response:
        fields = sorted({".".join(str(p) for p in e["loc"][1:]) for e in error.errors()})
        shown = {"status": 422, "title": "The form is not valid", "code": "validation-failed",
                 "detail": f"Check: {', '.join(fields) or 'the form'}.",
                 "remediation": "Go back, correct the fields and send it again."}  # fmt: skip
        return await render(request, "error.html", {"error": shown}, 422)

    @app.exception_handler(IsthmusError)
    async def problem_page(request: Request, error: IsthmusError) -> Response:
        return await render(request, "error.html", {"error": error}, error.status)

    @app.exception_handler(HTTPException)
    async def http_page(request: Request, error: HTTPException) -> Response:
        detail = "There is no such page." if error.status_code == 404 else str(error.detail)
        shown = {"status": error.status_code, "title": detail, "code": "not-found",
                 "detail": detail, "remediation": "Go back to the catalog."}  # fmt: skip
        return await render(request, "error.html", {"error": shown}, error.status_code)

    return app
