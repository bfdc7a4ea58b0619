"""Collection routes: the one way every list is read through the gateway.

A GET route that declares ``collection`` answers ``{"value": [...], "nextLink": "..."}``
and accepts ``limit`` + opaque ``cursor`` paging, ``sort=a,-b``, one equality filter per
declared field (``?tier=gold``) and one ``filter`` expression in OData syntax
(``filter=tier eq 'gold' and balance gt 100``). Low-code tools then page, sort and
filter every Api the same way, whatever the backend does.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from isthmus.mapping import Expression
from isthmus.model.base import Spec

# The collection's own query parameters; no field may take their names.
RESERVED = frozenset({"limit", "cursor", "sort", "filter"})
FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # an identifier in filter expressions

FieldType = Literal["string", "integer", "number", "boolean", "date-time"]


class CollectionField(Spec):
    type: FieldType = "string"
    description: str | None = None
    sortable: bool = True
    filterable: bool = True


class Collection(Spec):
    """The route answers a list, paged, sorted and filtered by the gateway."""

    key: str = Field(
        description="A field unique per record: the last key of every sort, so a cursor "
        "always points between two records."
    )
    fields: dict[str, CollectionField] = Field(
        min_length=1, description="Top-level record fields callers may sort and filter on."
    )
    records: Expression | None = Field(
        default=None,
        description="JSONata selecting the records in the target's answer; default: the "
        "answer itself when it is a list, else its 'value'.",
    )
    default_limit: int = Field(default=50, ge=1, le=10_000)
    max_limit: int = Field(default=1000, ge=1, le=10_000)
    default_sort: list[str] = Field(
        default_factory=list, description="Sort when the caller gives none, e.g. ['-created']."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Collection:
        for name in self.fields:
            if not FIELD_NAME.match(name):
                raise ValueError(f"field '{name}' is not an identifier (letters, digits, '_')")
            if name in RESERVED:
                raise ValueError(f"field '{name}' is a collection parameter's name")
        if self.key not in self.fields:
            raise ValueError(f"key '{self.key}' is not one of the fields")
        if self.default_limit > self.max_limit:
            raise ValueError("defaultLimit cannot exceed maxLimit")
        for entry in self.default_sort:
            name = entry.removeprefix("-")
            if name not in self.fields or not self.fields[name].sortable:
                raise ValueError(f"defaultSort names '{name}', not a sortable field")
        return self
