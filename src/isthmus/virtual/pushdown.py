"""What a source can be asked to do: predicates it can filter on, and SQL it can run.

Only predicates that are false for a missing value (comparisons, IN, LIKE, BETWEEN
against constants) are sent below a join: pushing ``x IS NULL`` under the optional side
of an outer join would change the answer. A stream's filters are applied again in
DuckDB, so a stream that filters loosely (case-insensitively, inclusively) costs rows,
not correctness; a part sent to a database whole is that database's answer, by its
rules (its collation among them: see the docs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlglot import exp

from isthmus.connectors.base import Filter, FilterOp
from isthmus.virtual.template import Param

_COMPARISONS: dict[type[exp.Expr], FilterOp] = {
    exp.EQ: "eq",
    exp.NEQ: "ne",
    exp.LT: "lt",
    exp.LTE: "le",
    exp.GT: "gt",
    exp.GTE: "ge",
}
_FLIPPED: dict[FilterOp, FilterOp] = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}

# Functions every SQL database the connector reaches spells the same way after sqlglot
# translates them; a scope using any other function is run in DuckDB instead.
PUSHABLE_FUNCTIONS: frozenset[type[exp.Expr]] = frozenset(
    {exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Coalesce, exp.Lower, exp.Upper,
     exp.Abs, exp.Round, exp.Cast, exp.Case, exp.If, exp.Length, exp.Trim, exp.Substring,
     exp.Nullif, exp.And, exp.Or, exp.Exists, exp.Concat}
)  # fmt: skip
# Operators databases disagree on: '/' on integers divides whole in PostgreSQL and SQLite,
# exactly in DuckDB.
_UNPUSHABLE = (exp.Window, exp.Div, exp.IntDiv)


@dataclass(frozen=True)
class Predicate:
    """One conjunct on one column of one table: ``alias.column op value``."""

    node: exp.Expr  # the conjunct as written (for SQL sources)
    alias: str
    column: str
    op: FilterOp
    value: Any

    def as_filter(self) -> Filter:
        return Filter(self.column, self.op, self.value)


def conjuncts(condition: exp.Expr | None) -> list[exp.Expr]:
    if condition is None:
        return []
    return list(condition.flatten()) if isinstance(condition, exp.And) else [condition]


def constant(node: exp.Expr) -> tuple[bool, Any]:
    """``(True, value)`` where ``node`` is a literal (or a literal cast to a date or
    time, or a template's parameter: its :class:`Param`), else ``(False, None)``."""
    if isinstance(node, exp.Placeholder) and node.name.startswith("v"):
        return True, Param(node.name)
    if isinstance(node, exp.Neg):
        found, value = constant(node.this)
        return (found and isinstance(value, int | float), -value if found else None)
    if isinstance(node, exp.Boolean):
        return True, node.this
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Literal):
        text = node.this.name
        try:
            if node.to.is_type(exp.DataType.Type.DATE):
                return True, date.fromisoformat(text)
            if node.to.is_type(*exp.DataType.TEMPORAL_TYPES):
                return True, datetime.fromisoformat(text)
        except ValueError:
            return False, None
        return False, None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return True, node.name
        text = node.name
        try:
            return True, int(text)
        except ValueError:
            try:
                return True, float(text)
            except ValueError:
                return False, None
    return False, None


def predicate(node: exp.Expr) -> Predicate | None:
    """The conjunct as a simple predicate on one column, where it is one."""
    if isinstance(node, exp.Binary) and type(node) in _COMPARISONS:
        op = _COMPARISONS[type(node)]
        left, right = node.left, node.right
        if isinstance(right, exp.Column) and not isinstance(left, exp.Column):
            left, right = right, left
            op = _FLIPPED.get(op, op)
        found, value = constant(right)
        if isinstance(left, exp.Column) and left.table and found and value is not None:
            return Predicate(node, left.table, left.name, op, value)
        return None
    if isinstance(node, exp.In) and isinstance(node.this, exp.Column) and node.this.table:
        if node.args.get("query") or node.args.get("unnest") or node.args.get("is_global"):
            return None
        values = [constant(item) for item in node.expressions]
        if values and all(found and v is not None for found, v in values):
            return Predicate(node, node.this.table, node.this.name, "in", [v for _, v in values])
        return None
    if isinstance(node, exp.Like) and isinstance(node.this, exp.Column) and node.this.table:
        found, pattern = constant(node.expression)
        if found and isinstance(pattern, str) and _contains(pattern):
            return Predicate(node, node.this.table, node.this.name, "contains", pattern[1:-1])
    return None


def _contains(pattern: str) -> bool:
    """``'%text%'`` with no other wildcard: a plain substring match."""
    inner = pattern[1:-1]
    return (
        len(pattern) > 2
        and pattern.startswith("%")
        and pattern.endswith("%")
        and not any(c in inner for c in "%_\\")
    )


def split_between(node: exp.Expr) -> list[exp.Expr]:
    """``x BETWEEN a AND b`` as ``x >= a`` and ``x <= b``; other conjuncts as they are."""
    if isinstance(node, exp.Between) and not node.args.get("symmetric"):
        return [
            exp.GTE(this=node.this.copy(), expression=node.args["low"].copy()),
            exp.LTE(this=node.this.copy(), expression=node.args["high"].copy()),
        ]
    return [node]


def pushable(tree: exp.Expr, dialect: str = "") -> bool:
    """Whether every function in ``tree`` can be translated for a source of ``dialect``
    (a DuckDB source runs what DuckDB runs: the query was checked as DuckDB's SQL)."""
    if dialect == "duckdb":
        return True
    for node in tree.walk():
        if isinstance(node, _UNPUSHABLE):
            return False
        if isinstance(node, exp.Func) and type(node) not in PUSHABLE_FUNCTIONS:
            return False
    return True


def parametrize(tree: exp.Expr) -> dict[str, Any]:
    """Turn the constants of ``tree`` into ``:pN`` parameters (in place), so values travel
    bound; LIMIT/OFFSET counts and type names stay as written. One value is one
    parameter wherever it appears: a database matches ``GROUP BY`` expressions to the
    select list by their text, parameters included. Returns the values."""
    values: dict[str, Any] = {}
    names: dict[tuple[type, Any], str] = {}
    for node in list(_constants(tree)):
        found, value = constant(node)
        if not found or value is None or isinstance(value, bool):
            continue
        if isinstance(value, Param):  # a template's: bound when the plan is
            values[value.name] = value
            continue
        name = names.setdefault((type(value), value), f"p{len(names)}")
        values[name] = value
        node.replace(exp.Placeholder(this=name))
    return values


def _constants(tree: exp.Expr) -> Iterator[exp.Expr]:
    """The constants of ``tree`` in the order they are written."""
    if isinstance(tree, exp.Limit | exp.Offset | exp.DataType | exp.Interval):
        return
    if isinstance(tree, exp.Literal | exp.Placeholder) or (
        isinstance(tree, exp.Cast) and isinstance(tree.this, exp.Literal)
    ):
        yield tree
        return
    for child in tree.iter_expressions():
        yield from _constants(child)


def temporal_values(tree: exp.Expr, values: dict[str, Any]) -> None:
    """Text compared with a date or time column becomes a date or time value: drivers
    such as asyncpg refuse text for a timestamp parameter (DuckDB would have cast it)."""
    for node in tree.find_all(exp.Binary):
        if type(node) not in _COMPARISONS:
            continue
        for side, other in ((node.left, node.right), (node.right, node.left)):
            if not (isinstance(side, exp.Placeholder) and isinstance(other, exp.Column)):
                continue
            value, kind = values.get(side.name), other.type
            if kind is None:
                continue
            if isinstance(value, Param):  # converted when bound
                if kind.is_type(exp.DataType.Type.DATE):
                    values[side.name] = Param(value.name, "date")
                elif kind.is_type(*exp.DataType.TEMPORAL_TYPES):
                    values[side.name] = Param(value.name, "datetime")
                continue
            if not isinstance(value, str):
                continue
            try:
                if kind.is_type(exp.DataType.Type.DATE):
                    values[side.name] = date.fromisoformat(value)
                elif kind.is_type(*exp.DataType.TEMPORAL_TYPES):
                    values[side.name] = datetime.fromisoformat(value)
            except ValueError:
                continue
