"""The catalog: every Api, EventType, View, System and App with its owner, lifecycle,
tags and docs — searched, filtered and exported as Backstage entities."""

from __future__ import annotations

from isthmus.governance.catalog.cache import current_catalog
from isthmus.governance.catalog.entries import (
    CATALOGUED,
    Entry,
    EntrySummary,
    Relation,
    Version,
    build_entries,
)
from isthmus.governance.catalog.search import Catalog, Filters, Hit, SearchResult

__all__ = [
    "CATALOGUED",
    "Catalog",
    "Entry",
    "EntrySummary",
    "Filters",
    "Hit",
    "Relation",
    "SearchResult",
    "Version",
    "build_entries",
    "current_catalog",
]
