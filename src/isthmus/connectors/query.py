"""Applies a :class:`StreamQuery` to records in the hub.

Sources that cannot do a part of a query themselves (see ``Pushdown``) leave it to
this module; the in-memory connector uses it for everything.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from isthmus.connectors.base import Filter, FilterOp, Record, StreamQuery

_COMPARE: dict[FilterOp, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "in": lambda value, options: value in options,
    "contains": lambda value, part: isinstance(value, str) and str(part) in value,
}


def matches(record: Record, filters: Iterable[Filter]) -> bool:
    for item in filters:
        value = record.get(item.field)
        if value is None and item.op not in ("eq", "ne"):
            return False
        try:
            if not _COMPARE[item.op](value, item.value):
                return False
        except TypeError:  # comparing unlike types: no match rather than a crash
            return False
    return True


def _sorted(rows: list[Record], field: str, descending: bool) -> list[Record]:
    """Stable sort on one field; records without a value go last in either direction."""
    present = [r for r in rows if r.get(field) is not None]
    missing = [r for r in rows if r.get(field) is None]
    try:
        present.sort(key=lambda record: record[field], reverse=descending)
    except TypeError:  # unlike types (numbers and text): order by kind, then by text
        present.sort(key=lambda r: (type(r[field]).__name__, str(r[field])), reverse=descending)
    return present + missing


def apply_query(
    records: Iterable[Record], query: StreamQuery, cursor_field: str | None
) -> Iterator[Record]:
    rows: Iterable[Record] = (r for r in records if matches(r, query.filters))
    if query.cursor is not None and cursor_field:
        rows = (r for r in rows if matches(r, [Filter(cursor_field, "gt", query.cursor)]))
    if query.sort:
        ordered = list(rows)
        for field, descending in reversed(query.sort):  # last key first: sorts are stable
            ordered = _sorted(ordered, field, descending)
        rows = ordered
    for count, record in enumerate(rows):
        if query.limit is not None and count >= query.limit:
            return
        yield {k: record.get(k) for k in query.fields} if query.fields else dict(record)


_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),  # before int: a bool is an int to Python
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def infer_schema(records: Iterable[Record]) -> dict[str, Any]:
    """A JSON Schema naming every field seen in ``records``, typed by its first value
    (numbers of both kinds: number)."""
    found: dict[str, str | None] = {}
    for record in records:
        for name, value in record.items():
            kind = next((k for t, k in _JSON_TYPES if isinstance(value, t)), None)
            known = found.get(name)
            if known is None:
                found[name] = kind
            elif {known, kind} == {"integer", "number"}:
                found[name] = "number"
    properties = {name: ({"type": kind} if kind else {}) for name, kind in found.items()}
    return {"type": "object", "properties": properties}
