"""GraphQL over the Views a version publishes: ``POST /{api}/{version}/graphql``.

The body is ``{"query", "variables", "operationName"}``. Before anything runs the
document is parsed, validated against the schema, and held to a depth limit and a cost
limit (each field costs 1; what a page holds, times its ``limit``; what a relation
holds, times an estimate), so one request cannot ask the sources for an unbounded amount
of work. The measure is ours: graphql-complexity crashed on variables without defaults
and on fields without arguments, and counts only list fields, not pages. A request refused
before it runs is a problem document (with GraphQL's ``errors`` member too); errors
while running are reported in ``errors`` with a stable code and a remediation, never
a stack trace.
"""

from __future__ import annotations

from inspect import isawaitable
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    execute,
    get_named_type,
    parse,
    validate,
)
from graphql.error import GraphQLSyntaxError
from sqlglot import exp

from isthmus.errors import BadRequest, FatalError, IsthmusError
from isthmus.gateway.http import GatewayRequest, GatewayResponse
from isthmus.gateway.snapshot import Caller, Snapshot
from isthmus.gateway.validation import parse_json_body
from isthmus.virtual.faces.common import json_answer
from isthmus.virtual.faces.graphql_schema import DEFAULT_LIMIT, Context, Rows, build_schema
from isthmus.virtual.names import DIALECT
from isthmus.virtual.service import Access, VirtualData

SEGMENT = "graphql"
MAX_DEPTH = 6
MAX_COST = 20_000
MAX_QUERY_CHARACTERS = 20_000
RELATED_ESTIMATE = 20  # rows a relation to many is counted as giving each parent


class GraphQLRefused(FatalError):
    status = 400
    code = "graphql-invalid"
    title = "The GraphQL request cannot run"
    remediation = "Fix the query as the 'errors' say; the schema is open to introspection."


class GraphQLTooCostly(FatalError):
    status = 422
    code = "graphql-too-costly"
    title = "The GraphQL query asks for too much at once"
    remediation = (
        f"Nest fewer levels (at most {MAX_DEPTH}) or ask for fewer rows per list ('limit'), "
        "and page with 'after'."
    )


def split(path: str) -> tuple[str, str] | None:
    """``(api, version)`` for ``/{api}/{version}/graphql``, else None."""
    parts = path.split("/")
    if len(parts) == 4 and parts[3] == SEGMENT:
        return parts[1], parts[2]
    return None


class Schemas:
    """The schema of each version, built once per snapshot on first use."""

    def __init__(self) -> None:
        self._revision = -1
        self._built: dict[str, GraphQLSchema] = {}

    def of(self, snapshot: Snapshot, api: str) -> GraphQLSchema:
        if snapshot.revision != self._revision:
            self._built.clear()
            self._revision = snapshot.revision
        if api not in self._built:
            views = sorted(snapshot.published_views.get(api, ()))
            shapes = {v: snapshot.view_shapes[v] for v in views if v in snapshot.view_shapes}
            if not shapes:
                raise GraphQLRefused(f"Api '{api}' publishes no Views to query.")
            self._built[api] = build_schema(shapes)
        return self._built[api]


async def answer(
    request: GatewayRequest,
    snapshot: Snapshot,
    caller: Caller,
    virtual: VirtualData,
    schema: GraphQLSchema,
) -> GatewayResponse:
    body = parse_json_body(request) if request.body else None
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise BadRequest('Send JSON: {"query": "{ … }", "variables": {…}}.')
    if len(body["query"]) > MAX_QUERY_CHARACTERS:
        raise GraphQLRefused(f"The query is longer than {MAX_QUERY_CHARACTERS:,} characters.")
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        raise BadRequest("'variables' is a JSON object.")
    operation = body.get("operationName")
    try:
        document = parse(body["query"])
    except GraphQLSyntaxError as error:
        raise _refused([error]) from None
    problems = validate(schema, document)
    if problems:
        raise _refused(problems)
    depth, cost = measure(document, schema, variables, operation)
    if depth > MAX_DEPTH:
        raise GraphQLTooCostly(f"The query nests {depth} levels; at most {MAX_DEPTH}.")
    if cost > MAX_COST:
        raise GraphQLTooCostly(
            f"The query could cost {cost:,} (rows times fields); at most {MAX_COST:,}."
        )

    async def run(view: str, statement: exp.Select) -> Rows:
        assert snapshot.catalog is not None
        result = await virtual.query(
            statement.sql(dialect=DIALECT),
            snapshot.catalog,
            caller.environment,
            Access(frozenset({view})),
            caller.app,
        )
        return result.rows

    result = execute(
        schema, document, context_value=Context(run), variable_values=variables,
        operation_name=operation,
    )  # fmt: skip
    if isawaitable(result):
        result = await result
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [_error(e) for e in result.errors]
    return json_answer(200, payload, b"application/graphql-response+json")


def _refused(errors: list[GraphQLError]) -> GraphQLRefused:
    messages = [e.message for e in errors]
    return GraphQLRefused(
        "; ".join(messages)[:500], extensions={"errors": [{"message": m} for m in messages]}
    )


def _error(error: GraphQLError) -> dict[str, Any]:
    """A field's failure as GraphQL reports it: the hub's problem code and remediation
    where it is one of the hub's errors, else a plain message (no internals)."""
    cause = error.original_error
    entry: dict[str, Any] = {"path": error.path}
    if cause is None:
        entry["message"] = error.message
    elif isinstance(cause, IsthmusError):
        entry["message"] = cause.detail
        entry["extensions"] = {"code": cause.code, "remediation": cause.remediation}
    else:
        entry["message"] = "The field could not be resolved."
        entry["extensions"] = {"code": "internal-error"}
    return entry


def measure(
    document: DocumentNode,
    schema: GraphQLSchema,
    variables: dict[str, Any],
    operation: str | None = None,
) -> tuple[int, int]:
    """The deepest nesting of fields and the estimated cost of the operation that runs
    (``operation``, or the document's only one), fragments followed; introspection
    fields (``__schema``…) are free."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }

    def walk(
        selection: SelectionSetNode | None, parent: Any, seen: frozenset[str]
    ) -> tuple[int, int]:
        depth = cost = 0
        for node in selection.selections if selection else ():
            if isinstance(node, FieldNode):
                if node.name.value.startswith("__"):
                    continue
                definition = parent.fields.get(node.name.value) if parent else None
                returned = get_named_type(definition.type) if definition else None
                inner_depth, inner_cost = walk(node.selection_set, returned, seen)
                times = _times(node, definition, returned, variables)
                depth = max(depth, 1 + inner_depth)
                cost += 1 + times * inner_cost
            elif isinstance(node, InlineFragmentNode | FragmentSpreadNode):
                if isinstance(node, FragmentSpreadNode):
                    name = node.name.value
                    fragment = fragments.get(name)
                    if fragment is None or name in seen:
                        continue
                    inner, seen = fragment.selection_set, seen | {name}
                else:
                    inner = node.selection_set
                inner_depth, inner_cost = walk(inner, parent, seen)
                depth, cost = max(depth, inner_depth), cost + inner_cost
        return depth, cost

    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [
        d
        for d in operations
        if operation is None or (d.name is not None and d.name.value == operation)
    ]
    found = [walk(d.selection_set, schema.query_type, frozenset()) for d in chosen]
    return max((d for d, _ in found), default=0), max((c for _, c in found), default=0)


def _times(node: FieldNode, definition: Any, returned: Any, variables: dict[str, Any]) -> int:
    """How many rows a field's selection is asked of: a page its limit, a relation
    to many its estimate, anything else once."""
    if definition is None:
        return 1
    if returned is not None and returned.name.endswith("_page"):
        given = next((a.value for a in node.arguments or () if a.name.value == "limit"), None)
        if isinstance(given, IntValueNode):
            return max(1, int(given.value))  # a limit below 1 is refused when it runs
        if isinstance(given, VariableNode):
            value = variables.get(given.name.value)
            return max(1, value) if isinstance(value, int) else DEFAULT_LIMIT
        return DEFAULT_LIMIT
    if isinstance(getattr(definition.type, "of_type", None), GraphQLList):
        return RELATED_ESTIMATE
    return 1
