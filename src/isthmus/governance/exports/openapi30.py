"""OpenAPI 3.1 → 3.0.3, for tools that read only 3.0 (Retool, Appsmith, many code
generators and API gateways).

3.1 schemas are JSON Schema 2020-12; 3.0 schemas are an older, narrower dialect. Each
3.1 construct becomes its 3.0 equivalent where one exists (``type: [x, "null"]`` →
``nullable``, ``const`` → a one-value ``enum``, numeric ``exclusiveMinimum`` → the
boolean form, ``examples`` → ``example``, nested ``$defs`` → component schemas). Where
3.0 has no equivalent (``if``/``then``, ``dependentSchemas``, ``unevaluated*``…) the
keyword is dropped: the 3.0 schema then accepts a little more than the 3.1 one, never
less, so no valid request is refused by a tool reading the 3.0 document (``schema30``
says how). A document that is 3.0 already keeps what 3.0 says, ``nullable`` included.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from isthmus.governance.exports.schema30 import SchemaConverter
from isthmus.governance.exports.schemas import METHODS, deref, map_schemas


def to_openapi30(document: dict[str, Any], server_url: str) -> dict[str, Any]:
    """The 3.0.3 equivalent of a 3.1 document, served at ``server_url``."""
    doc = copy.deepcopy(document)
    _inline_path_items(doc)
    converter = SchemaConverter(doc, document)
    map_schemas(doc, lambda schema, _pointer: converter.schema(schema))
    converter.add_hoisted()
    doc["openapi"] = "3.0.3"
    doc["servers"] = [{"url": server_url}]
    for key in ("webhooks", "jsonSchemaDialect"):
        doc.pop(key, None)  # 3.0 has neither; webhooks are described in the AsyncAPI export
    info = doc.setdefault("info", {})
    info.pop("summary", None)
    if isinstance(info.get("license"), dict):
        info["license"].pop("identifier", None)
    components = doc.get("components") or {}
    components.pop("pathItems", None)
    _security(doc)
    doc.setdefault("paths", {})
    for path, item in doc["paths"].items():
        _path_item(doc, item, path)
    for callback in components.get("callbacks", {}).values():
        for item in callback.values() if isinstance(callback, dict) else ():
            _path_item(doc, item)
    for kind in ("parameters", "headers", "requestBodies", "responses", "examples", "links"):
        for name, value in (components.get(kind) or {}).items():
            components[kind][name] = _reference(value)
    return doc


def _inline_path_items(doc: dict[str, Any]) -> None:
    """3.0 has no pathItems component: a path that points at one gets a copy of it."""
    for item in (doc.get("paths") or {}).values():
        ref = item.get("$ref") if isinstance(item, dict) else None
        if isinstance(ref, str) and ref.startswith("#/components/pathItems/"):
            target = deref(doc, {"$ref": ref})
            item.pop("$ref")
            item.update({k: v for k, v in copy.deepcopy(target).items() if k not in item})


def _path_item(doc: dict[str, Any], item: Any, path: str | None = None) -> None:
    if not isinstance(item, dict):
        return
    if "parameters" in item:
        item["parameters"] = [_reference(p) for p in item["parameters"]]
    shared = {deref(doc, p).get("name") for p in item.get("parameters", [])}
    for method in METHODS:
        operation = item.get(method)
        if not isinstance(operation, dict):
            continue
        if "parameters" in operation:
            operation["parameters"] = [_reference(p) for p in operation["parameters"]]
        if path is not None:
            _declare_path_parameters(doc, path, shared, operation)
        if "requestBody" in operation:
            operation["requestBody"] = _reference(operation["requestBody"])
        responses = operation.get("responses") or {}
        for status in list(responses):
            responses[status] = _reference(responses[status])
        if not responses:  # optional in 3.1, required in 3.0
            responses["default"] = {"description": "The answer is not described."}
        operation["responses"] = responses
        for callback in (operation.get("callbacks") or {}).values():
            for inner in callback.values() if isinstance(callback, dict) else ():
                _path_item(doc, inner)


def _declare_path_parameters(
    doc: dict[str, Any], path: str, shared: set[Any], operation: dict[str, Any]
) -> None:
    """3.0 validators insist that every ``{name}`` of the path is declared; a document
    that leaves one out gets it as text (what the gateway takes it as)."""
    declared = shared | {deref(doc, p).get("name") for p in operation.get("parameters", [])}
    for name in re.findall(r"{([^}]+)}", path):
        if name not in declared:
            operation.setdefault("parameters", []).append(
                {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            )


def _reference(node: Any) -> Any:
    """A 3.0 Reference Object is ``$ref`` alone (3.1 allows a summary and description)."""
    if isinstance(node, dict) and "$ref" in node:
        return {"$ref": node["$ref"]}
    return node


def _security(doc: dict[str, Any]) -> None:
    """``mutualTLS`` is new in 3.1: drop the scheme and every requirement naming it."""
    schemes = (doc.get("components") or {}).get("securitySchemes") or {}
    gone = {name for name, s in schemes.items() if s.get("type") == "mutualTLS"}
    for name in gone:
        del schemes[name]
    if not gone:
        return

    def keep(requirements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in requirements if not gone & set(r)]

    if "security" in doc:
        doc["security"] = keep(doc["security"])
    for item in (doc.get("paths") or {}).values():
        for method in METHODS:
            operation = item.get(method) if isinstance(item, dict) else None
            if isinstance(operation, dict) and "security" in operation:
                operation["security"] = keep(operation["security"])
