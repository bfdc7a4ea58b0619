"""One running hub: the store, the vault, open Connections and the gateway snapshot."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

import structlog

from isthmus.events.delivery import SubscriptionWorker
from isthmus.events.observed import ObservedBus
from isthmus.events.registry import bus_type
from isthmus.events.triggers import TriggerWorker
from isthmus.gateway.counters import counters_for
from isthmus.gateway.metrics import GatewayMetrics
from isthmus.gateway.pool import ConnectionPool
from isthmus.gateway.ratelimit import RateLimiter
from isthmus.gateway.snapshot import SnapshotHolder
from isthmus.governance.access import AccessRequests
from isthmus.governance.audit import AuditLog
from isthmus.governance.tokens import TokenAuthority
from isthmus.governance.vault import Vault
from isthmus.home import admin_token
from isthmus.logs import configure_once
from isthmus.settings import Settings
from isthmus.store import Store
from isthmus.virtual.limits import Limits
from isthmus.virtual.service import VirtualData

log = structlog.get_logger(__name__)


class Hub:
    def __init__(self, settings: Settings) -> None:
        configure_once()
        self.settings = settings
        self.store = Store.open(settings.resolved_database_url())
        self.vault = Vault.open(self.store.secrets, settings)
        self.admin_token = admin_token(settings.home, settings.admin_token)
        self.audit = AuditLog(self.store.audit)
        self.access = AccessRequests(self.store, self.vault, self.audit)
        self.credentials = self.access.credentials
        self.pool = ConnectionPool(self.vault, self.audit)
        self.tokens = TokenAuthority(self.store.signing_keys, self.vault, settings.token_algorithm)
        timeout = settings.rate_limit_timeout_seconds
        self.limiter = RateLimiter(
            counters_for(settings.rate_limit_storage, settings.rate_limit_prefix, timeout),
            timeout,
        )
        self.metrics = GatewayMetrics()
        self.snapshots = SnapshotHolder(self.store, self.pool, self.tokens)
        self.virtual = VirtualData(self.audit, Limits.of(settings), self.store.series)
        self.snapshots.virtual = self.virtual
        url = settings.bus_url or settings.resolved_database_url()
        # what this hub publishes, it learns of: Views' cached rows an event changes go
        self.bus = ObservedBus(
            bus_type(settings.bus).open(
                {"url": url, "redeliverAfterSeconds": settings.bus_redeliver_after_seconds}
            ),
            self.virtual.published,
        )
        self.deliveries = SubscriptionWorker(
            self.bus, self.vault, self.store.dead_letters, self.pool
        )
        self.triggers = TriggerWorker(
            self.bus,
            self.pool,
            self.store.leases,
            self.store.dead_letters,
            self.store.cursors,
            settings.trigger_lease_seconds,
        )
        self._stack = AsyncExitStack()
        self._follower: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        try:
            # closed in the reverse order: the workers first (they use the bus and the
            # Connections), then the bus, then the Connections, then the audit they wrote
            await self._stack.enter_async_context(self.store)
            await self._stack.enter_async_context(self.limiter)
            self._stack.push_async_callback(self.audit.drain)
            self._stack.push_async_callback(self.pool.aclose)
            self._stack.callback(self.virtual.close)
            if self.virtual.recorder is not None:
                self._stack.push_async_callback(self.virtual.recorder.drain)
            self.snapshots.bus = await self._stack.enter_async_context(self.bus)
            self._stack.push_async_callback(self.deliveries.aclose)
            self.snapshots.subscriptions = self.deliveries
            self._stack.push_async_callback(self.triggers.aclose)
            self.snapshots.triggers = self.triggers
            self.snapshots.secrets = self.vault
            await self._check_vault()
            await self.tokens.ensure_key()
            await self.snapshots.refresh(force=True)
        except BaseException:
            await self._stack.aclose()
            raise
        self._follower = asyncio.create_task(
            self.snapshots.follow(self.settings.snapshot_poll_seconds)
        )
        return self

    async def _check_vault(self) -> None:
        """Say so when values are still sealed under older master keys. Not resealed
        here: in a rolling restart, hubs not yet given the new key could no longer read
        them (``isthmus secret rekey`` does it once every hub has the key)."""
        current = self.vault.keys.current_id
        older = {k: n for k, n in (await self.vault.sealed_by()).items() if k != current}
        if older:
            hint = "run 'isthmus secret rekey' once every hub has the key"
            log.warning("vault.values_under_older_keys", sealed_by=older, remediation=hint)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._follower is not None:
            self._follower.cancel()
            await asyncio.gather(self._follower, return_exceptions=True)
        await self._stack.aclose()
