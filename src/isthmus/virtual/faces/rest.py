"""Views as REST collections: ``GET /{api}/{version}/{view}`` for each View a version
publishes, and any route whose target is a View.

The gateway's collection conventions apply (``limit`` + ``cursor``, ``sort``, one
equality per field, an OData ``filter``), but here they become SQL over the View, so
the sources filter, sort and page rather than the gateway: the next page is the rows
after the last one served (keyset), asked of the sources again. A route with path
parameters answers the one row whose columns of those names equal them.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from isthmus.errors import NotFound
from isthmus.gateway.collections import CollectionQuery, next_link
from isthmus.gateway.filtering import FilterInvalid
from isthmus.gateway.http import GatewayRequest, GatewayResponse
from isthmus.gateway.routing import Match
from isthmus.gateway.snapshot import Caller, Snapshot
from isthmus.gateway.validation import RequestInvalid
from isthmus.model import ViewTarget
from isthmus.virtual.faces.common import json_answer
from isthmus.virtual.faces.keyset import after, column, literal, order_by, token
from isthmus.virtual.filters import filter_sql
from isthmus.virtual.names import DIALECT
from isthmus.virtual.service import Access, ViewUnavailable, VirtualData
from isthmus.virtual.shapes import ViewShape


class RowNotFound(NotFound):
    code = "row-not-found"
    title = "No row has that key"
    remediation = "Check the key; list the collection to see which rows exist."


async def answer(
    request: GatewayRequest,
    match: Match,
    snapshot: Snapshot,
    caller: Caller,
    virtual: VirtualData,
    link_base: str,
) -> GatewayResponse:
    target = match.route.route.target
    assert isinstance(target, ViewTarget)
    shape = snapshot.view_shapes.get(target.view)
    if shape is None or snapshot.catalog is None:
        problem = snapshot.view_problems.get(target.view)
        raise problem or ViewUnavailable(f"View '{target.view}' is not available.")
    columns = exp.select("*").from_(exp.to_table(target.view))
    for name, value in match.params.items():
        columns = columns.where(_equals(name, value, shape), copy=False)
    query: CollectionQuery | None = request.collection  # None: one row, by path parameters
    statement = columns.limit(2) if query is None else _page_statement(columns, query, shape)
    access = Access(frozenset({target.view}))
    result = await virtual.query(
        statement.sql(dialect=DIALECT), snapshot.catalog, caller.environment, access, caller.app
    )
    if query is None:
        if not result.rows:
            raise RowNotFound(f"No row of '{target.view}' has that key.")
        return json_answer(200, result.rows[0])
    body: dict[str, Any] = {"value": result.rows[: query.limit]}
    if len(result.rows) > query.limit:
        last = result.rows[query.limit - 1]
        cursor = token([last.get(n) for n, _ in query.sort], query.fingerprint)
        body["nextLink"] = next_link(link_base, query.params, cursor)
    return json_answer(200, body)


def _page_statement(select: exp.Select, query: CollectionQuery, shape: ViewShape) -> exp.Select:
    types = shape.types
    for name, value in query.equals:
        select = select.where(exp.EQ(this=column(name), expression=literal(value)), copy=False)
    text = next((v for k, v in query.params if k == "filter"), None)
    if text:
        try:
            select = select.where(filter_sql(text, types), copy=False)
        except FilterInvalid as exc:
            raise RequestInvalid(
                "The request has 1 problem(s); nothing was sent to the backend.",
                extensions={"errors": [{"pointer": "/query/filter", "message": str(exc)}]},
            ) from None
    if query.after is not None:
        select = select.where(after(query.sort, query.after), copy=False)
    return order_by(select, query.sort).limit(query.limit + 1, copy=False)


def _equals(name: str, text: str, shape: ViewShape) -> exp.Expr:
    """A path parameter as a condition on the column of its name, typed as the column."""
    kind = shape.types.get(name)
    if kind is None:
        raise ViewUnavailable(f"The route's parameter '{name}' is not a column of the View.")
    value: Any = text
    try:
        if kind == "integer":
            value = int(text)
        elif kind == "number":
            value = float(text)
    except ValueError:
        raise RowNotFound(f"'{text}' is not a {kind}, so no row has it.") from None
    return exp.EQ(this=column(name), expression=literal(value))
