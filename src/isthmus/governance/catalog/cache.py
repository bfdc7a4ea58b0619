"""The catalog of what a store holds now, built once per store revision.

Every write to the store — a resource applied, an access granted or revoked — moves its
revision on, so the revision alone says whether the catalog built last is still right.
The revision is read before the resources: a write landing in between gives newer
resources under an older revision, which only costs one more build on the next call.
"""

from __future__ import annotations

import asyncio
from weakref import WeakKeyDictionary

from isthmus.governance.catalog.entries import build_entries
from isthmus.governance.catalog.search import Catalog
from isthmus.store import Store

# One catalog per Store object: the admin API and the portal of a hub share it.
_BUILT: WeakKeyDictionary[Store, Catalog] = WeakKeyDictionary()


async def current_catalog(store: Store) -> Catalog:
    """The catalog at the store's current revision (built now if the store moved on)."""
    revision = await store.resources.revision()
    built = _BUILT.get(store)
    if built is not None and built.revision == revision:
        return built
    _, resources = await store.resources.snapshot()
    grants = await store.access.grants()
    # Indexing thousands of entries takes a noticeable while: keep the event loop free.
    catalog = await asyncio.to_thread(
        lambda: Catalog(build_entries(resources, grants), revision=revision)
    )
    _BUILT[store] = catalog
    return catalog
