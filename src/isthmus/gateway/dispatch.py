"""Route targets: one handler per target ``type``. A new pattern adds an entry here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import parse_qsl, quote, urlencode

from isthmus.connectors.base import CALLER, Connector, HttpForwarder, backend_failure
from isthmus.errors import ConfigurationError
from isthmus.gateway.http import GatewayRequest, GatewayResponse, json_response
from isthmus.gateway.routing import Match
from isthmus.gateway.transform import map_request, map_response
from isthmus.gateway.validation import parse_json_body
from isthmus.model import OperationTarget, ProxyTarget
from isthmus.model.api import PATH_PARAM

Handler = Callable[[GatewayRequest, Match, Connector], Awaitable[GatewayResponse]]

# Never passed on, either way: hop-by-hop headers (RFC 9110 §7.6.1), the caller's
# credentials for the hub, and the hub's internal headers.
_HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
# Forwarding headers are the gateway's to set, not the caller's to forge.
_REQUEST_DROP = _HOP_BY_HOP | {
    b"authorization",
    b"x-api-key",
    b"cookie",
    b"accept-encoding",
    b"forwarded",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-real-ip",
}
# Backend URLs (Location, Link, …) name internal hosts and paths callers cannot use.
_RESPONSE_DROP = _HOP_BY_HOP | {
    b"content-encoding",
    b"set-cookie",
    b"server",
    b"location",
    b"content-location",
    b"link",
    b"refresh",
}


_INTERNAL = b"x-isthmus-"  # the hub's own headers: never passed on either way

_FORWARDS: dict[type, bool] = {}


def _forwards(kind: type) -> bool:
    # isinstance() against a runtime-checkable Protocol inspects every member each call:
    # too slow for every request, so it is asked once per connector class.
    if kind not in _FORWARDS:
        _FORWARDS[kind] = issubclass(kind, HttpForwarder)
    return _FORWARDS[kind]


async def proxy(request: GatewayRequest, match: Match, connector: Connector) -> GatewayResponse:
    target = match.route.route.target
    assert isinstance(target, ProxyTarget)
    if not _forwards(type(connector)):
        raise ConfigurationError(
            f"Connection '{target.connection}' cannot be proxied to.",
            remediation="Point proxy targets at a Connection using an HTTP connector ('rest').",
        )
    template = target.path or match.route.template
    path = PATH_PARAM.sub(lambda m: quote(match.params[m.group(1)], safe=""), template)
    headers = [
        h for h in request.headers if h[0] not in _REQUEST_DROP and not h[0].startswith(_INTERNAL)
    ]
    headers.append((b"x-request-id", request.request_id.encode()))
    if request.client:
        headers.append((b"x-forwarded-for", request.client.encode()))
    if request.tracing is not None:
        carrier: dict[str, str] = {}
        request.tracing.inject(carrier)  # our span's context replaces the caller's
        injected = [(k.lower().encode(), v.encode("latin-1")) for k, v in carrier.items()]
        replaced = {name for name, _ in injected}
        headers = [h for h in headers if h[0] not in replaced] + injected
    query = request.query_string.decode("latin-1") if target.forward_query else ""
    collection = match.route.collection
    if collection is not None and query:  # paging, sorting and filters are the gateway's
        kept = [
            (n, v) for n, v in parse_qsl(query, keep_blank_values=True) if not collection.own(n)
        ]
        query = urlencode(kept)
    body = request.body or None
    mapping = match.route.mapping
    if mapping is not None:
        query, body = map_request(mapping, request, match.params, query, headers, body)
    upstream = await cast(HttpForwarder, connector).forward(
        request.method, path, query=query, headers=headers, body=body
    )
    failure = backend_failure(upstream)
    if failure is not None:
        raise failure
    out = [
        h
        for h in upstream.raw_headers
        if h[0] not in _RESPONSE_DROP and not h[0].startswith(_INTERNAL)
    ]
    answer = upstream.body
    if mapping is not None:
        answer = map_response(mapping, upstream.status, out, answer)
    return GatewayResponse(upstream.status, answer, out)


async def operation(request: GatewayRequest, match: Match, connector: Connector) -> GatewayResponse:
    target = match.route.route.target
    assert isinstance(target, OperationTarget)
    payload: dict[str, Any] = dict(match.params)
    payload["query"] = dict(parse_qsl(request.query_string.decode("latin-1")))
    payload["body"] = parse_json_body(request) if request.body else None
    key = request.header(b"idempotency-key")
    if key:  # connectors that can pass it on make the call safe to retry
        payload["idempotencyKey"] = key.decode("latin-1")
    caller = CALLER.set(request.app)
    try:
        result = await connector.call(target.operation, payload)
    finally:
        CALLER.reset(caller)
    if result is None:
        return GatewayResponse(204)
    return json_response(201 if request.method == "POST" else 200, result)


DISPATCH: dict[str, Handler] = {"proxy": proxy, "operation": operation}
