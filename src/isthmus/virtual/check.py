"""A View's schema checked on apply: its SQL planned against the Connections it reads,
in each Environment that has them all, and its declared key, columns and relations held
to what the SQL gives.

The Connections are opened for the check and closed after it. One that cannot be opened
(a System that is down) leaves the View unchecked there — said as a warning, not a
failure: an apply must not depend on every System being up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from isthmus.connectors.base import Connector, SecretResolver
from isthmus.errors import IsthmusError
from isthmus.gateway.pool import ConnectionPool
from isthmus.model import Connection, EventType, ResourceKey, View
from isthmus.store.series import SeriesRepository
from isthmus.virtual.planner import plan
from isthmus.virtual.series import SOURCE as SERIES
from isthmus.virtual.series import SeriesConnector, series_types
from isthmus.virtual.shapes import mismatches
from isthmus.virtual.sources import Sources

Path_ = tuple[str | int, ...]


@dataclass
class ViewReport:
    problems: list[tuple[ResourceKey, Path_, str]] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # warnings: why a View went unchecked


async def check_views(
    views: Mapping[str, View],
    changed: Iterable[str],
    connections: Iterable[Connection],
    event_types: Mapping[str, EventType],
    secrets: SecretResolver,
    series: SeriesRepository | None = None,
) -> ViewReport:
    """Plan each View in ``changed`` (others are planned only as their parts)."""
    report = ViewReport()
    by_key = {c.key: c for c in connections}
    environments = sorted({key.environment for key in by_key if key.environment})
    wanted = sorted(set(changed) & set(views))
    needed = {key for key in by_key if any(_reads(views, v, key.name) for v in wanted)}
    if not wanted:
        return report
    pool = ConnectionPool(secrets, grace_seconds=0)
    try:
        await pool.sync({key: by_key[key] for key in needed}, {})
        states = {(s.connection, s.environment): s for s in pool.states()}
        for name in wanted:
            _check_one(views, name, environments, pool, states, event_types, series, report)
    finally:
        await pool.aclose()
    return report


def _check_one(
    views: Mapping[str, View],
    name: str,
    environments: list[str],
    pool: ConnectionPool,
    states: Mapping[tuple[str, str], object],
    event_types: Mapping[str, EventType],
    series: SeriesRepository | None,
    report: ViewReport,
) -> None:
    view = views[name]
    key = view.key
    connections = _connections(views, name, set())
    where = [
        env for env in environments if all(c == SERIES or (c, env) in states for c in connections)
    ]
    if not where and connections - {SERIES}:
        report.unchecked.append(
            f"View '{name}': no Environment has every Connection it reads "
            f"({', '.join(sorted(connections))})"
        )
        return
    for environment in where or ["sandbox"]:
        closed = [c for c in connections if c != SERIES and not _open(pool, c, environment)]
        if closed:
            report.unchecked.append(
                f"View '{name}' in {environment}: Connection(s) {', '.join(closed)} could "
                "not be opened, so its columns were not checked there"
            )
            continue

        def connector_for(connection: str, env: str = environment) -> Connector:
            if connection == SERIES and series is not None:
                return SeriesConnector(env, series_types(event_types), series)
            return pool.get(ResourceKey("Connection", connection, env))

        every = f"SELECT * FROM {name}"  # noqa: S608 - a View's name is an identifier
        try:
            found = plan(every, Sources(environment, views, connector_for), lambda _c, _n: True)
        except IsthmusError as error:
            report.problems.append((key, ("spec", "sql"), f"in {environment}: {error.detail}"))
            return
        for problem in mismatches(view, found.columns):
            report.problems.append((key, ("spec",), problem))
        return


def _open(pool: ConnectionPool, connection: str, environment: str) -> bool:
    try:
        pool.get(ResourceKey("Connection", connection, environment))
    except IsthmusError:
        return False
    return True


def _connections(views: Mapping[str, View], name: str, seen: set[str]) -> set[str]:
    """The Connections a View reads, through the Views it reads too."""
    if name in seen or name not in views:
        return set()
    seen.add(name)
    found: set[str] = set()
    for connection, table in views[name].tables:
        if connection is None:
            found |= _connections(views, table, seen)
        else:
            found.add(connection)
    return found


def _reads(views: Mapping[str, View], name: str, connection: str) -> bool:
    return connection in _connections(views, name, set())
