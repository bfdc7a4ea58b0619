"""Query templates: the values a query compares columns with, taken out so that queries
differing only in them share one plan.

Planning costs milliseconds (sqlglot qualifies, rewrites and annotates the tree); the
faces send the same query shapes again and again with other values (a lookup by id, the
next page after a cursor). Each value compared with a column (``=``, ``<``…, ``IN``,
``BETWEEN``) becomes a named parameter ``vN``; the plan carries them as :class:`Param`
and is bound to the values of each call. Other constants (LIMIT counts, LIKE patterns,
casts) stay in the template: they shape the plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlglot import exp

Convert = Literal["date", "datetime"] | None

_COMPARED = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)


@dataclass(frozen=True)
class Param:
    """A value the plan is bound to later; ``convert`` turns text into a date or time
    where it is compared with such a column (drivers want the kind itself)."""

    name: str
    convert: Convert = None

    def value(self, values: Mapping[str, Any]) -> Any:
        found = values[self.name]
        if isinstance(found, str) and self.convert is not None:
            try:
                if self.convert == "date":
                    return date.fromisoformat(found[:10])
                return datetime.fromisoformat(found.replace("Z", "+00:00")).replace(tzinfo=None)
            except ValueError:
                return found  # the source says what is wrong with it
        return found


def resolve(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` with every :class:`Param` in it (lists too) replaced by its value."""
    if isinstance(value, Param):
        return value.value(values)
    if isinstance(value, list):
        return [resolve(v, values) for v in value]
    return value


def templatize(tree: exp.Expr) -> tuple[exp.Expr, dict[str, Any]]:
    """``tree`` with its compared values replaced by ``:vN`` placeholders (in place),
    and those values by name."""
    values: dict[str, Any] = {}
    names: dict[tuple[type, Any], str] = {}
    for node in list(tree.walk()):
        for operand in _compared_values(node):
            found, value = _literal(operand)
            if found:
                # one value, one parameter: a database matches GROUP BY expressions to
                # the select list by their text, parameters included
                name = names.setdefault((type(value), value), f"v{len(names)}")
                values[name] = value
                operand.replace(exp.Placeholder(this=name))
    return tree, values


def key_of(template: exp.Expr, values: Mapping[str, Any]) -> tuple[object, ...]:
    """What a plan is cached under: the template, and the kinds of its values."""
    return (template.sql(), tuple(type(v).__name__ for v in values.values()))


def _compared_values(node: exp.Expr) -> list[exp.Expr]:
    if isinstance(node, _COMPARED):
        sides = [node.left, node.right]
        if any(isinstance(s, exp.Column) for s in sides):
            return [s for s in sides if not isinstance(s, exp.Column)]
        return []
    if isinstance(node, exp.In) and isinstance(node.this, exp.Column):
        if node.args.get("query") or node.args.get("unnest"):
            return []
        return list(node.expressions)
    if isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
        return [node.args["low"], node.args["high"]]
    return []


def _literal(node: exp.Expr) -> tuple[bool, Any]:
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        found, value = _literal(node.this)
        return found, -value if found else None
    if not isinstance(node, exp.Literal):
        return False, None
    if node.is_string:
        return True, node.name
    try:
        return True, int(node.name)
    except ValueError:
        try:
            return True, float(node.name)
        except ValueError:
            return False, None
