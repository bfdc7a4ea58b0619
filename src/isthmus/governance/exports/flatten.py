"""JSON Schema 2020-12 (OpenAPI 3.1) → one flat Swagger 2.0 schema, for connector
designers that build their forms and their "dynamic content" from the schema alone.

Flat means: every ``$ref`` is copied in place (a recursive one is cut where it would
repeat), ``allOf`` is merged into one object, ``oneOf``/``anyOf`` become the one shape
the branches share (or an open schema when they share none), and there is no ``null``:
Swagger 2.0 has no such type, a missing value is simply absent.
"""

from __future__ import annotations

import re
from typing import Any

from isthmus.governance.exports.schemas import Definitions

# What a Swagger 2.0 Schema Object may hold (besides x- extensions).
_KEPT = frozenset(
    {
        "title",
        "description",
        "format",
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
        "readOnly",
        "example",
    }
)
_PRIMITIVE = frozenset({"string", "integer", "number", "boolean"})
MAX_DEPTH = 10  # references inlined inside each other before the copy is cut
_ACRONYMS = {"id": "ID", "url": "URL", "uri": "URI", "api": "API", "ip": "IP", "utc": "UTC"}


def label(name: str) -> str:
    """A field name as people read it, for ``x-ms-summary``: ``customer_id`` and
    ``customerId`` both become ``Customer ID``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]
    return " ".join(_ACRONYMS.get(w.lower(), w[:1].upper() + w[1:]) for w in words) or name


def is_null(schema: Any) -> bool:
    """A branch that only allows null (``{"type": "null"}``, ``{"const": null}``…)."""
    if not isinstance(schema, dict):
        return False
    kind = schema.get("type")
    return (
        kind == "null"
        or kind == ["null"]
        or ("const" in schema and schema["const"] is None)
        or schema.get("enum") == [None]
    )


class Flattener:
    """Flattens the schemas of one OpenAPI 3.x document (its references resolve in it)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.definitions = Definitions.of(document)

    def schema(self, node: Any, *, inputs: bool = False) -> dict[str, Any]:
        """``node`` flat. ``inputs``: it describes what a caller fills in, so required
        properties are marked as the ones to show first."""
        return self._flat(node, (), inputs)

    def _flat(self, node: Any, trail: tuple[str, ...], inputs: bool) -> dict[str, Any]:
        if not isinstance(node, dict):
            return {}  # `true` and anything malformed: any value
        if isinstance(node.get("$ref"), str):
            return self._reference(node, trail, inputs)
        if isinstance(node.get("allOf"), list):
            rest = {k: v for k, v in node.items() if k != "allOf"}
            merged = self._flat(rest, trail, inputs)
            for part in node["allOf"]:
                merged = _merge(merged, self._flat(part, trail, inputs))
            return merged
        for key in ("oneOf", "anyOf"):
            if isinstance(node.get(key), list):
                rest = {k: v for k, v in node.items() if k != key}
                return _merge(self._flat(rest, trail, inputs), self._choice(node[key], trail))
        return self._plain(node, trail, inputs)

    def _reference(
        self, node: dict[str, Any], trail: tuple[str, ...], inputs: bool
    ) -> dict[str, Any]:
        ref = node["$ref"]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        target = self.definitions.resolve(self.document, ref)
        name = ref.rsplit("/", 1)[-1]
        if ref in trail or len(trail) >= MAX_DEPTH:
            # A recursive shape cannot be copied in place forever: the repetition is
            # left open (any object), and says where its shape is described.
            cut = {"type": "object", "description": f"A nested {label(name)}, as described above."}
            return _merge(self._plain(siblings, trail, inputs), cut)
        if not isinstance(target, dict):
            return self._plain(siblings, trail, inputs)
        return self._flat({**target, **siblings}, (*trail, ref), inputs)

    def _choice(self, branches: list[Any], trail: tuple[str, ...]) -> dict[str, Any]:
        """One shape for "one of these": what the branches have in common."""
        kept = [self._flat(b, trail, False) for b in branches if not is_null(b)]
        if len(kept) == 1:
            return kept[0]
        if kept and all(b.get("type") == "object" or "properties" in b for b in kept):
            properties: dict[str, Any] = {}
            for branch in kept:
                for name, schema in branch.get("properties", {}).items():
                    properties.setdefault(name, schema)
            required = set.intersection(*(set(b.get("required", [])) for b in kept))
            out: dict[str, Any] = {"type": "object", "properties": properties}
            if required:
                out["required"] = sorted(required)
            return out
        kinds = {b.get("type") for b in kept}
        if len(kinds) == 1 and kinds <= _PRIMITIVE:
            out = {"type": kinds.pop()}
            formats = {b.get("format") for b in kept}
            if len(formats) == 1 and None not in formats:
                out["format"] = formats.pop()
            if all("enum" in b for b in kept):
                out["enum"] = list(dict.fromkeys(v for b in kept for v in b["enum"]))
            return out
        return {"description": "One of several shapes."} if kept else {}

    def _plain(self, node: dict[str, Any], trail: tuple[str, ...], inputs: bool) -> dict[str, Any]:
        out: dict[str, Any] = {k: v for k, v in node.items() if k in _KEPT or k.startswith("x-")}
        kind = node.get("type")
        if isinstance(kind, list):
            rest = [t for t in kind if t != "null"]
            kind = rest[0] if len(rest) == 1 else None
        if isinstance(kind, str) and kind != "null":
            out["type"] = kind
        if "default" in node and node["default"] is not None:
            out["default"] = node["default"]
        enum = [node["const"]] if "const" in node else node.get("enum")
        if isinstance(enum, list):
            values = [v for v in enum if v is not None]
            if values:
                out["enum"] = values
                out.setdefault("type", _type_of(values))
        if "format" not in out and out.get("type") == "string":
            if node.get("contentEncoding") == "base64":
                out["format"] = "byte"
            elif "contentMediaType" in node and not str(node["contentMediaType"]).startswith(
                ("text/", "application/json")
            ):
                out["format"] = "binary"  # a file's bytes, as form uploads carry them
        if "example" not in out and isinstance(node.get("examples"), list) and node["examples"]:
            out["example"] = node["examples"][0]
        _bounds(node, out)
        if isinstance(node.get("properties"), dict):
            out["properties"] = {
                name: self._property(name, sub, trail, inputs)
                for name, sub in node["properties"].items()
            }
            out.setdefault("type", "object")
        required = node.get("required")
        if isinstance(required, list):
            names = [n for n in required if n in out.get("properties", {})]
            if names:
                out["required"] = names
            if inputs:
                for name in names:
                    out["properties"][name].setdefault("x-ms-visibility", "important")
        extra = node.get("additionalProperties")
        if isinstance(extra, bool):
            out["additionalProperties"] = extra
        elif isinstance(extra, dict):
            out["additionalProperties"] = self._flat(extra, trail, inputs)
        items = node.get("items")
        if isinstance(items, dict):
            out["items"] = self._flat(items, trail, inputs)
        elif "prefixItems" in node or isinstance(items, list) or items is True:
            out["items"] = {}  # no tuples in Swagger 2.0: items of any shape
        if out.get("type") == "array" and "items" not in out:
            out["items"] = {}
        return out

    def _property(
        self, name: str, node: Any, trail: tuple[str, ...], inputs: bool
    ) -> dict[str, Any]:
        flat = self._flat(node, trail, inputs)
        flat.setdefault("x-ms-summary", flat.get("title") or label(name))
        return flat


def _type_of(values: list[Any]) -> str:
    """The type an enumeration's values share (Swagger 2.0 tools want one)."""
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def _bounds(node: dict[str, Any], out: dict[str, Any]) -> None:
    """Numeric exclusive bounds (2020-12) → Swagger's ``minimum`` + boolean flag."""
    for bound, flag, sign in (
        ("minimum", "exclusiveMinimum", 1),
        ("maximum", "exclusiveMaximum", -1),
    ):
        value = node.get(flag)
        if value is True:
            out[flag] = True
        elif isinstance(value, int | float) and not isinstance(value, bool):
            inclusive = node.get(bound)
            if not isinstance(inclusive, int | float) or sign * (value - inclusive) >= 0:
                out[bound] = value
                out[flag] = True


def _merge(into: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """Both schemas as one (``allOf``): properties and required names add up; for any
    other keyword the first one that says something wins."""
    out = dict(into)
    for key, value in other.items():
        if key == "properties":
            out["properties"] = {**value, **out.get("properties", {})}
        elif key == "required":
            out["required"] = list(dict.fromkeys([*out.get("required", []), *value]))
        elif key == "description" and "description" in out and value != out["description"]:
            out["description"] = f"{out['description']} {value}"
        else:
            out.setdefault(key, value)
    return out
