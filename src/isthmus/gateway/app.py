"""The gateway as a raw ASGI application: authenticate, authorize, dispatch.

Raw ASGI rather than a framework: the hot path is a handful of dict lookups and the
upstream call, and a framework's routing and middleware stack would cost more than
all of that together (see DESIGN.md's measurements).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
import structlog

from isthmus.errors import (
    ConfigurationError,
    IsthmusError,
    MethodNotAllowed,
    PayloadTooLarge,
    StoreUnavailable,
)
from isthmus.events import receiver
from isthmus.gateway import auth, cors, events, mock, oauth, sandbox
from isthmus.gateway.cache import ResponseCache
from isthmus.gateway.collections import (
    CompiledCollection,
    RecordsNotFound,
    page,
    parse_query,
    select_records,
)
from isthmus.gateway.dispatch import DISPATCH
from isthmus.gateway.http import (
    GatewayRequest,
    GatewayResponse,
    internal_problem,
    json_response,
    problem_response,
    request_id_from,
)
from isthmus.gateway.metrics import GatewayMetrics
from isthmus.gateway.ratelimit import RateLimiter
from isthmus.gateway.routing import Match
from isthmus.gateway.snapshot import Caller, Snapshot, SnapshotHolder
from isthmus.gateway.validation import validate_request, validate_response
from isthmus.model import ResourceKey
from isthmus.model.api import EventTarget, ViewTarget
from isthmus.tracing import GatewayTracing
from isthmus.virtual.faces import graphql as graphql_face
from isthmus.virtual.faces import odata as odata_face
from isthmus.virtual.faces import rest as rest_face
from isthmus.virtual.faces import sql as sql_face
from isthmus.virtual.service import VirtualData

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

log = structlog.get_logger(__name__)


class ClientGone(Exception):
    """The caller disconnected before its request body was complete."""


class Gateway:
    def __init__(
        self,
        holder: SnapshotHolder,
        limiter: RateLimiter,
        *,
        metrics: GatewayMetrics | None = None,
        tracing: GatewayTracing | None = None,
        cache: ResponseCache | None = None,
        access_log: bool = True,
        issuer: str,
        token_ttl: int = 600,
        max_body_bytes: int = 1024 * 1024,
    ) -> None:
        self.holder = holder
        self.limiter = limiter
        self.metrics = metrics or GatewayMetrics()
        self.tracing = tracing or GatewayTracing(None)
        self.cache = cache or ResponseCache()
        self.access_log = access_log
        self.issuer = issuer
        self.token_ttl = token_ttl
        self.max_body_bytes = max_body_bytes
        self.graphql_schemas = graphql_face.Schemas()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The gateway as an ASGI application (granian or uvicorn, and the tests)."""
        if scope["type"] != "http":
            return  # lifespan and websockets are not served here
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        client = scope.get("client")
        raw_path = scope.get("raw_path")
        request = GatewayRequest(
            method=scope["method"],
            # Route on the path as sent, so an encoded '/' inside a parameter stays in it
            # and parameters are decoded exactly once.
            path=raw_path.decode("latin-1").partition("?")[0] if raw_path else scope["path"],
            query_string=scope["query_string"],
            headers=headers,
            client=client[0] if client else None,
            request_id=request_id_from(headers),
        )
        response = await self.respond(request, receive if _may_have_body(scope) else None)
        if response is None:
            return
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    *response.headers,
                    (b"content-length", str(len(response.body)).encode()),
                    # else the server names itself, and granian its version too
                    (b"server", b"isthmus"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})

    async def respond(
        self, request: GatewayRequest, receive: Receive | None
    ) -> GatewayResponse | None:
        """Answer one request; None when the caller left before its body was complete.
        Without ``receive`` the request has no body."""
        started = time.perf_counter()
        with self.tracing.request(request.method, request.headers) as span:
            request.tracing = self.tracing
            try:
                response = await self.handle(request, receive)
            except ClientGone:
                return None  # nobody to answer; a half-received body must not reach a backend
            except IsthmusError as error:
                response = problem_response(error, request.request_id)
            except Exception:
                log.exception("gateway.unhandled", request_id=request.request_id)
                response = internal_problem(request.request_id)
            response.headers += request.response_headers
            response.headers.append((b"x-request-id", request.request_id.encode()))
            if span is not None:
                self.tracing.finish(span, _span_attributes(request), response.status)
        self._record(request, response.status, time.perf_counter() - started)
        return response

    def _record(self, request: GatewayRequest, status: int, seconds: float) -> None:
        self.metrics.observe(
            api=request.api,
            version=request.version,
            route=request.route,
            status=status,
            app=request.app,
            seconds=seconds,
        )
        if self.access_log:
            log.info(
                "gateway.request",
                request_id=request.request_id,
                method=request.method,
                api=request.api,
                version=request.version,
                route=request.route,
                app=request.app,
                status=status,
                ms=round(seconds * 1000, 2),
            )

    async def handle(
        self, request: GatewayRequest, receive: Receive | None = None
    ) -> GatewayResponse:
        snapshot = self.holder.current
        if snapshot is None:
            raise StoreUnavailable("The gateway has not loaded its configuration yet.")
        under_sandbox = sandbox.split(request.path)
        if under_sandbox is not None:  # the same contract, for sandbox credentials
            request.prefix, request.path = sandbox.PREFIX, under_sandbox
        # CORS first: browsers send preflights without the page's key or token
        preflight = cors.apply(request, snapshot.routes.cors)
        if preflight is not None:
            return preflight
        if receive is not None:  # read after CORS: a refused body is readable by pages too
            request.body = await _read_body(receive, self.max_body_bytes)
        if request.path in oauth.PATHS:
            if request.prefix:  # one token endpoint for every Environment
                raise sandbox.NotUnderSandbox(f"'{sandbox.PREFIX}{request.path}' is not served.")
            return self._oauth(request, snapshot)
        if request.path.startswith(receiver.PREFIX) and not request.prefix:
            return await self._trigger(request, snapshot)  # a System's webhook: signed, no key
        # only versions publishing Views serve /odata and /graphql (their own routes may)
        odata = odata_face.split(request.path) if snapshot.view_versions else None
        if odata is not None and odata[:2] not in snapshot.view_versions:
            odata = None
        # Authenticate first: without a key, not even the map of Apis and versions shows.
        query_key = odata_face.KEY_PARAMETER if odata else None
        caller = auth.authenticate(snapshot, request, self.issuer, query_key)
        request.app = caller.app
        if request.prefix:
            sandbox.check(caller.environment)
        if odata is not None:
            return await self._odata(request, snapshot, caller, *odata)
        graphql = graphql_face.split(request.path) if snapshot.view_versions else None
        if graphql is not None and graphql in snapshot.view_versions:
            return await self._graphql(request, snapshot, caller, *graphql)
        if request.path == sql_face.PATH and request.method == "POST":
            request.api = request.route = sql_face.PATH
            limits = snapshot.policies_for(caller.app, "query", caller.environment)
            request.response_headers += await self.limiter.admit(
                limits, caller.app, "query", caller.environment
            )
            return await sql_face.answer(request, snapshot, caller, self._virtual())
        contract = snapshot.routes.document(request.path, self.issuer, bool(request.prefix))
        if contract is not None and request.method == "GET":
            api, body = contract
            request.api, request.route = api, "/openapi.json"
            auth.authorize(snapshot, caller, api)
            return GatewayResponse(200, body, [(b"content-type", b"application/json")])
        match = snapshot.routes.match(request.method, request.path)
        request.api, request.version = match.route.api, match.route.version
        request.route = match.route.template
        auth.authorize(snapshot, caller, match.route.api)
        request.response_headers += match.headers  # lifecycle headers, on refusals too
        policies = snapshot.policies_for(caller.app, match.route.api, caller.environment)
        request.response_headers += await self.limiter.admit(
            policies, caller.app, match.route.api, caller.environment
        )
        if match.route.contract is not None:
            validate_request(match.route.contract, request, match.params)
        collection = match.route.collection
        if collection is not None:  # its query is checked before any backend call too
            request.collection = parse_query(collection, request.query_string)
        caching = match.route.route.cache
        if caching is not None:
            self.cache.follow(snapshot.revision)
            hit = self.cache.lookup(request, caching, caller.environment)
            if hit is not None:
                return hit
        target = match.route.route.target
        if isinstance(target, EventTarget):
            return await self._publish(request, match, caller.environment)
        if isinstance(target, ViewTarget):  # the sources page: no list to cut here
            response = await rest_face.answer(
                request, match, snapshot, caller, self._virtual(), self._link(request)
            )
        else:
            key = ResourceKey("Connection", target.connection, caller.environment)
            if mock.wanted(self.holder.pool, key):  # a System without a sandbox
                response = mock.answer(match.route, request, self._link(request))
            else:
                connector = self.holder.pool.get(key)
                response = await DISPATCH[target.type](request, match, connector)
                if collection is not None:
                    response = self._page(request, collection, response)
        compiled = match.route
        if (
            compiled.response is not None
            and compiled.version_spec is not None
            and compiled.version_spec.checks_responses(caller.environment)
        ):
            validate_response(compiled.response, response)
        if caching is not None:
            self.cache.store(request, caching, caller.environment, response)
        return response

    async def _odata(
        self, request: GatewayRequest, snapshot: Snapshot, caller: Caller, api: str,
        version: str, rest: str,
    ) -> GatewayResponse:  # fmt: skip
        try:
            await self._admit_face(request, snapshot, caller, api, version, "/odata", "GET")
            root = f"{self.issuer}{request.prefix}/{api}/{version}/{odata_face.SEGMENT}/"
            return await odata_face.answer(
                request, snapshot, caller, self._virtual(), api, version, rest, root
            )
        except IsthmusError as error:
            return odata_face.with_odata_error(problem_response(error, request.request_id))

    async def _graphql(
        self, request: GatewayRequest, snapshot: Snapshot, caller: Caller, api: str, version: str
    ) -> GatewayResponse:
        await self._admit_face(request, snapshot, caller, api, version, "/graphql", "POST")
        schema = self.graphql_schemas.of(snapshot, api)
        return await graphql_face.answer(request, snapshot, caller, self._virtual(), schema)

    async def _admit_face(
        self, request: GatewayRequest, snapshot: Snapshot, caller: Caller, api: str,
        version: str, route: str, method: str,
    ) -> None:  # fmt: skip
        """What a route's call goes through, for a version's OData or GraphQL service:
        the version served, the App granted, the one method taken, the Plan's limits."""
        request.api, request.version, request.route = api, version, route
        request.response_headers += snapshot.routes.version(api, version).headers
        auth.authorize(snapshot, caller, api)
        if request.method != method:
            raise MethodNotAllowed(f"{route[1:]} takes {method}.", headers={"Allow": method})
        request.response_headers += await self.limiter.admit(
            snapshot.policies_for(caller.app, api, caller.environment),
            caller.app,
            api,
            caller.environment,
        )

    def _virtual(self) -> VirtualData:
        virtual = self.holder.virtual
        if virtual is None:
            raise ConfigurationError(
                "This gateway runs without the virtual data layer.",
                remediation="Run the hub (isthmus serve), which serves Views.",
            )
        return virtual

    async def _publish(
        self, request: GatewayRequest, match: Match, environment: str
    ) -> GatewayResponse:
        event, bus = match.route.event, self.holder.bus
        if event is None or bus is None:
            raise ConfigurationError(
                "This event route has no EventType or event bus to publish to.",
                remediation="Check that the route's EventType and version exist, and that "
                "the hub runs with an event bus.",
            )
        return await events.publish(request, event, bus, environment)

    async def _trigger(self, request: GatewayRequest, snapshot: Snapshot) -> GatewayResponse:
        bus = self.holder.bus
        if bus is None:
            raise ConfigurationError(
                "This gateway receives no webhook triggers: it runs without an event bus.",
                remediation="Run the hub (isthmus serve), which opens the bus.",
            )
        return await receiver.receive(request, snapshot.hooks, bus)

    def _link(self, request: GatewayRequest) -> str:
        """The address the caller used, for links in answers (next pages)."""
        return self.issuer + request.prefix + request.path

    def _page(
        self, request: GatewayRequest, collection: CompiledCollection, response: GatewayResponse
    ) -> GatewayResponse:
        """The target's list cut to the page asked for; other answers pass as they are."""
        if not 200 <= response.status < 300:
            return response
        assert request.collection is not None
        try:
            answer = orjson.loads(response.body) if response.body else None
        except orjson.JSONDecodeError:
            raise RecordsNotFound("The backend's answer is not JSON.") from None
        records = select_records(collection, answer)
        body = page(collection, request.collection, records, self._link(request))
        kept = [(k, v) for k, v in response.headers if k not in (b"content-type", b"etag")]
        return json_response(200, body, kept)

    def _oauth(self, request: GatewayRequest, snapshot: Snapshot) -> GatewayResponse:
        if request.path == oauth.TOKEN_PATH:
            return oauth.token(request, snapshot, self.issuer, self.token_ttl)
        if request.method != "GET":
            raise MethodNotAllowed("Use GET.", headers={"Allow": "GET"})
        if request.path == oauth.JWKS_PATH:
            return oauth.jwks(snapshot)
        return oauth.metadata(self.issuer)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The body is larger than the gateway accepts ({limit} bytes).")


def _may_have_body(scope: Scope) -> bool:
    """False for an HTTP/1 request without Content-Length or Transfer-Encoding, which
    has no body (RFC 9112 §6.3): not asking the server for one saves a round trip to
    its thread (granian), about a sixth of a plain proxy's throughput."""
    if scope.get("http_version") not in ("1.1", "1.0"):
        return True  # HTTP/2 frames a body without either header
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value != b"0"):
            return True
    return False


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _span_attributes(request: GatewayRequest) -> dict[str, str]:
    route = f"/{request.api}/{request.version}{request.route}" if request.api else ""
    return {
        "method": request.method,
        "route": route,
        "app": request.app,
        "api": request.api,
        "request_id": request.request_id,
    }
