"""The planner: one virtual query as scans of sources plus the rest, run in DuckDB.

1. Views are inlined as subqueries (each View's own SQL, recursively; cycles refused).
2. sqlglot qualifies every column against the sources' schemas (``SELECT *`` expands,
   unknown columns are refused) and annotates types.
3. Every part of the query (scope) that reads only tables of one SQL database, with
   functions every database spells alike, is sent to that database whole: joins,
   aggregates, sorts and limits included, constants bound as parameters. The largest
   such part wins.
4. Every other table becomes a scan of its stream: the columns the query uses, the
   simple predicates on it the stream can filter on and — where the table is all its
   part of the query reads — sort and limit.
5. What is left runs in DuckDB over the scans' rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sqlglot import exp
from sqlglot.errors import OptimizeError, SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.merge_subqueries import merge_subqueries
from sqlglot.optimizer.pushdown_predicates import pushdown_predicates
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, traverse_scope

from isthmus.connectors.base import StreamQuery
from isthmus.errors import FatalError
from isthmus.virtual.names import DIALECT, SqlInvalid, cte_names, parse
from isthmus.virtual.plans import Column, KeysFrom, Plan, Scan
from isthmus.virtual.pushdown import (
    Predicate,
    conjuncts,
    parametrize,
    predicate,
    pushable,
    split_between,
    temporal_values,
)
from isthmus.virtual.sources import Sources, SourceTable, UnknownTable
from isthmus.virtual.types import column_type


class ViewCycle(FatalError):
    status = 422
    code = "virtual-view-cycle"
    title = "Views refer to each other in a circle"
    remediation = "Change one of the Views so that it no longer reads the others in the circle."


class KeyFilterMissing(FatalError):
    status = 422
    code = "virtual-key-filter-missing"
    title = "A source cannot be listed without a filter"
    remediation = "Add the filter the problem names to the query (an equality or IN list)."


def plan(
    sql: str | exp.Query, sources: Sources, may_read: Callable[[str | None, str], bool]
) -> Plan:
    """The plan for ``sql`` (text, or a parsed template whose ``:vN`` parameters the plan
    is bound to later). ``may_read(connection, name)`` says whether the caller may name a
    stream (connection set) or a View (connection None) at the query's top."""
    tree = parse(sql) if isinstance(sql, str) else sql.copy()
    views: list[str] = []
    tree = _inline(tree, sources, may_read, (), views)
    tables: dict[tuple[str, str], SourceTable] = {}
    for node in tree.find_all(exp.Table):
        if node.db:
            tables.setdefault((node.db, node.name), sources.table(node.db, node.name))
    schema: dict[str, object] = {}
    for (connection, stream), table in tables.items():
        streams = schema.setdefault(connection, {})
        assert isinstance(streams, dict)
        streams[stream] = table.types
    try:
        tree = qualify(
            tree, schema=schema, dialect=DIALECT, validate_qualify_columns=True,
            quote_identifiers=False,
        )  # fmt: skip
        # Views inlined as subqueries merge into the query where they can, so filters
        # and the columns asked for reach the tables (sqlglot's own rewrites).
        tree = pushdown_projections(tree)
        tree = merge_subqueries(tree)
        tree = pushdown_predicates(tree, dialect=DIALECT)
        tree = pushdown_projections(tree)
        tree = annotate_types(tree, schema=schema, dialect=DIALECT)
    except OptimizeError as exc:
        raise SqlInvalid(str(exc).split("\n", 1)[0][:300]) from None
    except SqlglotError:
        raise SqlInvalid("The query could not be resolved against its tables.") from None
    assert isinstance(tree, exp.Query)
    columns = tuple(
        Column(name, column_type(node.type))
        for name, node in zip(tree.named_selects, _selects(tree), strict=False)
    )
    splitter = _Splitter(tree, tables)
    rest = splitter.run()
    scans = tuple(splitter.scans)
    alone = len(scans) == 1 and _projects(splitter.tree, scans[0], [c.name for c in columns])
    parameters = tuple(dict.fromkeys(p.name for p in splitter.tree.find_all(exp.Placeholder)))
    return Plan(rest, scans, columns, tuple(dict.fromkeys(views)), alone, parameters)


def _projects(tree: exp.Expr, scan: Scan, names: list[str]) -> bool:
    """Whether ``tree`` only hands on the scan's columns, all of them, in order."""
    if not isinstance(tree, exp.Select) or any(
        tree.args.get(part)
        for part in ("where", "group", "having", "order", "limit", "offset", "distinct",
                     "joins", "with", "qualify", "windows")
    ):  # fmt: skip
        return False
    source = tree.args.get("from_")
    if source is None or not isinstance(source.this, exp.Table) or source.this.name != scan.name:
        return False
    picked = [p.name if isinstance(p, exp.Column) else None for p in tree.selects]
    return picked == list(scan.columns) == names


def _selects(tree: exp.Query) -> list[exp.Expr]:
    while isinstance(tree, exp.SetOperation):
        tree = tree.left
    return list(tree.selects)


def _inline(
    tree: exp.Query,
    sources: Sources,
    may_read: Callable[[str | None, str], bool] | None,
    stack: tuple[str, ...],
    used: list[str],
) -> exp.Query:
    ctes = cte_names(tree)
    for node in list(tree.find_all(exp.Table)):
        if node.db:
            if may_read is not None and not may_read(node.db, node.name):
                raise UnknownTable(
                    f"'{node.db}.{node.name}' is not readable here: query the Views "
                    "published to you.",
                )
            continue
        if node.name in ctes:
            continue
        view = sources.view(node.name)
        if view is None or (may_read is not None and not may_read(None, node.name)):
            raise UnknownTable(f"There is no View '{node.name}' you may query.")
        if node.name in stack:
            circle = " → ".join((*stack[stack.index(node.name) :], node.name))
            raise ViewCycle(f"The Views read each other in a circle: {circle}.")
        used.append(node.name)
        inner = _inline(parse(view.spec.sql), sources, None, (*stack, node.name), used)
        alias = node.alias or node.name
        node.replace(exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(alias))))
    return tree


class _Splitter:
    """Decides, for a qualified tree, what each source does, and rewrites the tree to
    read the scans instead."""

    def __init__(self, tree: exp.Query, tables: dict[tuple[str, str], SourceTable]) -> None:
        self.tree = tree
        self.tables = tables
        self.scans: list[Scan] = []
        self.scopes = traverse_scope(tree)
        # a table scan's simple conditions, pushed or not: its rows the query keeps
        self.conditions: dict[str, list[exp.Expr]] = {}
        self.database_of: dict[int, str] = {}  # id(scope expression) → its one database

    def run(self) -> str:
        for scope in self.scopes:  # children before parents
            database = self._one_database(scope)
            if database is not None:
                self.database_of[id(scope.expression)] = database
        sent = [s for s in self.scopes if self._sent_whole(s)]
        inside_sent = {id(n) for s in sent for n in s.expression.walk()}
        replacements: list[tuple[exp.Expr, exp.Expr]] = []
        part_scan: dict[int, int] = {}  # id(part's expression) → index of its scan
        for scope in sent:
            replacements.append((scope.expression, self._database_scan(scope)))
            part_scan[id(scope.expression)] = len(self.scans) - 1
        for scope in self.scopes:
            if id(scope.expression) in inside_sent:
                continue
            scans: dict[str, int] = {}  # alias → index of its scan
            for alias, (node, source) in scope.selected_sources.items():
                if isinstance(node, exp.Table) and node.db:
                    replacements.append((node, self._table_scan(scope, alias, node)))
                    scans[alias] = len(self.scans) - 1
                elif isinstance(source, Scope) and id(source.expression) in part_scan:
                    scans[alias] = part_scan[id(source.expression)]
            if len(scans) > 1:
                self._link_keys(scope, scans)
        for old, new in replacements:
            if old is self.tree:
                self.tree = new  # type: ignore[assignment]
            else:
                old.replace(new)
        return self.tree.sql(dialect=DIALECT)

    # -- whole parts sent to one database -----------------------------------------------

    def _one_database(self, scope: Scope) -> str | None:
        """The SQL source that can run this scope whole, if one can."""
        if scope.external_columns:
            return None
        found: set[str] = set()
        dialects: set[str] = set()
        for child in scope.set_operation_scopes + scope.subquery_scopes:
            found.add(self.database_of.get(id(child.expression), ""))
        for source in scope.sources.values():
            if isinstance(source, Scope):
                if not _within(source.expression, scope.expression):
                    return None  # a CTE defined outside: the database would not know it
                found.add(self.database_of.get(id(source.expression), ""))
            elif isinstance(source, exp.Table):
                table = self.tables.get((source.db, source.name))
                database = table.database if table else None
                found.add(table.connection if table and database else "")
                dialects.add(database.sql_dialect if database else "")
        if len(found) != 1 or "" in found:
            return None
        dialect = dialects.pop() if len(dialects) == 1 else ""
        return found.pop() if pushable(scope.expression, dialect) else None

    def _sent_whole(self, scope: Scope) -> bool:
        database = self.database_of.get(id(scope.expression))
        if database is None:
            return False
        node = scope.expression.parent
        while node is not None:  # a larger part for the same database takes it in
            if self.database_of.get(id(node)) == database:
                return False
            node = node.parent
        return True

    def _database_scan(self, scope: Scope) -> exp.Expr:
        expression = scope.expression
        assert isinstance(expression, exp.Query)
        statement = expression.copy()
        some_table: SourceTable | None = None
        read: list[str] = []
        ttls: list[float | None] = []
        for node in statement.find_all(exp.Table):
            if node.db:
                some_table = self.tables[(node.db, node.name)]
                read.append(some_table.name)
                ttls.append(some_table.ttl)
                node.set("db", None)
        assert some_table is not None
        assert some_table.database is not None
        params = parametrize(statement)
        temporal_values(statement, params)
        names = tuple(expression.named_selects)
        types = {
            n: _sql_kind(node.type) for n, node in zip(names, _selects(expression), strict=False)
        }
        scan = Scan(
            self._name(), some_table, names, types, statement=statement, params=params,
            tables=tuple(dict.fromkeys(read)), whole_part=True,
            narrowable=_group_keys(statement),
            ttl=None if None in ttls else min(t for t in ttls if t is not None),
        )  # fmt: skip
        self.scans.append(scan)
        return exp.select(*[exp.column(n, quoted=True) for n in names]).from_(
            exp.to_table(scan.name)
        )

    # -- one table's stream ------------------------------------------------------------

    def _table_scan(self, scope: Scope, alias: str, node: exp.Table) -> exp.Expr:
        table = self.tables[(node.db, node.name)]
        wanted = [c for c in _used_columns(scope, alias) if c in table.types]
        if not wanted:  # COUNT(*): some column still carries the rows
            wanted = [next(iter(table.spec.primary_key), next(iter(table.types)))]
        predicates, whole = self._predicates(scope, alias)
        sort, limit = self._order_and_limit(scope, alias, whole)
        types = {c: table.types[c] for c in wanted}
        if table.database is not None:
            scan = self._single_table_select(table, wanted, types, predicates, scope, sort, limit)
        else:
            scan = self._stream_scan(table, wanted, types, predicates, sort, limit)
        self.scans.append(scan)
        self.conditions[scan.name] = [p.node for p in predicates if p.column in wanted]
        return exp.Table(this=exp.to_identifier(scan.name), alias=exp.TableAlias(
            this=exp.to_identifier(alias)))  # fmt: skip

    def _stream_scan(
        self,
        table: SourceTable,
        wanted: list[str],
        types: dict[str, str],
        predicates: list[Predicate],
        sort: list[tuple[str, bool]] | None,
        limit: int | None,
    ) -> Scan:
        pushdown = table.spec.pushdown
        filters = tuple(
            p.as_filter()
            for p in predicates
            if p.op in pushdown.filter_ops
            and (pushdown.filter_fields is None or p.column in pushdown.filter_fields)
        )
        for required in table.spec.required_filters:
            if not any(f.field == required and f.op in ("eq", "in") for f in filters):
                raise KeyFilterMissing(
                    f"'{table.name}' can only be read with a filter on '{required}' "
                    f"(such as WHERE {required} = …).",
                )
        everything = len(filters) == len(predicates)
        if sort and not pushdown.sort:
            sort = None
        if limit is not None and not (everything and pushdown.limit and sort is not None):
            limit = None
        query = StreamQuery(
            filters=filters,
            fields=tuple(wanted) if pushdown.projection else None,
            sort=tuple(sort or ()),
            limit=limit,
        )
        return Scan(self._name(), table, tuple(wanted), types, query=query, ttl=table.ttl)

    def _single_table_select(
        self,
        table: SourceTable,
        wanted: list[str],
        types: dict[str, str],
        predicates: list[Predicate],
        scope: Scope,
        sort: list[tuple[str, bool]] | None,
        limit: int | None,
    ) -> Scan:
        statement = exp.select(*[exp.column(c) for c in wanted]).from_(
            exp.Table(this=exp.to_identifier(table.spec.name))
        )
        for item in predicates:
            condition = item.node.copy()
            for column in condition.find_all(exp.Column):
                column.set("table", None)
            statement = statement.where(condition, copy=False)
        if sort is not None and limit is not None:
            for name, descending in sort:
                statement = statement.order_by(
                    exp.Ordered(this=exp.column(name), desc=descending, nulls_first=False),
                    copy=False,
                )
            statement = statement.limit(limit, copy=False)
        assert table.database is not None
        params = parametrize(statement)
        for condition in conjuncts(statement.args.get("where") and statement.args["where"].this):
            _type_columns(condition, table)
        temporal_values(statement, params)
        return Scan(
            self._name(), table, tuple(wanted), types, statement=statement, params=params,
            tables=(table.name,), ttl=table.ttl,
        )  # fmt: skip

    def _link_keys(self, scope: Scope, scans: dict[str, int]) -> None:
        """Where two scans are joined on equal columns and only one is filtered, the
        other reads just the keys the first one found (a semi-join at the source)."""
        select = scope.expression
        assert isinstance(select, exp.Select)
        where = select.args.get("where")
        pairs: list[tuple[exp.Expr, set[str]]] = [
            (c, set(scans)) for c in conjuncts(where.this if where else None)
        ]
        for join in select.args.get("joins") or []:
            side, kind = join.side.upper(), join.kind.upper()
            if kind not in ("", "INNER") or side in ("RIGHT", "FULL"):
                continue
            # the optional side of a LEFT JOIN may be narrowed to the keys; never the other
            optional = set(scans) if side == "" else {join.this.alias_or_name}
            pairs += [(c, optional) for c in conjuncts(join.args.get("on"))]
        for condition, may_narrow in pairs:
            if not (
                isinstance(condition, exp.EQ)
                and isinstance(condition.left, exp.Column)
                and isinstance(condition.right, exp.Column)
            ):
                continue
            ends = [(condition.left.table, condition.left.name),
                    (condition.right.table, condition.right.name)]  # fmt: skip
            for (first, key), (then, into) in (ends, ends[::-1]):
                if first not in scans or then not in scans or then not in may_narrow:
                    continue
                driver, narrowed = self.scans[scans[first]], self.scans[scans[then]]
                kept = self.conditions.get(driver.name, [])
                if (
                    (driver.selective or kept)
                    and not narrowed.selective
                    and narrowed.keys is None
                    and driver.keys is None
                    and key in driver.columns
                    and narrowed.keys_accepted(into)
                ):
                    where = _unqualified(kept)
                    names = tuple(
                        dict.fromkeys(p.name for c in kept for p in c.find_all(exp.Placeholder))
                    )
                    link = KeysFrom(driver.name, key, into, where, names)
                    self.scans[scans[then]] = replace(narrowed, keys=link)

    def _predicates(self, scope: Scope, alias: str) -> tuple[list[Predicate], bool]:
        """The simple predicates on ``alias`` that may be applied at its source, and
        whether they are all the filtering its scope does."""
        select = scope.expression
        if not isinstance(select, exp.Select):
            return [], False
        where = select.args.get("where")
        candidates = [p for c in conjuncts(where.this if where else None) for p in split_between(c)]
        others = False
        for join in select.args.get("joins") or []:
            side, kind = join.side.upper(), join.kind.upper()
            on = conjuncts(join.args.get("on"))
            inner = side in ("", "INNER") and kind in ("", "INNER", "CROSS")
            # the optional side of a LEFT JOIN may be filtered by its ON; never the other
            if inner or (side == "LEFT" and join.this.alias_or_name == alias):
                candidates += [p for c in on for p in split_between(c)]
        found: list[Predicate] = []
        for candidate in candidates:
            simple = predicate(candidate)
            if simple is not None and simple.alias == alias:
                found.append(simple)
            elif alias in {c.table for c in candidate.find_all(exp.Column)}:
                others = True
        only_source = len(scope.selected_sources) == 1 and not select.args.get("joins")
        return found, only_source and not others and not select.args.get("having")

    def _order_and_limit(
        self, scope: Scope, alias: str, whole: bool
    ) -> tuple[list[tuple[str, bool]] | None, int | None]:
        """Sort and limit for the source, where the table is all its scope reads and
        every filter went down with it; (None, None) otherwise."""
        select = scope.expression
        if not whole or not isinstance(select, exp.Select):
            return None, None
        if select.args.get("group") or select.args.get("distinct") or not pushable_shape(select):
            return None, None
        limit = _count(select.args.get("limit"))
        if limit is None:
            return None, None
        offset = _count(select.args.get("offset")) or 0
        sort: list[tuple[str, bool]] = []
        order = select.args.get("order")
        for ordered in order.expressions if order else []:
            column = ordered.this
            if not (isinstance(column, exp.Column) and column.table == alias):
                return None, None
            if ordered.args.get("nulls_first"):
                return None, None  # sources put missing values last, as DuckDB does
            sort.append((column.name, bool(ordered.args.get("desc"))))
        return sort, limit + offset

    def _name(self) -> str:
        return f"__scan{len(self.scans)}"


def pushable_shape(select: exp.Select) -> bool:
    """No aggregates or windows: the source's first rows are the query's first rows."""
    return not any(isinstance(n, exp.AggFunc | exp.Window) for n in select.walk())


def _count(node: exp.Expr | None) -> int | None:
    if node is None:
        return None
    value = node.expression if isinstance(node, exp.Limit | exp.Offset) else node
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.name)
    return None


def _group_keys(statement: exp.Query) -> dict[str, exp.Column]:
    """Output columns of a SELECT that a filter on their values can go into the WHERE of
    without changing the other rows: columns it groups by (or, without aggregates, any
    column), and where it has windows, only columns every window partitions by."""
    if (
        not isinstance(statement, exp.Select)
        or statement.args.get("distinct")
        or statement.args.get("limit")
        or statement.args.get("offset")
    ):
        return {}
    group = statement.args.get("group")
    keys = {k.sql() for k in group.expressions} if group else None
    if keys is None and any(isinstance(n, exp.AggFunc) for n in statement.walk()):
        return {}
    for window in statement.find_all(exp.Window):
        parts = {p.sql() for p in window.args.get("partition_by") or []}
        keys = parts if keys is None else keys & parts
    found: dict[str, exp.Column] = {}
    for projection in statement.selects:
        inner = projection.unalias()
        if isinstance(inner, exp.Column) and (keys is None or inner.sql() in keys):
            found[projection.alias_or_name] = inner
    return found


def _used_columns(scope: Scope, alias: str) -> list[str]:
    return list(
        dict.fromkeys(c.name for c in scope.expression.find_all(exp.Column) if c.table == alias)
    )


def _unqualified(conditions: list[exp.Expr]) -> str | None:
    """Conditions on one table's columns, written for its scan's rows alone (DuckDB)."""
    if not conditions:
        return None
    parts = []
    for condition in conditions:
        copy = condition.copy()
        for column in copy.find_all(exp.Column):
            column.set("table", None)
        parts.append(copy)
    return exp.and_(*parts).sql(dialect=DIALECT)


def _within(node: exp.Expr, ancestor: exp.Expr) -> bool:
    current: exp.Expr | None = node
    while current is not None:
        if current is ancestor:
            return True
        current = current.parent
    return False


def _type_columns(condition: exp.Expr, table: SourceTable) -> None:
    """Give the bare columns of a copied predicate their types again (for binding)."""
    for column in condition.find_all(exp.Column):
        kind = table.types.get(column.name)
        if kind is not None:
            column.type = exp.DataType.build(kind)


def _sql_kind(kind: exp.DataType | None) -> str:
    """The Arrow-facing type of a database result column (see :mod:`types`)."""
    return {
        "integer": "BIGINT",
        "number": "DOUBLE",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "date-time": "TIMESTAMP",
    }.get(column_type(kind), "VARCHAR")
