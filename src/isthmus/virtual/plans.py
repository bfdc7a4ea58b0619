"""What a plan is: the scans of sources it makes and what DuckDB does with their rows.

:mod:`isthmus.virtual.planner` makes plans; the engine runs them. A plan is made once
per query template and bound to each call's values (:meth:`Plan.bind`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from sqlglot import exp

from isthmus.connectors.base import Filter, StreamQuery
from isthmus.virtual.sources import SourceTable
from isthmus.virtual.template import resolve

# Keys handed from one scan to another, per statement or request: more are sent in
# several; more than MAX_KEYS in all, and the read goes unfiltered.
MAX_KEYS_SQL = 4096
MAX_KEYS_API = 100
MAX_KEYS = 100_000


@dataclass(frozen=True)
class KeysFrom:
    """Filter this scan on the values another scan read first: the rows a join keeps."""

    scan: str  # the scan read first
    column: str  # its column holding the keys
    into: str  # this scan's column they must match
    where: str | None = None  # the query's conditions on the first scan's rows (DuckDB)
    parameters: tuple[str, ...] = ()  # the template's parameters ``where`` uses


@dataclass(frozen=True)
class Scan:
    """One read of one source: a stream query, or a SELECT the database runs."""

    name: str  # the table DuckDB reads the rows as
    table: SourceTable  # for a SELECT: a table of its database
    columns: tuple[str, ...]
    types: dict[str, str]
    query: StreamQuery | None = None
    statement: exp.Query | None = None  # for the database, with :pN placeholders
    params: dict[str, Any] = field(default_factory=dict)
    tables: tuple[str, ...] = ()  # the streams a SELECT reads
    keys: KeysFrom | None = None
    whole_part: bool = False  # a part of the query sent whole (joins, aggregates)
    ttl: float | None = None  # how long its rows may be reused; None: read every time
    # for a part sent whole: output columns a list of keys can narrow (group keys)
    narrowable: dict[str, exp.Column] = field(default_factory=dict)

    @property
    def connection(self) -> str:
        return self.table.connection

    @property
    def signature(self) -> tuple[object, ...]:
        """What the scan asks of its source, as a cache key."""
        where = (self.table.environment, self.table.connection)
        if self.statement is not None:
            return (*where, self.sql, tuple(sorted((k, repr(v)) for k, v in self.params.items())))
        # the columns kept too: a stream that cannot project sends every field
        return (*where, self.table.spec.name, repr(self.query), self.columns)

    @property
    def streams(self) -> tuple[tuple[str, str, str], ...]:
        """(environment, connection, stream) of each stream it reads."""
        names = self.tables or (self.table.name,)
        return tuple(
            (self.table.environment, self.table.connection, n.split(".", 1)[1]) for n in names
        )

    @cached_property
    def sql(self) -> str | None:
        """The SELECT in the database's dialect, parameters as ``:name``."""
        if self.statement is None:
            return None
        assert self.table.database is not None
        return render(self.statement, self.table.database.sql_dialect)

    @property
    def bounded(self) -> bool:
        """Whether the read asks for less than the whole stream."""
        if self.statement is not None:
            return True  # a database's reads are bounded by its own row cap
        assert self.query is not None
        keyed = self.keys is not None and self.keys.into in self.table.spec.primary_key
        return keyed or bool(self.query.filters) or self.query.limit is not None

    @property
    def selective(self) -> bool:
        """Whether the source is asked for some of its rows rather than all."""
        if self.statement is not None:
            return bool(self.statement.args.get("where") or self.statement.args.get("limit"))
        assert self.query is not None
        return bool(self.query.filters) or self.query.limit is not None

    @property
    def max_keys(self) -> int:
        return MAX_KEYS_SQL if self.statement is not None else MAX_KEYS_API

    def keys_accepted(self, column: str) -> bool:
        """Whether this scan can be filtered on ``column`` by a list of values."""
        if self.statement is not None:
            return not self.whole_part or column in self.narrowable
        pushdown = self.table.spec.pushdown
        return "in" in pushdown.filter_ops and (
            pushdown.filter_fields is None or column in pushdown.filter_fields
        )

    def bind(self, values: Mapping[str, Any]) -> Scan:
        """The scan with the template's parameters given their values."""
        query = self.query
        if query is not None and query.filters:
            filters = tuple(Filter(f.field, f.op, resolve(f.value, values)) for f in query.filters)
            query = replace(query, filters=filters)
        params = {name: resolve(value, values) for name, value in self.params.items()}
        bound = replace(self, query=query, params=params)
        bound.__dict__["sql"] = self.sql  # the same statement: rendered once per plan
        return bound

    def with_keys(self, values: list[Any]) -> Scan:
        """The scan reading only rows whose ``keys.into`` is one of ``values``."""
        assert self.keys is not None
        if self.statement is not None:
            # as many parameters as the next power of two (the last value repeated): a
            # few statement shapes, each written, checked and prepared once
            size = 1 << max(3, (len(values) - 1).bit_length())
            padded = [*values, *[values[-1]] * (size - len(values))]
            statement, sql = _narrowed(self, size)
            params = {**self.params, **{f"k{i}": v for i, v in enumerate(padded)}}
            narrowed = replace(self, statement=statement, params=params, keys=None)
            narrowed.__dict__["sql"] = sql
            return narrowed
        assert self.query is not None
        extra = Filter(self.keys.into, "in", values)
        return replace(self, query=replace(self.query, filters=(*self.query.filters, extra)))


_NARROWED: dict[tuple[str | None, str, int], tuple[exp.Query, str]] = {}


def _narrowed(scan: Scan, size: int) -> tuple[exp.Query, str]:
    """The scan's SELECT with ``keys.into IN (:k0 … :k{size-1})``, made once per shape."""
    assert scan.keys is not None
    assert isinstance(scan.statement, exp.Select)
    key = (scan.sql, scan.keys.into, size)
    found = _NARROWED.get(key)
    if found is None:
        target = scan.narrowable.get(scan.keys.into) or exp.column(scan.keys.into)
        condition = exp.In(
            this=target.copy(), expressions=[exp.Placeholder(this=f"k{i}") for i in range(size)]
        )
        statement = scan.statement.copy().where(condition, copy=False)
        assert scan.table.database is not None
        found = (statement, render(statement, scan.table.database.sql_dialect))
        _NARROWED[key] = found
        if len(_NARROWED) > 1024:
            _NARROWED.pop(next(iter(_NARROWED)))
    return found


def render(statement: exp.Expr, dialect: str) -> str:
    """A SELECT in a database's dialect, parameters as ``:name``, every identifier
    quoted (a table or column named ``Accounts`` is not ``accounts`` to PostgreSQL)."""
    return statement.transform(
        lambda n: exp.var(f":{n.name}") if isinstance(n, exp.Placeholder) else n
    ).sql(dialect=dialect or None, identify=True)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a View column type: string, integer, number, boolean, date, date-time


@dataclass(frozen=True)
class Plan:
    sql: str  # what DuckDB runs over the scans
    scans: tuple[Scan, ...]
    columns: tuple[Column, ...]
    views: tuple[str, ...]  # the Views the query read, directly or through others
    passthrough: bool = False  # the one scan's rows are the answer: DuckDB has nothing to do
    parameters: tuple[str, ...] = ()  # the template's parameters ``sql`` uses ($vN)
    values: Mapping[str, Any] = field(default_factory=dict)  # what they are bound to

    def bind(self, values: Mapping[str, Any]) -> Plan:
        """The plan for one call of its template."""
        scans = tuple(scan.bind(values) for scan in self.scans)
        return replace(self, scans=scans, values=dict(values))
