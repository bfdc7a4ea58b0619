"""``POST /query``: SQL over the Views an App may read.

The body is ``{"sql": "SELECT …", "explain": false}``; the answer
``{"columns": [{"name", "type"}], "value": [rows], "sources": [{"source", "rows",
"requests"}]}``, or with ``explain`` the plan: what each source will be asked for and
what it is expected to cost, without reading anything.
"""

from __future__ import annotations

from isthmus.errors import BadRequest, ConfigurationError
from isthmus.gateway.http import GatewayRequest, GatewayResponse
from isthmus.gateway.snapshot import Caller, Snapshot
from isthmus.gateway.validation import parse_json_body
from isthmus.virtual.faces.common import access_for, json_answer
from isthmus.virtual.service import VirtualData

PATH = "/query"
MAX_SQL_CHARACTERS = 100_000


async def answer(
    request: GatewayRequest, snapshot: Snapshot, caller: Caller, virtual: VirtualData
) -> GatewayResponse:
    if snapshot.catalog is None:
        raise ConfigurationError("The gateway has no catalog of Views loaded.")
    body = parse_json_body(request) if request.body else None
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
        raise BadRequest(
            'Send the query as JSON: {"sql": "SELECT …"}.',
            remediation="POST a JSON object whose 'sql' is one SELECT over your Views.",
        )
    sql = body["sql"]
    if len(sql) > MAX_SQL_CHARACTERS:
        raise BadRequest(f"The query is longer than {MAX_SQL_CHARACTERS:,} characters.")
    explain = body.get("explain", False)
    if not isinstance(explain, bool):
        raise BadRequest("'explain' is true or false.")
    access = access_for(snapshot, caller)
    environment = caller.environment
    if explain:
        plan = await virtual.explain(sql, snapshot.catalog, environment, access)
        return json_answer(200, plan)
    result = await virtual.query(sql, snapshot.catalog, environment, access, caller.app)
    return json_answer(
        200,
        {
            "columns": [{"name": c.name, "type": c.type} for c in result.columns],
            "value": result.rows,
            "sources": [
                {"source": c.source, "rows": c.rows, "requests": c.requests, "cached": c.cached}
                for c in result.counts
            ],
        },
    )
