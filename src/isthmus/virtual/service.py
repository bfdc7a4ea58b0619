"""The virtual data layer as the faces use it: plan (cached), check, run, audit.

Every face (SQL, REST collections, OData, GraphQL) ends here with a query in SQL, the
caller's Environment and what the caller may read, so guards and the audit are the
same whichever way a low-code tool asks.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlglot import exp

from isthmus.connectors.base import Connector
from isthmus.errors import ConfigurationError, IsthmusError
from isthmus.events.base import Message
from isthmus.governance.audit import AuditEntry, AuditSink, record_soon
from isthmus.model.connection import SourceCaching
from isthmus.model.view import View
from isthmus.store.series import SeriesRepository
from isthmus.virtual.cache import SourceCache, StreamKey
from isthmus.virtual.engine import Engine, Result
from isthmus.virtual.explain import explain
from isthmus.virtual.limits import Limits, check_costs
from isthmus.virtual.names import parse
from isthmus.virtual.planner import plan
from isthmus.virtual.plans import Plan
from isthmus.virtual.series import SeriesRecorder
from isthmus.virtual.shapes import ViewShape, mismatches
from isthmus.virtual.sources import Sources
from isthmus.virtual.template import key_of, templatize

PLAN_CACHE_SIZE = 512
log = structlog.get_logger(__name__)


class ViewUnavailable(ConfigurationError):
    code = "view-unavailable"
    title = "The View cannot be served"
    remediation = (
        "Tell the View's owner: its SQL must plan against the Connections of this "
        "Environment (the hub's status names why it does not)."
    )


@dataclass(frozen=True)
class Access:
    """What a caller may name at the top of a query: these Views (None: all of them),
    and streams directly or not (Apps query Views; the hub's operators may read both)."""

    views: frozenset[str] | None
    streams: bool = False

    def may_read(self, connection: str | None, name: str) -> bool:
        if connection is not None:
            return self.streams
        return self.views is None or name in self.views


@dataclass(frozen=True)
class Catalog:
    """The Views of one store revision and how to reach the Connections behind them."""

    revision: int
    views: Mapping[str, View]
    connector_for: Callable[[str, str], Connector]  # (connection, environment)
    caching: Mapping[tuple[str, str], SourceCaching] = field(default_factory=dict)
    changes: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    # (connection, environment) → its cache; EventType → the streams its events change

    def sources(self, environment: str) -> Sources:
        return Sources(
            environment,
            self.views,
            lambda name: self.connector_for(name, environment),
            self.revision,
            {c: cache for (c, env), cache in self.caching.items() if env == environment},
        )


class VirtualData:
    def __init__(
        self, audit: AuditSink, limits: Limits, series: SeriesRepository | None = None
    ) -> None:
        self.audit = audit
        self.limits = limits
        self.recorder = SeriesRecorder(series) if series is not None else None
        self.cache = SourceCache()
        self.engine = Engine(limits, self.cache)
        self.catalog: Catalog | None = None  # the current one, for events' changes
        self._plans: OrderedDict[tuple[Any, ...], Plan] = OrderedDict()
        # query text → (its template, the template's cache key, its values)
        self._templates: OrderedDict[str, tuple[exp.Expr, tuple[object, ...], dict[str, Any]]]
        self._templates = OrderedDict()
        self._revision = -1

    def close(self) -> None:
        self.engine.close()

    def plan(self, sql: str, catalog: Catalog, environment: str, access: Access) -> Plan:
        """The plan for ``sql``, bound to its values. Plans are made per template (the
        query with its compared values taken out) and reused while the store's revision
        stays the same (plans hold the Connections of their revision)."""
        if catalog.revision != self._revision:  # Connections may point elsewhere now
            self._plans.clear()
            self._templates.clear()
            self.cache.clear()
            self._revision = catalog.revision
        found = self._templates.get(sql)
        if found is None:
            template, values = templatize(parse(sql))
            found = (template, key_of(template, values), values)
            self._templates[sql] = found
            if len(self._templates) > PLAN_CACHE_SIZE:
                self._templates.popitem(last=False)
        template, shape, values = found
        key = (environment, access, shape)
        chosen = self._plans.get(key)
        if chosen is None:
            assert isinstance(template, exp.Query)
            chosen = plan(template, catalog.sources(environment), access.may_read)
            self._plans[key] = chosen
            if len(self._plans) > PLAN_CACHE_SIZE:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        return chosen.bind(values)

    async def query(
        self, sql: str, catalog: Catalog, environment: str, access: Access, actor: str
    ) -> Result:
        started = time.perf_counter()
        detail: dict[str, Any] = {"environment": environment, "sql": sql[:2000]}
        outcome = "failed"
        try:
            chosen = self.plan(sql, catalog, environment, access)
            detail["views"] = list(chosen.views)
            check_costs(chosen, self.limits)
            result = await self.engine.run(chosen)
        except IsthmusError as error:
            outcome = "refused" if error.status < 500 else "failed"
            detail["code"] = error.code
            raise
        else:
            outcome = "ok"
            detail["rows"] = len(result.rows)
            detail["sources"] = [
                {"source": c.source, "rows": c.rows, "requests": c.requests, "cached": c.cached}
                for c in result.counts
            ]
            return result
        finally:
            detail["ms"] = round((time.perf_counter() - started) * 1000, 2)
            target = "views/" + ",".join(detail.get("views") or ["-"])
            # queued for the audit log's next group commit (with its sources' statements),
            # not waited for: a short query would otherwise wait on a store commit
            record_soon(self.audit, AuditEntry(actor, "virtual.query", target, outcome, detail))

    def shape(self, view: str, catalog: Catalog, environments: Sequence[str]) -> ViewShape:
        """The View's columns as planned in the first Environment that can plan it (the
        contract is the same in each); :class:`ViewUnavailable` if none can."""
        reasons: list[str] = []
        for environment in environments:
            try:
                every = f"SELECT * FROM {view}"  # noqa: S608 - a View's name is an identifier
                chosen = self.plan(every, catalog, environment, Access(None))
            except IsthmusError as error:
                reasons.append(f"{environment}: {error.detail}")
                continue
            found = ViewShape(catalog.views[view], chosen.columns, self.limits.max_text_length)
            problems = mismatches(found.view, chosen.columns)
            if problems:
                raise ViewUnavailable(f"View '{view}' does not match its declaration: "
                                      + "; ".join(problems) + ".")  # fmt: skip
            return found
        raise ViewUnavailable(
            f"View '{view}' could not be planned in any Environment."
            + (f" ({'; '.join(reasons)})" if reasons else "")
        )

    def published(self, messages: Sequence[Message]) -> None:
        """Events were published through this hub: keep those kept as time series, and
        drop the rows of streams they say changed (an EventType's ``changes``)."""
        if self.recorder is not None:
            self.recorder.published(messages)
        if self.catalog is None:
            return
        changed: set[StreamKey] = set()
        for message in messages:
            environment, _, event_type = message.topic.partition(".")
            for connection, stream in self.catalog.changes.get(event_type, ()):
                changed.add((environment, connection, stream))
        if changed:
            dropped = self.cache.invalidate(changed)
            log.info("virtual.cache_invalidated", streams=sorted(changed), entries=dropped)

    async def explain(
        self, sql: str, catalog: Catalog, environment: str, access: Access
    ) -> dict[str, Any]:
        chosen = self.plan(sql, catalog, environment, access)
        return await explain(chosen, self.limits)
