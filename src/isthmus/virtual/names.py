"""Reading a virtual query: DuckDB's SQL, read-only, naming only sources and Views.

Names are case-sensitive (a REST stream's ``customerId`` is not ``customerid``), so the
dialect is DuckDB's with case-sensitive identifiers. A query may only read: one
SELECT (UNION and WITH included), no table functions (``read_csv('/etc/passwd')``),
no functions that reach outside the query. The engine runs with DuckDB's external
access turned off as well; this check says why in words before anything runs.
"""

from __future__ import annotations

from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from isthmus.errors import FatalError

DIALECT = Dialect.get_or_raise("duckdb, normalization_strategy=case_sensitive")

# DuckDB functions that read files, settings, the environment or the catalog, or run SQL
# given as text; prefixes catch their families.
_REFUSED = frozenset(
    {"getenv", "current_setting", "glob", "query", "query_table", "sniff_csv", "load",
     "install", "checkpoint", "force_checkpoint", "enable_profiling", "which_secret"}
)  # fmt: skip
_REFUSED_PREFIXES = ("read_", "duckdb_", "pragma_", "parquet_", "iceberg_", "delta_", "http")
_WRITES = (exp.Into, exp.Lock, exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create)


class SqlInvalid(FatalError):
    status = 400
    code = "virtual-sql-invalid"
    title = "The query is not one read-only SELECT"
    remediation = (
        "Send one SELECT (DuckDB's SQL) over Views and 'connection.stream' tables; quote "
        "names with '-' in them (\"demo-crm\".customers)."
    )


def parse(sql: str, *, parameters: bool = False) -> exp.Query:
    """The query's tree, or :class:`SqlInvalid` saying what it may not do. Callers'
    queries take no parameters; statements the planner wrote do (``parameters``)."""
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=DIALECT) if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).split("\n", 1)[0][:200]
        raise SqlInvalid(f"The query does not parse: {first}") from None
    if len(statements) != 1:
        raise SqlInvalid("Send exactly one statement.")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise SqlInvalid(f"{type(tree).__name__.upper()} is not a query: Views only read.")
    for node in tree.walk():
        if isinstance(node, _WRITES):
            raise SqlInvalid("The query may only read (no INTO, FOR UPDATE or writes).")
        if not parameters and isinstance(node, exp.Placeholder | exp.Parameter):
            raise SqlInvalid("Write values into the query; it takes no parameters ($1, ?).")
        if isinstance(node, exp.Table) and not isinstance(node.this, exp.Identifier):
            raise SqlInvalid("Table functions are not available: name a View or a stream.")
        if isinstance(node, exp.Table) and node.catalog:
            raise SqlInvalid(f"'{node.sql(dialect=DIALECT)}' has too many parts.")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in _REFUSED or name.startswith(_REFUSED_PREFIXES):
                raise SqlInvalid(f"The function {name}() is not available in queries.")
    return tree


def cte_names(tree: exp.Expr) -> set[str]:
    return {cte.alias_or_name for cte in tree.find_all(exp.CTE)}


@lru_cache(maxsize=1024)
def referenced_tables(sql: str) -> tuple[tuple[str | None, str], ...]:
    """``(connection, stream)`` for each source the query names, ``(None, view)`` for
    each View, in order of first mention."""
    tree = parse(sql)
    ctes = cte_names(tree)
    found: dict[tuple[str | None, str], None] = {}
    for table in tree.find_all(exp.Table):
        if not table.db and table.name in ctes:
            continue
        found[(table.db or None, table.name)] = None
    return tuple(found)
