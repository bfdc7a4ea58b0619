"""Signing in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from isthmus.errors import Unauthenticated
from isthmus.governance.people import sign_in
from isthmus.portal import session
from isthmus.portal.app import PREFIX, render

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path inside the portal: never an open redirect to another site."""
    if target and target.startswith(PREFIX + "/") and not target.startswith("//"):
        return target
    return PREFIX + "/"


@router.get("/sign-in")
async def sign_in_page(request: Request, next: str | None = None) -> Response:
    return await render(request, "sign_in.html", {"next": _safe_next(next)})


@router.post("/sign-in")
async def sign_in_form(
    request: Request,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    session.check_csrf(request, csrf)  # no signing in from another site's form
    try:
        principal = await sign_in(session.hub_of(request).store.users, name, password)
    except Unauthenticated as error:
        context = {"next": _safe_next(next), "name": name, "failure": error.detail}
        return await render(request, "sign_in.html", context, status=401)
    session.start(request, principal)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    session.check_csrf(request, csrf)
    await session.end(request)
    return RedirectResponse(PREFIX + "/sign-in", status_code=303)
