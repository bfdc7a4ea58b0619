"""OData filter expressions as SQL over a View: the ``filter`` of REST collections and
OData's ``$filter`` both become a WHERE the planner can send down to the sources.

``odata-query`` parses the text; this module checks it against the View's columns
(names, types, a small set of functions, a size limit) and writes it as a sqlglot tree
whose values are literals sqlglot quotes — the planner binds them as parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

from odata_query import ast
from sqlglot import exp

from isthmus.gateway.filtering import MAX_NODES, FilterInvalid, moment, parse_filter

_COMPARE: dict[type, Callable[..., exp.Expr]] = {
    ast.Eq: exp.EQ,
    ast.NotEq: exp.NEQ,
    ast.Lt: exp.LT,
    ast.LtE: exp.LTE,
    ast.Gt: exp.GT,
    ast.GtE: exp.GTE,
}
_PATTERNS = {"contains": "%{}%", "startswith": "{}%", "endswith": "%{}"}
_CASES: dict[str, type[exp.Expr]] = {"tolower": exp.Lower, "toupper": exp.Upper}
_PARTS = {"year": "YEAR", "month": "MONTH", "day": "DAY", "hour": "HOUR"}
_NUMBERS = ("integer", "number")


def filter_sql(text: str, columns: Mapping[str, str]) -> exp.Expr:
    """The condition ``text`` states, over ``columns`` (name → View column type)."""
    return _Writer(columns).boolean(parse_filter(text))


class _Writer:
    def __init__(self, columns: Mapping[str, str]) -> None:
        self.columns = columns
        self.nodes = 0

    def _count(self) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise FilterInvalid(f"has more than {MAX_NODES} parts")

    def boolean(self, node: Any) -> exp.Expr:
        self._count()
        if isinstance(node, ast.BoolOp):
            left, right = self.boolean(node.left), self.boolean(node.right)
            joined = exp.And if isinstance(node.op, ast.And) else exp.Or
            return exp.Paren(this=joined(this=left, expression=right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return exp.Not(this=exp.Paren(this=self.boolean(node.operand)))
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._text_test(node)
        if isinstance(node, ast.Identifier):
            column, _ = self._column(node, "boolean")
            return exp.EQ(this=column, expression=exp.true())
        raise FilterInvalid("must be made of comparisons joined by 'and', 'or' and 'not'")

    def _column(self, node: Any, *types: str) -> tuple[exp.Expr, str]:
        if not isinstance(node, ast.Identifier) or node.namespace:
            raise FilterInvalid("compares something other than a field")
        kind = self.columns.get(node.name)
        if kind is None:
            raise FilterInvalid(f"names '{node.name}'; fields: {sorted(self.columns)}")
        if types and kind not in types:
            raise FilterInvalid(f"uses '{node.name}' ({kind}) as {' or '.join(types)}")
        return exp.column(node.name, quoted=True), kind

    def _operand(self, node: Any) -> tuple[exp.Expr, str]:
        """A field, or a date part of one (year(created) eq 2026)."""
        if isinstance(node, ast.Call) and node.func.name in _PARTS and len(node.args) == 1:
            self._count()
            column, _ = self._column(node.args[0], "date", "date-time")
            unit = exp.var(_PARTS[node.func.name])
            return exp.Extract(this=unit, expression=column), "integer"
        return self._column(node)

    def _compare(self, node: ast.Compare) -> exp.Expr:
        column, kind = self._operand(node.left)
        name = node.left.name if isinstance(node.left, ast.Identifier) else "the field"
        if isinstance(node.comparator, ast.In):
            if not isinstance(node.right, ast.List):
                raise FilterInvalid("needs a list after 'in', e.g. country in ('GB', 'FR')")
            values = [self._literal(item, kind, name) for item in node.right.val]
            return exp.In(this=column, expressions=values)
        build = _COMPARE.get(type(node.comparator))
        if build is None:
            raise FilterInvalid("uses a comparison other than eq, ne, lt, le, gt, ge, in")
        value = self._literal(node.right, kind, name)
        if isinstance(value, exp.Null):  # 'eq null' / 'ne null'
            if isinstance(node.comparator, ast.Eq):
                return exp.Is(this=column, expression=exp.null())
            if isinstance(node.comparator, ast.NotEq):
                return exp.Not(this=exp.Is(this=column, expression=exp.null()))
            raise FilterInvalid(f"orders '{name}' against null")
        return build(this=column, expression=value)

    def _text_test(self, node: ast.Call) -> exp.Expr:
        function = node.func.name
        if function not in _PATTERNS or len(node.args) != 2:
            raise FilterInvalid(
                f"calls '{function}'; functions: contains, startswith, endswith (of a field "
                "or of tolower/toupper of one) with a text; year, month, day, hour of a time"
            )
        self._count()
        subject: Any = node.args[0]
        change: type[exp.Expr] | None = None
        if isinstance(subject, ast.Call) and subject.func.name in _CASES:
            change = _CASES[subject.func.name]
            subject = subject.args[0] if len(subject.args) == 1 else None
        column, _ = self._column(subject, "string")
        part = node.args[1]
        if not isinstance(part, ast.String):
            raise FilterInvalid(f"'{function}' needs a text to look for")
        target = change(this=column) if change else column
        return like(target, _PATTERNS[function], str(part.val))

    def _literal(self, node: Any, kind: str, name: str) -> exp.Expr:
        self._count()
        if isinstance(node, ast.Null):
            return exp.null()
        convert = _LITERALS.get((type(node), kind))
        if convert is None:
            raise FilterInvalid(f"compares '{name}' ({kind}) with a value of another type")
        try:
            return convert(node.val)
        except ValueError:
            raise FilterInvalid(f"has a value for '{name}' that is not a valid {kind}") from None


def like(target: exp.Expr, pattern: str, text: str) -> exp.Expr:
    """``target LIKE pattern`` with ``text`` in the pattern's ``{}`` matched literally
    (its ``%``, ``_`` and ``\\`` escaped)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    matched = exp.Like(this=target, expression=exp.Literal.string(pattern.format(escaped)))
    if escaped != text:
        return exp.Escape(this=matched, expression=exp.Literal.string("\\"))
    return matched


def _moment(text: Any) -> exp.Expr:
    value = moment(str(text))
    if value.tzinfo is not None:  # times are kept in UTC without a zone
        value = value.astimezone(UTC).replace(tzinfo=None)
    return exp.Cast(
        this=exp.Literal.string(value.isoformat(sep=" ")), to=exp.DataType.build("TIMESTAMP")
    )


def _day(text: Any) -> exp.Expr:
    return exp.Cast(this=exp.Literal.string(str(text)[:10]), to=exp.DataType.build("DATE"))


_LITERALS: dict[tuple[type, str], Callable[[Any], exp.Expr]] = {
    (ast.String, "string"): lambda v: exp.Literal.string(str(v)),
    (ast.Integer, "integer"): lambda v: exp.Literal.number(int(v)),
    (ast.Integer, "number"): lambda v: exp.Literal.number(int(v)),
    (ast.Float, "number"): lambda v: exp.Literal.number(float(v)),
    (ast.Boolean, "boolean"): lambda v: exp.true() if v in (True, "true") else exp.false(),
    (ast.DateTime, "date-time"): _moment,
    (ast.String, "date-time"): _moment,
    (ast.Date, "date-time"): _moment,
    (ast.Date, "date"): _day,
    (ast.String, "date"): _day,
    (ast.DateTime, "date"): _day,
}
