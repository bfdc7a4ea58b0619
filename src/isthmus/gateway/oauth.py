"""The gateway's OAuth 2.0 endpoints: token (client credentials), JWKS and metadata.

``client_id`` is the App's name and ``client_secret`` its client secret (or one of its
API keys), so an App can trade it for short-lived tokens, and revoking the credential
stops both.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qsl, unquote_plus

import orjson

from isthmus.gateway.http import GatewayRequest, GatewayResponse, json_response
from isthmus.gateway.snapshot import Snapshot
from isthmus.governance import tokens
from isthmus.governance.tokens import OAuthError

TOKEN_PATH = "/oauth/token"
JWKS_PATH = "/.well-known/jwks.json"
METADATA_PATH = "/.well-known/oauth-authorization-server"
PATHS = frozenset({TOKEN_PATH, JWKS_PATH, METADATA_PATH})
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


def _client_credentials(request: GatewayRequest, form: dict[str, str]) -> tuple[str, str]:
    authorization = request.header(b"authorization")
    if authorization and authorization[:6].lower() == b"basic ":
        if "client_secret" in form or "client_id" in form:
            # RFC 6749 §2.3: one way of authenticating per request.
            raise OAuthError("invalid_request", "Send the credentials once: Basic or form.")
        try:
            pair = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "Malformed Basic credentials.", 401) from exc
        client_id, _, secret = pair.partition(":")
        # RFC 6749 §2.3.1: both parts are form-encoded before Basic encoding.
        return unquote_plus(client_id), unquote_plus(secret)
    return form.get("client_id", ""), form.get("client_secret", "")


def token(request: GatewayRequest, snapshot: Snapshot, issuer: str, ttl: int) -> GatewayResponse:
    if request.method != "POST":
        raise OAuthError(
            "invalid_request", "Use POST for the token endpoint.", 405, {"Allow": "POST"}
        )
    content_type = (request.header(b"content-type") or b"").split(b";")[0].strip().lower()
    if content_type != b"application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "Send the form as application/x-www-form-urlencoded.")
    form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
    if form.get("grant_type") != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only client_credentials is supported.")
    client_id, secret = _client_credentials(request, form)
    caller = snapshot.caller_for(secret) if secret else None
    if caller is None or caller.app != client_id:
        raise OAuthError("invalid_client", "Unknown client or wrong secret.", 401)
    granted = snapshot.granted(caller.app, caller.environment)
    audience = form.get("audience") or form.get("resource")
    if not audience:
        if len(granted) != 1:
            raise OAuthError("invalid_request", "Name the Api the token is for in 'audience'.")
        [audience] = granted
    if audience not in granted:
        raise OAuthError("invalid_target", f"App '{caller.app}' may not call '{audience}'.")
    access_token, lifetime = tokens.issue(
        snapshot.token_keys,
        issuer=issuer,
        app=caller.app,
        key_id=caller.key_id,
        environment=caller.environment,
        audience=audience,
        scopes=granted,
        ttl=ttl,
    )
    body = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": " ".join(sorted(granted)),
    }
    return json_response(200, body, _NO_STORE)


def jwks(snapshot: Snapshot) -> GatewayResponse:
    headers = [(b"content-type", b"application/jwk-set+json"), (b"cache-control", b"max-age=60")]
    return GatewayResponse(200, snapshot.token_keys.jwks, headers)


def metadata(issuer: str) -> GatewayResponse:
    body = {
        "issuer": issuer,
        "token_endpoint": issuer + TOKEN_PATH,
        "jwks_uri": issuer + JWKS_PATH,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }
    return GatewayResponse(200, orjson.dumps(body), [(b"content-type", b"application/json")])
