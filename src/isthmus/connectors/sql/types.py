"""A reflected table's columns as a stream's JSON Schema: the types Views plan with."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def json_type(kind: sa.types.TypeEngine[Any]) -> dict[str, Any]:
    """The JSON Schema of one column's values as streams give them (times as ISO text)."""
    if isinstance(kind, sa.Boolean):
        return {"type": "boolean"}
    if isinstance(kind, sa.Integer):
        return {"type": "integer"}
    if isinstance(kind, sa.Numeric | sa.Float):
        return {"type": "number"}
    if isinstance(kind, sa.DateTime):
        return {"type": "string", "format": "date-time"}
    if isinstance(kind, sa.Date):
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def json_schema_of(table: sa.Table) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {str(column.name): json_type(column.type) for column in table.columns},
    }
