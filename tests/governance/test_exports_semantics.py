"""The OpenAPI 3.0 export accepts every value the 3.1 schema accepts: for a set of
schemas that use what 3.0 cannot say, each value JSON Schema 2020-12 takes, the
openapi-schema-validator's OAS 3.0 validator takes too."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from isthmus.governance.exports import to_openapi30

ADDRESS = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}
REF = {"$ref": "#/components/schemas/Address"}

# Each a component schema of one 3.1 document; the name says what 3.0 cannot write.
SCHEMAS: dict[str, Any] = {
    "NullableRef": {"anyOf": [REF, {"type": "null"}]},
    "NullableRefWithSiblings": {"anyOf": [{**REF, "description": "Home"}, {"type": "null"}]},
    "NullableTypes": {"type": ["string", "integer", "null"]},
    "NullableObject": {"type": ["object", "null"], "properties": {"a": {"type": "integer"}}},
    "NullableEnumBranch": {"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "null"}]},
    "NullableEnum": {"type": ["string", "null"], "enum": ["a", None]},
    "OneOfWithNull": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
    "OnlyNull": {"type": "null"},
    "ConstNull": {"const": None},
    "PatternsOnly": {
        "type": "object",
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": False,
    },
    "PatternsAndOthers": {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
        "patternProperties": {"^x-": {"type": "string"}},
        "additionalProperties": {"type": "integer"},
    },
    "NotContains": {
        "type": "array",
        "items": {"type": "string"},
        "not": {"contains": {"const": "admin"}},
    },
    "NestedNotContains": {
        "type": "object",
        "properties": {"tags": {"type": "array", "not": {"contains": {"const": "admin"}}}},
    },
    "NotThroughRef": {"not": {"$ref": "#/components/schemas/HasAdmin"}},
    "HasAdmin": {"type": "array", "contains": {"const": "admin"}},
    "NotNullable": {"not": {"type": ["string", "null"]}},
    "OneOfLoosened": {
        "oneOf": [
            {"type": "object", "required": ["a"]},
            {"type": "object", "required": ["a"], "dependentRequired": {"a": ["b"]}},
        ]
    },
    "Tuple": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
    "ClosedTuple": {
        "type": "array",
        "prefixItems": [{"type": "string"}, {"type": "integer"}],
        "items": False,
    },
    "Conditional": {
        "type": "object",
        "if": {"required": ["a"]},
        "then": {"required": ["b"]},
    },
    "ExclusiveBound": {"type": "integer", "exclusiveMinimum": 0, "maximum": 3},
    "Nested": {
        "type": "object",
        "properties": {"value": {"$ref": "#/$defs/Value"}},
        "$defs": {"Value": {"type": ["integer", "null"], "exclusiveMaximum": 3}},
    },
    "Unevaluated": {
        "type": "object",
        "properties": {"a": {"type": "integer"}},
        "unevaluatedProperties": False,
    },
}
DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Shapes", "version": "1"},
    "paths": {},
    "components": {"schemas": {"Address": ADDRESS, **SCHEMAS}},
}
CONVERTED = to_openapi30(DOCUMENT, "https://hub.example.test/shapes/v1")
COMPONENTS = CONVERTED["components"]["schemas"]

VALUES: list[Any] = [
    None,
    True,
    0,
    1,
    5,
    -1,
    2.5,
    "a",
    "admin",
    "",
    [],
    ["user"],
    ["admin"],
    ["a", 1],
    ["a", 1, "b"],
    [1, "a"],
    {},
    {"a": 1},
    {"a": 1, "b": 2},
    {"b": 2},
    {"x-tenant": "a"},
    {"x-tenant": 1},
    {"id": 1, "other": 2},
    {"city": "Oslo"},
    {"tags": ["user"]},
    {"tags": ["admin"]},
    {"value": None},
    {"value": 2},
]

# Any JSON value, built from the words the schemas above care about.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 6)
    | st.sampled_from([2.5, "a", "b", "admin", "user", "", "Oslo"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["a", "b", "id", "city", "tags", "value", "x-tenant", "other"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=8,
)


def accepted(name: str, value: Any) -> tuple[bool, bool]:
    """(the 3.1 schema takes it, the 3.0 schema takes it); references resolve in the
    document each belongs to."""
    original = {"components": {"schemas": DOCUMENT["components"]["schemas"]}, **SCHEMAS[name]}
    converted = {"components": {"schemas": COMPONENTS}, **COMPONENTS[name]}
    return (
        Draft202012Validator(original).is_valid(value),
        OAS30Validator(converted).is_valid(value),
    )


def test_the_shapes_convert_to_a_valid_document() -> None:
    validate(CONVERTED)


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_openapi30_accepts_what_31_accepts(name: str) -> None:
    refused = [v for v in VALUES if accepted(name, v) == (True, False)]
    assert not refused, (COMPONENTS[name], refused)


@settings(max_examples=300, deadline=None, database=None, derandomize=True)
@given(name=st.sampled_from(sorted(SCHEMAS)), value=JSON)
def test_openapi30_accepts_what_31_accepts_for_any_value(name: str, value: Any) -> None:
    taken31, taken30 = accepted(name, value)
    assert taken30 or not taken31, (COMPONENTS[name], value)


def test_openapi30_still_refuses_what_it_can_say() -> None:
    """Not "accept everything": where 3.0 has the words, it refuses as 3.1 does."""
    assert accepted("NullableRef", {"street": "x"}) == (False, False)
    assert accepted("NullableTypes", []) == (False, False)
    assert accepted("NullableEnumBranch", "b") == (False, False)
    assert accepted("PatternsOnly", {"x-tenant": 1}) == (False, False)
    assert accepted("NotNullable", None) == (False, False)
    assert accepted("NotNullable", "a") == (False, False)
    assert accepted("ClosedTuple", ["a", 1, "b"]) == (False, False)
    assert accepted("ExclusiveBound", 0) == (False, False)
    assert accepted("Nested", {"value": 3}) == (False, False)


def test_how_null_and_dropped_keywords_are_written() -> None:
    assert COMPONENTS["NullableRef"] == {
        "anyOf": [REF, {"type": "object", "nullable": True, "enum": [None]}]
    }
    assert COMPONENTS["NullableTypes"] == {
        "anyOf": [{"type": "string", "nullable": True}, {"type": "integer", "nullable": True}]
    }
    assert COMPONENTS["NullableEnumBranch"] == {
        "type": "string",
        "enum": ["a", None],
        "nullable": True,
    }
    assert COMPONENTS["PatternsOnly"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    assert COMPONENTS["PatternsAndOthers"]["additionalProperties"] == {
        "anyOf": [{"type": "string"}, {"type": "integer"}]
    }
    assert COMPONENTS["NotContains"] == {"type": "array", "items": {"type": "string"}}
    assert "not" not in COMPONENTS["NotThroughRef"]
    assert COMPONENTS["NotNullable"] == {"not": {"type": "string", "nullable": True}}
    assert "anyOf" in COMPONENTS["OneOfLoosened"]
    assert "oneOf" not in COMPONENTS["OneOfLoosened"]
    assert len(COMPONENTS["OneOfWithNull"]["oneOf"]) == 3
