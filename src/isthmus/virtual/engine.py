"""Running a plan: the scans read concurrently, their rows handed to DuckDB as Arrow
tables, the rest of the query run there.

DuckDB runs in-process with external access off and its configuration locked, so a
query can read only the scans registered for it (each query has its own cursor: the
scans of one are invisible to another). Its work runs in a thread, interrupted when
the query's time is up.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from isthmus.connectors.base import TALLY, ReadTally, Record
from isthmus.errors import FatalError, UpstreamTimeout
from isthmus.virtual.bounds import check_bounds
from isthmus.virtual.cache import SourceCache
from isthmus.virtual.duck import close_quietly, interruptible
from isthmus.virtual.limits import Limits
from isthmus.virtual.plans import MAX_KEYS, Column, KeysFrom, Plan, Scan
from isthmus.virtual.types import typed_table

T = TypeVar("T")


class TooManyRows(FatalError):
    status = 422
    code = "virtual-too-many-rows"
    title = "The query's answer is larger than allowed"
    remediation = "Add a LIMIT, filter more, or page through a View's collection."


class ScanTooLarge(FatalError):
    status = 422
    code = "virtual-scan-too-large"
    title = "A source sent more rows than one query may hold"
    remediation = (
        "Filter the source on columns it can filter on, so fewer rows leave it; EXPLAIN "
        "shows what each source is asked for."
    )


class OutOfMemory(FatalError):
    status = 422
    code = "virtual-out-of-memory"
    title = "The query needs more memory than one query may use"
    remediation = "Filter the sources more, or aggregate in a View so fewer rows are joined."


class QueryFailed(FatalError):
    status = 422
    code = "virtual-query-failed"
    title = "The query could not be run over its sources' rows"
    remediation = "Check types in comparisons and functions (CAST where a source gives text)."


class Rows:
    """One scan's rows: as the source gave them, and as an Arrow table (made when first
    needed: a lone scan that is the whole answer never needs one)."""

    def __init__(
        self, scan: Scan, records: list[Record] | None = None, table: pa.Table | None = None
    ) -> None:
        self.scan = scan
        self._records = records
        self._table = table

    @property
    def count(self) -> int:
        return len(self._records) if self._records is not None else self.table.num_rows

    @property
    def table(self) -> pa.Table:
        if self._table is None:
            self._table = typed_table(self._records or [], self.scan.columns, self.scan.types)
        return self._table

    def answer(self) -> list[dict[str, Any]]:
        return _rows(self.table)


@dataclass(frozen=True)
class SourceCount:
    """What one scan cost: rows received from the source and requests made."""

    scan: str
    source: str
    rows: int
    requests: int
    cached: bool = False  # answered from the cache: nothing was read


@dataclass(frozen=True)
class Result:
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    counts: tuple[SourceCount, ...]


class Engine:
    def __init__(self, limits: Limits, cache: SourceCache | None = None) -> None:
        self.limits = limits
        self.cache = cache or SourceCache()
        self._database = duckdb.connect(
            config={
                "enable_external_access": False,
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "memory_limit": f"{limits.memory_mb}MB",
                "threads": limits.threads,
            }
        )
        self._database.execute("SET lock_configuration = true")
        self._lock = threading.Lock()  # cursors are made one at a time

    def close(self) -> None:
        self._database.close()

    async def run(self, plan: Plan) -> Result:
        deadline = asyncio.timeout(self.limits.timeout_seconds)
        try:
            async with deadline:
                first = [scan for scan in plan.scans if scan.keys is None]
                then = [scan for scan in plan.scans if scan.keys is not None]
                done = await _all(self._read(scan) for scan in first)
                read = {scan.name: result for scan, result in zip(first, done, strict=True)}
                tables = {name: rows for name, (rows, _) in read.items()}
                done = await _all(self._read_keyed(scan, tables, plan.values) for scan in then)
                read |= {scan.name: result for scan, result in zip(then, done, strict=True)}
                tables = {name: rows for name, (rows, _) in read.items()}
                if plan.passthrough:
                    rows = self._handed_on(tables[plan.scans[0].name], plan.columns)
                else:
                    rows = await self._finish(plan, {n: t.table for n, t in tables.items()})
        except TimeoutError:
            if deadline.expired():
                raise _timed_out(self.limits.timeout_seconds) from None
            raise
        counts = tuple(read[scan.name][1] for scan in plan.scans)
        return Result(plan.columns, rows, counts)

    # -- scans --------------------------------------------------------------------------

    async def _read_keyed(
        self, scan: Scan, tables: dict[str, Rows], bound: Mapping[str, Any]
    ) -> tuple[Rows, SourceCount]:
        """The scan narrowed to the keys its driver read: nothing read when there are
        none (the join keeps no row), the scan as planned when there are too many."""
        assert scan.keys is not None
        driver = tables[scan.keys.scan].table
        values = sorted(
            await asyncio.to_thread(self._keys, driver, scan.keys, bound), key=_ordering
        )
        if not values:
            return Rows(scan, []), SourceCount(scan.name, _source(scan), 0, 0)
        size = scan.max_keys
        if len(values) > MAX_KEYS or (scan.sql is None and len(values) > size * 10):
            return await self._read(replace(scan, keys=None))  # cheaper read whole
        parts = [values[i : i + size] for i in range(0, len(values), size)]
        read = [await self._read(scan.with_keys(part)) for part in parts]
        if len(read) == 1:
            return read[0]
        tables_read = [rows.table for rows, _ in read]
        counts = [count for _, count in read]
        joined = Rows(scan, table=pa.concat_tables(tables_read, promote_options="permissive"))
        return joined, SourceCount(
            scan.name,
            _source(scan),
            sum(c.rows for c in counts),
            sum(c.requests for c in counts),
            all(c.cached for c in counts),
        )

    def _keys(self, driver: pa.Table, keys: KeysFrom, values: Mapping[str, Any]) -> list[Any]:
        """The distinct values of the driver's key column in the rows the query keeps."""
        if keys.where is None:
            return list(pc.unique(driver.column(keys.column).drop_null()).to_pylist())
        with self._lock:
            cursor = self._database.cursor()
        try:
            cursor.register("rows", driver)
            column = '"' + keys.column.replace('"', '""') + '"'
            found = cursor.sql(
                f"SELECT DISTINCT {column} FROM rows WHERE ({keys.where}) "  # noqa: S608
                f"AND {column} IS NOT NULL",
                params={name: values[name] for name in keys.parameters} or None,
            ).fetchall()
        finally:
            cursor.close()
        return [row[0] for row in found]

    async def _read(self, scan: Scan) -> tuple[Rows, SourceCount]:
        if scan.ttl is not None:
            kept = self.cache.get(scan.signature)
            if kept is not None:
                return Rows(scan, table=kept), SourceCount(
                    scan.name, _source(scan), 0, 0, cached=True
                )
        rows, count = await self._read_source(scan)
        if scan.ttl is not None:
            self.cache.put(scan.signature, rows.table, scan.ttl, scan.streams)
        return rows, count

    async def _read_source(self, scan: Scan) -> tuple[Rows, SourceCount]:
        counted = ReadTally()
        token = TALLY.set(counted)  # this task's own context: its reads count here
        records: list[Record] = []
        batches: list[pa.RecordBatch] = []
        got = 0
        try:
            if scan.sql is not None:  # a database: Arrow batches, no row objects
                database = scan.table.database
                assert database is not None
                async for batch in database.select(scan.sql, scan.params):
                    batches.append(batch)
                    got += batch.num_rows
                    self._within_scan_rows(scan, got)
            else:
                assert scan.query is not None
                async for record in scan.table.connector.read(scan.table.spec.name, scan.query):
                    records.append(record)
                    got += 1
                    self._within_scan_rows(scan, got)
        finally:
            TALLY.reset(token)
        count = SourceCount(scan.name, _source(scan), max(counted.records, got), counted.requests)
        if scan.sql is not None:
            return Rows(scan, table=_joined(batches, scan)), count
        return Rows(scan, records), count

    def _within_scan_rows(self, scan: Scan, got: int) -> None:
        if got > self.limits.max_scan_rows:
            raise ScanTooLarge(
                f"'{scan.table.name}' sent more than {self.limits.max_scan_rows:,} rows "
                "for one query.",
            )

    # -- the rest, in DuckDB ------------------------------------------------------------

    def _handed_on(self, rows: Rows, columns: Sequence[Column]) -> list[dict[str, Any]]:
        """A lone scan's rows as the answer (the source did all the query asked)."""
        if rows.count > self.limits.max_rows:
            raise TooManyRows(f"The query returns more than {self.limits.max_rows:,} rows.")
        check_bounds(rows.table, columns, self.limits.max_text_length)
        return rows.answer()

    async def _finish(self, plan: Plan, tables: dict[str, pa.Table]) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._database.cursor()
        params = {name: plan.values[name] for name in plan.parameters}
        try:
            return await interruptible(cursor, lambda: self._execute(cursor, plan, tables, params))
        finally:
            close_quietly(cursor)

    def _execute(
        self,
        cursor: duckdb.DuckDBPyConnection,
        plan: Plan,
        tables: dict[str, pa.Table],
        params: dict[str, Any],
    ) -> list[dict[str, Any]]:
        for name, table in tables.items():
            cursor.register(name, table)
        cap = self.limits.max_rows
        try:
            reader = cursor.sql(plan.sql, params=params or None).to_arrow_reader(
                min(cap + 1, 10_000)
            )
            batches: list[pa.RecordBatch] = []
            total = 0
            for batch in reader:
                batches.append(batch)
                total += batch.num_rows
                if total > cap:
                    raise TooManyRows(f"The query returns more than {cap:,} rows.")
            table = pa.Table.from_batches(batches, schema=reader.schema)
        except duckdb.OutOfMemoryException:
            raise OutOfMemory("DuckDB ran out of the memory one query may use.") from None
        except duckdb.InterruptException:
            raise _timed_out(self.limits.timeout_seconds) from None
        except duckdb.Error as exc:
            reason = str(exc).split("\n", 1)[0][:300]
            raise QueryFailed(f"DuckDB could not run the query: {reason}") from None
        check_bounds(table, plan.columns, self.limits.max_text_length)
        return _rows(table)


async def _all(work: Iterable[Awaitable[T]]) -> list[T]:
    """Each awaited at once; the first failure cancels the others (a failed source
    ends the query: the rest need not be read)."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _joined(batches: list[pa.RecordBatch], scan: Scan) -> pa.Table:
    """A database's batches as one table; none: an empty table of the planned types.
    Batches typed apart (a column all null in one) are unified."""
    if not batches:
        return typed_table([], scan.columns, scan.types)
    tables = [pa.Table.from_batches([b]) for b in batches]
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def _source(scan: Scan) -> str:
    return scan.table.name if scan.sql is None else ", ".join(scan.tables)


def _ordering(value: Any) -> tuple[str, Any]:
    """Keys in a stable order (so the same keys make the same request): by kind, then value."""
    return (type(value).__name__, value)


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    names: Sequence[str] = table.column_names
    if len(set(names)) == len(names):
        return table.to_pylist()
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _timed_out(seconds: float) -> UpstreamTimeout:
    return UpstreamTimeout(
        f"The query ran longer than allowed ({seconds:g} s).",
        remediation="Filter the sources more, or ask for fewer rows.",
    )
