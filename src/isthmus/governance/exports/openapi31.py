"""OpenAPI 3.0.x → 3.1.0, for the ``openapi-3.1`` export of a version whose imported
document is 3.0 (GitHub's, say): the file is named and served as 3.1, so it says what
3.0 said in 3.1's words.

Schemas are the difference. 3.0's ``nullable: true`` adds null to the one ``type`` →
``type: [t, "null"]`` (and null joins an ``enum``, the way such documents mean it);
without a type (beside ``allOf``, ``oneOf`` or a ``$ref``, as such documents write a
nullable reference) the schema becomes "that, or null".
Boolean ``exclusiveMinimum``/``exclusiveMaximum`` take the bound's number, as 2020-12
writes them; a schema's ``example`` becomes its ``examples`` list (``example`` is
deprecated there). What the gateway added to the document is 3.1 already and passes
unchanged: every rule here leaves a 3.1 schema as it is.
"""

from __future__ import annotations

import copy
from typing import Any

from isthmus.governance.exports.schemas import map_schemas, with_subschemas

# Keywords that describe a schema rather than constrain it: when a nullable schema
# without a type becomes "that, or null", they stay outside, on the whole.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "example",
        "examples",
        "readOnly",
        "writeOnly",
        "deprecated",
        "externalDocs",
        "xml",
        "$comment",
    }
)


def is_openapi30(document: dict[str, Any]) -> bool:
    return str(document.get("openapi", "")).startswith("3.0")


def up_convert(document: dict[str, Any]) -> dict[str, Any]:
    """The 3.1.0 equivalent of a 3.0.x document (a copy; the original is untouched)."""
    doc = copy.deepcopy(document)
    map_schemas(doc, lambda schema, _pointer: schema31(schema))
    doc["openapi"] = "3.1.0"
    return doc


def schema31(node: Any) -> Any:
    """One 3.0 Schema Object (and everything inside it) in 2020-12's words."""
    if not isinstance(node, dict):
        return node
    out = with_subschemas(node, schema31)
    _bounds(out)
    if "example" in out:
        example = out.pop("example")
        out.setdefault("examples", [example])
    nullable = out.pop("nullable", None) is True
    if not nullable:
        return out
    kind = out.get("type")
    if isinstance(kind, str | list):
        kinds = [kind] if isinstance(kind, str) else kind
        out["type"] = kinds if "null" in kinds else [*kinds, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        return out
    constraints = {k: v for k, v in out.items() if k not in _ANNOTATIONS and not k.startswith("x-")}
    if not constraints:
        return out  # no type and nothing else: any value, null among them
    described = {k: v for k, v in out.items() if k not in constraints}
    return {**described, "anyOf": [constraints, {"type": "null"}]}


def _bounds(out: dict[str, Any]) -> None:
    """``minimum: 5, exclusiveMinimum: true`` → ``exclusiveMinimum: 5``."""
    for bound, flag in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        value = out.get(flag)
        if not isinstance(value, bool):
            continue  # numeric already (3.1), or absent
        del out[flag]
        if value and isinstance(out.get(bound), int | float):
            out[flag] = out.pop(bound)
