"""A fake of Microsoft Graph v1.0 and its token endpoint, as Microsoft documents them.

- Token: POST /{tenant}/oauth2/v2.0/token, form grant_type=client_credentials,
  client_id, client_secret, scope=https://graph.microsoft.com/.default; answers
  token_type, expires_in, ext_expires_in, access_token; a bad client gets 401
  invalid_client (AADSTS7000215).
- Lists: {"@odata.context", "value": [...], "@odata.nextLink": absolute URL with an
  opaque $skiptoken}; $top (default 100, at most 999), $select, a $filter subset
  (eq on strings and booleans, gt/ge/lt/le on dates, joined with ' and ').
- Errors: {"error": {"code", "message", "innerError"}}; a missing or expired token
  401 InvalidAuthenticationToken; throttling 429 TooManyRequests with Retry-After.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

TENANT, CLIENT_ID, CLIENT_SECRET = "contoso-tenant", "app-1", "graph-secret"
_CONDITION = re.compile(r"^(\w+) (eq|gt|ge|lt|le) (?:'((?:[^']|'')*)'|(\S+))$")


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": "r"}}}
    return web.json_response(body, status=status, headers=headers)


@dataclass
class FakeGraph:
    users: list[dict[str, Any]]
    groups: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    url: str = ""
    tokens: set[str] = field(default_factory=set)
    token_fetches: int = 0
    throttle: int = 0
    repeat_next_link: bool = False  # a broken deployment: the same nextLink forever
    requests: list[web.Request] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        ok = (
            request.match_info["tenant"] == TENANT
            and form.get("grant_type") == "client_credentials"
            and form.get("client_id") == CLIENT_ID
            and form.get("client_secret") == CLIENT_SECRET
            and form.get("scope") == "https://graph.microsoft.com/.default"
        )
        if not ok:
            return web.json_response(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret.",
                },
                status=401,
            )
        self.token_fetches += 1
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            }
        )

    def _gate(self, request: web.Request) -> web.Response | None:
        self.requests.append(request)
        if request.headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return _error(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )
        if self.throttle > 0:
            self.throttle -= 1
            return _error(429, "TooManyRequests", "Too many requests.", **{"Retry-After": "0"})
        return None

    async def users_list(self, request: web.Request) -> web.Response:
        return self._gate(request) or self._page(request, self.users)

    async def groups_list(self, request: web.Request) -> web.Response:
        return self._gate(request) or self._page(request, self.groups)

    async def messages_list(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        mailbox = self.messages.get(request.match_info["user"])
        if mailbox is None:
            return _error(404, "ErrorInvalidUser", "The requested user is invalid.")
        return self._page(request, mailbox)

    async def user(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        for user in self.users:
            if request.match_info["id"] in (user["id"], user.get("userPrincipalName")):
                return web.json_response(user)
        return _error(404, "Request_ResourceNotFound", "Resource does not exist.")

    async def send_mail(self, request: web.Request) -> web.Response:
        refused = self._gate(request)
        if refused:
            return refused
        self.sent.append(await request.json())
        return web.Response(status=202)

    def _page(self, request: web.Request, rows: list[dict[str, Any]]) -> web.Response:
        query = request.query
        try:
            rows = [r for r in rows if _matches(r, query.get("$filter"))]
        except ValueError:
            return _error(400, "BadRequest", "Invalid filter clause.")
        top = min(int(query.get("$top", 100)), 999)
        start = 0
        if "$skiptoken" in query:
            start = int(base64.urlsafe_b64decode(query["$skiptoken"]).decode())
        chunk = rows[start : start + top]
        if "$select" in query:
            keep = query["$select"].split(",")
            chunk = [{k: r.get(k) for k in ["id", *keep]} for r in chunk]
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/v1.0/$metadata#users",
            "value": chunk,
        }
        if start + top < len(rows):
            skip = 0 if self.repeat_next_link else start + top
            token = base64.urlsafe_b64encode(str(skip).encode()).decode()
            kept = {k: v for k, v in query.items() if k != "$skiptoken"}
            params = urlencode({**kept, "$skiptoken": token}, quote_via=quote, safe="$,")
            body["@odata.nextLink"] = f"{self.url}{request.path}?{params}"
        return web.json_response(body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self.token)
        app.router.add_get("/v1.0/users", self.users_list)
        app.router.add_get("/v1.0/groups", self.groups_list)
        app.router.add_get("/v1.0/users/{user}/messages", self.messages_list)
        app.router.add_get("/v1.0/users/{id}", self.user)
        app.router.add_post("/v1.0/users/{user}/sendMail", self.send_mail)
        return app


def _matches(row: dict[str, Any], expression: str | None) -> bool:
    if not expression:
        return True
    for condition in expression.split(" and "):
        found = _CONDITION.match(condition.strip())
        if not found:
            raise ValueError(condition)
        name, op, text, literal = found.groups()
        value: Any = (
            text.replace("''", "'")
            if text is not None
            else {"true": True, "false": False}.get(literal, literal)
        )
        actual = row.get(name)
        if actual is None:
            return False
        if op == "eq" and actual != value:
            return False
        if op in ("gt", "ge", "lt", "le"):
            compare = {
                "gt": actual > value,
                "ge": actual >= value,
                "lt": actual < value,
                "le": actual <= value,
            }
            if not compare[op]:
                return False
    return True
