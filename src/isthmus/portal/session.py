"""Who is signed in to the portal, and protection of its forms.

The session is a signed cookie (Starlette's SessionMiddleware, itsdangerous) holding
only the person's name and a CSRF token; the person is read from the store on every
request, so a removed user is signed out at once. Every form that changes something
carries the CSRF token, and the cookie is SameSite=Lax and HttpOnly.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from fastapi import Request

from isthmus.errors import FatalError, Unauthenticated
from isthmus.governance.people import Principal, principal_of
from isthmus.hub import Hub

COOKIE = "isthmus_portal"
_USER = "user"
_EPOCH = "epoch"
_CSRF = "csrf"


class SignInNeeded(Unauthenticated):
    code = "sign-in-needed"
    title = "Sign in first"
    remediation = "Sign in to the portal with your name and password."


class CsrfMismatch(FatalError):
    status = 403
    code = "csrf-mismatch"
    title = "The form is stale"
    remediation = "Reload the page and send the form again."


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def start(request: Request, principal: Principal) -> None:
    request.session.clear()
    request.session[_USER] = principal.name
    request.session[_EPOCH] = principal.session_epoch
    request.session[_CSRF] = secrets.token_urlsafe(24)


async def end(request: Request) -> None:
    """Sign out: this cookie, and every session of the person (the cookie is signed, not
    stored, so ending it anywhere means ending the person's sessions)."""
    name = request.session.get(_USER)
    request.session.clear()
    if isinstance(name, str):
        await hub_of(request).store.users.end_sessions(name)


def csrf_token(request: Request) -> str:
    token = request.session.get(_CSRF)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        request.session[_CSRF] = token
    return token


def check_csrf(request: Request, sent: Any) -> None:
    expected = request.session.get(_CSRF)
    if not isinstance(expected, str) or not isinstance(sent, str):
        raise CsrfMismatch("The form carries no valid token.")
    if not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfMismatch("The form's token does not match this session.")


async def current(request: Request) -> Principal | None:
    name = request.session.get(_USER)
    if not isinstance(name, str):
        return None
    user = await hub_of(request).store.users.get(name)
    if user is None or request.session.get(_EPOCH) != user.session_epoch:
        request.session.clear()  # removed, signed out elsewhere, or a new password
        return None
    return principal_of(user)


async def required(request: Request) -> Principal:
    principal = await current(request)
    if principal is None:
        raise SignInNeeded("This page is for signed-in people.")
    return principal
