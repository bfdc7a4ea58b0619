"""Schema checks: decided by jsonschema-rs, explained by jsonschema, nothing fetched."""

from __future__ import annotations

import pytest

from isthmus.gateway.schemas import OpenApiDocument, SchemaCheck
from isthmus.model.api import RequestContract, check_schema

PERSON = {
    "type": "object",
    "required": ["name", "age"],
    "properties": {
        "name": {"type": "string", "maxLength": 5},
        "age": {"type": "integer", "minimum": 0},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}},
    },
}


def test_valid_values_have_no_problems_and_invalid_ones_say_where_and_why() -> None:
    check = SchemaCheck(PERSON)
    assert check.problems({"name": "Ann", "age": 3, "tags": ["a"]}, "body") == []
    problems = check.problems({"name": "Annabel", "age": -1, "tags": ["c"]}, "body")
    assert sorted(problems, key=lambda p: p["pointer"]) == [
        {"pointer": "/body/age", "message": "must be at least 0"},
        {"pointer": "/body/name", "message": "must have at most 5 characters"},
        {"pointer": "/body/tags/0", "message": "must be one of ['a', 'b']"},
    ]
    assert check.problems({}, "body") == [
        {"pointer": "/body", "message": "is missing the required properties ['name', 'age']"}
    ]


def test_messages_never_repeat_the_value_sent() -> None:
    check = SchemaCheck({"type": "string", "pattern": "^[a-z]+$", "maxLength": 3})
    problems = check.problems("Sup3rSecret", "headers", "x-token")
    assert problems
    assert all("Sup3rSecret" not in p["message"] for p in problems)


def test_refs_resolve_inside_an_imported_document_circular_ones_too() -> None:
    document = {
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "n": {"type": "integer"},
                        "next": {"$ref": "#/components/schemas/Node"},
                    },
                }
            }
        }
    }
    check = SchemaCheck(
        {"$ref": "urn:doc#/components/schemas/Node"}, OpenApiDocument("urn:doc", document)
    )
    assert check.problems({"next": {"next": {"n": 1}}}) == []
    assert check.problems({"next": {"next": {"n": "x"}}}, "body") == [
        {"pointer": "/body/next/next/n", "message": "must be of type integer"}
    ]


def test_a_pattern_only_ecma_262_knows_is_still_checked() -> None:
    # an imported document may carry one; jsonschema (Python's re) cannot evaluate it
    check = SchemaCheck({"type": "string", "pattern": "^\\p{Lu}"})
    assert check.problems("Ann") == []
    assert check.problems("ann", "query", "q") == [
        {"pointer": "/query/q", "message": "does not satisfy 'pattern'"}
    ]


@pytest.mark.parametrize(
    ("schema", "reason"),
    [
        ({"$ref": "http://127.0.0.1:9/schema.json"}, "can check"),  # never fetched
        ({"type": "strng"}, "not a valid JSON Schema"),
        ({"type": "string", "pattern": "a{,3}"}, "can check"),  # Python's re only
    ],
)
def test_schemas_the_gateway_cannot_check_are_refused_at_apply(
    schema: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        check_schema(schema)
    with pytest.raises(ValueError, match=reason):
        RequestContract.model_validate({"body": schema})
