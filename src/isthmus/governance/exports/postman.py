"""A Postman collection (v2.1) of an Api version: one request per operation, ready to
send once the ``apiKey`` variable is set; ``baseUrl`` switches between Environments.
Bodies are the route's example, or a skeleton made from the schema."""

from __future__ import annotations

import re
from typing import Any

import orjson

from isthmus.governance.exports.flatten import Flattener
from isthmus.governance.exports.schemas import METHODS, deref

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
_SAMPLES: dict[str, Any] = {"string": "", "integer": 0, "number": 0, "boolean": False}


def to_postman(document: dict[str, Any], server_url: str) -> dict[str, Any]:
    """The collection of a native 3.1 document, calling ``server_url``."""
    flat = Flattener(document)
    info = document.get("info") or {}
    folders: dict[str, list[dict[str, Any]]] = {}
    loose: list[dict[str, Any]] = []
    for path, item in (document.get("paths") or {}).items():
        item = deref(document, item)
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            request = _request(document, flat, method, path, item, operation)
            tags = operation.get("tags") or []
            (folders.setdefault(tags[0], []) if tags else loose).append(request)
    collection: dict[str, Any] = {
        "info": {
            "name": f"{info.get('title') or 'Api'} {info.get('version') or ''}".strip(),
            "schema": SCHEMA,
        },
        "item": [*({"name": n, "item": items} for n, items in folders.items()), *loose],
        "variable": [
            {"key": "baseUrl", "value": server_url, "type": "string"},
            {"key": "apiKey", "value": "", "type": "string"},
        ],
        # Every request sends the App's key, as the gateway expects it.
        "auth": {
            "type": "apikey",
            "apikey": [
                {"key": "key", "value": "X-Api-Key", "type": "string"},
                {"key": "value", "value": "{{apiKey}}", "type": "string"},
                {"key": "in", "value": "header", "type": "string"},
            ],
        },
    }
    if info.get("description"):
        collection["info"]["description"] = info["description"]
    return collection


def _request(
    document: dict[str, Any],
    flat: Flattener,
    method: str,
    path: str,
    item: dict[str, Any],
    operation: dict[str, Any],
) -> dict[str, Any]:
    parameters = [
        deref(document, p)
        for p in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]
    ]
    segments = [re.sub(r"^{(.+)}$", r":\1", s) for s in path.strip("/").split("/") if s]
    query = [
        _entry(p, flat) | {"disabled": not p.get("required", False)}
        for p in parameters
        if p.get("in") == "query"
    ]
    url: dict[str, Any] = {
        "raw": "{{baseUrl}}/" + "/".join(segments) + _raw_query(query),
        "host": ["{{baseUrl}}"],
        "path": segments,
    }
    if query:
        url["query"] = query
    variables = [_entry(p, flat) for p in parameters if p.get("in") == "path"]
    if variables:
        url["variable"] = variables
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [
            _entry(p, flat) | {"disabled": not p.get("required", False)}
            for p in parameters
            if p.get("in") == "header"
        ],
        "url": url,
    }
    if operation.get("description") or operation.get("summary"):
        request["description"] = operation.get("description") or operation["summary"]
    body = _body(document, flat, operation.get("requestBody"))
    if body is not None:
        media, text = body
        request["header"].append({"key": "Content-Type", "value": media})
        request["body"] = {"mode": "raw", "raw": text, "options": {"raw": {"language": "json"}}}
    return {
        "name": operation.get("summary") or operation.get("operationId") or f"{method} {path}",
        "request": request,
        "response": [],
    }


def _entry(parameter: dict[str, Any], flat: Flattener) -> dict[str, Any]:
    example = parameter.get("example")
    if example is None:
        example = sample(flat.schema(parameter.get("schema") or {}))
    out: dict[str, Any] = {"key": parameter.get("name", ""), "value": _text(example)}
    if parameter.get("description"):
        out["description"] = parameter["description"]
    return out


def _raw_query(query: list[dict[str, Any]]) -> str:
    active = [f"{q['key']}={q['value']}" for q in query if not q["disabled"]]
    return "?" + "&".join(active) if active else ""


def _body(document: dict[str, Any], flat: Flattener, body: Any) -> tuple[str, str] | None:
    if body is None:
        return None
    content = deref(document, body).get("content") or {}
    if not content:
        return None
    media = "application/json" if "application/json" in content else next(iter(content))
    entry = content[media] or {}
    example = entry.get("example")
    if example is None:
        example = sample(flat.schema(entry.get("schema") or {}))
    return media, orjson.dumps(example, option=orjson.OPT_INDENT_2).decode()


def sample(schema: dict[str, Any], depth: int = 0) -> Any:
    """A value of a flat schema's shape, to start a request from: the schema's example,
    default or first enum value, else an empty value of its type."""
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        return {n: sample(s, depth + 1) for n, s in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample(schema.get("items") or {}, depth + 1)] if depth <= 4 else []
    return _SAMPLES.get(str(kind))


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return orjson.dumps(value).decode()
