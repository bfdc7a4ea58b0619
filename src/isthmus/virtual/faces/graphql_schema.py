"""The GraphQL schema of a version's Views, built at run time with graphql-core.

For each View ``v``: an object type ``v`` (its columns; its relations as fields that
load the related rows in one query per relation for all parents, through a DataLoader),
a filter input ``v_filter`` (per column comparisons, and/or/not), an order input, and
two query fields: ``v(where, orderBy, limit, after)`` answering a page
``{items, nextCursor, totalCount}`` and ``v_by_key(<key columns>)`` answering one row.
Every field becomes SQL over the View, so the sources filter, sort and page.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aiodataloader import DataLoader
from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
)
from sqlglot import exp

from isthmus.errors import BadRequest
from isthmus.virtual.faces.keyset import after, column, literal, order_by, read_token, token
from isthmus.virtual.filters import like
from isthmus.virtual.shapes import ViewShape

NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
RELATED_LIMIT = 1000  # most rows a relation field gives one parent

Rows = list[dict[str, Any]]
Run = Callable[[str, exp.Select], Awaitable[Rows]]  # (view, statement) → rows


@dataclass
class Context:
    """Per request: how to run SQL over a View, and the loaders relations share."""

    run: Run
    loaders: dict[tuple[str, str], DataLoader[Any, Any]] = field(default_factory=dict)


_SCALARS: dict[str, GraphQLScalarType] = {
    "string": GraphQLString,
    "integer": GraphQLInt,
    "number": GraphQLFloat,
    "boolean": GraphQLBoolean,
    "date": GraphQLString,
    "date-time": GraphQLString,
}
_DIRECTION = GraphQLEnumType("Direction", {"ASC": False, "DESC": True})


def _comparison(kind: str) -> GraphQLInputObjectType:
    scalar = _SCALARS[kind]
    fields: dict[str, GraphQLInputField] = {
        op: GraphQLInputField(scalar) for op in ("eq", "ne", "lt", "le", "gt", "ge")
    }
    fields["in"] = GraphQLInputField(GraphQLList(GraphQLNonNull(scalar)))
    fields["isNull"] = GraphQLInputField(GraphQLBoolean)
    if kind == "string":
        for op in ("contains", "startsWith", "endsWith"):
            fields[op] = GraphQLInputField(GraphQLString)
    return GraphQLInputObjectType(f"{kind.replace('-', '_').title().replace('_', '')}Comparison",
                                  fields)  # fmt: skip


_COMPARISONS = {kind: _comparison(kind) for kind in _SCALARS}
_BINARY = {"eq": exp.EQ, "ne": exp.NEQ, "lt": exp.LT, "le": exp.LTE, "gt": exp.GT, "ge": exp.GTE}
_PATTERNS = {"contains": "%{}%", "startsWith": "{}%", "endsWith": "%{}"}


def build_schema(shapes: Mapping[str, ViewShape]) -> GraphQLSchema:
    objects: dict[str, GraphQLObjectType] = {}
    query: dict[str, GraphQLField] = {}
    for shape in shapes.values():
        objects[shape.name] = _object(shape, shapes, objects)
    for shape in shapes.values():
        query.update(_query_fields(shape, objects[shape.name]))
    return GraphQLSchema(GraphQLObjectType("Query", query))


def graphql_columns(shape: ViewShape) -> list[str]:
    return [c.name for c in shape.columns if NAME.match(c.name) and not c.name.startswith("__")]


def _object(
    shape: ViewShape, shapes: Mapping[str, ViewShape], objects: dict[str, GraphQLObjectType]
) -> GraphQLObjectType:
    def fields() -> dict[str, GraphQLField]:
        found = {
            name: GraphQLField(
                _SCALARS[shape.types[name]],
                description=shape.description(name),
                resolve=_value_of(name),
            )
            for name in graphql_columns(shape)
        }
        for name, relation in shape.view.spec.relations.items():
            if relation.view not in shapes or not NAME.match(name):
                continue
            target = objects[relation.view]
            kind: Any = (
                GraphQLNonNull(GraphQLList(GraphQLNonNull(target))) if relation.many else target
            )
            mine, theirs = next(iter(relation.on.items()))
            found[name] = GraphQLField(
                kind,
                description=f"Rows of {relation.view} whose {theirs} is this row's {mine}.",
                resolve=_related(relation.view, mine, theirs, relation.many),
            )
        return found

    description = shape.view.metadata.description
    return GraphQLObjectType(shape.name, fields, description=description)


def _value_of(name: str) -> Callable[..., Any]:
    def resolve(row: Mapping[str, Any], info: GraphQLResolveInfo[Context]) -> Any:
        value = row.get(name)
        if isinstance(value, datetime):
            return value.isoformat() + ("Z" if value.tzinfo is None else "")
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, Decimal):
            return float(value)
        return value

    return resolve


def _related(view: str, mine: str, theirs: str, many: bool) -> Callable[..., Any]:
    async def resolve(row: Mapping[str, Any], info: GraphQLResolveInfo[Context]) -> Any:
        key = row.get(mine)
        if key is None:
            return [] if many else None
        context: Context = info.context
        loader = context.loaders.get((view, theirs))
        if loader is None:
            loader = DataLoader(_batch(context, view, theirs))
            context.loaders[(view, theirs)] = loader
        found: Rows = await loader.load(key)
        return found if many else (found[0] if found else None)

    return resolve


def _batch(
    context: Context, view: str, theirs: str
) -> Callable[[list[Any]], Coroutine[Any, Any, list[Any]]]:
    async def load(keys: list[Any]) -> list[Any]:
        statement = exp.select("*").from_(exp.to_table(view))
        # no LIMIT: one parent's many rows must not crowd out another's (the query's
        # scan cap bounds the whole); each parent gets at most RELATED_LIMIT below
        statement = statement.where(
            exp.In(this=column(theirs), expressions=[literal(k) for k in keys])
        )
        rows = await context.run(view, statement)
        grouped: dict[Any, Rows] = {}
        for row in rows:
            grouped.setdefault(row.get(theirs), []).append(row)
        return [grouped.get(key, [])[:RELATED_LIMIT] for key in keys]

    return load


def _query_fields(shape: ViewShape, object_type: GraphQLObjectType) -> dict[str, GraphQLField]:
    name = shape.name
    names = graphql_columns(shape)
    filter_type = GraphQLInputObjectType(
        f"{name}_filter", lambda: _filter_fields(shape, filter_type)
    )
    field_enum = GraphQLEnumType(f"{name}_field", {n: n for n in names})
    order = GraphQLInputObjectType(
        f"{name}_order",
        {
            "field": GraphQLInputField(GraphQLNonNull(field_enum)),
            "direction": GraphQLInputField(_DIRECTION, default_value=False),
        },
    )
    page = GraphQLObjectType(
        f"{name}_page",
        {
            "items": GraphQLField(GraphQLNonNull(GraphQLList(GraphQLNonNull(object_type)))),
            "nextCursor": GraphQLField(GraphQLString, description="Give as 'after' for more."),
            "totalCount": GraphQLField(
                GraphQLNonNull(GraphQLInt),
                description="Rows matching 'where'.",
                resolve=_total(shape),
            ),
        },
    )
    fields = {
        name: GraphQLField(
            GraphQLNonNull(page),
            {
                "where": GraphQLArgument(filter_type),
                "orderBy": GraphQLArgument(GraphQLList(GraphQLNonNull(order))),
                "limit": GraphQLArgument(GraphQLInt, default_value=DEFAULT_LIMIT),
                "after": GraphQLArgument(GraphQLString),
            },
            resolve=_page(shape),
            description=shape.view.metadata.description,
        )
    }
    key = [k for k in shape.key if k in names]
    if key:
        fields[f"{name}_by_key"] = GraphQLField(
            object_type,
            {k: GraphQLArgument(GraphQLNonNull(_SCALARS[shape.types[k]])) for k in key},
            resolve=_one(shape),
        )
    return fields


def _filter_fields(
    shape: ViewShape, itself: GraphQLInputObjectType
) -> dict[str, GraphQLInputField]:
    fields = {
        "and": GraphQLInputField(GraphQLList(GraphQLNonNull(itself))),
        "or": GraphQLInputField(GraphQLList(GraphQLNonNull(itself))),
        "not": GraphQLInputField(itself),
    }
    for name in graphql_columns(shape):
        fields[name] = GraphQLInputField(_COMPARISONS[shape.types[name]])
    return fields


def condition(where: Mapping[str, Any]) -> exp.Expr:
    """A ``v_filter`` input as SQL (all of its parts must hold)."""
    parts: list[exp.Expr] = []
    for name, value in where.items():
        if value is None:
            continue
        if name == "and":
            parts += [exp.Paren(this=condition(w)) for w in value]
        elif name == "or":
            alternatives = [exp.Paren(this=condition(w)) for w in value]
            parts.append(exp.Paren(this=exp.or_(*alternatives)) if alternatives else exp.false())
        elif name == "not":
            parts.append(exp.Not(this=exp.Paren(this=condition(value))))
        else:
            parts += _comparisons(name, value)
    return exp.and_(*parts) if parts else exp.true()


def _comparisons(name: str, tests: Mapping[str, Any]) -> list[exp.Expr]:
    parts: list[exp.Expr] = []
    for op, value in tests.items():
        if op == "isNull":
            if value is not None:
                test = exp.Is(this=column(name), expression=exp.null())
                parts.append(test if value else exp.Not(this=test))
        elif value is None:
            continue
        elif op == "in":
            parts.append(exp.In(this=column(name), expressions=[literal(v) for v in value]))
        elif op in _PATTERNS:
            parts.append(like(column(name), _PATTERNS[op], value))
        else:
            parts.append(_BINARY[op](this=column(name), expression=literal(value)))
    return parts


def _page(shape: ViewShape) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def resolve(
        _root: Any,
        info: GraphQLResolveInfo[Context],
        where: Mapping[str, Any] | None = None,
        orderBy: list[Mapping[str, Any]] | None = None,
        limit: int = DEFAULT_LIMIT,
        after: str | None = None,
    ) -> dict[str, Any]:
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit is from 1 to {MAX_LIMIT}.")
        sort = _sort(shape, orderBy or [])
        statement = exp.select("*").from_(exp.to_table(shape.name))
        if where:
            statement = statement.where(condition(where))
        if after is not None:
            statement = statement.where(_after_cursor(after, sort))
        context: Context = info.context
        rows = await context.run(shape.name, order_by(statement, sort).limit(limit + 1))
        page: dict[str, Any] = {"items": rows[:limit], "where": where}
        if len(rows) > limit:
            last = [rows[limit - 1].get(n) for n, _ in sort]
            page["nextCursor"] = token(last, _fingerprint(sort))
        return page

    return resolve


def _total(shape: ViewShape) -> Callable[..., Awaitable[int]]:
    async def resolve(page: Mapping[str, Any], info: GraphQLResolveInfo[Context]) -> int:
        counted = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_(
            exp.to_table(shape.name)
        )
        if page.get("where"):
            counted = counted.where(condition(page["where"]))
        context: Context = info.context
        rows = await context.run(shape.name, counted)
        return int(rows[0]["n"])

    return resolve


def _one(shape: ViewShape) -> Callable[..., Awaitable[dict[str, Any] | None]]:
    async def resolve(
        _root: Any, info: GraphQLResolveInfo[Context], **key: Any
    ) -> dict[str, Any] | None:
        statement = exp.select("*").from_(exp.to_table(shape.name))
        for name, value in key.items():
            statement = statement.where(exp.EQ(this=column(name), expression=literal(value)))
        context: Context = info.context
        rows = await context.run(shape.name, statement.limit(1))
        return rows[0] if rows else None

    return resolve


def _sort(shape: ViewShape, order: list[Mapping[str, Any]]) -> tuple[tuple[str, bool], ...]:
    sort: list[tuple[str, bool]] = []
    for item in order:
        if item["field"] not in (n for n, _ in sort):
            sort.append((item["field"], bool(item.get("direction"))))
    for name in shape.key:
        if name not in (n for n, _ in sort):
            sort.append((name, False))
    return tuple(sort)


def _after_cursor(text: str, sort: tuple[tuple[str, bool], ...]) -> exp.Expr:
    last = read_token(text, _fingerprint(sort), len(sort))
    if last is None:
        raise BadRequest("'after' is not a cursor given for this orderBy.")
    return after(sort, last)


def _fingerprint(sort: tuple[tuple[str, bool], ...]) -> str:
    return ",".join(("-" if desc else "") + name for name, desc in sort)
