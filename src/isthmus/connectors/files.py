"""The ``files`` connector: CSV, Parquet and JSON files in a folder, as streams.

DuckDB reads the files, so a stream's filters, projection, sort and limit run where the
data is (Parquet row groups a filter rules out are skipped). Statements are built from
the schema DuckDB found at open time — a caller's text never becomes an identifier —
and every value is a bound parameter. Paths stay inside the Connection's ``root``.

The folder is also a small database (a :class:`SqlSource`): each table is a DuckDB view
over its files, so the virtual layer sends joins and aggregates over them here whole.
Those SELECTs pass the virtual layer's own read-only check first: no table functions,
nothing that reaches other files.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar

import duckdb
import pyarrow as pa
from pydantic import Field, field_validator
from sqlglot import exp

from isthmus.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    Estimate,
    Filter,
    FilterOp,
    Health,
    Pushdown,
    Record,
    StreamQuery,
    StreamSpec,
    tally,
)
from isthmus.errors import BadRequest, ConfigurationError, NotFound, UpstreamUnreachable
from isthmus.virtual.duck import close_quietly, interruptible
from isthmus.virtual.names import DIALECT, cte_names, parse

T = TypeVar("T")
ALL_OPS: frozenset[FilterOp] = frozenset({"eq", "ne", "lt", "le", "gt", "ge", "in", "contains"})
BATCH = 10_000
_READERS = {"csv": "read_csv_auto", "parquet": "read_parquet", "json": "read_json_auto"}
_JSON_TYPES = {
    "BIGINT": "integer", "INTEGER": "integer", "SMALLINT": "integer", "TINYINT": "integer",
    "HUGEINT": "integer", "UBIGINT": "integer", "UINTEGER": "integer", "DOUBLE": "number",
    "FLOAT": "number", "BOOLEAN": "boolean",
}  # fmt: skip
_SQL_OPS = {"eq": "=", "ne": "<>", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


class FileTable(ConnectorConfig):
    path: str = Field(description="File or glob pattern under the root, e.g. 'readings/*.parquet'.")
    format: Literal["csv", "parquet", "json"] | None = Field(
        default=None, description="Default: from the file name's extension."
    )
    primary_key: list[str] = Field(default_factory=list)

    def reader(self) -> str:
        kind = self.format or Path(self.path).suffix.lstrip(".").lower()
        if kind == "ndjson" or kind == "jsonl":
            kind = "json"
        if kind not in _READERS:
            raise ConfigurationError(
                f"'{self.path}' is not a csv, parquet or json file; set 'format'."
            )
        return _READERS[kind]


class FilesConfig(ConnectorConfig):
    root: str = Field(description="Absolute path of the folder the tables are in.")
    tables: dict[str, FileTable] = Field(min_length=1, description="Tables by stream name.")

    @field_validator("root")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not Path(value).is_absolute():
            raise ValueError("root must be an absolute path")
        return value


class FilesConnector(Connector):
    def __init__(self, config: FilesConfig, context: ConnectorContext) -> None:
        super().__init__(context)
        self.config = config
        self._database: duckdb.DuckDBPyConnection | None = None
        self._columns: dict[str, dict[str, str]] = {}  # stream → column → DuckDB type
        self._sources: dict[str, str] = {}  # stream → its reader call, path bound

    async def __aenter__(self) -> FilesConnector:
        # its own database (it reads files: external access stays on), bounded like the
        # virtual layer's: what runs here is SQL the planner wrote from a caller's query
        self._database = duckdb.connect(config={"threads": 2, "memory_limit": "512MB"})
        try:
            await asyncio.to_thread(self._open)
        except duckdb.Error:
            self._database.close()
            raise UpstreamUnreachable("The files could not be read.") from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._database is not None:
            self._database.close()

    def _open(self) -> None:
        """Each table's reader over its path (kept inside the root), and its columns."""
        assert self._database is not None
        root = Path(self.config.root).resolve()
        for name, table in self.config.tables.items():
            pattern = (root / table.path).resolve()
            if not pattern.is_relative_to(root):
                raise ConfigurationError(f"Table '{name}' points outside the Connection's root.")
            source = f"{table.reader()}({_quoted(str(pattern))})"
            described = f"DESCRIBE SELECT * FROM {source}"  # noqa: S608 - a quoted path
            rows = self._database.execute(described).fetchall()
            self._sources[name] = source
            self._columns[name] = {str(row[0]): str(row[1]) for row in rows}
            view = f"CREATE VIEW {_identifier(name)} AS SELECT * FROM {source}"  # noqa: S608
            self._database.execute(view)

    def streams(self) -> Mapping[str, StreamSpec]:
        return {
            name: StreamSpec(
                name,
                tuple(self.config.tables[name].primary_key),
                {"type": "object", "properties": {c: _json(t) for c, t in columns.items()}},
                Pushdown(ALL_OPS, projection=True, sort=True, limit=True),
            )
            for name, columns in self._columns.items()
        }

    async def read(self, stream: str, query: StreamQuery) -> AsyncIterator[Record]:
        if stream not in self._sources:
            raise NotFound(f"The connector offers no stream '{stream}'.")
        sql, values = self._statement(stream, query)
        async for batch in self._batches(sql, values):
            tally(records=batch.num_rows)
            for record in batch.to_pylist():
                yield record

    async def _batches(self, sql: str, values: Any) -> AsyncIterator[pa.RecordBatch]:
        """The statement's rows in Arrow batches, each read in a worker thread. A reader
        that is cancelled (the query's time is up) interrupts DuckDB and waits for the
        thread to let go before the cursor closes."""
        assert self._database is not None
        cursor = self._database.cursor()  # one per read: reads may overlap
        try:
            reader = await interruptible(
                cursor, lambda: cursor.sql(sql, params=values).to_arrow_reader(BATCH)
            )
            batches = _each(reader)
            while (batch := await interruptible(cursor, lambda: next(batches, None))) is not None:
                yield batch
        except duckdb.Error:
            raise UpstreamUnreachable("The files could not be read.") from None
        finally:
            close_quietly(cursor)

    def _statement(self, stream: str, query: StreamQuery) -> tuple[str, list[Any]]:
        columns = self._columns[stream]

        def column(name: str) -> str:
            if name not in columns:
                raise BadRequest(f"'{stream}' has no column '{name}'.")
            return _identifier(name)

        chosen = ", ".join(column(f) for f in query.fields) if query.fields else "*"
        sql = f"SELECT {chosen} FROM {self._sources[stream]}"  # noqa: S608 - checked names
        values: list[Any] = []
        conditions = [_condition(column(f.field), f, values) for f in query.filters]
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        if query.sort:
            keys = [f"{column(n)} {'DESC' if d else 'ASC'} NULLS LAST" for n, d in query.sort]
            sql += " ORDER BY " + ", ".join(keys)
        if query.limit is not None:
            sql += f" LIMIT {int(query.limit)}"
        return sql, values

    async def check(self) -> Health:
        return Health(True, f"{len(self._columns)} table(s) readable")

    # -- whole SELECTs over the folder (the virtual layer's pushdown) ----------------------

    sql_dialect = "duckdb"

    async def select(self, sql: str, params: Mapping[str, Any]) -> AsyncIterator[pa.RecordBatch]:
        statement, values = self._checked(sql, params)
        first = True
        async for batch in self._batches(statement, values):
            tally(records=batch.num_rows, requests=int(first))
            first = False
            if batch.num_rows:
                yield batch

    async def estimate(self, sql: str, params: Mapping[str, Any]) -> Estimate:
        self._checked(sql, params)
        return Estimate(None)  # DuckDB's estimates over files are guesses; say none

    def _checked(self, sql: str, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The SELECT as DuckDB runs it (``$name`` parameters), read-only and naming only
        this folder's tables."""
        tree = parse(sql, parameters=True)
        ctes = cte_names(tree)
        for table in tree.find_all(exp.Table):
            if table.db or (table.name not in self._sources and table.name not in ctes):
                raise BadRequest(f"There is no table '{table.name}' in these files.")
        names = [p.name for p in tree.find_all(exp.Placeholder)]
        missing = sorted(set(names) - set(params))
        if missing:
            raise BadRequest(f"The statement needs values for {missing}.")
        return tree.sql(dialect=DIALECT), {n: params[n] for n in names}


def _each(reader: Any) -> Iterator[Any]:
    yield from reader


def _condition(target: str, item: Filter, values: list[Any]) -> str:
    if item.op == "in":
        options = list(item.value)
        values.extend(options)
        return f"{target} IN ({', '.join('?' for _ in options)})" if options else "FALSE"
    if item.op == "contains":
        values.append(str(item.value))
        return f"contains(CAST({target} AS VARCHAR), ?)"
    values.append(item.value)
    return f"{target} {_SQL_OPS[item.op]} ?"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json(kind: str) -> dict[str, Any]:
    if kind in _JSON_TYPES:
        return {"type": _JSON_TYPES[kind]}
    if kind.startswith("DECIMAL"):
        return {"type": "number"}
    if kind.startswith("TIMESTAMP"):
        return {"type": "string", "format": "date-time"}
    if kind == "DATE":
        return {"type": "string", "format": "date"}
    return {"type": "string"}


class FilesConnectorType:
    name: ClassVar[str] = "files"
    summary: ClassVar[str] = "CSV, Parquet and JSON files in a folder, read by DuckDB."
    config_model: ClassVar[type[ConnectorConfig]] = FilesConfig

    def open(self, config: Any, context: ConnectorContext) -> Connector:
        assert isinstance(config, FilesConfig)
        return FilesConnector(config, context)
