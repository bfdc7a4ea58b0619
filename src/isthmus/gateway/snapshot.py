"""The gateway's view of the store, rebuilt whenever the store's revision moves.

The hot path reads only this object (no ORM, no queries): routes, Apps and their
grants, and the digests of active API keys. A new snapshot replaces the old one in a
single assignment, so a request sees one consistent revision from start to finish.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import structlog

from isthmus.connectors.base import Connector, SecretResolver
from isthmus.errors import IsthmusError
from isthmus.events.base import Bus
from isthmus.events.delivery import SubscriptionWorker
from isthmus.events.receiver import CompiledHook, compile_hooks, with_secrets
from isthmus.events.triggers import TriggerWorker
from isthmus.gateway.pool import ConnectionPool
from isthmus.gateway.ratelimit import NO_POLICIES, Policies
from isthmus.gateway.routing import RouteTable
from isthmus.governance.tokens import TokenAuthority, TokenKeys
from isthmus.model import Api, App, Connection, EventType, Plan, ResourceKey, Subscription, View
from isthmus.store import Store
from isthmus.store.keys import digest
from isthmus.virtual.series import SOURCE as SERIES
from isthmus.virtual.series import SeriesConnector, series_types
from isthmus.virtual.service import Catalog, VirtualData
from isthmus.virtual.shapes import ViewShape

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Caller:
    key_id: str  # the API key's id, or the access token's jti
    app: str
    environment: str
    audience: str | None = None  # the one Api an access token is for; None for API keys
    kind: str = "api-key"  # or client-secret: good only for trading at /oauth/token
    expires_at: float | None = None  # a rotated credential works until then (epoch seconds)

    def expired(self) -> bool:
        return self.expires_at is not None and time.time() >= self.expires_at


@dataclass(frozen=True)
class Snapshot:
    revision: int
    routes: RouteTable
    keys: dict[str, Caller]  # sha256 digest -> caller
    grants: dict[str, frozenset[str]]  # app -> Apis it may call
    policies: dict[str, Policies]  # app -> its Plan's limits
    token_keys: TokenKeys
    credentials: dict[str, Caller]  # active credentials by id (tokens name the one they came from)
    hooks: dict[str, CompiledHook] = field(default_factory=dict)  # webhook triggers by path
    catalog: Catalog | None = None  # Views, for the virtual data layer
    published_views: dict[str, frozenset[str]] = field(default_factory=dict)  # api -> Views
    view_shapes: dict[str, ViewShape] = field(default_factory=dict)  # published, servable
    view_problems: dict[str, IsthmusError] = field(default_factory=dict)  # why not servable
    # (api, version) of served versions that publish Views: where /odata and /graphql are
    view_versions: frozenset[tuple[str, str]] = frozenset()
    # access decided per Environment (approved requests): (app, environment) -> Api -> Plan
    decided: dict[tuple[str, str], dict[str, Policies | None]] = field(default_factory=dict)
    # declared and decided Apis together, made once (every call asks)
    _granted: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for (app, environment), apis in self.decided.items():
            declared = self.grants.get(app, frozenset())
            self._granted[(app, environment)] = declared | frozenset(apis)

    def caller_for(self, key: str) -> Caller | None:
        """Who a credential belongs to, if it is active (looked up by its digest)."""
        caller = self.keys.get(digest(key))
        return None if caller is None or caller.expired() else caller

    def granted(self, app: str, environment: str) -> frozenset[str]:
        """The Apis ``app`` may call in ``environment``: those its spec declares (every
        Environment) and those granted there by an approved request."""
        found = self._granted.get((app, environment))
        return found if found is not None else self.grants.get(app, frozenset())

    def policies_for(self, app: str, api: str, environment: str) -> Policies:
        """The limits of ``app`` on ``api``: the Plan its grant names, else the App's."""
        decided = self.decided.get((app, environment), {}).get(api)
        return decided or self.policies.get(app, NO_POLICIES)


def published_views(api: Api) -> frozenset[str]:
    """The Views an Api's served versions publish."""
    served = ("published", "deprecated")
    return frozenset(
        v for version in api.spec.versions if version.status in served for v in version.views
    )


class SnapshotHolder:
    """Owns the current snapshot and keeps it in step with the store."""

    def __init__(self, store: Store, pool: ConnectionPool, tokens: TokenAuthority) -> None:
        self.store = store
        self.pool = pool
        self.tokens = tokens
        self.bus: Bus | None = None  # where event routes publish; the hub sets it
        self.subscriptions: SubscriptionWorker | None = None  # the hub's, when it delivers
        self.triggers: TriggerWorker | None = None  # the hub's, when it relays
        self.secrets: SecretResolver | None = None  # for webhook triggers' secrets
        self.virtual: VirtualData | None = None  # the hub's, for queries over Views
        self.current: Snapshot | None = None
        self._lock = asyncio.Lock()

    async def refresh(self, *, force: bool = False) -> Snapshot:
        """Rebuild if the store moved on (or always, with ``force``)."""
        async with self._lock:
            revision = await self.store.resources.revision()
            if self.current is not None and not force and self.current.revision == revision:
                return self.current
            snapshot = await self._build()
            self.current = snapshot
            log.info("snapshot.built", revision=snapshot.revision)
            return snapshot

    async def _build(self) -> Snapshot:
        revision, resources = await self.store.resources.snapshot()
        digests = await self.store.keys.active_digests()
        secret_versions = await self.store.secrets.versions()
        apis = [r for r in resources if isinstance(r, Api)]
        event_types = {r.metadata.name: r for r in resources if isinstance(r, EventType)}
        apps = {r.metadata.name: r for r in resources if isinstance(r, App)}
        connections = {r.key: r for r in resources if isinstance(r, Connection)}
        await self.pool.sync(connections, secret_versions)
        if self.subscriptions is not None:
            await self.subscriptions.sync(
                {r.key: r for r in resources if isinstance(r, Subscription)}
            )
        if self.triggers is not None:
            await self.triggers.sync(connections, event_types)
        hooks = compile_hooks(list(connections.values()), event_types)
        if self.secrets is not None:
            hooks = await with_secrets(hooks, self.secrets)
        keys = {
            digest: Caller(
                k.id, k.app, k.environment, None, k.kind,
                k.expires_at.timestamp() if k.expires_at else None,
            )
            for digest, k in digests.items()
            if k.app in apps  # keys of a deleted App stop working with it
        }  # fmt: skip
        grants = {name: frozenset(app.spec.apis) for name, app in apps.items()}
        plans = {r.metadata.name: Policies.of(r) for r in resources if isinstance(r, Plan)}
        policies = {
            name: plans.get(app.spec.plan, NO_POLICIES) if app.spec.plan else NO_POLICIES
            for name, app in apps.items()
        }
        decided: dict[tuple[str, str], dict[str, Policies | None]] = {}
        for grant in await self.store.access.grants():
            if grant.app in apps:
                plan = plans.get(grant.plan) if grant.plan else None
                decided.setdefault((grant.app, grant.environment), {})[grant.api] = plan
        views = {r.metadata.name: r for r in resources if isinstance(r, View)}
        kept = series_types(event_types)
        series: dict[str, SeriesConnector] = {}

        def connector_for(name: str, environment: str) -> Connector:
            if name == SERIES and self.store is not None:  # events kept as time series
                if environment not in series:
                    series[environment] = SeriesConnector(environment, kept, self.store.series)
                return series[environment]
            return self.pool.get(ResourceKey("Connection", name, environment))

        catalog = Catalog(
            revision,
            views,
            connector_for,
            {
                (c.metadata.name, c.environment or ""): c.spec.cache
                for c in connections.values()
                if c.spec.cache is not None
            },
            {
                name: tuple((c.split(".", 1)[0], c.split(".", 1)[1]) for c in e.spec.changes)
                for name, e in event_types.items()
                if e.spec.changes
            },
        )
        if self.virtual is not None:
            self.virtual.catalog = catalog
            if self.virtual.recorder is not None:
                self.virtual.recorder.event_types = kept
        published = {api.metadata.name: published_views(api) for api in apis}
        shapes, problems = self._shapes(catalog, published, connections)
        return Snapshot(
            revision,
            RouteTable(apis, event_types, shapes),
            keys,
            grants,
            policies,
            await self.tokens.load(),
            {caller.key_id: caller for caller in keys.values()},
            hooks,
            catalog,
            published,
            shapes,
            problems,
            frozenset(
                (api.metadata.name, version.name)
                for api in apis
                for version in api.spec.versions
                if version.views and version.status in ("published", "deprecated", "retired")
            ),
            decided,
        )

    def _shapes(
        self,
        catalog: Catalog,
        published: dict[str, frozenset[str]],
        connections: dict[ResourceKey, Connection],
    ) -> tuple[dict[str, ViewShape], dict[str, IsthmusError]]:
        """The shape of every published View, planned in the first Environment that has
        its Connections (sandbox first); why not, for those that cannot be planned."""
        shapes: dict[str, ViewShape] = {}
        problems: dict[str, IsthmusError] = {}
        if self.virtual is None:
            return shapes, problems
        environments = sorted(
            {key.environment for key in connections if key.environment},
            key=lambda e: (e != "sandbox", e),
        )
        for view in sorted(frozenset().union(*published.values())):
            if view not in catalog.views:
                continue
            try:
                shapes[view] = self.virtual.shape(view, catalog, environments)
            except IsthmusError as error:
                problems[view] = error
                log.warning("view.unavailable", view=view, reason=error.detail)
        return shapes, problems

    async def follow(self, interval: float) -> None:
        """Poll the store's revision forever (changes can come from other processes)."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # keep serving the last good snapshot
                log.exception("snapshot.refresh_failed")
