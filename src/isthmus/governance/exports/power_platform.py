"""The Power Platform profile: a Swagger 2.0 document that Power Apps, Power Automate,
Copilot Studio and Logic Apps import as a custom connector ("Import an OpenAPI file").

What the connector designer needs, and what this profile therefore does:

- Swagger 2.0 only (3.x files are refused), one ``host``, a ``basePath`` and ``schemes``.
- Only the ``format`` values Microsoft's connector schema allows (see
  ``connector_formats``); the meaning of any other is said in the description.
- Flat schemas (see ``flatten``): fields show in the designer and as dynamic content only
  when the schema is written out in place.
- ``operationId`` in PascalCase, letters and digits; a ``summary`` (the action's name)
  and a ``description`` on every operation.
- ``x-ms-summary`` (a Title Case label) on every parameter and property;
  ``x-ms-visibility: important`` on required inputs, ``advanced`` on paging internals.
- ``x-ms-pageable`` on collections: the platform follows ``nextLink`` itself.
- The API key first in ``securityDefinitions``: the connector uses the first definition
  and cannot itself run the OAuth2 client-credentials flow; the ``application`` flow is
  still declared for other Swagger tools.
- At most 256 operations and under 1 MB, or the import fails: refused here, earlier and
  with a reason.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from isthmus.governance.exports.base import ExportLimitExceeded, serialize
from isthmus.governance.exports.connector_formats import restrict_formats
from isthmus.governance.exports.flatten import Flattener, label
from isthmus.governance.exports.schemas import METHODS, deref
from isthmus.governance.exports.security import security_definitions

MAX_OPERATIONS = 256
MAX_BYTES = 1_000_000  # "less than 1 MB", read strictly (decimal megabyte)
MAX_SUMMARY = 80
JSON = "application/json"
_FORMS = ("multipart/form-data", "application/x-www-form-urlencoded")
# Collection parameters a person rarely sets by hand: shown under "advanced".
_ADVANCED = frozenset({"cursor"})
# Parameter keywords Swagger 2.0 takes beside `type` (parameters have no `schema`).
_SIMPLE = (
    "format",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
)
_SUPPORTED_METHODS = tuple(m for m in METHODS if m != "trace")  # no trace in 2.0


def to_power_platform(document: dict[str, Any], server_url: str) -> dict[str, Any]:
    """The connector definition of a native 3.1 document, calling ``server_url``.

    Raises :class:`ExportLimitExceeded` if the platform would refuse the file."""
    out = _Profile(document, server_url).build()
    restrict_formats(out)
    count = sum(1 for item in out["paths"].values() for _ in item)
    if count > MAX_OPERATIONS:
        raise ExportLimitExceeded(
            f"This Api version has {count} operations; a Power Platform connector takes "
            f"at most {MAX_OPERATIONS}.",
            extensions={"limit": "operations", "allowed": MAX_OPERATIONS, "actual": count},
        )
    size = len(serialize(out))
    if size >= MAX_BYTES:
        raise ExportLimitExceeded(
            f"The connector definition would be {size:,} bytes; Power Platform takes files "
            f"under 1 MB ({MAX_BYTES:,} bytes).",
            remediation="Shorten long descriptions and examples, or split the Api version "
            "into smaller ones, then export again.",
            extensions={"limit": "bytes", "allowed": MAX_BYTES - 1, "actual": size},
        )
    return out


class _Profile:
    def __init__(self, document: dict[str, Any], server_url: str) -> None:
        self.doc = document
        self.server_url = server_url
        self.flat = Flattener(document)
        self.definitions: dict[str, Any] = {}
        self.operation_ids: set[str] = set()

    def build(self) -> dict[str, Any]:
        parts = urlsplit(self.server_url)
        info = self.doc.get("info") or {}
        out: dict[str, Any] = {
            "swagger": "2.0",
            "info": {
                "title": info.get("title") or "Isthmus Api",
                "version": str(info.get("version") or "1"),
            },
            "host": parts.netloc,
            "basePath": parts.path.rstrip("/") or "/",
            "schemes": [parts.scheme or "https"],
            "consumes": [JSON],
            "produces": [JSON],
        }
        if info.get("description"):
            out["info"]["description"] = info["description"]
        paths: dict[str, Any] = {}
        for path, item in (self.doc.get("paths") or {}).items():
            item = deref(self.doc, item)
            operations = {
                method: self._operation(method, path, item, item[method])
                for method in _SUPPORTED_METHODS
                if isinstance(item.get(method), dict)
            }
            if operations:
                paths[path] = operations
        out["paths"] = paths
        out["definitions"] = self.definitions
        out.update(security_definitions(self.doc))
        return out

    # --- operations --------------------------------------------------------------------

    def _operation(
        self, method: str, path: str, item: dict[str, Any], source: dict[str, Any]
    ) -> dict[str, Any]:
        summary = _summary(source.get("summary") or source.get("operationId") or "", method, path)
        out: dict[str, Any] = {
            "operationId": self._operation_id(source.get("operationId") or f"{method} {path}"),
            "summary": summary,
            "description": _sentence(source.get("description") or summary),
        }
        if source.get("tags"):
            out["tags"] = source["tags"]
        parameters = self._parameters(path, item, source)
        body = source.get("requestBody")
        if body is not None and method not in ("get", "head"):  # the platform refuses bodies there
            parameters += self._body(deref(self.doc, body), out)
        out["parameters"] = parameters
        out["responses"] = self._responses(source.get("responses") or {}, out)
        if _pages(out["responses"]):
            out["x-ms-pageable"] = {"nextLinkName": "nextLink", "itemName": "value"}
        if source.get("deprecated"):
            out["deprecated"] = True
        if source.get("security") == []:
            out["security"] = []
        return out

    def _operation_id(self, source: str) -> str:
        words = re.split(r"[^A-Za-z0-9]+", source)
        base = "".join(w[:1].upper() + w[1:] for w in words if w) or "Operation"
        if not base[0].isalpha():
            base = "Op" + base
        name, n = base, 1
        while name in self.operation_ids:
            n += 1
            name = f"{base}{n}"
        self.operation_ids.add(name)
        return name

    # --- inputs ------------------------------------------------------------------------

    def _parameters(
        self, path: str, item: dict[str, Any], source: dict[str, Any]
    ) -> list[dict[str, Any]]:
        declared: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*(item.get("parameters") or []), *(source.get("parameters") or [])]:
            parameter = deref(self.doc, raw)
            if isinstance(parameter, dict) and parameter.get("in") in ("path", "query", "header"):
                declared[(parameter["name"], parameter["in"])] = parameter  # the operation's win
        for name in re.findall(r"{([^}]+)}", path):  # every template needs its parameter
            declared.setdefault((name, "path"), {"name": name, "in": "path", "required": True})
        return [self._parameter(p) for p in declared.values()]

    def _parameter(self, source: dict[str, Any]) -> dict[str, Any]:
        schema = source.get("schema")
        if schema is None and isinstance(source.get("content"), dict):
            entries: list[Any] = list(source["content"].values())
            schema = entries[0].get("schema") if entries and isinstance(entries[0], dict) else None
        flat = self.flat.schema(schema or {})
        required = source["in"] == "path" or bool(source.get("required"))
        out: dict[str, Any] = {"name": source["name"], "in": source["in"], "required": required}
        out.update(_simple(flat))
        if out["type"] == "array" and source["in"] == "query" and source.get("explode", True):
            out["collectionFormat"] = "multi"  # ?tag=a&tag=b, as form-style explode sends it
        description = source.get("description") or flat.get("description")
        if description:
            out["description"] = description
        out["x-ms-summary"] = label(source["name"])
        if required:
            out["x-ms-visibility"] = "important"
        elif source["name"] in _ADVANCED:
            out["x-ms-visibility"] = "advanced"
        if source["in"] == "path":
            out["x-ms-url-encoding"] = "single"
        return out

    def _body(self, body: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
        content = body.get("content") or {}
        media = _pick(content)
        if media is None:
            return []
        entry = content[media] or {}
        if media != JSON:
            operation["consumes"] = [media]
        flat = self.flat.schema(entry.get("schema") or {}, inputs=True)
        if media.startswith(_FORMS):
            return self._form(flat)
        if "example" in entry and "example" not in flat:
            flat["example"] = entry["example"]
        out: dict[str, Any] = {
            "name": "body",
            "in": "body",
            "required": bool(body.get("required")),
            "schema": flat,
            "x-ms-summary": "Body",
        }
        if out["required"]:
            out["x-ms-visibility"] = "important"
        if body.get("description"):
            out["description"] = body["description"]
        return [out]

    @staticmethod
    def _form(flat: dict[str, Any]) -> list[dict[str, Any]]:
        """Form bodies: one ``formData`` parameter per field (files as ``type: file``)."""
        required = set(flat.get("required", []))
        out = []
        for name, field in flat.get("properties", {}).items():
            parameter: dict[str, Any] = {
                "name": name,
                "in": "formData",
                "required": name in required,
            }
            if field.get("format") == "binary":
                parameter["type"] = "file"
            else:
                parameter.update(_simple(field))
            if field.get("description"):
                parameter["description"] = field["description"]
            parameter["x-ms-summary"] = field.get("x-ms-summary") or label(name)
            if name in required:
                parameter["x-ms-visibility"] = "important"
            out.append(parameter)
        return out

    # --- outputs -----------------------------------------------------------------------

    def _responses(self, source: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        ranges: list[tuple[str, dict[str, Any]]] = []
        for status, raw in source.items():
            key = str(status)
            if key.upper().endswith("XX"):  # no status ranges in 2.0: "default" covers them
                ranges.append((key.upper(), self._response(key, raw, operation)))
            else:
                out[key] = self._response(key, raw, operation)
        for key, entry in ranges:
            if "default" not in out:
                out["default"] = entry
            out["default"]["description"] += f" [{key}]"
        if not out:
            out["default"] = {"description": "The answer is not described."}
        return out

    def _response(self, key: str, raw: Any, operation: dict[str, Any]) -> dict[str, Any]:
        response = deref(self.doc, raw)
        entry: dict[str, Any] = {"description": response.get("description") or "The answer"}
        content = response.get("content") or {}
        media = _pick(content)
        if media is not None:
            schema = (content[media] or {}).get("schema")
            if key.startswith("2"):
                entry["schema"] = self._output(schema, media, operation)
                example = (content[media] or {}).get("example")
                if example is not None:
                    entry["examples"] = {media: example}
            else:
                # One `produces` per operation: say in words that errors are problems.
                entry["schema"] = self._shared(schema)
                if media != JSON:
                    entry["description"] += f" ({media})"
        # Headers of answers a flow reads (2xx) only: the designer offers nothing from an
        # error's headers, and they would cost the file about a third of its size.
        headers = {
            name: _simple(self.flat.schema(deref(self.doc, h).get("schema") or {}))
            for name, h in (response.get("headers") or {}).items()
        }
        if headers and key.startswith("2"):
            entry["headers"] = headers
        return entry

    def _output(self, schema: Any, media: str, operation: dict[str, Any]) -> dict[str, Any]:
        if not _is_json(media):
            operation["produces"] = [media]
        flat = self.flat.schema(schema or {})
        if flat.get("format") == "binary" or (schema is None and not _is_json(media)):
            return {"type": "file"}
        return flat

    def _shared(self, schema: Any) -> dict[str, Any]:
        """Error bodies are the same on every operation: one definition, referenced once
        per response (never a chain), keeps the file far under its size limit. Success
        bodies are always written in place, where the designer reads them."""
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        if not isinstance(ref, str) or len(schema) > 1:
            return self.flat.schema(schema or {})
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", ref.rsplit("/", 1)[-1]) or "Error"
        if name not in self.definitions:
            self.definitions[name] = self.flat.schema(schema)
        return {"$ref": f"#/definitions/{name}"}


def _simple(flat: dict[str, Any]) -> dict[str, Any]:
    """A non-body parameter's (or header's) type: primitives as they are, arrays of
    primitives, and anything structured sent as a string (JSON text)."""
    kind = flat.get("type")
    if kind == "array":
        items = _simple(flat.get("items") or {})
        out: dict[str, Any] = {"type": "array", "items": items}
    elif kind in ("string", "integer", "number", "boolean"):
        out = {"type": kind}
    else:
        return {"type": "string"}
    out.update({k: flat[k] for k in _SIMPLE if k in flat})
    return out


def _pick(content: dict[str, Any]) -> str | None:
    """The one media type the connector gets: JSON first (with a schema, if any has one)."""
    if not content:
        return None
    ranked = sorted(
        content,
        key=lambda m: (
            not isinstance((content[m] or {}).get("schema"), dict),
            m != JSON,
            not _is_json(m),
        ),
    )
    return ranked[0]


def _is_json(media: str) -> bool:
    return media == JSON or media.endswith("+json") or media.endswith("/json")


def _pages(responses: dict[str, Any]) -> bool:
    """A collection answer: ``{"value": [...], "nextLink": "..."}``."""
    properties = (responses.get("200") or {}).get("schema", {}).get("properties", {})
    items, link = properties.get("value", {}), properties.get("nextLink", {})
    return bool(items.get("type") == "array" and link.get("type") == "string")


def _summary(text: str, method: str, path: str) -> str:
    """The action's name in the designer: one short line, no trailing period."""
    text = " ".join(text.split()).rstrip(".")
    if " " not in text:  # none, or an operationId such as get_customers: "Get customers"
        words = label(text or f"{method} {path}").split()
        text = " ".join([words[0], *(w if w.isupper() else w.lower() for w in words[1:])])
    if len(text) > MAX_SUMMARY:
        text = text[: MAX_SUMMARY - 1].rsplit(" ", 1)[0] + "…"
    return text


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."
