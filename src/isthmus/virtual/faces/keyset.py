"""Keyset paging over a View in SQL: the rows after the last one served, in a sort that
ends with the key, so a page never repeats or skips a row when rows change in between.
Missing values sort last either way, as DuckDB and the sources are asked to sort."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlglot import exp

from isthmus.gateway.collections import write_cursor


def after(sort: tuple[tuple[str, bool], ...], last: tuple[Any, ...]) -> exp.Expr:
    """Rows after ``last`` in the order ``sort`` (missing values last either way)."""
    ways: list[exp.Expr] = []
    for index, ((name, descending), value) in enumerate(zip(sort, last, strict=True)):
        same = [_same(n, v) for (n, _), v in zip(sort[:index], last[:index], strict=True)]
        if value is None:
            continue  # nothing sorts after a missing value in this column
        beyond = exp.LT if descending else exp.GT
        further = exp.Or(
            this=beyond(this=column(name), expression=literal(value)),
            expression=exp.Is(this=column(name), expression=exp.null()),
        )
        ways.append(exp.and_(*same, exp.Paren(this=further)) if same else exp.Paren(this=further))
    return exp.or_(*ways) if ways else exp.false()


def _same(name: str, value: Any) -> exp.Expr:
    if value is None:
        return exp.Is(this=column(name), expression=exp.null())
    return exp.EQ(this=column(name), expression=literal(value))


def exact(value: Any) -> Any:
    """A sort value as the cursor keeps it: decimals as text, so no digit is lost."""
    return str(value) if isinstance(value, Decimal) else value


def column(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def literal(value: Any) -> exp.Expr:
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # times are kept in UTC without a zone
            value = value.astimezone(UTC).replace(tzinfo=None)
        text = exp.Literal.string(value.isoformat(sep=" "))
        return exp.Cast(this=text, to=exp.DataType.build("TIMESTAMP"))
    return exp.convert(value)


def order_by(select: exp.Select, sort: tuple[tuple[str, bool], ...]) -> exp.Select:
    for name, descending in sort:
        ordered = exp.Ordered(this=column(name), desc=descending, nulls_first=False)
        select = select.order_by(ordered, copy=False)
    return select


def token(last: list[Any], fingerprint: str) -> str:
    """The cursor for the rows after ``last`` (its sort values), tied to the query's
    ``fingerprint`` (its sort and filters): opaque text for a next link."""
    return write_cursor([exact(v) for v in last], fingerprint)


def read_token(text: str, fingerprint: str, length: int) -> tuple[Any, ...] | None:
    """The sort values a cursor holds; None if it was not given for this query."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError):
        return None
    if (
        not isinstance(data, dict)
        or data.get("q") != fingerprint
        or not isinstance(data.get("after"), list)
        or len(data["after"]) != length
    ):
        return None
    return tuple(data["after"])
