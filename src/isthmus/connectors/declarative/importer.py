"""OpenAPI 2.0, 3.0 and 3.1 documents turned into a declarative connector spec.

Operations come from operationIds, authentication from the security schemes, streams
from list operations (a GET answering an array, or an object holding one), and paging
from the usual parameter and answer shapes. What cannot be inferred is listed for a
person to finish. ``$ref``s are followed only as deep as a decision needs (a response's
top level), through a cache, so large documents with deep and circular schemas import in
one pass over their operations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

METHODS = ("get", "post", "put", "patch", "delete")
_LIST_KEYS = ("value", "data", "items", "results", "records", "entries", "elements")
_NEXT_URL_KEYS = ("next", "nextLink", "next_url", "nextUrl", "nextPageUrl")
_CURSOR_PARAMS = ("cursor", "after", "page_token", "pageToken", "next_token", "starting_after")
_IDENTIFIER = re.compile(r"[^A-Za-z0-9_]")
GUESSED_CURSOR = "meta.next_cursor"


@dataclass
class Imported:
    spec: dict[str, Any]
    todo: list[str] = field(default_factory=list)  # what a person must finish
    operations: int = 0
    streams: int = 0


class Document:
    """An OpenAPI document with cached ``$ref`` lookups (local references only)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.swagger = str(data.get("swagger", "")).startswith("2")
        self._cache: dict[str, Any] = {}

    def resolve(self, node: Any, depth: int = 0) -> Any:
        """``node`` with its ``$ref`` followed (a chain of them too, circular ones stop)."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 16:
            ref = node["$ref"]
            if ref not in self._cache:
                self._cache[ref] = self._lookup(ref)
            node, depth = self._cache[ref], depth + 1
        return node

    def _lookup(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            return {}  # another file: not followed
        node: Any = self.data
        for step in ref[2:].split("/"):
            key = step.replace("~1", "/").replace("~0", "~")
            node = node.get(key) if isinstance(node, dict) else None
        return node if node is not None else {}


def import_openapi(data: dict[str, Any], title: str = "") -> Imported:
    if not isinstance(data, dict) or not ("openapi" in data or "swagger" in data):
        raise ValueError("not an OpenAPI document (no 'openapi' or 'swagger' field)")
    document = Document(data)
    result = Imported(spec={"connectorSpec": 1, "title": title or _title(data)})
    spec = result.spec
    spec["baseUrl"], config = _base_url(document, result.todo)
    auth = _auth(document, result.todo)
    if auth:
        config |= auth[0]
        spec["auth"] = auth[1]
    if config:
        spec["config"] = config
    streams: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for path, item in (data.get("paths") or {}).items():
        item = document.resolve(item)
        if not isinstance(item, dict):
            continue
        shared = item.get("parameters") or []
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            name = _name(operation, method, path)
            parameters = [
                document.resolve(p) for p in [*shared, *(operation.get("parameters") or [])]
            ]
            parameters = [p for p in parameters if isinstance(p, dict)]
            operations[name] = _operation(method, path, operation, parameters)
            result.operations += 1
            if method == "get":
                stream = _stream(document, path, operation, parameters)
                if stream is not None:
                    named = _unique(name, streams)
                    streams[named] = stream
                    result.streams += 1
                    if stream.get("pagination", {}).get("cursor") == GUESSED_CURSOR:
                        result.todo.append(
                            f"streams.{named}.pagination.cursor: where the next cursor is "
                            "in the answer"
                        )
    spec["streams"], spec["operations"] = streams, operations
    if not operations:
        result.todo.append("the document has no operations")
    return result


def _title(data: dict[str, Any]) -> str:
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    return str(info.get("title", "")) if isinstance(info, dict) else ""


def _base_url(document: Document, todo: list[str]) -> tuple[str, dict[str, Any]]:
    """The base URL, and the Connection values its server variables became."""
    data = document.data
    if document.swagger:
        host = data.get("host")
        schemes = data.get("schemes") or ["https"]
        if host:
            scheme = "https" if "https" in schemes else schemes[0]
            return f"{scheme}://{host}{data.get('basePath', '')}".rstrip("/"), {}
    else:
        servers = data.get("servers") or []
        server = servers[0] if servers and isinstance(servers[0], dict) else {}
        url = server.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://")):
            # server variables become Connection values: {region} → {config.region}
            variables = server.get("variables") or {}
            config = {
                name: {"required": False, "default": str((v or {}).get("default", ""))}
                for name, v in variables.items()
                if isinstance(name, str) and name.isidentifier()
            }
            for name in re.findall(r"\{([^}]+)\}", url):
                config.setdefault(name, {"description": "a server variable"})
            based = re.sub(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", r"{config.\1}", url)
            return based.rstrip("/"), config
    todo.append("baseUrl: the document names no absolute server URL; set it")
    return "https://example.invalid", {}


def _auth(document: Document, todo: list[str]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    data = document.data
    if document.swagger:
        schemes = data.get("securityDefinitions") or {}
    else:
        schemes = (data.get("components") or {}).get("securitySchemes") or {}
    for name, scheme in schemes.items():
        scheme = document.resolve(scheme)
        kind = scheme.get("type") if isinstance(scheme, dict) else None
        if kind == "apiKey" and scheme.get("in") in ("header", "query"):
            config = {"apiKey": {"type": "secret", "description": f"the '{name}' key"}}
            return config, {
                "type": "api-key",
                "in": scheme["in"],
                "name": scheme.get("name", "X-Api-Key"),
                "value": "{config.apiKey}",
            }
        if kind == "basic" or (kind == "http" and scheme.get("scheme") == "basic"):
            config = {"username": {}, "password": {"type": "secret"}}
            return config, {
                "type": "basic",
                "username": "{config.username}",
                "password": "{config.password}",
            }
        if kind == "http" and scheme.get("scheme") == "bearer":
            return {"token": {"type": "secret"}}, {"type": "bearer", "token": "{config.token}"}
        if kind == "oauth2":
            flows = scheme.get("flows") or {}
            flow = flows.get("clientCredentials") or (
                scheme if scheme.get("flow") == "application" else None
            )
            if isinstance(flow, dict) and flow.get("tokenUrl"):
                config = {"clientId": {}, "clientSecret": {"type": "secret"}}
                return config, {
                    "type": "oauth2-client-credentials",
                    "tokenUrl": flow["tokenUrl"],
                    "clientId": "{config.clientId}",
                    "clientSecret": "{config.clientSecret}",
                    "scopes": sorted(flow.get("scopes") or {}),
                }
            todo.append(
                f"auth: '{name}' is OAuth 2.0 without a client credentials flow "
                "(authorization code); choose how the hub authenticates"
            )
        elif kind:
            todo.append(f"auth: '{name}' ({kind}) is not a kind the importer maps; set 'auth'")
    if not schemes:
        todo.append("auth: the document declares no security scheme; set 'auth' if needed")
    return None


def _name(operation: dict[str, Any], method: str, path: str) -> str:
    found = operation.get("operationId")
    if isinstance(found, str) and found:
        return _IDENTIFIER.sub("_", found)
    return _IDENTIFIER.sub("_", f"{method}_{path.strip('/')}") or method


def _unique(name: str, taken: dict[str, Any]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate


def _operation(
    method: str, path: str, operation: dict[str, Any], parameters: list[dict[str, Any]]
) -> dict[str, Any]:
    inputs = {p["name"]: _IDENTIFIER.sub("_", p["name"]) for p in parameters if "name" in p}
    spec: dict[str, Any] = {
        "method": method.upper(),
        # inputs are names: 'ticket-id' is passed as ticket_id
        "path": re.sub(
            r"\{([^}]+)\}", lambda m: "{" + _IDENTIFIER.sub("_", m.group(1)) + "}", path
        ),
    }
    summary = operation.get("summary") or operation.get("description")
    if isinstance(summary, str):
        spec["description"] = summary.strip().splitlines()[0][:200] if summary.strip() else ""
    asked = [p for p in parameters if p.get("in") == "query" and "name" in p]
    if asked:
        spec["params"] = {p["name"]: "{" + inputs[p["name"]] + "}" for p in asked}
        optional = [inputs[p["name"]] for p in asked if not p.get("required")]
        if optional:  # sent when the caller gives them
            spec["optional"] = optional
    return spec


def _stream(
    document: Document, path: str, operation: dict[str, Any], parameters: list[dict[str, Any]]
) -> dict[str, Any] | None:
    if "{" in path:
        return None  # a list under a parent: an operation, not a stream of its own
    answer = _ok_schema(document, operation)
    records = _records(document, answer)
    if records is None:
        return None
    names = {p.get("name") for p in parameters if p.get("in") == "query"}
    stream: dict[str, Any] = {"path": path, "records": records}
    pagination = _pagination(document, operation, answer, names)
    if pagination:
        stream["pagination"] = pagination
    return stream


def _ok_schema(document: Document, operation: dict[str, Any]) -> Any:
    responses = operation.get("responses") or {}
    answer = document.resolve(responses.get("200") or responses.get("2XX") or {})
    if not isinstance(answer, dict):
        return None
    if document.swagger:
        return document.resolve(answer.get("schema"))
    content = answer.get("content") or {}
    for media, body in content.items():
        if "json" in media and isinstance(body, dict):
            return document.resolve(body.get("schema"))
    return None


def _records(document: Document, schema: Any) -> str | None:
    """Where a list's records are: '$' for an array, or the array property's name."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "array":
        return "$"
    properties = schema.get("properties") or {}
    for key in _LIST_KEYS:
        value = document.resolve(properties.get(key))
        if isinstance(value, dict) and value.get("type") == "array":
            return key
    return None


def _pagination(
    document: Document, operation: dict[str, Any], schema: Any, names: set[Any]
) -> dict[str, Any] | None:
    properties = (schema or {}).get("properties") or {} if isinstance(schema, dict) else {}
    if "@odata.nextLink" in properties:
        return {"type": "odata"}
    if "nextRecordsUrl" in properties:
        return {"type": "salesforce"}
    for key in _NEXT_URL_KEYS:
        if key in properties:
            return {"type": "next-url", "url": key}
    headers = (operation.get("responses") or {}).get("200", {})
    headers = document.resolve(headers).get("headers", {}) if isinstance(headers, dict) else {}
    if any(str(h).lower() == "link" for h in headers):
        return {"type": "link-header"}
    for param in _CURSOR_PARAMS:
        if param in names:
            return {"type": "cursor", "cursorParam": param, "cursor": _cursor_path(properties)}
    if "offset" in names and "limit" in names:
        return {"type": "offset"}
    if "page" in names:
        size = next(
            (n for n in ("per_page", "page_size", "pageSize", "limit", "size") if n in names), None
        )
        return {"type": "page-number", "sizeParam": size}
    return None


def _cursor_path(properties: dict[str, Any]) -> str:
    for key in ("next_cursor", "nextCursor", "cursor", "next_page_token", "nextPageToken"):
        if key in properties:
            return key
    return GUESSED_CURSOR
