"""A paged REST API on loopback for declarative connector tests.

One list of records served in every paging style the paginators know, behind an OAuth
2.0 client-credentials token endpoint, with switches for the failures connectors must
survive: a revoked token, a 429 storm, a stuck cursor, a next link to another host.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

CLIENT_ID, CLIENT_SECRET = "client-1", "s3cret-value"


@dataclass
class FakeApi:
    records: list[dict[str, Any]]
    url: str = ""
    tokens: set[str] = field(default_factory=set)
    token_fetches: int = 0
    expires_in: int = 3600
    throttle: int = 0  # answer the next N list requests with 429
    throttle_headers: dict[str, str] = field(default_factory=lambda: {"Retry-After": "0"})
    expiry_in_body: bool = False  # a revoked token gets 400 + errorCode, not 401
    seen: list[web.Request] = field(default_factory=list)
    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next_create: int = 0

    def revoke_all(self) -> None:
        self.tokens.clear()

    # -- auth ---------------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
        ):
            return web.json_response({"error": "invalid_client"}, status=401)
        self.token_fetches += 1
        token = secrets.token_hex(8)
        self.tokens.add(token)
        return web.json_response(
            {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        )

    def _refusal(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        if header.removeprefix("Bearer ") in self.tokens:
            return None
        if self.expiry_in_body:
            return web.json_response([{"errorCode": "INVALID_SESSION_ID"}], status=400)
        return web.json_response({"error": "invalid_token"}, status=401)

    # -- lists --------------------------------------------------------------------------

    def _selected(self, request: web.Request) -> list[dict[str, Any]]:
        rows = self.records
        if "status" in request.query:
            rows = [r for r in rows if r["status"] == request.query["status"]]
        if "updated_after" in request.query:
            rows = [r for r in rows if r["updated"] > int(request.query["updated_after"])]
        return rows

    async def items(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request)
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if self.throttle > 0:
            self.throttle -= 1
            return web.json_response(
                {"error": "slow down"}, status=429, headers=self.throttle_headers
            )
        rows = self._selected(request)
        style = request.match_info["style"]
        q = request.query
        if style == "moved":
            raise web.HTTPFound("/items/offset")
        if style == "ignores-offset":  # the first page, whatever is asked
            return web.json_response({"data": rows[:10]})
        if style == "gone-later" and q.get("cursor"):
            return web.json_response({"error": "not found"}, status=404)
        if style == "mailto":
            return web.json_response({"items": rows[:10], "links": {"next": "mailto:a@b.example"}})
        if style == "offset":
            start, size = int(q.get("offset", 0)), int(q.get("limit", 10))
            return web.json_response({"data": rows[start : start + size]})
        if style == "pages":
            number, size = int(q.get("page", 1)), int(q.get("per_page", 10))
            return web.json_response(rows[(number - 1) * size : number * size])
        start = int(q.get("cursor") or q.get("at") or 0)
        size = 10
        chunk = rows[start : start + size]
        after = start + size if start + size < len(rows) else None
        if style in ("cursor", "gone-later"):
            return web.json_response({"items": chunk, "meta": {"next": after}})
        if style == "stuck":
            return web.json_response({"items": chunk, "meta": {"next": 0}})
        if style == "next-url":
            link = f"/items/next-url?at={after}" if after is not None else None
            return web.json_response({"items": chunk, "links": {"next": link}})
        if style == "elsewhere":
            return web.json_response({"items": chunk, "links": {"next": "http://127.0.0.2:9/x"}})
        if style == "odata":
            body: dict[str, Any] = {"value": chunk}
            if after is not None:
                body["@odata.nextLink"] = f"{self.url}/items/odata?at={after}"
            return web.json_response(body)
        if style == "salesforce":
            body = {"totalSize": len(rows), "done": after is None, "records": chunk}
            if after is not None:
                body["nextRecordsUrl"] = f"/items/salesforce?at={after}"
            return web.json_response(body)
        if style == "link":
            headers = {}
            if after is not None:
                headers["Link"] = (
                    f'<{self.url}/items/link?at=0>; rel="first", '
                    f'<{self.url}/items/link?at={after}>; rel="next"'
                )
            return web.json_response({"result": chunk}, headers=headers)
        raise web.HTTPNotFound()

    async def create(self, request: web.Request) -> web.Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        key = request.headers.get("Idempotency-Key")
        if key and key in self.created:  # deduplicated, as the API documents
            return web.json_response(self.created[key], status=201)
        record = {"id": len(self.created) + 1, **(await request.json())}
        if key:
            self.created[key] = record
        if self.fail_next_create > 0:  # done, but the answer is lost
            self.fail_next_create -= 1
            return web.json_response(
                {"error": "unavailable"}, status=503, headers={"Retry-After": "0"}
            )
        return web.json_response(record, status=201)


@asynccontextmanager
async def serve(records: list[dict[str, Any]]) -> AsyncIterator[FakeApi]:
    api = FakeApi(records)
    app = web.Application()
    app.router.add_post("/oauth/token", api.token)
    app.router.add_get("/items/{style}", api.items)
    app.router.add_post("/items", api.create)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    api.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield api
    finally:
        await runner.cleanup()
