"""Minimal request/response types for the gateway's raw ASGI hot path."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from isthmus.errors import PROBLEM_CONTENT_TYPE, IsthmusError, problem_body

Headers = list[tuple[bytes, bytes]]
NOT_PARSED: Any = object()  # a body not parsed yet (None is a valid JSON body)
_SAFE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._\-]{1,64}$")


@dataclass
class GatewayRequest:
    method: str
    path: str
    query_string: bytes
    headers: Headers
    client: str | None
    request_id: str
    body: bytes = b""
    # Added to whatever answers the request, problems included (RateLimit, …).
    response_headers: Headers = field(default_factory=list)
    # The JSON body once parsed (validation and operation targets share it).
    parsed_body: Any = field(default=NOT_PARSED, repr=False)
    # A collection route's checked query (CollectionQuery), set before dispatch.
    collection: Any = field(default=None, repr=False)
    # Set by the gateway: passes the trace context on to backends when tracing is on.
    tracing: Any = field(default=None, repr=False)
    # "/sandbox" on the sandbox endpoint: links the gateway writes keep it.
    prefix: str = ""
    # What it turned out to be, for metrics and the access log ("" until known).
    api: str = ""
    version: str = ""
    route: str = ""
    app: str = ""

    def header(self, name: bytes) -> bytes | None:
        return header_value(self.headers, name)


@dataclass
class GatewayResponse:
    status: int
    body: bytes = b""
    headers: Headers = field(default_factory=list)


def header_value(headers: Headers, name: bytes) -> bytes | None:
    """The first value of header ``name`` (lower-case bytes, as ASGI gives them)."""
    for key, value in headers:
        if key == name:
            return value
    return None


def request_id_from(headers: Headers) -> str:
    """The caller's X-Request-Id if it is safe to echo and log, else a fresh one."""
    for key, value in headers:
        if key == b"x-request-id" and _SAFE_REQUEST_ID.match(value):
            return value.decode()
    # Unique, not secret: nothing is decided by knowing one, so no system entropy is spent.
    return f"{random.getrandbits(64):016x}"


def json_response(status: int, payload: Any, headers: Headers | None = None) -> GatewayResponse:
    return GatewayResponse(
        status,
        orjson.dumps(payload),
        [(b"content-type", b"application/json"), *(headers or [])],
    )


def problem_response(error: IsthmusError, request_id: str) -> GatewayResponse:
    body = error.problem() | {"requestId": request_id}
    headers = [(b"content-type", PROBLEM_CONTENT_TYPE.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    return GatewayResponse(error.status, orjson.dumps(body), headers)


def internal_problem(request_id: str) -> GatewayResponse:
    body = problem_body(
        status=500,
        code=IsthmusError.code,
        title=IsthmusError.title,
        detail="The gateway failed while handling this request.",
        remediation=IsthmusError.remediation,
        extensions={"requestId": request_id},
    )
    return GatewayResponse(
        500, orjson.dumps(body), [(b"content-type", PROBLEM_CONTENT_TYPE.encode())]
    )
