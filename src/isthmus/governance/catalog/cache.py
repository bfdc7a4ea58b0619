"""What is derived from a store — its catalog, its Backstage export — built once per store
revision, and once however many requests ask for it at the same moment.

Every write to the store — a resource applied, an access granted or revoked — moves its
revision on, so the revision alone says whether what was built last is still right.
A builder reads the revision together with the resources (``store.resources.snapshot``,
revision first): a write landing in between gives newer resources under an older
revision, which only costs one more build on the next call.

Builds are single-flight: after a revision bump, the first caller builds while the others
wait on a lock and then take what it built, instead of each building its own copy (a
stampede that would multiply the cost of a build by the number of open requests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar
from weakref import WeakKeyDictionary

from isthmus.governance.catalog.backstage import HubComponent, backstage_entities, backstage_yaml
from isthmus.governance.catalog.entries import build_entries
from isthmus.governance.catalog.search import Catalog
from isthmus.store import Store
from isthmus.virtual.shapes import ViewShape

T = TypeVar("T")
_Held = tuple[asyncio.AbstractEventLoop, asyncio.Lock]


@dataclass(frozen=True)
class _Built(Generic[T]):
    revision: int
    key: object  # compared with ==: what else the value depends on
    value: T


class PerRevision(Generic[T]):
    """One value per Store object, rebuilt when the store's revision (or the caller's
    ``key``) moves on; concurrent callers share one build."""

    def __init__(self) -> None:
        # Weak: a closed store (a test's, a CLI run's) takes its value with it.
        self._built: WeakKeyDictionary[Store, _Built[T]] = WeakKeyDictionary()
        self._locks: WeakKeyDictionary[Store, _Held] = WeakKeyDictionary()
        self.builds = 0  # values built so far: how often the expensive part ran

    async def get(
        self,
        store: Store,
        build: Callable[[], Awaitable[tuple[int, T]]],
        key: object = None,
    ) -> T:
        """The value at the store's current revision for ``key``; ``build`` makes it and
        returns it with the revision it was made at."""
        fresh = self._fresh(store, await store.resources.revision(), key)
        if fresh is not None:
            return fresh.value
        async with self._lock(store):
            # Whoever held the lock may have built it for us meanwhile.
            fresh = self._fresh(store, await store.resources.revision(), key)
            if fresh is not None:
                return fresh.value
            revision, value = await build()
            self.builds += 1
            self._built[store] = _Built(revision, key, value)
            return value

    def _fresh(self, store: Store, revision: int, key: object) -> _Built[T] | None:
        built = self._built.get(store)
        if built is not None and built.revision == revision and built.key == key:
            return built
        return None

    def _lock(self, store: Store) -> asyncio.Lock:
        # A lock serves one event loop: a store reused under another loop (tests, the
        # CLI's asyncio.run) gets a fresh one rather than an error.
        loop = asyncio.get_running_loop()
        held = self._locks.get(store)
        if held is None or held[0] is not loop:
            held = (loop, asyncio.Lock())
            self._locks[store] = held
        return held[1]


# One catalog per Store object: the admin API and the portal of a hub share it.
CATALOGS: PerRevision[Catalog] = PerRevision()


async def current_catalog(store: Store) -> Catalog:
    """The catalog at the store's current revision (built now if the store moved on)."""

    async def build() -> tuple[int, Catalog]:
        revision, resources = await store.resources.snapshot()
        grants = await store.access.grants()
        # Indexing thousands of entries takes a noticeable while: keep the event loop free.
        catalog = await asyncio.to_thread(
            lambda: Catalog(build_entries(resources, grants), revision=revision)
        )
        return revision, catalog

    return await CATALOGS.get(store, build)


# One Backstage export per Store object, for the last owner, issuer and View shapes asked.
BACKSTAGE: PerRevision[bytes] = PerRevision()


async def current_backstage(
    store: Store,
    issuer: str,
    hub: HubComponent,
    view_shapes: Mapping[str, ViewShape] | None = None,
) -> bytes:
    """The store's catalog as ``catalog-info.yaml`` (UTF-8), built off the event loop
    when the store, the issuer, the hub's owner or the View shapes changed."""

    async def build() -> tuple[int, bytes]:
        # Entries and documents from one read of the store, so they cannot disagree.
        revision, resources = await store.resources.snapshot()
        grants = await store.access.grants()

        def export() -> bytes:
            entries = build_entries(resources, grants)
            entities = backstage_entities(
                entries, resources, issuer, view_shapes=view_shapes, hub=hub
            )
            return backstage_yaml(entities).encode()

        return revision, await asyncio.to_thread(export)

    # The key compares by value: the same snapshot's shapes match at once (identity),
    # a snapshot rebuilt at the same revision by content.
    return await BACKSTAGE.get(store, build, key=(issuer, hub, view_shapes))
