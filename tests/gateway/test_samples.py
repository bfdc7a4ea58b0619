"""Samples the sandbox's mock answers: each accepted by its schema, the same every time."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from isthmus.gateway.samples import sample

SCHEMAS: list[dict[str, Any]] = [
    {"type": "string", "pattern": "^[0-9]+$", "minLength": 4},
    {"type": "object", "required": ["id"]},
    {"type": "integer", "minimum": 1, "multipleOf": 5},
    {"type": "array", "items": {"type": "string"}, "minItems": 2, "uniqueItems": True},
    {
        "anyOf": [
            {"type": "null"},
            {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}},
        ]
    },
    {"type": "integer", "minimum": 10, "maximum": 20},
    {"type": "integer", "exclusiveMinimum": 0},
    {"type": "number", "maximum": -5},
    {"type": "string", "minLength": 12, "maxLength": 14},
    {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{3}$"},
    {"type": "string", "format": "email"},
    {"type": ["null", "string"], "format": "date-time"},
    {"enum": ["gold", "silver"]},
    {"const": 3},
    {"type": "array", "items": {"type": "boolean"}, "minItems": 2},
    {"oneOf": [{"type": "object", "properties": {"a": {"type": "integer"}}}, {"type": "string"}]},
    {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {"type": "object", "properties": {"b": {"type": "integer"}}},
        ]
    },
    {
        "$defs": {
            "money": {
                "type": "object",
                "required": ["amount"],
                "properties": {"amount": {"type": "number", "minimum": 0}},
            }
        },
        "type": "object",
        "properties": {
            "price": {"$ref": "#/$defs/money"},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}},
        },
    },
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_each_sample_fits_its_schema_and_does_not_change(schema: dict[str, Any]) -> None:
    value = sample(schema)
    jsonschema.validate(value, schema)
    assert sample(schema) == value


def test_examples_and_defaults_come_first() -> None:
    assert sample({"type": "string", "examples": ["Ada"]}) == "Ada"
    assert sample({"type": "integer", "default": 7}) == 7
    schema = {"type": "object", "properties": {"tier": {"type": "string", "example": "gold"}}}
    assert sample(schema) == {"tier": "gold"}


def test_a_recursive_schema_stops() -> None:
    schema = {"$ref": "#/$defs/node", "$defs": {"node": {"type": "object", "properties": {
        "child": {"$ref": "#/$defs/node"}}}}}  # fmt: skip
    value = sample(schema)
    depth = 0
    while isinstance(value, dict) and value.get("child") is not None:
        value, depth = value["child"], depth + 1
    assert 0 < depth < 10
