"""Who is calling: an App, identified by an API key or by an OAuth2 access token.

A key travels in ``X-Api-Key`` or as ``Authorization: Bearer <key>``; the gateway keeps
only SHA-256 digests, so a dict lookup of the digest is safe against timing attacks on
the key itself. An access token travels as ``Authorization: Bearer <jwt>`` and is
verified by :mod:`isthmus.governance.tokens`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from isthmus.errors import Forbidden, Unauthenticated
from isthmus.gateway.http import GatewayRequest
from isthmus.gateway.snapshot import Caller, Snapshot
from isthmus.governance import tokens


class NotGranted(Forbidden):
    code = "not-granted"
    title = "The App may not call this Api"
    remediation = (
        "Request access to the Api in the developer portal (or POST /admin/v1/access-"
        "requests); the Api's owner approves it. Sandbox access is granted at once."
    )


class ClientSecretAsKey(Unauthenticated):
    code = "client-secret-as-key"
    title = "A client secret is not an API key"
    remediation = (
        "POST it to /oauth/token (grant_type=client_credentials, client_id = the App's "
        "name) and send the access token as 'Authorization: Bearer <token>'."
    )


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="isthmus"'}


def presented_key(request: GatewayRequest, query_key: str | None = None) -> str | None:
    """The key from X-Api-Key or a Bearer token; from the query parameter ``query_key``
    only where a face allows it (tools that can send a key no other way)."""
    key = request.header(b"x-api-key")
    if key is None:
        authorization = request.header(b"authorization")
        if authorization and authorization[:7].lower() == b"bearer ":
            key = authorization[7:].strip()
    if key is None and query_key is not None:
        pairs = parse_qsl(request.query_string.decode("latin-1"))
        found = next((value for name, value in pairs if name == query_key), None)
        return found or None
    return key.decode("latin-1") if key else None


def authenticate(
    snapshot: Snapshot, request: GatewayRequest, issuer: str, query_key: str | None = None
) -> Caller:
    key = presented_key(request, query_key)
    if key is None:
        raise Unauthenticated("This Api needs an API key and none was sent.", headers=_CHALLENGE)
    if tokens.looks_like_jwt(key):
        claims = tokens.verify(snapshot.token_keys, key, issuer=issuer)
        if claims.app not in snapshot.grants:
            raise tokens.InvalidToken("The token's App no longer exists.")
        source = snapshot.credentials.get(claims.key_id)
        if source is None or source.expired():
            raise tokens.InvalidToken(
                "The credential the token was issued for is revoked or past its rotation."
            )
        return Caller(claims.token_id, claims.app, claims.environment, claims.audience)
    caller = snapshot.caller_for(key)
    if caller is None:
        raise Unauthenticated(
            "The API key is not valid (unknown, revoked, past its rotation's grace period, "
            "or its App was removed).",
            headers=_CHALLENGE,
        )
    if caller.kind == "client-secret":
        raise ClientSecretAsKey(
            "A client secret was sent as an API key; it is only traded for access tokens.",
            headers=_CHALLENGE,
        )
    return caller


def authorize(snapshot: Snapshot, caller: Caller, api: str) -> None:
    if caller.audience is not None and caller.audience != api:
        raise tokens.InvalidToken(f"The token is for Api '{caller.audience}', not '{api}'.")
    if api not in snapshot.granted(caller.app, caller.environment):
        raise NotGranted(f"App '{caller.app}' is not granted Api '{api}' ({caller.environment}).")
