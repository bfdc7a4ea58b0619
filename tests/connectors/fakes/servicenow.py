"""A fake of the ServiceNow Table API, as ServiceNow documents it.

- Basic authentication; a refusal is 401 {"error": {"message": "User Not Authenticated",
  "detail": …}, "status": "failure"}.
- GET /api/now/table/{table}: sysparm_limit, sysparm_offset, sysparm_fields and an
  encoded query in sysparm_query (conditions joined with '^'; =, !=, <, <=, >, >=).
  Answers {"result": [...]} with X-Total-Count and a Link header
  (<…>;rel="first",<…>;rel="prev",<…>;rel="next",<…>;rel="last").
- Rate limit rules: 429 with Retry-After, X-RateLimit-Limit and X-RateLimit-Reset
  (the epoch second the window resets).
- POST creates (201), PATCH changes (200), DELETE removes (204) one record.
"""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

USER, PASSWORD = "integration", "sn-password"
_CONDITION = re.compile(r"^(\w+)(!=|<=|>=|=|<|>)(.*)$")


@dataclass
class FakeServiceNow:
    tables: dict[str, list[dict[str, Any]]]
    url: str = ""
    throttle: int = 0
    reset_in: int = 0  # the 429's X-RateLimit-Reset, seconds from now
    requests: list[web.Request] = field(default_factory=list)

    def _gate(self, request: web.Request) -> web.Response | None:
        self.requests.append(request)
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return web.json_response(
                {
                    "error": {
                        "message": "User Not Authenticated",
                        "detail": "Required to provide Auth information",
                    },
                    "status": "failure",
                },
                status=401,
            )
        if self.throttle > 0:
            self.throttle -= 1
            headers = {
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Reset": str(int(time.time()) + self.reset_in),
            }
            if not self.reset_in:
                headers["Retry-After"] = "0"
            return web.json_response(
                {"error": {"message": "Rate limit exceeded"}, "status": "failure"},
                status=429,
                headers=headers,
            )
        return None

    async def list(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        rows = self.tables.get(request.match_info["table"])
        if rows is None:
            return web.json_response(
                {"error": {"message": "Invalid table"}, "status": "failure"}, status=400
            )
        query = request.query
        rows = [r for r in rows if _matches(r, query.get("sysparm_query", ""))]
        limit = int(query.get("sysparm_limit", 10000))
        offset = int(query.get("sysparm_offset", 0))
        chunk = rows[offset : offset + limit]
        if "sysparm_fields" in query:
            keep = query["sysparm_fields"].split(",")
            chunk = [{k: r.get(k, "") for k in keep} for r in chunk]
        links = []

        def link(at: int, rel: str) -> str:
            params = urlencode(
                {**query, "sysparm_offset": str(at), "sysparm_limit": str(limit)}, quote_via=quote
            )
            return f'<{self.url}{request.path}?{params}>;rel="{rel}"'

        links.append(link(0, "first"))
        if offset > 0:
            links.append(link(max(0, offset - limit), "prev"))
        if offset + limit < len(rows):
            links.append(link(offset + limit, "next"))
        links.append(link(max(0, (len(rows) - 1) // limit * limit), "last"))
        return web.json_response(
            {"result": chunk}, headers={"X-Total-Count": str(len(rows)), "Link": ",".join(links)}
        )

    async def create(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        record = {
            **(await request.json()),
            "sys_id": uuid.uuid4().hex,
            "sys_updated_on": "2026-11-24 09:00:00",
        }
        self.tables.setdefault(request.match_info["table"], []).append(record)
        return web.json_response({"result": record}, status=201)

    async def change(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        for record in self.tables.get(request.match_info["table"], []):
            if record["sys_id"] == request.match_info["sys_id"]:
                if request.method == "DELETE":
                    self.tables[request.match_info["table"]].remove(record)
                    return web.Response(status=204)
                record.update(await request.json())
                return web.json_response({"result": record})
        return web.json_response(
            {"error": {"message": "No Record found"}, "status": "failure"}, status=404
        )

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/now/table/{table}", self.list)
        app.router.add_post("/api/now/table/{table}", self.create)
        app.router.add_route("PATCH", "/api/now/table/{table}/{sys_id}", self.change)
        app.router.add_delete("/api/now/table/{table}/{sys_id}", self.change)
        return app


def _matches(row: dict[str, Any], encoded: str) -> bool:
    for condition in filter(None, encoded.split("^")):
        found = _CONDITION.match(condition)
        if not found:
            continue  # ServiceNow ignores what it cannot parse
        name, op, value = found.groups()
        actual = str(row.get(name, ""))
        number = actual.isdigit() and value.isdigit()
        left, right = (int(actual), int(value)) if number else (actual, value)
        ok = {
            "=": left == right,
            "!=": left != right,
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
        if not ok:
            return False
    return True
