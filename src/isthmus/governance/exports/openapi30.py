"""OpenAPI 3.1 → 3.0.3, for tools that read only 3.0 (Retool, Appsmith, many code
generators and API gateways).

3.1 schemas are JSON Schema 2020-12; 3.0 schemas are an older, narrower dialect. Each
3.1 construct becomes its 3.0 equivalent where one exists (``type: [x, "null"]`` →
``nullable``, ``const`` → a one-value ``enum``, numeric ``exclusiveMinimum`` → the
boolean form, ``examples`` → ``example``, nested ``$defs`` → component schemas). Where
3.0 has no equivalent (``if``/``then``, ``dependentSchemas``, ``unevaluated*``…) the
keyword is dropped: the 3.0 schema then accepts a little more than the 3.1 one, never
less, so no valid request is refused by a tool reading the 3.0 document.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from isthmus.governance.exports.schemas import (
    METHODS,
    Definitions,
    deref,
    escape,
    map_schemas,
)

# What a 3.0 Schema Object may hold (besides x- extensions); anything else is dropped.
_KEPT = frozenset(
    {
        "title",
        "multipleOf",
        "maximum",
        "minimum",
        "maxLength",
        "minLength",
        "pattern",
        "maxItems",
        "minItems",
        "uniqueItems",
        "maxProperties",
        "minProperties",
        "enum",
        "description",
        "format",
        "default",
        "discriminator",
        "readOnly",
        "writeOnly",
        "xml",
        "externalDocs",
        "example",
        "deprecated",
    }
)
_COMPONENT = "#/components/schemas/"


def to_openapi30(document: dict[str, Any], server_url: str) -> dict[str, Any]:
    """The 3.0.3 equivalent of a 3.1 document, served at ``server_url``."""
    doc = copy.deepcopy(document)
    _inline_path_items(doc)
    converter = _Converter(doc)
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


class _Converter:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.definitions = Definitions.of(doc)
        taken = set((doc.get("components") or {}).get("schemas") or {})
        self.hoisted: dict[str, str] = {}  # pointer of a nested definition → component name
        for pointer in self.definitions.by_pointer:
            base = pointer.rsplit("/", 1)[1].replace("~1", "_").replace("~0", "_")
            name, n = base, 1
            while name in taken:
                n += 1
                name = f"{base}_{n}"
            taken.add(name)
            self.hoisted[pointer] = name

    def add_hoisted(self) -> None:
        """Nested definitions become component schemas (3.0 has no ``$defs``)."""
        if not self.hoisted:
            return
        schemas = self.doc.setdefault("components", {}).setdefault("schemas", {})
        for pointer, name in self.hoisted.items():
            schemas[name] = self.schema(self.definitions.by_pointer[pointer])

    def ref(self, ref: str) -> str:
        if ref.startswith(_COMPONENT) and "/" not in ref[len(_COMPONENT) :]:
            return ref
        pointer = self.definitions.pointer_of(ref)
        if pointer is not None and pointer in self.hoisted:
            return _COMPONENT + escape(self.hoisted[pointer])
        return ref

    def schema(self, node: Any) -> Any:
        if node is True:
            return {}
        if node is False:
            return {"not": {}}
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = {"$ref": self.ref(node["$ref"])}
            rest = {k: v for k, v in node.items() if k not in ("$ref", "$defs", "definitions")}
            if not rest:
                return target
            # 3.0 ignores anything beside a $ref: keep the siblings by wrapping the ref.
            wrapped: dict[str, Any] = self.schema(rest)
            wrapped["allOf"] = [target, *wrapped.get("allOf", [])]
            return wrapped
        out: dict[str, Any] = {k: v for k, v in node.items() if k in _KEPT or k.startswith("x-")}
        nullable = False
        types = node.get("type")
        if isinstance(types, str):
            types = [types]
        if isinstance(types, list):
            nullable = "null" in types
            kinds = [t for t in types if t != "null"]
            if len(kinds) == 1:
                out["type"] = kinds[0]
            elif len(kinds) > 1:
                out["anyOf"] = [{"type": t} for t in kinds]
            else:
                out["enum"] = [None]
        if "const" in node:
            out["enum"] = [node["const"]]
        if isinstance(out.get("enum"), list) and None in out["enum"]:
            nullable = True
        if "examples" in node and "example" not in out and node["examples"]:
            out["example"] = node["examples"][0]
        self._bounds(node, out)
        self._content(node, out)
        if isinstance(node.get("required"), list) and node["required"]:
            out["required"] = node["required"]  # an empty list is not valid 3.0
        for key in ("properties",):
            if isinstance(node.get(key), dict):
                out[key] = {k: self.schema(v) for k, v in node[key].items()}
        self._additional(node, out)
        self._items(node, out)
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                branches = [self.schema(b) for b in node[key]]
                if key != "allOf":
                    kept = [b for b in branches if not _is_null(b)]
                    nullable = nullable or len(kept) < len(branches)
                    branches = kept
                if key == "anyOf" and "anyOf" in out:  # from a type list
                    out["allOf"] = [*out.get("allOf", []), {"anyOf": out.pop("anyOf")}]
                if len(branches) == 1 and key != "allOf":
                    # `X or null` is a nullable X; one branch left is X itself.
                    if _overlaps(branches[0], out):
                        out["allOf"] = [*out.get("allOf", []), branches[0]]
                    else:
                        out.update(branches[0])
                elif branches:
                    out[key] = [*out.get(key, []), *branches]
        if "not" in node:
            out["not"] = self.schema(node["not"])
        if nullable:
            out["nullable"] = True
        return out

    @staticmethod
    def _bounds(node: dict[str, Any], out: dict[str, Any]) -> None:
        """2020-12 bounds are numbers; 3.0 has ``minimum`` plus a boolean flag."""
        for bound, flag, sign in (
            ("minimum", "exclusiveMinimum", 1),
            ("maximum", "exclusiveMaximum", -1),
        ):
            value = node.get(flag)
            if isinstance(value, bool):
                if value:
                    out[flag] = True
            elif isinstance(value, int | float):
                inclusive = node.get(bound)
                # Both given: the stricter one wins (x > 5 is stricter than x >= 5).
                if not isinstance(inclusive, int | float) or sign * (value - inclusive) >= 0:
                    out[bound] = value
                    out[flag] = True

    @staticmethod
    def _content(node: dict[str, Any], out: dict[str, Any]) -> None:
        """Encoded strings: 3.0 says it with a format."""
        if "format" in out:
            return
        if node.get("contentEncoding") == "base64":
            out["format"] = "byte"
        elif "contentMediaType" in node and not str(node["contentMediaType"]).startswith(
            ("text/", "application/json")
        ):
            out["format"] = "binary"

    def _additional(self, node: dict[str, Any], out: dict[str, Any]) -> None:
        extra = node.get("additionalProperties")
        if isinstance(extra, bool):
            out["additionalProperties"] = extra
        elif isinstance(extra, dict):
            out["additionalProperties"] = self.schema(extra)
        elif isinstance(node.get("patternProperties"), dict) and node["patternProperties"]:
            # No name patterns in 3.0: extra properties are allowed, of any of the shapes.
            shapes = [self.schema(s) for s in node["patternProperties"].values()]
            out["additionalProperties"] = shapes[0] if len(shapes) == 1 else {"anyOf": shapes}

    def _items(self, node: dict[str, Any], out: dict[str, Any]) -> None:
        items = node.get("items")
        prefix = node.get("prefixItems")
        if isinstance(items, list):  # draft-04 tuples, seen in imported documents
            prefix, items = items, node.get("additionalItems", True)
        if isinstance(prefix, list) and prefix:
            # 3.0 has no tuples: every item may take any of the positions' shapes.
            shapes = _distinct([self.schema(s) for s in prefix])
            if items is False:
                out.setdefault("maxItems", len(prefix))
            elif isinstance(items, dict):
                shapes = _distinct([*shapes, self.schema(items)])
            elif items is True or items is None:
                shapes = []  # later items may be anything, so any item may be
            out["items"] = shapes[0] if len(shapes) == 1 else ({"anyOf": shapes} if shapes else {})
        elif items is not None:
            out["items"] = self.schema(items)
        if out.get("type") == "array" and "items" not in out:
            out["items"] = {}  # required beside type: array in 3.0


def _distinct(shapes: list[Any]) -> list[Any]:
    return [s for i, s in enumerate(shapes) if s not in shapes[:i]]


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("enum") == [None] and len(schema) <= 2


def _overlaps(branch: Any, out: dict[str, Any]) -> bool:
    return not isinstance(branch, dict) or "$ref" in branch or bool(set(branch) & set(out))
