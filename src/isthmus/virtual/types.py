"""Types across the three worlds a virtual query crosses: a stream's JSON Schema, the SQL
types the planner and DuckDB reason with, and the Arrow columns rows travel in."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from sqlglot import exp

from isthmus.errors import FatalError


class SourceRecordsInvalid(FatalError):
    status = 502
    code = "virtual-source-records-invalid"
    title = "A source sent values that do not fit its declared schema"
    remediation = (
        "Tell the owner of the Connection: a field's values do not have the type its "
        "stream's schema declares."
    )


def sql_type(schema: Mapping[str, Any]) -> str:
    """The SQL type of a field described by JSON Schema (untyped fields: text)."""
    kind = schema.get("type")
    if isinstance(kind, list):  # ["integer", "null"]
        kind = next((k for k in kind if k != "null"), None)
    if kind == "integer":
        return "BIGINT"
    if kind == "number":
        return "DOUBLE"
    if kind == "boolean":
        return "BOOLEAN"
    if kind == "string" and schema.get("format") == "date-time":
        return "TIMESTAMP"
    if kind == "string" and schema.get("format") == "date":
        return "DATE"
    return "VARCHAR"


def column_type(kind: exp.DataType | None) -> str:
    """A View column's type, in the catalog's words, from the planner's SQL type."""
    if kind is None:
        return "string"
    if kind.is_type(*exp.DataType.INTEGER_TYPES):
        return "integer"
    if kind.is_type(*exp.DataType.REAL_TYPES):
        return "number"
    if kind.is_type(exp.DataType.Type.BOOLEAN):
        return "boolean"
    if kind.is_type(exp.DataType.Type.DATE):
        return "date"
    if kind.is_type(*exp.DataType.TEMPORAL_TYPES):
        return "date-time"
    return "string"


def _moment(value: Any) -> Any:
    """A time as UTC without a zone, as databases mostly give them, so times from an API
    and from a database compare."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _day(value: Any) -> Any:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    return value


_ARROW: dict[str, tuple[pa.DataType, Callable[[Any], Any] | None]] = {
    "BIGINT": (pa.int64(), None),
    "DOUBLE": (pa.float64(), lambda v: float(v) if isinstance(v, int | Decimal) else v),
    "BOOLEAN": (pa.bool_(), None),
    "TIMESTAMP": (pa.timestamp("us"), _moment),
    "DATE": (pa.date32(), _day),
    "VARCHAR": (pa.string(), lambda v: v if v is None or isinstance(v, str) else str(v)),
}


def typed_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], types: Mapping[str, str]
) -> pa.Table:
    """``rows`` as Arrow columns of the declared types (a missing field: null). Columns
    of no declared type take what Arrow infers from the values."""
    arrays: list[pa.Array[Any]] = []
    for name in columns:
        values = [row.get(name) for row in rows]
        kind = types.get(name)
        try:
            if kind is None:
                arrays.append(pa.array(values))
                continue
            arrow_type, convert = _ARROW.get(kind, _ARROW["VARCHAR"])
            if convert is not None:
                values = [None if v is None else convert(v) for v in values]
            arrays.append(pa.array(values, type=arrow_type))
        except (pa.ArrowException, ValueError, TypeError):
            raise SourceRecordsInvalid(
                f"Field '{name}' holds values that are not {(kind or 'one type').lower()}."
            ) from None
    return pa.Table.from_arrays(arrays, names=list(columns))
