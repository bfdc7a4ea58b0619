"""View: a virtual table, SQL over the streams of Connections and over other Views.

A View's SQL names a stream as ``connection.stream`` (quote a name with '-' in it:
``"demo-crm".customers``) and another View by its name alone. The SQL is DuckDB's
dialect; what the sources can do themselves is sent to them (see :mod:`isthmus.virtual`).

A View's name is an identifier (letters, digits, '_'), unlike other resources' names:
it is a table in SQL, an entity set in OData and a type in GraphQL, none of which take '-'.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from isthmus.model.base import Metadata, Ref, Reference, Resource, Spec, references
from isthmus.model.registry import register_kind
from isthmus.virtual.names import SqlInvalid, referenced_tables

VIEW_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
ViewName = Annotated[
    str,
    StringConstraints(pattern=VIEW_NAME_PATTERN),
    Field(description="Lower-case letters, digits and '_', starting with a letter."),
]

ColumnType = Literal["string", "integer", "number", "boolean", "date", "date-time"]


class ViewColumn(Spec):
    description: str | None = None
    type: ColumnType | None = Field(
        default=None,
        description="The type the column must have; checked against the SQL's when the "
        "View is planned. Default: whatever the SQL gives.",
    )


class ViewSpec(Spec):
    sql: str = Field(
        min_length=1,
        description="One SELECT (DuckDB's dialect) over 'connection.stream' tables and other "
        "Views.",
    )
    key: list[str] = Field(
        default_factory=list,
        description="Columns whose values identify a row: needed for paging, OData and "
        "GraphQL relations.",
    )
    columns: dict[str, ViewColumn] = Field(
        default_factory=dict, description="Descriptions (and expected types) of columns."
    )
    relations: dict[str, ViewRelation] = Field(
        default_factory=dict,
        description="Rows of other Views this View's rows point at, by key: GraphQL fields.",
    )

    @field_validator("sql")
    @classmethod
    def _parses(cls, sql: str) -> str:
        try:
            referenced_tables(sql)
        except SqlInvalid as exc:
            raise ValueError(str(exc)) from None
        return sql

    @model_validator(mode="after")
    def _key_described(self) -> ViewSpec:
        if len(set(self.key)) != len(self.key):
            raise ValueError("key names a column twice")
        return self


class ViewRelation(Spec):
    view: Annotated[ViewName, Ref("View")]
    on: dict[str, str] = Field(
        min_length=1,
        max_length=1,
        description="This View's column → the other View's column (one pair).",
    )
    many: bool = Field(default=False, description="Many rows of the other View, not one.")


ViewSpec.model_rebuild()


class ViewMetadata(Metadata):
    name: ViewName


@register_kind
class View(Resource):
    kind: Literal["View"] = "View"
    metadata: ViewMetadata
    spec: ViewSpec
    name_pattern = VIEW_NAME_PATTERN

    @cached_property
    def tables(self) -> tuple[tuple[str | None, str], ...]:
        """``(connection, stream)`` for each source, ``(None, view)`` for each View."""
        return referenced_tables(self.spec.sql)

    def named(self) -> Iterator[Reference]:
        yield from references(self)
        for connection, name in self.tables:
            if connection is None:
                yield Reference(("spec", "sql"), "View", name)
            else:
                yield Reference(("spec", "sql"), "Connection", connection)
