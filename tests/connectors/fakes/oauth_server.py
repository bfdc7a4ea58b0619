"""A fake OAuth 2.0 authorization server with PKCE (RFC 6749 §4.1, RFC 7636) and a
protected list, for authorization code Connections.

- GET /authorize: checks client_id, redirect_uri on loopback, code_challenge with method
  S256; the person "consents" and is redirected to redirect_uri?code=…&state=….
- POST /token: grant_type=authorization_code (code, redirect_uri and code_verifier must
  match) or refresh_token; answers access_token, expires_in and a refresh_token.
- GET /api/items: {"items": [...]} for a valid bearer token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CLIENT_ID = "public-app"


@dataclass
class FakeAuthorizationServer:
    items: list[dict[str, Any]]
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → challenge, redirect
    refresh_tokens: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    consent: bool = True

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != CLIENT_ID or not redirect.startswith("http://127.0.0.1:"):
            return web.Response(status=400, text="unknown client or redirect")
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return web.Response(status=400, text="PKCE required")
        if not self.consent:
            raise web.HTTPFound(f"{redirect}?error=access_denied&state={q['state']}")
        code = secrets.token_urlsafe(12)
        self.codes[code] = (q["code_challenge"], redirect)
        raise web.HTTPFound(f"{redirect}?code={code}&state={q['state']}")

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("client_id") != CLIENT_ID:
            return web.json_response({"error": "invalid_client"}, status=401)
        if form.get("grant_type") == "authorization_code":
            challenge, redirect = self.codes.pop(str(form.get("code")), ("", ""))
            verifier = str(form.get("code_verifier", ""))
            digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
                b"="
            )
            if (
                not challenge
                or digest.decode() != challenge
                or form.get("redirect_uri") != redirect
            ):
                return web.json_response({"error": "invalid_grant"}, status=400)
        elif form.get("grant_type") == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return web.json_response({"error": "invalid_grant"}, status=400)
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        refresh, access = secrets.token_hex(8), secrets.token_hex(8)
        self.refresh_tokens.add(refresh)
        self.tokens.add(access)
        return web.json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": 3600,
                "refresh_token": refresh,
            }
        )

    async def list_items(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response({"items": self.items})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/authorize", self.authorize)
        app.router.add_post("/token", self.token)
        app.router.add_get("/api/items", self.list_items)
        return app
