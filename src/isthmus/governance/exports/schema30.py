"""JSON Schema 2020-12 (an OpenAPI 3.1 schema) → an OpenAPI 3.0 Schema Object.

Each 2020-12 construct becomes its 3.0 equivalent where one exists; where 3.0 has none,
the keyword is dropped and the schema then accepts a little more — never less. Two
places turn that around, and are handled: a looser subschema under ``not`` makes the
whole stricter (so such a ``not`` is dropped), and under ``oneOf`` it can make two
branches match (so such a ``oneOf`` becomes ``anyOf``). Null is written as 3.0 reads
it: ``nullable`` beside a ``type``, or a branch that is only null.
"""

from __future__ import annotations

from typing import Any

from isthmus.governance.exports.schemas import Definitions, escape

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
        "nullable",  # an imported 3.0 document's own: its meaning is the same here
    }
)
# Keywords the conversion below renders with the same meaning; any other (non x-) keyword
# is dropped or approximated, so the schema it was in accepts more than it did.
_EXACT = _KEPT | {
    "$ref",
    "$defs",
    "definitions",
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "type",
    "const",
    "examples",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "contentEncoding",
    "contentMediaType",
    "contentSchema",
    "required",
    "properties",
    "additionalProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
}
_COMPONENT = "#/components/schemas/"


class SchemaConverter:
    """Converts the schemas of one 3.1 document; nested definitions become components."""

    def __init__(self, doc: dict[str, Any], source: dict[str, Any]) -> None:
        self.doc = doc
        self.source = source  # the 3.1 original: `doc` is rewritten while we read it
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
        # How many times a keyword was dropped or approximated so far: `not` and `oneOf`
        # compare it before and after their subschemas (a looser subschema there makes
        # the whole stricter). Inside them, references count what their target loses.
        self.lost = 0
        self.watching = 0
        self.ref_lost: dict[str, bool] = {}

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
            if self.watching and self._target_loses(node["$ref"]):
                self.lost += 1
            target = {"$ref": self.ref(node["$ref"])}
            rest = {k: v for k, v in node.items() if k not in ("$ref", "$defs", "definitions")}
            if not rest:
                return target
            # 3.0 ignores anything beside a $ref: keep the siblings by wrapping the ref.
            wrapped: dict[str, Any] = self.schema(rest)
            wrapped["allOf"] = [target, *wrapped.get("allOf", [])]
            return wrapped
        if any(k not in _EXACT and not k.startswith("x-") for k in node):
            self.lost += 1
        out: dict[str, Any] = {k: v for k, v in node.items() if k in _KEPT or k.startswith("x-")}
        nullable = False  # null is allowed beside the one type: `nullable` says so
        types = node.get("type")
        if isinstance(types, str):
            types = [types]
        if isinstance(types, list):
            kinds = [t for t in types if t != "null"]
            if len(kinds) == 1:
                out["type"] = kinds[0]
                nullable = "null" in types
            elif len(kinds) > 1:
                # 3.0 reads `nullable` only beside a `type`: each branch carries it.
                extra = {"nullable": True} if "null" in types else {}
                out["anyOf"] = [{"type": t, **extra} for t in kinds]
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
                nullable = self._combined(key, node[key], out) or nullable
        if "not" in node:
            before = self.lost
            self.watching += 1
            negated = self.schema(node["not"])
            self.watching -= 1
            # Negating a schema that now accepts more would refuse what the 3.1 one took.
            if self.lost == before:
                out["not"] = negated
        if nullable:
            out["nullable"] = True
        return out

    def _combined(self, key: str, source: list[Any], out: dict[str, Any]) -> bool:
        """Writes ``allOf``/``anyOf``/``oneOf`` into ``out``; true if what is left of a
        null branch is for ``out``'s `nullable` to say."""
        before = self.lost
        self.watching += key == "oneOf"
        branches = [self.schema(b) for b in source]
        self.watching -= key == "oneOf"
        if key == "oneOf" and self.lost > before:
            # A loosened branch may now overlap another: "exactly one" would then refuse
            # what the 3.1 schema took. "At least one" keeps every such value.
            key = "anyOf"
        if key == "allOf":
            out["allOf"] = [*out.get("allOf", []), *branches]
            return False
        kept = [b for b in branches if not _is_null(b)]
        if len(kept) < len(branches):
            if len(kept) == 1 and _takes_nullable(kept[0], out):
                out.update(kept[0])  # `X or null` is a nullable X
                if isinstance(out.get("enum"), list) and None not in out["enum"]:
                    out["enum"] = [*out["enum"], None]
                return True
            # Without a type of its own, `nullable` means nothing in 3.0: a branch that
            # is only null says it.
            kept.append(self._null_branch(kept))
        elif len(kept) == 1:
            if _overlaps(kept[0], out):
                out["allOf"] = [*out.get("allOf", []), kept[0]]
            else:
                out.update(kept[0])
            return False
        if not kept:
            return False
        if key in out:  # from a type list, or both anyOf and a loosened oneOf
            out["allOf"] = [*out.get("allOf", []), {key: out.pop(key)}]
        out[key] = kept
        return False

    def _null_branch(self, others: list[Any]) -> dict[str, Any]:
        """Only null, as 3.0 writes it: a type (the others', where one is plain to see),
        `nullable` and a one-value enum."""
        for other in others:
            if not isinstance(other, dict):
                continue
            target = other
            if "$ref" in other:
                found = self.definitions.resolve(self.source, other["$ref"])
                target = found if isinstance(found, dict) else {}
            kind = target.get("type")
            if isinstance(kind, str) and kind in ("object", "string", "integer", "number"):
                return {"type": kind, "nullable": True, "enum": [None]}
        return {"nullable": True, "enum": [None]}

    def _target_loses(self, ref: str) -> bool:
        """Whether the schema ``ref`` names loses a keyword in 3.0 (or one it names)."""
        if ref not in self.ref_lost:
            self.ref_lost[ref] = False  # a cycle brings nothing new
            before = self.lost
            self.schema(self.definitions.resolve(self.source, ref))
            self.ref_lost[ref] = self.lost > before
            self.lost = before  # the caller counts it, once
        return self.ref_lost[ref]

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
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and patterns:
            # No name patterns in 3.0: the names they matched become "other" properties,
            # so other properties may take any of the patterns' shapes (or the shape of
            # the 3.1 additionalProperties, if there was one) — never `false`.
            self.lost += 1
            if extra is None or extra is True:
                if extra is True:
                    out["additionalProperties"] = True
                return
            shapes = [self.schema(s) for s in patterns.values()]
            if isinstance(extra, dict):
                shapes.append(self.schema(extra))
            shapes = _distinct(shapes)
            out["additionalProperties"] = shapes[0] if len(shapes) == 1 else {"anyOf": shapes}
        elif isinstance(extra, bool):
            out["additionalProperties"] = extra
        elif isinstance(extra, dict):
            out["additionalProperties"] = self.schema(extra)

    def _items(self, node: dict[str, Any], out: dict[str, Any]) -> None:
        items = node.get("items")
        prefix = node.get("prefixItems")
        if isinstance(items, list):  # draft-04 tuples, seen in imported documents
            prefix, items = items, node.get("additionalItems", True)
        if isinstance(prefix, list) and prefix:
            self.lost += 1
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


def _takes_nullable(branch: Any, out: dict[str, Any]) -> bool:
    """A branch that says null with `nullable` beside its own type once merged."""
    return (
        isinstance(branch, dict)
        and isinstance(branch.get("type"), str)
        and not {"allOf", "anyOf", "oneOf", "$ref"} & set(branch)
        and not _overlaps(branch, out)
    )


def _overlaps(branch: Any, out: dict[str, Any]) -> bool:
    return not isinstance(branch, dict) or "$ref" in branch or bool(set(branch) & set(out))
