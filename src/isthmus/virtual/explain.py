"""EXPLAIN: what a query will ask of each source, and what it is expected to cost,
without reading anything (a database's own planner is asked for its row estimate)."""

from __future__ import annotations

import math
from typing import Any

from isthmus.connectors.base import StreamQuery
from isthmus.errors import IsthmusError
from isthmus.virtual.limits import Limits, estimated_calls
from isthmus.virtual.plans import Plan, Scan


async def explain(plan: Plan, limits: Limits) -> dict[str, Any]:
    return {
        "columns": [{"name": c.name, "type": c.type} for c in plan.columns],
        "views": list(plan.views),
        "sources": [await _scan(scan) for scan in plan.scans],
        "rest": plan.sql,  # what DuckDB runs over the sources' rows
        "limits": {
            "timeoutSeconds": limits.timeout_seconds,
            "maxRows": limits.max_rows,
            "maxApiCalls": limits.max_api_calls,
        },
    }


async def _scan(scan: Scan) -> dict[str, Any]:
    entry: dict[str, Any] = {"scan": scan.name, "connection": scan.connection}
    if scan.sql is not None:
        entry |= {"tables": list(scan.tables), "sql": scan.sql, "parameters": scan.params}
        database = scan.table.database
        assert database is not None
        try:
            found = await database.estimate(scan.sql, scan.params)
        except IsthmusError:
            found = None
        rows = None if found is None or found.rows is None else math.ceil(found.rows)
        entry["estimate"] = {"rows": rows, "apiCalls": 0}
    else:
        assert scan.query is not None
        entry |= {"stream": scan.table.spec.name, "request": _request(scan.query)}
        limit = scan.query.limit
        entry["estimate"] = {"rows": limit, "apiCalls": estimated_calls(scan) or 0}
    if scan.keys is not None:
        entry["keysFrom"] = {
            "scan": scan.keys.scan,
            "column": scan.keys.column,
            "into": scan.keys.into,
            "most": scan.max_keys,
        }
    return entry


def _request(query: StreamQuery) -> dict[str, Any]:
    request: dict[str, Any] = {
        "filters": [{"field": f.field, "op": f.op, "value": f.value} for f in query.filters]
    }
    if query.fields is not None:
        request["fields"] = list(query.fields)
    if query.sort:
        request["sort"] = [("-" if desc else "") + name for name, desc in query.sort]
    if query.limit is not None:
        request["limit"] = query.limit
    return request
