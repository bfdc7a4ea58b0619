"""A View's shape — its columns, their types, its key — as the faces publish it: the
fields of a REST collection, an OData entity type, a GraphQL object type.

The shape comes from planning the View against the Connections of an Environment (the
columns its SQL gives); declared column types are checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from isthmus.model.collection import FIELD_NAME, RESERVED, Collection, CollectionField
from isthmus.model.view import View
from isthmus.virtual.bounds import INT64_MAX, INT64_MIN
from isthmus.virtual.limits import MAX_TEXT_LENGTH
from isthmus.virtual.plans import Column

# Columns as the answers write them. Integers are 64-bit and texts at most the hub's
# text limit (virtual/bounds.py refuses any other answer); dates and times are written
# by the answers' JSON encoder: 'YYYY-MM-DD', and RFC 3339 with at most microseconds and
# an offset (32 characters).
_JSON: dict[str, dict[str, Any]] = {
    "string": {"type": ["string", "null"]},
    "integer": {
        "type": ["integer", "null"],
        "format": "int64",
        "minimum": INT64_MIN,
        "maximum": INT64_MAX,
    },
    "number": {"type": ["number", "null"]},
    "boolean": {"type": ["boolean", "null"]},
    "date": {"type": ["string", "null"], "format": "date", "maxLength": 10},
    "date-time": {"type": ["string", "null"], "format": "date-time", "maxLength": 32},
}
_FIELD_TYPES = {"date": "date-time"}  # collection filters compare dates as times


@dataclass(frozen=True)
class ViewShape:
    view: View
    columns: tuple[Column, ...]
    max_text: int = MAX_TEXT_LENGTH  # the hub's limit on text values in answers

    @property
    def name(self) -> str:
        return self.view.metadata.name

    @property
    def types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}

    @property
    def key(self) -> tuple[str, ...]:
        """The View's key, or its first column where it declares none (paging is then
        exact only if that column is unique)."""
        return tuple(self.view.spec.key) or (self.columns[0].name,)

    def description(self, column: str) -> str | None:
        declared = self.view.spec.columns.get(column)
        return declared.description if declared else None

    def record_schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for column in self.columns:
            schema = dict(_JSON[column.type])
            if column.type == "string":
                schema["maxLength"] = self.max_text
            if text := self.description(column.name):
                schema["description"] = text
            properties[column.name] = schema
        return {"type": "object", "properties": properties}

    def collection(self) -> Collection:
        """The REST collection of the View: every column an identifier may page, sort
        and filter on; the key breaks ties."""
        fields = {
            c.name: CollectionField(
                type=_FIELD_TYPES.get(c.type, c.type),  # type: ignore[arg-type]
                description=self.description(c.name),
            )
            for c in self.columns
            if FIELD_NAME.match(c.name) and c.name not in RESERVED
        }
        key = next((k for k in self.key if k in fields), next(iter(fields)))
        return Collection(key=key, fields=fields)


def mismatches(view: View, columns: tuple[Column, ...]) -> list[str]:
    """Where the View's declared columns and key differ from what its SQL gives."""
    found = {c.name: c.type for c in columns}
    problems = [
        f"key column '{k}' is not a column of the View" for k in view.spec.key if k not in found
    ]
    for name, declared in view.spec.columns.items():
        if name not in found:
            problems.append(f"column '{name}' is described but the SQL gives no such column")
        elif declared.type is not None and declared.type != found[name]:
            problems.append(
                f"column '{name}' is declared {declared.type} but the SQL gives {found[name]}"
            )
    for name, relation in view.spec.relations.items():
        if name in found:
            problems.append(f"relation '{name}' has the name of a column")
        problems += [
            f"relation '{name}' joins on '{mine}', not a column of the View"
            for mine in relation.on
            if mine not in found
        ]
    return problems
