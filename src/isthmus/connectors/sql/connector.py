"""The governed SQL connector: a database reached through checked statements.

Every statement goes through the guard (:mod:`guard`), then, for a read, the planner's
cost estimate (:mod:`database`), then runs in its own transaction with a server-side time
limit and a row cap. Named queries become operations, tables become streams with full
pushdown (built with SQLAlchemy Core from the reflected schema, so identifiers are never
text from a caller). Every attempt — run or refused — is audited: who, what, rows, time.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, ClassVar

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from isthmus.connectors.addresses import allowed_addresses
from isthmus.connectors.base import (
    CALLER,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    FilterOp,
    Health,
    OperationSpec,
    Pushdown,
    Record,
    StreamQuery,
    StreamSpec,
    UnknownOperation,
)
from isthmus.connectors.sql.config import SqlConfig
from isthmus.connectors.sql.database import Catalog, bound_time, plan, read_catalog
from isthmus.connectors.sql.guard import Checked, Grants, StatementRefused, check
from isthmus.errors import (
    BadRequest,
    ConfigurationError,
    FatalError,
    IsthmusError,
    NotFound,
    UpstreamTimeout,
    UpstreamUnreachable,
    ValidationFailed,
)
from isthmus.gateway.schemas import SchemaCheck

log = structlog.get_logger(__name__)
ALL_OPS: frozenset[FilterOp] = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "in", "contains"})


class TooCostly(FatalError):
    status = 422
    code = "sql-too-costly"
    title = "The statement would cost more than the Connection allows"
    remediation = "Filter on an indexed column, or ask for fewer rows."


class StatementFailed(FatalError):
    status = 400
    code = "sql-failed"
    title = "The database refused the statement"
    remediation = "Check the values sent (types, constraints) against the table."


class SqlConnector(Connector):
    def __init__(self, config: SqlConfig, context: ConnectorContext) -> None:
        super().__init__(context)
        self.config = config
        self.dialect = config.dialect
        self.engine: AsyncEngine | None = None
        self.catalog: Catalog | None = None
        self.grants = Grants({t.lower(): frozenset(w) for t, w in config.writes.items()})
        self.audit_trail: deque[dict[str, Any]] = deque(maxlen=1000)

    async def __aenter__(self) -> SqlConnector:
        url = make_url(self.config.url)
        if self.config.password:
            url = url.set(password=await self.context.secrets.resolve(self.config.password))
        if url.host:
            # connect to the address judged, not the name: no rebinding in between
            judged = await allowed_addresses(
                url.host, url.port or 0, allow_private=self.config.allow_private_network
            )
            url = url.set(host=judged[0][1])
        self.engine = create_async_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)
        try:
            async with self.engine.connect() as connection:
                self.catalog = await read_catalog(connection, self.config.tables)
        except (OSError, sa.exc.DBAPIError) as exc:
            await self.engine.dispose()
            raise UpstreamUnreachable("The database could not be reached.") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.engine is not None:
            await self.engine.dispose()

    # -- statements ---------------------------------------------------------------------

    async def run(
        self,
        sql: str,
        params: Mapping[str, Any],
        admit: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """One caller's statement, governed; the audit records it either way. ``admit``
        checks what the caller sent before anything else (a named query's parameters)."""
        assert self.engine is not None
        assert self.catalog is not None
        started = time.perf_counter()
        entry: dict[str, Any] = {
            "id": uuid.uuid4().hex[:12],
            "who": CALLER.get() or "unknown",
            "connection": f"{self.context.connection}/{self.context.environment}",
        }
        try:
            if admit is not None:
                admit()
            checked = check(sql, self.dialect, self.catalog.schema, self.grants)  # type: ignore[arg-type]
            entry |= {"kind": checked.kind, "tables": sorted(checked.tables), "sql": checked.sql}
            values = _bound(checked, params)
            result = await self._execute(checked, values)
        except IsthmusError as error:
            entry |= {"outcome": "refused" if error.status < 500 else "failed", "code": error.code}
            raise
        else:
            entry |= {"outcome": "ok", "rows": result.get("count", len(result.get("rows", [])))}
            return result
        finally:
            entry["ms"] = round((time.perf_counter() - started) * 1000, 2)
            self.audit_trail.append(entry)
            log.info("sql.audit", **entry)

    async def _execute(self, checked: Checked, values: dict[str, Any]) -> dict[str, Any]:
        assert self.engine is not None
        assert self.catalog is not None
        limit = self.config.statement_timeout_seconds
        try:
            async with asyncio.timeout(limit + 1):
                async with self.engine.begin() as connection:
                    await bound_time(connection, self.dialect, limit)
                    if checked.kind != "select":
                        result = await connection.execute(sa.text(checked.sql), values)
                        return {"count": result.rowcount}
                    if self.config.max_cost is not None:
                        estimate = await plan(
                            connection, self.dialect, checked.sql, values, set(self.catalog.tables)
                        )
                        if estimate.cost > self.config.max_cost:
                            raise self._too_costly(estimate.cost, estimate.full_scans)
                    result = await connection.execute(sa.text(checked.sql), values)
                    rows = result.mappings().fetchmany(self.config.max_rows + 1)
        except TimeoutError:
            raise _timed_out(limit) from None
        except sa.exc.DBAPIError as exc:
            if _is_timeout(exc):
                raise _timed_out(limit) from None
            if isinstance(exc, sa.exc.OperationalError):
                raise UpstreamUnreachable("The database failed running the statement.") from None
            raise StatementFailed("The database refused the statement or its values.") from None
        kept = [{k: _plain(v) for k, v in row.items()} for row in rows[: self.config.max_rows]]
        return {"rows": kept, "truncated": len(rows) > self.config.max_rows}

    def _too_costly(self, cost: float, scans: tuple[str, ...]) -> TooCostly:
        assert self.catalog is not None
        hints = [
            f"'{t}' is read whole; filter it on an indexed column ({', '.join(cols)})"
            if (cols := self.catalog.indexed.get(t.lower()))
            else f"'{t}' is read whole and has no index to filter on"
            for t in scans
        ]
        return TooCostly(
            f"The statement's planned cost ({cost:,.0f}) is above the Connection's limit "
            f"({self.config.max_cost:,.0f}).",
            remediation="; ".join(hints) + "." if hints else TooCostly.remediation,
            extensions={"plannedCost": cost, "fullScans": list(scans)},
        )

    # -- operations -----------------------------------------------------------------------

    def operations(self) -> Mapping[str, OperationSpec]:
        named = {
            name: OperationSpec(name, q.description, _inputs(q.parameters))
            for name, q in self.config.queries.items()
        }
        named["sql"] = OperationSpec(
            "sql",
            "Run one governed statement: 'sql' with :name parameters, 'params' their values.",
            {"type": "object", "required": ["sql"], "properties": {"sql": {"type": "string"}}},
        )
        return named

    async def call(self, operation: str, payload: Mapping[str, Any]) -> Any:
        if operation == "sql":
            sql = payload.get("sql")
            if not isinstance(sql, str):
                raise BadRequest("Send the statement as 'sql'.")
            return await self.run(sql, payload.get("params") or {})
        query = self.config.queries.get(operation)
        if query is None:
            raise UnknownOperation(f"The connector offers no operation '{operation}'.")

        def admit() -> None:
            problems = []
            for name, schema in query.parameters.items():
                if name not in payload:
                    problems.append({"pointer": f"/{name}", "message": "is required"})
                else:
                    problems += SchemaCheck(schema).problems(payload[name], name)
            if problems:
                raise ValidationFailed(
                    "The parameters do not fit the query; nothing was sent to the database.",
                    extensions={"errors": problems},
                )

        values = {n: payload[n] for n in query.parameters if n in payload}
        return await self.run(query.sql, values, admit)

    # -- streams --------------------------------------------------------------------------

    def streams(self) -> Mapping[str, StreamSpec]:
        assert self.catalog is not None
        return {
            name: StreamSpec(
                name,
                tuple(c.name for c in table.primary_key.columns),
                {"type": "object", "properties": {c.name: {} for c in table.columns}},
                Pushdown(
                    ALL_OPS,
                    projection=True,
                    sort=True,
                    limit=True,
                    cursor_field=self._cursor_field(name, table),
                ),
            )
            for name, table in self.catalog.tables.items()
        }

    async def read(self, stream: str, query: StreamQuery) -> AsyncIterator[Record]:
        assert self.engine is not None
        assert self.catalog is not None
        table = self.catalog.tables.get(stream)
        if table is None:
            raise NotFound(f"The connector offers no stream '{stream}'.")
        statement = _select(table, query, self.config.max_rows, self._cursor_field(stream, table))
        entry: dict[str, Any] = {
            "who": CALLER.get() or "unknown",
            "kind": "select",
            "tables": [stream],
        }
        started = time.perf_counter()
        count = 0
        try:
            async with self.engine.connect() as connection, connection.begin():
                limit = self.config.statement_timeout_seconds
                await bound_time(connection, self.dialect, limit)
                result = await connection.stream(statement)
                async for row in result.mappings():
                    count += 1
                    yield {k: _plain(v) for k, v in row.items()}
        except sa.exc.DBAPIError:
            raise UpstreamUnreachable("The database failed while reading the stream.") from None
        finally:
            entry |= {"rows": count, "ms": round((time.perf_counter() - started) * 1000, 2)}
            self.audit_trail.append(entry)
            log.info("sql.audit", stream=stream, **entry)

    def _cursor_field(self, name: str, table: sa.Table) -> str | None:
        wanted = {t.lower(): c.lower() for t, c in self.config.cursor_fields.items()}.get(name)
        if wanted is None:
            return None
        found = next((c.name for c in table.columns if c.name.lower() == wanted), None)
        if found is None:
            raise ConfigurationError(f"'{name}' has no column '{wanted}' (cursorFields).")
        return found

    async def check(self) -> Health:
        assert self.engine is not None
        try:
            async with asyncio.timeout(self.config.statement_timeout_seconds):
                async with self.engine.connect() as connection:
                    await connection.execute(sa.text("SELECT 1"))
        except (OSError, TimeoutError, sa.exc.DBAPIError):
            return Health(False, "The database does not answer.")
        assert self.catalog is not None
        return Health(True, f"answers; {len(self.catalog.tables)} table(s) reachable")


def _select(
    table: sa.Table, query: StreamQuery, cap: int, cursor_field: str | None
) -> sa.Select[Any]:
    columns = {c.name.lower(): c for c in table.columns}

    def column(name: str) -> sa.ColumnElement[Any]:
        found = columns.get(name.lower())
        if found is None:
            raise BadRequest(f"'{table.name}' has no column '{name}'.")
        return found

    chosen = [column(f) for f in query.fields] if query.fields else list(table.columns)
    statement = sa.select(*chosen)
    for item in query.filters:
        statement = statement.where(_condition(column(item.field), item.op, item.value))
    if query.cursor is not None and cursor_field is not None:  # incremental: after it
        statement = statement.where(column(cursor_field) > query.cursor)
        if not query.sort:
            statement = statement.order_by(column(cursor_field))
    for name, descending in query.sort:
        statement = statement.order_by(column(name).desc() if descending else column(name))
    limit = cap if query.limit is None else min(query.limit, cap)
    return statement.limit(limit)


def _condition(target: sa.ColumnElement[Any], op: str, value: Any) -> sa.ColumnElement[bool]:
    """One filter as SQL; the value is always a bound parameter."""
    if op == "in":
        return target.in_(list(value))
    if op == "contains":
        return target.contains(str(value), autoescape=True)
    method = {"eq": "__eq__", "ne": "__ne__", "lt": "__lt__", "le": "__le__", "gt": "__gt__"}
    result: sa.ColumnElement[bool] = getattr(target, method.get(op, "__ge__"))(value)
    return result


def _bound(checked: Checked, params: Mapping[str, Any]) -> dict[str, Any]:
    missing = [name for name in checked.parameters if name not in params]
    if missing:
        raise StatementRefused(f"The statement needs values for {missing}.")
    extra = sorted(set(params) - set(checked.parameters))
    if extra:
        raise StatementRefused(f"Values were sent for parameters the statement lacks: {extra}.")
    for name in checked.parameters:
        if not isinstance(params[name], str | int | float | bool | None):
            raise StatementRefused(f"The value of '{name}' must be text, a number or a boolean.")
    return {name: params[name] for name in checked.parameters}


def _inputs(parameters: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {"type": "object", "required": sorted(parameters), "properties": dict(parameters)}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _is_timeout(error: sa.exc.DBAPIError) -> bool:
    text = str(error.orig).lower()  # only read here, never passed on
    return "timeout" in text or "max_statement_time" in text or "interrupted" in text


def _timed_out(seconds: float) -> UpstreamTimeout:
    return UpstreamTimeout(
        f"The statement ran longer than the Connection allows ({seconds:g} s).",
        remediation="Filter on an indexed column or ask for fewer rows.",
    )


class SqlConnectorType:
    name: ClassVar[str] = "sql"
    supports_proxy: ClassVar[bool] = False
    summary: ClassVar[str] = (
        "A database (PostgreSQL, MariaDB/MySQL, SQLite) through governed statements."
    )
    config_model: ClassVar[type[ConnectorConfig]] = SqlConfig

    def open(self, config: Any, context: ConnectorContext) -> Connector:
        assert isinstance(config, SqlConfig)
        return SqlConnector(config, context)
