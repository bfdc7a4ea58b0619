"""A stream read as one SELECT: the query's filters, projection, sort, limit and cursor
built with SQLAlchemy Core from the reflected table, so no caller's text becomes an
identifier and every value is a bound parameter."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from isthmus.connectors.base import StreamQuery
from isthmus.errors import BadRequest


def select_for(
    table: sa.Table, query: StreamQuery, cap: int, cursor_field: str | None
) -> sa.Select[Any]:
    """At most ``cap`` rows; those after ``query.cursor`` in ``cursor_field`` where given."""
    columns = {c.name.lower(): c for c in table.columns}

    def column(name: str) -> sa.ColumnElement[Any]:
        found = columns.get(name.lower())
        if found is None:
            raise BadRequest(f"'{table.name}' has no column '{name}'.")
        return found

    chosen = [column(f) for f in query.fields] if query.fields else list(table.columns)
    statement = sa.select(*chosen)
    for item in query.filters:
        target = column(item.field)
        statement = statement.where(_condition(target, item.op, typed(target, item.value)))
    if query.cursor is not None and cursor_field is not None:  # incremental: after it
        cursor_column = column(cursor_field)
        statement = statement.where(cursor_column > typed(cursor_column, query.cursor))
        if not query.sort:
            statement = statement.order_by(column(cursor_field))
    for name, descending in query.sort:
        statement = statement.order_by(column(name).desc() if descending else column(name))
    limit = cap if query.limit is None else min(query.limit, cap)
    return statement.limit(limit)


def typed(target: sa.ColumnElement[Any], value: Any) -> Any:
    """``value`` as the column's type where it came as text: records and cursors travel
    as JSON, so a timestamp is an ISO string, which PostgreSQL will not compare with a
    timestamp column and SQLite would compare as text."""
    kind = target.type
    try:
        if isinstance(value, str) and isinstance(kind, sa.DateTime):
            return datetime.fromisoformat(value)
        if isinstance(value, str) and isinstance(kind, sa.Date):
            return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"'{value}' is not a date or time that '{target}' can compare.") from None
    if isinstance(value, list):
        return [typed(target, v) for v in value]
    return value


def _condition(target: sa.ColumnElement[Any], op: str, value: Any) -> sa.ColumnElement[bool]:
    """One filter as SQL; the value is always a bound parameter."""
    if op == "in":
        return target.in_(list(value))
    if op == "contains":
        return target.contains(str(value), autoescape=True)
    method = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__"}
    result: sa.ColumnElement[bool] = getattr(target, method.get(op, "__ge__"))(value)
    return result
