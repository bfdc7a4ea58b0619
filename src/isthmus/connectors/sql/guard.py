"""The statement guard of the governed SQL connector: what a caller's SQL may do.

A statement is parsed with sqlglot in the database's dialect and refused unless it is
exactly one ``SELECT`` (a ``UNION`` of them, ``WITH`` included) or, where the Connection
grants it on that table, one ``INSERT``, ``UPDATE`` or ``DELETE``. Every table and column
it names must exist in the introspected schema; functions with effects outside the
query (sleeping, files, other servers, settings, sessions) are refused by name; row
locks count as writes. What runs is the SQL regenerated from the checked tree, never
the text as sent, so the database executes exactly what was checked. Values travel as
``:name`` parameters, bound by the driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from isthmus.errors import FatalError

Write = Literal["insert", "update", "delete"]

# Functions whose effects reach outside the statement: refused in any statement.
_REFUSED_FUNCTIONS = frozenset(
    {
        # time and resources
        "pg_sleep", "pg_sleep_for", "pg_sleep_until", "sleep", "benchmark",
        # files and programs
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file",
        "lo_import", "lo_export", "lo_get", "lo_put", "load_file", "readfile", "writefile",
        "load_extension", "sys_exec", "sys_eval",
        # other servers and sessions
        "dblink", "dblink_exec", "dblink_connect", "pg_terminate_backend",
        "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
        # settings and advisory locks
        "set_config", "pg_advisory_lock", "pg_advisory_xact_lock", "get_lock",
        "release_lock", "txid_current", "nextval", "setval",
    }
)  # fmt: skip


class StatementRefused(FatalError):
    status = 422
    code = "sql-refused"
    title = "The SQL statement is not allowed on this Connection"
    remediation = (
        "Send one SELECT (or a write the Connection grants on that table), naming only "
        "tables and columns of the schema, with values as :name parameters."
    )


@dataclass(frozen=True)
class Schema:
    """What the database holds, as introspected: table → its columns (lower-case)."""

    tables: Mapping[str, frozenset[str]]


@dataclass(frozen=True)
class Grants:
    """Writes the Connection allows: table → the kinds allowed."""

    writes: Mapping[str, frozenset[Write]]


@dataclass(frozen=True)
class Checked:
    kind: Literal["select", "insert", "update", "delete"]
    sql: str  # regenerated from the checked tree
    tables: frozenset[str]
    parameters: tuple[str, ...]
    # every parameter is matched for equality (=, IN): the planner's cost hardly depends
    # on the values, so one estimate serves every call of the statement
    equality_only: bool = False


_WRITES: dict[type[exp.Expr], Write] = {
    exp.Insert: "insert",
    exp.Update: "update",
    exp.Delete: "delete",
}


def check(
    sql: str, dialect: str, schema: Schema, grants: Grants, row_cap: int | None = None
) -> Checked:
    """The statement made safe to run, or :class:`StatementRefused` saying why.
    ``dialect``: sqlglot's name for the database's SQL ("" reads ANSI SQL). With
    ``row_cap`` a SELECT returns at most that many rows (its own LIMIT if lower)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError):
        raise StatementRefused(f"The statement is not valid {_name(dialect)} SQL.") from None
    if len(statements) != 1:
        raise StatementRefused(
            "Send exactly one statement: a second one after ';' is never run.",
        )
    tree = statements[0]
    kind = _kind(tree)
    tables = _tables(tree, schema)
    writes = {(_table_name(node), _WRITES[type(node)]) for node in _write_nodes(tree)}
    if tree.find(exp.Lock) is not None:
        writes |= {(table, "update") for table in tables}
    for table, write in sorted(writes):
        if write not in grants.writes.get(table, frozenset()):
            raise StatementRefused(
                f"The Connection is read-only for '{table}' ({write.upper()} is not granted).",
                remediation="Ask the Connection's owner to grant that write on that table, "
                "or send a SELECT.",
            )
    _columns(tree, schema, tables)
    for function in tree.find_all(exp.Func):
        anonymous = isinstance(function, exp.Anonymous)  # a function sqlglot has no class for
        called = (function.name if anonymous else function.sql_name()).lower()
        if called in _REFUSED_FUNCTIONS:
            raise StatementRefused(f"The function {called}() is not allowed here.")
    placeholders = list(tree.find_all(exp.Placeholder))
    named = [p.name for p in placeholders if p.name and p.name.isidentifier()]
    if len(named) != len(placeholders) or tree.find(exp.Parameter) is not None:
        raise StatementRefused("Name every parameter (:name); '?' and '$1' are not taken.")
    if row_cap is not None and isinstance(tree, exp.Query):
        tree = _capped(tree, row_cap)
    # SQLAlchemy binds ':name' in every dialect; sqlglot would write %(name)s for some
    runnable = tree.transform(
        lambda node: exp.var(f":{node.name}") if isinstance(node, exp.Placeholder) else node
    )
    return Checked(
        kind,
        runnable.sql(dialect=dialect, comments=False),
        frozenset(tables),
        tuple(dict.fromkeys(named)),
        all(isinstance(p.parent, exp.EQ | exp.In) for p in placeholders),
    )


def _capped(tree: exp.Query, cap: int) -> exp.Query:
    limit = tree.args.get("limit")
    given = limit.expression if isinstance(limit, exp.Limit) else None
    if isinstance(given, exp.Literal) and given.is_int and int(given.name) <= cap:
        return tree
    if limit is not None and not isinstance(given, exp.Literal):
        return tree  # a LIMIT given as a parameter: the caller caps what it reads
    return tree.limit(cap)


def kind_of(sql: str, dialect: str) -> str | None:
    """What a statement would have done (select, insert, drop, …), for the audit of one
    that was refused; None when it does not parse as one statement."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError):
        return None
    if len(statements) != 1:
        return None
    tree = statements[0]
    if isinstance(tree, exp.Query):
        return "select"
    return _KINDS.get(type(tree).__name__)


_KINDS = {
    **{name: name.lower() for name in ("Insert", "Update", "Delete", "Merge", "Drop")},
    **{name: name.lower() for name in ("Create", "Alter", "Grant", "Revoke", "Set")},
    "TruncateTable": "truncate",
    "Command": "command",  # what sqlglot does not model: EXEC, VACUUM, …
}


_NAMES = {
    "postgres": "PostgreSQL",
    "mysql": "MySQL/MariaDB",
    "sqlite": "SQLite",
    "tsql": "SQL Server (T-SQL)",
    "oracle": "Oracle",
    "snowflake": "Snowflake",
    "bigquery": "BigQuery",
    "databricks": "Databricks",
}


def _name(dialect: str) -> str:
    return _NAMES.get(dialect, "ANSI")


def _kind(tree: exp.Expr) -> Literal["select", "insert", "update", "delete"]:
    if isinstance(tree, exp.Query):  # SELECT, UNION, INTERSECT, EXCEPT, WITH … SELECT
        return "select"
    if type(tree) in _WRITES:
        return _WRITES[type(tree)]
    raise StatementRefused(
        f"{type(tree).__name__.upper()} statements are never run here: no DDL, no "
        "administration, no transaction control.",
    )


def _write_nodes(tree: exp.Expr) -> list[exp.Expr]:
    """Every INSERT, UPDATE or DELETE in the statement, those inside a WITH too."""
    return [node for node in tree.walk() if type(node) in _WRITES]


def _table_name(node: exp.Expr) -> str:
    target = node.this  # INSERT INTO t (a, b) wraps the table in a Schema
    table = target if isinstance(target, exp.Table) else target.find(exp.Table)
    return table.name.lower() if table is not None else ""


def _tables(tree: exp.Expr, schema: Schema) -> set[str]:
    """The real tables named (common table expressions are not tables)."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    named = set()
    for table in tree.find_all(exp.Table):
        if table.db or table.catalog:
            raise StatementRefused(
                f"Name tables without a schema or database ('{table.name}'): the "
                "Connection reaches one schema."
            )
        name = table.name.lower()
        if name in ctes:
            continue
        if name not in schema.tables:
            known = ", ".join(sorted(schema.tables)) or "none"
            raise StatementRefused(f"There is no table '{table.name}'. Tables: {known}.")
        named.add(name)
    return named


def _columns(tree: exp.Expr, schema: Schema, tables: set[str]) -> None:
    """Every column named exists in a table of the statement (or is an output alias)."""
    known = set().union(*(schema.tables[t] for t in tables)) if tables else set()
    aliases = {a.alias.lower() for a in tree.find_all(exp.Alias)}
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for column in tree.find_all(exp.Column):
        name = column.name.lower()
        if not name or isinstance(column.this, exp.Star):
            continue
        if column.table and column.table.lower() in ctes:
            continue
        if name not in known and name not in aliases and not ctes:
            raise StatementRefused(f"There is no column '{column.name}' in {sorted(tables)}.")
