"""The admin token: a bearer token compared in constant time."""

from __future__ import annotations

import hmac

from fastapi import Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from isthmus.errors import Unauthenticated
from isthmus.governance.people import ADMIN, Principal

_bearer = HTTPBearer(auto_error=False, description="The hub's admin token.")


async def require_admin(request: Request) -> None:
    credentials: HTTPAuthorizationCredentials | None = await _bearer(request)
    expected: str = request.app.state.hub.admin_token
    if credentials is None or not hmac.compare_digest(
        credentials.credentials.encode(), expected.encode()
    ):
        raise Unauthenticated(
            "The admin API needs the admin token as 'Authorization: Bearer <token>'.",
            remediation="Use the token in ISTHMUS_ADMIN_TOKEN or the hub's "
            "'.isthmus/admin-token' file.",
            headers={"WWW-Authenticate": 'Bearer realm="isthmus-admin"'},
        )


def principal(request: Request) -> Principal:
    """Who acts through the admin API: the holder of the admin token."""
    return ADMIN


def actor(request: Request) -> str:
    """Who acts, as the audit log names them."""
    return principal(request).name
