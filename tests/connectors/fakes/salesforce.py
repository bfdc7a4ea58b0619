"""A fake of the Salesforce REST API and its OAuth 2.0 token endpoint, as Salesforce
documents them.

- Token: POST /services/oauth2/token. The JWT bearer flow (grant_type
  urn:ietf:params:oauth:grant-type:jwt-bearer, an RS256 assertion: iss = consumer key,
  sub = username, aud = the login URL, exp at most 3 minutes ahead, signed by the key
  whose certificate the connected app holds) and the client credentials flow. Answers
  access_token, instance_url, id, token_type, scope, issued_at — no expires_in. Refusals:
  400 {"error": "invalid_grant", "error_description": …}.
- SOQL: GET /services/data/vXX.X/query?q=…, batches of 2000 records (or the
  Sforce-Query-Options batchSize), {"totalSize", "done", "nextRecordsUrl", "records"};
  each record carries "attributes": {"type", "url"}. GET the nextRecordsUrl for more.
- An expired session: 401 [{"message": "Session expired or invalid", "errorCode":
  "INVALID_SESSION_ID"}]. API limits: 403 [{"errorCode": "REQUEST_LIMIT_EXCEEDED", …}].
- sObjects: POST /sobjects/{type}/ → 201 {"id", "success", "errors"}; GET, PATCH (204),
  DELETE (204) /sobjects/{type}/{id}.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

CLIENT_ID, USERNAME, CLIENT_SECRET = "3MVG9-consumer-key", "integration@acme.example", "cc-secret"
VERSION = "v60.0"
_SOQL = re.compile(r"^SELECT (.+) FROM (\w+)(?: ORDER BY Id)?$", re.IGNORECASE)


def _errors(status: int, code: str, message: str) -> web.Response:
    return web.json_response([{"message": message, "errorCode": code}], status=status)


@dataclass
class FakeSalesforce:
    objects: dict[str, list[dict[str, Any]]]
    certificate_key: RSAKey  # the public half the connected app holds
    url: str = ""
    sessions: set[str] = field(default_factory=set)
    token_fetches: int = 0
    grants: list[str] = field(default_factory=list)
    limit_exceeded: bool = False
    requests: list[web.Request] = field(default_factory=list)
    cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        grant = str(form.get("grant_type"))
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(
                    str(form.get("assertion")), self.certificate_key, algorithms=["RS256"]
                ).claims
            except (JoseError, ValueError):
                return web.json_response(
                    {"error": "invalid_grant", "error_description": "invalid assertion"}, status=400
                )
            now = time.time()
            valid = (
                claims.get("iss") == CLIENT_ID
                and claims.get("sub") == USERNAME
                and claims.get("aud") == self.url
                and now < claims.get("exp", 0) <= now + 300
            )
            if not valid:
                return web.json_response(
                    {
                        "error": "invalid_grant",
                        "error_description": "user hasn't approved this consumer",
                    },
                    status=400,
                )
        elif grant == "client_credentials":
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return web.json_response(
                    {"error": "invalid_client", "error_description": "invalid client credentials"},
                    status=400,
                )
        else:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        self.token_fetches += 1
        self.grants.append(grant)
        session = "00D" + secrets.token_hex(12)
        self.sessions.add(session)
        return web.json_response(
            {
                "access_token": session,
                "instance_url": self.url,
                "id": f"{self.url}/id/00D/005",
                "token_type": "Bearer",
                "scope": "api",
                "issued_at": str(int(time.time() * 1000)),
            }
        )

    def _gate(self, request: web.Request) -> web.Response | None:
        self.requests.append(request)
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.sessions:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.limit_exceeded:
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        return None

    def _batch(self, rows: list[dict[str, Any]], size: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": len(rows) <= size,
            "records": rows[:size],
        }
        if len(rows) > size:
            locator = f"01g{secrets.token_hex(6)}-{size}"
            self.cursors[locator] = rows[size:]
            body["nextRecordsUrl"] = f"/services/data/{VERSION}/query/{locator}"
        return body

    async def query(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        found = _SOQL.match(request.query.get("q", "").strip())
        if not found or found.group(2) not in self.objects:
            return _errors(400, "MALFORMED_QUERY", "unexpected token")
        names = [n.strip() for n in found.group(1).split(",")]
        sobject = found.group(2)
        rows = [
            {
                "attributes": {
                    "type": sobject,
                    "url": f"/services/data/{VERSION}/sobjects/{sobject}/{r['Id']}",
                }
            }
            | {n: r.get(n) for n in names}
            for r in sorted(self.objects[sobject], key=lambda r: r["Id"])
        ]
        options = request.headers.get("Sforce-Query-Options", "")
        size = int(options.split("=")[1]) if options.startswith("batchSize=") else 2000
        return web.json_response(self._batch(rows, size))

    async def more(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        rows = self.cursors.pop(request.match_info["locator"], None)
        if rows is None:
            return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return web.json_response(
            self._batch(rows, int(request.match_info["locator"].rsplit("-", 1)[1]))
        )

    async def create(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        sobject = request.match_info["sobject"]
        record = {"Id": "001" + secrets.token_hex(6), **(await request.json())}
        self.objects.setdefault(sobject, []).append(record)
        return web.json_response({"id": record["Id"], "success": True, "errors": []}, status=201)

    async def record(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        rows = self.objects.get(request.match_info["sobject"], [])
        for row in rows:
            if row["Id"] == request.match_info["id"]:
                if request.method == "GET":
                    return web.json_response(
                        {"attributes": {"type": request.match_info["sobject"]}, **row}
                    )
                if request.method == "DELETE":
                    rows.remove(row)
                else:
                    row.update(await request.json())
                return web.Response(status=204)
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")

    def app(self) -> web.Application:
        base = f"/services/data/{VERSION}"
        app = web.Application()
        app.router.add_post("/services/oauth2/token", self.token)
        app.router.add_get(f"{base}/query", self.query)
        app.router.add_get(f"{base}/query/{{locator}}", self.more)
        app.router.add_post(f"{base}/sobjects/{{sobject}}", self.create)
        app.router.add_route("*", f"{base}/sobjects/{{sobject}}/{{id}}", self.record)
        return app
