"""A proxy target's JSONata mappings, compiled once per snapshot and applied per call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

from isthmus.errors import FatalError
from isthmus.gateway.http import GatewayRequest, Headers, header_value
from isthmus.gateway.validation import parse_json_body
from isthmus.mapping import Mapping, MappingError
from isthmus.model.api import ProxyMapping


class MappingFailed(FatalError):
    status = 502
    code = "mapping-failed"
    title = "The route's mapping failed on this request or answer"
    remediation = "Tell the owner of the Api; the detail names the mapping that failed."


@dataclass(frozen=True)
class CompiledMapping:
    query: dict[str, Mapping] | None
    headers: dict[str, Mapping]
    body: Mapping | None
    response: Mapping | None


def compile_mapping(mapping: ProxyMapping) -> CompiledMapping:
    return CompiledMapping(
        {k: Mapping(v) for k, v in mapping.query.items()} if mapping.query is not None else None,
        {k: Mapping(v) for k, v in mapping.headers.items()},
        Mapping(mapping.body) if mapping.body else None,
        Mapping(mapping.response) if mapping.response else None,
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _run(mapping: Mapping, data: Any, what: str) -> Any:
    try:
        return mapping(data)
    except MappingError:
        raise MappingFailed(f"The {what} mapping failed.") from None


def map_request(
    compiled: CompiledMapping,
    request: GatewayRequest,
    params: dict[str, str],
    query: str,
    headers: list[tuple[bytes, bytes]],
    body: bytes | None,
) -> tuple[str, bytes | None]:
    """The query and body to send; ``headers`` is changed in place."""
    context = {
        "path": params,
        "query": dict(parse_qsl(request.query_string.decode("latin-1"), keep_blank_values=True)),
        "headers": {k.decode("latin-1"): v.decode("latin-1") for k, v in request.headers},
        "body": parse_json_body(request) if request.body else None,
    }
    if compiled.query is not None:
        values = {name: _run(m, context, f"query '{name}'") for name, m in compiled.query.items()}
        query = urlencode({name: _text(v) for name, v in values.items() if v is not None})
    for name, mapping in compiled.headers.items():
        value = _run(mapping, context, f"header '{name}'")
        if value is not None:
            _set(headers, name, _text(value))
    if compiled.body is not None:
        body = orjson.dumps(_run(compiled.body, context, "body"))
        _set(headers, "content-type", "application/json")
    return query, body


def _set(headers: list[tuple[bytes, bytes]], name: str, value: str) -> None:
    """Replace every ``name`` header by one with ``value``."""
    key = name.lower().encode("latin-1")
    headers[:] = [h for h in headers if h[0] != key]
    try:
        headers.append((key, value.encode("latin-1")))
    except UnicodeEncodeError:
        raise MappingFailed(f"The header mapping '{name}' gave text that is not Latin-1.") from None


def map_response(compiled: CompiledMapping, status: int, headers: Headers, body: bytes) -> bytes:
    """The answer's body after the response mapping (successful JSON answers only)."""
    if compiled.response is None or not 200 <= status < 300 or not body:
        return body
    content_type = header_value(headers, b"content-type") or b""
    if b"json" not in content_type:
        return body
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MappingFailed(
            "The backend's answer is not JSON; the response mapping needs it."
        ) from None
    return orjson.dumps(_run(compiled.response, data, "response"))
