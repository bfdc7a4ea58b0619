"""Finding the JSON Schemas inside an OpenAPI 3.x document, and following its local
``$ref`` pointers. Both exports rewrite schemas; neither may mistake a property named
``examples`` or ``$defs`` for the keyword, so they walk the document by its structure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

# (pointer of the schema, the schema) → what takes its place
SchemaFn = Callable[[Any, str], Any]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Keywords whose value is one schema, a map of schemas, or a list of schemas.
_ONE = (
    "items",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
)
_MAP = ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")


def escape(token: str) -> str:
    """One JSON Pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def subschemas(schema: Any, pointer: str) -> Iterator[tuple[str, Any]]:
    """Each schema directly inside ``schema``, with its pointer."""
    if not isinstance(schema, dict):
        return
    for key in _ONE:
        if isinstance(schema.get(key), dict):
            yield f"{pointer}/{key}", schema[key]
    if isinstance(schema.get("items"), list):  # the draft-04 tuple form
        for i, item in enumerate(schema["items"]):
            yield f"{pointer}/items/{i}", item
    for key in _MAP:
        if isinstance(schema.get(key), dict):
            for name, sub in schema[key].items():
                yield f"{pointer}/{key}/{escape(name)}", sub
    for key in _LIST:
        if isinstance(schema.get(key), list):
            for i, sub in enumerate(schema[key]):
                yield f"{pointer}/{key}/{i}", sub


def with_subschemas(schema: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of ``schema`` with each schema directly inside it replaced by ``fn``'s
    answer (the same places ``subschemas`` walks)."""
    out = dict(schema)
    for key in _ONE:
        if isinstance(schema.get(key), dict):
            out[key] = fn(schema[key])
    if isinstance(schema.get("items"), list):
        out["items"] = [fn(item) for item in schema["items"]]
    for key in _MAP:
        if isinstance(schema.get(key), dict):
            out[key] = {name: fn(sub) for name, sub in schema[key].items()}
    for key in _LIST:
        if isinstance(schema.get(key), list):
            out[key] = [fn(sub) for sub in schema[key]]
    return out


def resolve(document: dict[str, Any], ref: str) -> Any:
    """The value a local ``#/…`` pointer names; ``None`` if it names nothing (or points
    outside the document, which an export cannot follow)."""
    if not ref.startswith("#"):
        return None
    node: Any = document
    for token in ref[1:].split("/")[1:]:
        token = unescape(token)
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def deref(document: dict[str, Any], node: Any, limit: int = 20) -> Any:
    """A non-schema object (parameter, response, request body…) with its ``$ref``
    followed; reference chains end after ``limit`` steps."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and limit > 0:
        target = resolve(document, node["$ref"])
        if target is None:
            return {}
        node, limit = target, limit - 1
    return node


def map_schemas(document: dict[str, Any], fn: SchemaFn) -> None:
    """Replace, in place, every schema root of an OpenAPI 3.x document by ``fn``'s
    answer: component schemas and the schemas of parameters, headers and contents, in
    paths, components and callbacks (webhooks are left to the caller)."""
    components = document.get("components") or {}
    schemas = components.get("schemas") or {}
    for name in list(schemas):
        schemas[name] = fn(schemas[name], f"#/components/schemas/{escape(name)}")
    for kind, walk in (
        ("parameters", _parameter),
        ("headers", _parameter),
        ("requestBodies", _with_content),
        ("responses", _response),
    ):
        for name, item in (components.get(kind) or {}).items():
            walk(item, f"#/components/{kind}/{escape(name)}", fn)
    for name, callback in (components.get("callbacks") or {}).items():
        _callback(callback, f"#/components/callbacks/{escape(name)}", fn)
    for path, item in (document.get("paths") or {}).items():
        _path_item(item, f"#/paths/{escape(path)}", fn)


def _path_item(item: Any, pointer: str, fn: SchemaFn) -> None:
    if not isinstance(item, dict):
        return
    for i, parameter in enumerate(item.get("parameters") or []):
        _parameter(parameter, f"{pointer}/parameters/{i}", fn)
    for method in METHODS:
        operation = item.get(method)
        if not isinstance(operation, dict):
            continue
        where = f"{pointer}/{method}"
        for i, parameter in enumerate(operation.get("parameters") or []):
            _parameter(parameter, f"{where}/parameters/{i}", fn)
        if isinstance(operation.get("requestBody"), dict):
            _with_content(operation["requestBody"], f"{where}/requestBody", fn)
        for status, response in (operation.get("responses") or {}).items():
            _response(response, f"{where}/responses/{escape(str(status))}", fn)
        for name, callback in (operation.get("callbacks") or {}).items():
            _callback(callback, f"{where}/callbacks/{escape(name)}", fn)


def _callback(callback: Any, pointer: str, fn: SchemaFn) -> None:
    if isinstance(callback, dict) and "$ref" not in callback:
        for expression, item in callback.items():
            _path_item(item, f"{pointer}/{escape(expression)}", fn)


def _parameter(parameter: Any, pointer: str, fn: SchemaFn) -> None:
    if not isinstance(parameter, dict) or "$ref" in parameter:
        return
    if "schema" in parameter:
        parameter["schema"] = fn(parameter["schema"], f"{pointer}/schema")
    _with_content(parameter, pointer, fn)


def _response(response: Any, pointer: str, fn: SchemaFn) -> None:
    if not isinstance(response, dict) or "$ref" in response:
        return
    for name, header in (response.get("headers") or {}).items():
        _parameter(header, f"{pointer}/headers/{escape(name)}", fn)
    _with_content(response, pointer, fn)


def _with_content(holder: Any, pointer: str, fn: SchemaFn) -> None:
    if not isinstance(holder, dict) or "$ref" in holder:
        return
    for media, entry in (holder.get("content") or {}).items():
        if not isinstance(entry, dict):
            continue
        where = f"{pointer}/content/{escape(media)}"
        if "schema" in entry:
            entry["schema"] = fn(entry["schema"], f"{where}/schema")
        for name, encoding in (entry.get("encoding") or {}).items():
            for header_name, header in (encoding.get("headers") or {}).items():
                _parameter(header, f"{where}/encoding/{escape(name)}/headers/{header_name}", fn)


class Definitions:
    """Every ``$defs`` (and ``definitions``) entry nested in a document's schemas, so
    that references into them can be followed or re-pointed. A bare ``#/$defs/X`` —
    what JSON Schema generators write, meaning "the X beside me" — is found by name."""

    def __init__(self) -> None:
        self.by_pointer: dict[str, Any] = {}
        self.by_name: dict[str, list[str]] = {}

    @classmethod
    def of(cls, document: dict[str, Any]) -> Definitions:
        found = cls()

        def collect(schema: Any, pointer: str) -> Any:
            found._collect(schema, pointer)
            return schema

        map_schemas(document, collect)
        return found

    def _collect(self, schema: Any, pointer: str) -> None:
        if not isinstance(schema, dict):
            return
        for key in ("$defs", "definitions"):
            if isinstance(schema.get(key), dict):
                for name in schema[key]:
                    where = f"{pointer}/{key}/{escape(name)}"
                    self.by_pointer[where] = schema[key][name]
                    self.by_name.setdefault(name, []).append(where)
        for where, sub in subschemas(schema, pointer):
            self._collect(sub, where)

    def pointer_of(self, ref: str) -> str | None:
        """The full pointer of the definition ``ref`` names, if it names one."""
        if ref in self.by_pointer:
            return ref
        for key in ("/$defs/", "/definitions/"):
            if key in ref:
                name = unescape(ref.rsplit(key, 1)[1])
                candidates = self.by_name.get(name, [])
                if len(candidates) >= 1 and "/" not in name:
                    return candidates[0]
        return None

    def resolve(self, document: dict[str, Any], ref: str) -> Any:
        """What ``ref`` names: a pointer into the document or a nested definition."""
        found = resolve(document, ref)
        if found is not None:
            return found
        pointer = self.pointer_of(ref)
        return self.by_pointer.get(pointer) if pointer else None
