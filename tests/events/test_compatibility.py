"""Schema evolution: each compatibility mode refuses what it should, field by field, and
lets through what it should."""

from __future__ import annotations

from typing import Any

import pytest

from isthmus.events.compatibility import Mode, breaking_changes, incompatibilities

V1: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string", "maxLength": 100},
        "age": {"type": ["integer", "string"]},
        "tier": {"enum": ["gold", "silver"]},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


def changed(**changes: Any) -> dict[str, Any]:
    properties = {**V1["properties"], **changes.pop("properties", {})}
    for gone in changes.pop("drop", ()):
        properties.pop(gone)
    return {**V1, **changes, "properties": properties}


@pytest.mark.parametrize(
    ("new", "mode", "expected"),
    [
        # a new required field: consumers of v2 would refuse v1 events without it
        (
            changed(required=["id", "name", "email"], properties={"email": {"type": "string"}}),
            "BACKWARD",
            ["/email: required field: v2 requires it, events of v1 may lack it"],
        ),
        # a narrowed type
        (
            changed(properties={"age": {"type": "integer"}}),
            "BACKWARD",
            ["/age: type narrowed: v2 accepts only integer, v1 sends integer or string"],
        ),
        # an enum value removed
        (
            changed(properties={"tier": {"enum": ["gold"]}}),
            "BACKWARD",
            ["/tier: v2 no longer accepts 'silver'"],
        ),
        # a tighter bound, in a nested array's items too
        (
            changed(
                properties={
                    "name": {"type": "string", "maxLength": 50},
                    "tags": {"type": "array", "items": {"type": "integer"}},
                }
            ),
            "BACKWARD",
            [
                "/name: v2 has maxLength 50, v1 100",
                "/tags/[]: type narrowed: v2 accepts only integer, v1 sends string",
            ],
        ),
        # a required field removed: consumers still on v1 need it
        (
            changed(required=["id"]),
            "FORWARD",
            ["/name: required field: v1 requires it, events of v2 may lack it"],
        ),
        # a widened type breaks old readers
        (
            changed(properties={"id": {"type": ["string", "integer"]}}),
            "FORWARD",
            ["/id: type narrowed: v1 accepts only string, v2 sends integer or string"],
        ),
        # fields closed off while v1 events carry one no longer declared
        (
            changed(additionalProperties=False, drop=["tags"]),
            "BACKWARD",
            [
                "/tags: v2 refuses it (no other fields allowed), v1 sends it",
                "/: v2 refuses fields it does not declare, v1 allows them",
            ],
        ),
    ],
)
def test_breaking_changes_are_named_field_by_field(
    new: dict[str, Any], mode: Mode, expected: list[str]
) -> None:
    found = breaking_changes(mode, [(1, V1)], (2, new))
    assert [f.rsplit(" (", 1)[0] for f in found] == expected
    assert all(f.endswith(f"({mode})") for f in found)


def test_compatible_changes_pass_their_mode() -> None:
    optional_field = changed(properties={"nickname": {"type": "string"}})
    wider = changed(properties={"tier": {"enum": ["gold", "silver", "bronze"]}})
    fewer_required = changed(required=["id"])
    assert breaking_changes("BACKWARD", [(1, V1)], (2, optional_field)) == []
    assert breaking_changes("BACKWARD", [(1, V1)], (2, wider)) == []
    assert breaking_changes("BACKWARD", [(1, V1)], (2, fewer_required)) == []
    assert breaking_changes("FORWARD", [(1, V1)], (2, optional_field)) == []
    assert breaking_changes("FULL", [(1, V1)], (2, optional_field)) == []
    # FULL refuses what either direction refuses
    assert breaking_changes("FULL", [(1, V1)], (2, wider)) == [
        "/tier: v1 no longer accepts 'bronze' (FORWARD)"
    ]
    anything = changed(properties={"id": {"type": "integer"}})
    assert breaking_changes("NONE", [(1, V1)], (2, anything)) == []


def test_transitive_modes_check_every_earlier_version() -> None:
    v2 = changed(required=["id"])  # name optional: fine for BACKWARD
    v3 = changed(required=["id", "name"], properties={"name": {"type": "string"}})
    assert breaking_changes("BACKWARD", [(1, V1), (2, v2)], (3, v3)) == [
        "/name: required field: v3 requires it, events of v2 may lack it (BACKWARD)"
    ]
    # against v1 alone v3 only dropped a bound; transitive also sees v2's events
    assert len(breaking_changes("BACKWARD_TRANSITIVE", [(1, V1), (2, v2)], (3, v3))) == 1
    v3b = changed(required=["id"], properties={"name": {"type": "string", "maxLength": 10}})
    assert breaking_changes("BACKWARD", [(1, V1), (2, v2)], (3, v3b)) == [
        "/name: v3 has maxLength 10, v2 100 (BACKWARD)"
    ]
    assert breaking_changes("BACKWARD_TRANSITIVE", [(1, V1), (2, v2)], (3, v3b)) == [
        "/name: v3 has maxLength 10, v1 100 (BACKWARD)",
        "/name: v3 has maxLength 10, v2 100 (BACKWARD)",
    ]


def test_alternatives_and_what_the_check_cannot_judge() -> None:
    either = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert incompatibilities(either, {"type": "string"}) == []
    assert incompatibilities({"type": "string"}, either) == [
        "/: type narrowed: the reader accepts only string, the writer sends integer"
    ]
    assert incompatibilities({"type": "boolean"}, either) != []
    odd = incompatibilities({"if": {"type": "string"}}, {})
    assert odd == [
        "/: 'if' differs between the writer and the reader, which this check cannot judge"
    ]


def test_alternatives_keep_what_their_schema_says_beside_them() -> None:
    writer = {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}
    reader = {
        "type": "object",
        "required": ["id"],
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
    }
    # 'id' stays required in every alternative: events without it break the reader
    assert incompatibilities(reader, writer) == [
        "/: matches none of the reader's alternatives (anyOf)"
    ]
