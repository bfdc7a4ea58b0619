"""A fake of the Workday REST API, RaaS and the tenant's token endpoint, as Workday
documents them for API clients for integrations.

- Token: POST /ccx/oauth2/{tenant}/token, the client's id and secret as Basic, form
  grant_type=refresh_token&refresh_token=…; answers access_token, token_type and the
  refresh_token (a new one where the tenant rotates them, the old one then refused).
  A refusal is 400 {"error": "invalid_grant"} (or "invalid_client").
- REST: GET /ccx/api/v1/{tenant}/workers (and /supervisoryOrganizations)
  ?limit=…&offset=… (limit at most 100), {"total": N, "data": [...]}; /workers/{id}.
- RaaS: GET /ccx/service/customreport2/{tenant}/{owner}/{report}?format=json,
  {"Report_Entry": [...]}, the whole report at once.
- An expired or unknown access token: 401 {"error": "invalid access token"};
  throttling: 429 with Retry-After.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TENANT, CLIENT_ID, CLIENT_SECRET = "acme_preview", "wd-client", "wd-secret"


@dataclass
class FakeWorkday:
    workers: list[dict[str, Any]]
    report: list[dict[str, Any]]
    url: str = ""
    refresh_token: str = "refresh-0"
    organizations: list[dict[str, Any]] = field(
        default_factory=lambda: [{"id": "o1", "descriptor": "Finance"}]
    )
    rotate: bool = False
    spent: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    token_fetches: int = 0
    throttle: int = 0
    uses_per_token: int = 0  # an access token expires after this many calls (0: never)
    uses: dict[str, int] = field(default_factory=dict)
    refused_grants: int = 0  # refresh tokens refused: spent, revoked or unknown
    requests: list[web.Request] = field(default_factory=list)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.match_info["tenant"] != TENANT or request.headers.get("Authorization") != basic:
            return web.json_response({"error": "invalid_client"}, status=401)
        given = form.get("refresh_token")
        if form.get("grant_type") != "refresh_token" or given != self.refresh_token:
            self.refused_grants += 1
            return web.json_response({"error": "invalid_grant"}, status=400)
        if self.rotate:
            self.spent.add(self.refresh_token)
            self.refresh_token = f"refresh-{len(self.spent)}"
        self.token_fetches += 1
        token = secrets.token_hex(10)
        self.tokens.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "refresh_token": self.refresh_token}
        )

    def _gate(self, request: web.Request) -> web.Response | None:
        self.requests.append(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return web.json_response({"error": "invalid access token"}, status=401)
        if self.uses_per_token:
            self.uses[token] = self.uses.get(token, 0) + 1
            if self.uses[token] >= self.uses_per_token:
                self.tokens.discard(token)
        if self.throttle > 0:
            self.throttle -= 1
            return web.json_response(
                {"error": "Too Many Requests"}, status=429, headers={"Retry-After": "0"}
            )
        return None

    async def list_workers(self, request: web.Request) -> web.Response:
        return self._gate(request) or self._page(request, self.workers)

    async def list_organizations(self, request: web.Request) -> web.Response:
        return self._gate(request) or self._page(request, self.organizations)

    def _page(self, request: web.Request, rows: list[dict[str, Any]]) -> web.Response:
        limit = min(int(request.query.get("limit", 20)), 100)
        offset = int(request.query.get("offset", 0))
        return web.json_response({"total": len(rows), "data": rows[offset : offset + limit]})

    async def worker(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        for row in self.workers:
            if row["id"] == request.match_info["id"]:
                return web.json_response(row)
        return web.json_response({"error": "not found"}, status=404)

    async def raas(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        if request.query.get("format") != "json":
            return web.Response(text="<wd:Report_Data/>", content_type="application/xml")
        return web.json_response({"Report_Entry": self.report})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/ccx/oauth2/{tenant}/token", self.token)
        app.router.add_get(f"/ccx/api/v1/{TENANT}/workers", self.list_workers)
        app.router.add_get(f"/ccx/api/v1/{TENANT}/workers/{{id}}", self.worker)
        app.router.add_get(
            f"/ccx/api/v1/{TENANT}/supervisoryOrganizations", self.list_organizations
        )
        app.router.add_get(f"/ccx/service/customreport2/{TENANT}/{{owner}}/{{report}}", self.raas)
        return app
