"""The governed SQL connector: a database reached through checked statements.

Every statement goes through the guard (:mod:`guard`), then, for a read, the planner's
cost estimate (:mod:`database`), then runs in its own transaction with a server-side time
limit and a row cap. Named queries become operations, tables become streams with full
pushdown (built with SQLAlchemy Core from the reflected schema, so identifiers are never
text from a caller). Every attempt — run or refused — is recorded in the hub's audit log
(the context's ``audit``): who, what, outcome, rows, time; never the values bound.

The database work is written once as functions of a SQLAlchemy connection; the runner
(:mod:`runner`) runs it on asyncio drivers directly and on blocking drivers in threads.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, ClassVar

import pyarrow as pa
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import make_url

from isthmus.connectors.addresses import allowed_addresses
from isthmus.connectors.base import (
    CALLER,
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Estimate,
    FilterOp,
    Health,
    OperationSpec,
    Pushdown,
    Record,
    StreamQuery,
    StreamSpec,
    UnknownOperation,
    tally,
)
from isthmus.connectors.sql.config import SqlConfig
from isthmus.connectors.sql.database import (
    Catalog,
    bound_time,
    bounded_at_connect,
    open_runner,
    plan,
    read_catalog,
    require_driver,
)
from isthmus.connectors.sql.guard import Checked, Grants, StatementRefused, check, kind_of
from isthmus.connectors.sql.runner import Runner
from isthmus.connectors.sql.streams import select_for
from isthmus.connectors.sql.types import json_schema_of
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
from isthmus.governance.audit import AuditEntry, record_soon

log = structlog.get_logger(__name__)
ALL_OPS: frozenset[FilterOp] = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "in", "contains"})
STREAM_BATCH = 500  # rows fetched at a time while a stream is read
CHECKED_STATEMENTS = 1024  # guard verdicts remembered per Connection
SELECT_BATCH = 10_000  # rows per Arrow batch handed to the virtual layer


class TooCostly(FatalError):
    status = 422
    code = "sql-too-costly"
    title = "The statement would cost more than the Connection allows"
    remediation = "Filter on an indexed column, or ask for fewer rows."


class TooManyRows(FatalError):
    status = 422
    code = "sql-too-many-rows"
    title = "The statement returns more rows than the Connection allows"
    remediation = "Filter on more columns, or ask the Connection's owner to raise its maxRows."


class StatementFailed(FatalError):
    status = 400
    code = "sql-failed"
    title = "The database refused the statement"
    remediation = "Check the values sent (types, constraints) against the table."


class SqlConnector(Connector):
    def __init__(self, config: SqlConfig, context: ConnectorContext) -> None:
        super().__init__(context)
        self.config = config
        self.driver = config.driver
        self.runner: Runner | None = None
        self.catalog: Catalog | None = None
        self.grants = Grants({t.lower(): frozenset(w) for t, w in config.writes.items()})
        self.target = f"connection/{context.connection}@{context.environment}"
        self._cost_limit = config.cost_limit  # derived from the URL: worked out once
        self._checked: dict[tuple[str, bool], Checked] = {}  # oldest first
        self._within_cost: dict[str, None] = {}  # equality-only SELECTs the planner passed

    @property
    def sql_dialect(self) -> str:
        return self.driver.parser

    async def __aenter__(self) -> SqlConnector:
        url = make_url(self.config.url)
        if self.config.password:
            url = url.set(password=await self.context.secrets.resolve(self.config.password))
        require_driver(url, self.driver)  # before any network: name the missing extra
        if url.host and self.driver.host != "none":
            judged = await allowed_addresses(
                url.host, url.port or 0, allow_private=self.config.allow_private_network
            )
            if self.driver.host == "pin":  # connect to the address judged: no rebinding
                url = url.set(host=judged[0][1])
        self.runner = open_runner(url, self.driver, self.config.statement_timeout_seconds)
        tables = self.config.tables
        try:
            async with asyncio.timeout(self.config.connect_timeout_seconds):
                self.catalog = await self.runner.run(lambda c: read_catalog(c, tables))
        except TimeoutError:
            await self.runner.dispose()
            raise UpstreamUnreachable(
                "The database did not answer within the Connection's connect time "
                f"({self.config.connect_timeout_seconds:g} s)."
            ) from None
        except Exception as exc:  # DBAPIError, OSError, and each vendor driver's own kinds
            await self.runner.dispose()
            raise UpstreamUnreachable("The database could not be reached.") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.runner is not None:
            await self.runner.dispose()

    # -- statements ---------------------------------------------------------------------

    async def run(
        self,
        sql: str,
        params: Mapping[str, Any],
        admit: Callable[[], None] | None = None,
        operation: str | None = None,
    ) -> dict[str, Any]:
        """One caller's statement, governed; the audit records it either way. ``admit``
        checks what the caller sent before anything else (a named query's parameters)."""
        assert self.catalog is not None
        started = time.perf_counter()
        action, outcome = "sql.statement", "failed"
        detail: dict[str, Any] = {"id": uuid.uuid4().hex[:12]}
        if operation is not None:
            detail["operation"] = operation
        try:
            if admit is not None:
                admit()
            checked = self._check(sql, reads_only=False)
            action = f"sql.{checked.kind}"
            detail |= {"tables": sorted(checked.tables), "sql": checked.sql}
            values = _bound(checked, params)
            result = await self._execute(checked, values)
        except IsthmusError as error:
            outcome = "refused" if error.status < 500 else "failed"
            detail["code"] = error.code
            if action == "sql.statement":  # refused by the guard: say what it tried
                action = f"sql.{kind_of(sql, self.driver.parser) or 'statement'}"
            raise
        else:
            outcome = "ok"
            detail["rows"] = result.get("count", len(result.get("rows", [])))
            return result
        finally:
            detail["ms"] = round((time.perf_counter() - started) * 1000, 2)
            await self._audit(action, outcome, detail)

    async def _audit(self, action: str, outcome: str, detail: dict[str, Any]) -> None:
        await self.context.audit.record(self._entry(action, outcome, detail))

    def _entry(self, action: str, outcome: str, detail: dict[str, Any]) -> AuditEntry:
        return AuditEntry(CALLER.get() or "unknown", action, self.target, outcome, detail)

    async def _execute(self, checked: Checked, values: dict[str, Any]) -> dict[str, Any]:
        assert self.runner is not None
        assert self.catalog is not None
        limit, prepare = self.config.statement_timeout_seconds, self._prepare
        cost_limit, max_rows, known = self.config.cost_limit, self.config.max_rows, self.catalog
        family = self.driver.family

        def work(connection: sa.Connection) -> dict[str, Any]:
            prepare(connection)
            if checked.kind != "select":
                return {"count": connection.execute(sa.text(checked.sql), values).rowcount}
            if cost_limit is not None:
                estimate = plan(connection, family, checked.sql, values, set(known.tables))
                if estimate.cost > cost_limit:
                    raise self._too_costly(estimate.cost, estimate.full_scans)
            result = connection.execute(sa.text(checked.sql), values)
            rows = result.mappings().fetchmany(max_rows + 1)
            kept = [{k: _plain(v) for k, v in row.items()} for row in rows[:max_rows]]
            return {"rows": kept, "truncated": len(rows) > max_rows}

        try:
            async with asyncio.timeout(limit + 1):
                return await self.runner.run(work)
        except TimeoutError:
            raise _timed_out(limit) from None
        except sa.exc.DBAPIError as exc:
            raise self._failure(exc) from None

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
            return await self.run(sql, payload.get("params") or {}, operation="sql")
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
        return await self.run(query.sql, values, admit, operation)

    # -- streams --------------------------------------------------------------------------

    def streams(self) -> Mapping[str, StreamSpec]:
        assert self.catalog is not None
        return {
            name: StreamSpec(
                name,
                tuple(c.name for c in table.primary_key.columns),
                json_schema_of(table),
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
        assert self.runner is not None
        assert self.catalog is not None
        table = self.catalog.tables.get(stream)
        if table is None:
            raise NotFound(f"The connector offers no stream '{stream}'.")
        statement = select_for(
            table, query, self.config.max_rows, self._cursor_field(stream, table)
        )
        started = time.perf_counter()
        count, outcome = 0, "failed"
        try:
            rows = self.runner.stream(self._prepare, statement, STREAM_BATCH)
            async for part in rows:
                tally(records=len(part), requests=0 if count else 1)
                for row in part:
                    count += 1
                    yield {k: _plain(v) for k, v in row._mapping.items()}
            outcome = "ok"
        except sa.exc.DBAPIError:
            raise UpstreamUnreachable("The database failed while reading the stream.") from None
        finally:
            ms = round((time.perf_counter() - started) * 1000, 2)
            detail = {"stream": stream, "tables": [stream], "rows": count, "ms": ms}
            await self._audit("sql.read", outcome, detail)

    # -- whole SELECTs (the virtual layer's pushdown) -------------------------------------

    async def select(self, sql: str, params: Mapping[str, Any]) -> AsyncIterator[pa.RecordBatch]:
        """One guarded SELECT, streamed in Arrow batches (dates and times as such,
        decimals as doubles). Refused, not cut short, past ``maxRows``: a cut result
        would be a wrong answer."""
        assert self.runner is not None
        assert self.catalog is not None
        started = time.perf_counter()
        detail: dict[str, Any] = {"id": uuid.uuid4().hex[:12], "operation": "select"}
        count, outcome = 0, "failed"
        try:
            checked = self._check(sql, reads_only=True)
            detail |= {"tables": sorted(checked.tables), "sql": checked.sql}
            values = _bound(checked, params)
            statement = sa.text(checked.sql).bindparams(**values)
            prepare = self._guarded(checked, values)

            def read(connection: sa.Connection) -> Sequence[sa.Row[Any]]:
                if prepare is not None:
                    prepare(connection)
                # fetched whole: the guard capped the SELECT at maxRows + 1, and a read
                # in one go costs no cursor round trips
                return connection.execute(statement).fetchall()

            rows = await self.runner.run(read)
            count = len(rows)
            tally(records=count, requests=1)
            if count > self.config.max_rows:
                raise TooManyRows(
                    "The statement returns more than the Connection's "
                    f"{self.config.max_rows:,} rows (maxRows)."
                )
            for start in range(0, count, SELECT_BATCH):
                yield _batch(rows[start : start + SELECT_BATCH])
            outcome = "ok"
        except IsthmusError as error:
            outcome = "refused" if error.status < 500 else "failed"
            detail["code"] = error.code
            raise
        except sa.exc.DBAPIError as exc:
            # for operators: why the database refused a statement the hub wrote
            log.warning("sql.select_failed", reason=str(exc.orig)[:300], audit=detail["id"])
            raise self._failure(exc) from None
        finally:
            detail |= {"rows": count, "ms": round((time.perf_counter() - started) * 1000, 2)}
            # queued for the audit log's next group commit, with the virtual query's own
            # entry, rather than a commit of its own that the read would wait for
            record_soon(self.context.audit, self._entry("sql.select", outcome, detail))

    async def estimate(self, sql: str, params: Mapping[str, Any]) -> Estimate:
        """The planner's rows and cost for a SELECT, which is checked first like any."""
        assert self.runner is not None
        assert self.catalog is not None
        checked = self._check(sql, reads_only=True)
        return await self._estimate(checked, _bound(checked, params))

    async def _estimate(self, checked: Checked, values: dict[str, Any]) -> Estimate:
        try:
            return await self._planned(checked, values)
        except sa.exc.DBAPIError as exc:
            raise self._failure(exc) from None

    def _failure(self, error: sa.exc.DBAPIError) -> IsthmusError:
        """A database's refusal as a problem: its values or types (the caller's to
        fix), its time limit, or the database itself failing."""
        if _is_timeout(error):
            return _timed_out(self.config.statement_timeout_seconds)
        if isinstance(error, sa.exc.OperationalError):
            return UpstreamUnreachable("The database failed running the statement.")
        return StatementFailed("The database refused the statement or its values.")

    async def _planned(self, checked: Checked, values: dict[str, Any]) -> Estimate:
        assert self.runner is not None
        assert self.catalog is not None
        family, known = self.driver.family, set(self.catalog.tables)
        found = await self.runner.run(lambda c: plan(c, family, checked.sql, values, known))
        return Estimate(found.rows, found.cost, found.full_scans)

    def _prepare(self, connection: sa.Connection) -> None:
        """Ready a connection for a caller's statements: bounded in time."""
        if not bounded_at_connect(self.driver):
            bound_time(connection, self.driver.family, self.config.statement_timeout_seconds)

    def _guarded(self, checked: Checked, values: dict[str, Any]) -> Callable[[sa.Connection], None]:
        """Ready a connection for ``checked``: bounded in time, and refused there, in the
        same transaction, if the planner's cost is above the Connection's limit."""
        limit, family = self._cost_limit, self.driver.family
        assert self.catalog is not None
        known = set(self.catalog.tables)

        reuse = checked.equality_only
        passed = self._within_cost

        def prepare(connection: sa.Connection) -> None:
            self._prepare(connection)
            if limit is None or (reuse and checked.sql in passed):
                return
            estimate = plan(connection, family, checked.sql, values, known)
            if estimate.cost > limit:
                raise self._too_costly(estimate.cost, estimate.full_scans)
            if reuse:
                passed[checked.sql] = None
                if len(passed) > CHECKED_STATEMENTS:
                    passed.pop(next(iter(passed)))

        return prepare

    def _check(self, sql: str, *, reads_only: bool) -> Checked:
        """The guard's verdict on ``sql``, remembered: the same text against the same
        schema and grants is judged the same, and parsing is most of a short read's
        cost (the virtual layer sends the same statements again and again)."""
        key = (sql, reads_only)
        found = self._checked.get(key)
        if found is None:
            assert self.catalog is not None
            grants = Grants({}) if reads_only else self.grants
            cap = self.config.max_rows + 1 if reads_only else None  # one more: to refuse
            found = check(sql, self.driver.parser, self.catalog.schema, grants, cap)
            if reads_only and found.kind != "select":
                raise StatementRefused("Only a SELECT is sent here.")
            self._checked[key] = found
            if len(self._checked) > CHECKED_STATEMENTS:
                self._checked.pop(next(iter(self._checked)))
        return found

    def _cursor_field(self, name: str, table: sa.Table) -> str | None:
        wanted = {t.lower(): c.lower() for t, c in self.config.cursor_fields.items()}.get(name)
        if wanted is None:
            return None
        found = next((c.name for c in table.columns if c.name.lower() == wanted), None)
        if found is None:
            raise ConfigurationError(f"'{name}' has no column '{wanted}' (cursorFields).")
        return found

    async def check(self) -> Health:
        assert self.runner is not None
        try:
            async with asyncio.timeout(self.config.statement_timeout_seconds):
                await self.runner.run(lambda c: c.execute(sa.select(sa.literal(1))).scalar())
        except (OSError, TimeoutError, sa.exc.DBAPIError):
            return Health(False, "The database does not answer.")
        assert self.catalog is not None
        return Health(True, f"answers; {len(self.catalog.tables)} table(s) reachable")


# what JSON brings, and the dates and decimals the virtual layer binds from SQL constants
_BINDABLE = (str, int, float, bool, type(None), datetime.date, datetime.time, decimal.Decimal)


def _bound(checked: Checked, params: Mapping[str, Any]) -> dict[str, Any]:
    missing = [name for name in checked.parameters if name not in params]
    if missing:
        raise StatementRefused(f"The statement needs values for {missing}.")
    extra = sorted(set(params) - set(checked.parameters))
    if extra:
        raise StatementRefused(f"Values were sent for parameters the statement lacks: {extra}.")
    for name in checked.parameters:
        if not isinstance(params[name], _BINDABLE):
            raise StatementRefused(f"The value of '{name}' must be text, a number or a boolean.")
    return {name: params[name] for name in checked.parameters}


def _native(value: Any) -> Any:
    """A value Arrow takes as it is: drivers' own kinds (UUIDs, buffers) as text/bytes."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def _batch(rows: Sequence[sa.Row[Any]]) -> pa.RecordBatch:
    """Rows as Arrow columns, each typed by its values; decimals as doubles (the number
    Views publish, and Arrow infers a decimal's precision value by value, 50 times
    slower); a column Arrow cannot type as one kind becomes text."""
    names = list(rows[0]._fields)
    arrays: list[pa.Array[Any]] = []
    for values in zip(*rows, strict=True):
        first = next((v for v in values if v is not None), None)
        if isinstance(first, decimal.Decimal):
            floats = [None if v is None else float(v) for v in values]
            arrays.append(pa.array(floats, type=pa.float64()))
            continue
        if isinstance(first, uuid.UUID | memoryview):
            values = tuple(_native(v) for v in values)
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays.append(pa.array([None if v is None else str(v) for v in values]))
    return pa.RecordBatch.from_arrays(arrays, names=names)


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
        "A database (PostgreSQL, MariaDB/MySQL, SQLite; SQL Server, Oracle, Db2, Snowflake, "
        "BigQuery, Databricks as extras) through governed statements."
    )
    config_model: ClassVar[type[ConnectorConfig]] = SqlConfig

    def open(self, config: Any, context: ConnectorContext) -> Connector:
        assert isinstance(config, SqlConfig)
        return SqlConnector(config, context)
