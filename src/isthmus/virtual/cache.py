"""Rows read from sources, kept for a while: the per-source result cache.

A Connection opts in (``spec.cache.ttlSeconds``, for all or some of its streams). A
scan of such streams is kept under what it asked (the stream query, or the SELECT and
its parameters) until its time is up, or until an event of an EventType whose
``changes`` names one of its streams is published through this hub. The cache holds at
most ``max_rows`` rows in all; the oldest entries go first.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa

StreamKey = tuple[str, str, str]  # (environment, connection, stream)


@dataclass(frozen=True)
class _Entry:
    table: pa.Table
    expires: float
    streams: frozenset[StreamKey]


class SourceCache:
    def __init__(self, max_rows: int = 1_000_000, clock: Callable[[], float] = time.monotonic):
        self.max_rows = max_rows
        self._clock = clock
        self._entries: OrderedDict[tuple[object, ...], _Entry] = OrderedDict()
        self._rows = 0
        self.hits = 0
        self.misses = 0
        self.dropped = 0  # entries dropped because an event said their streams changed

    def get(self, key: tuple[object, ...]) -> pa.Table | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self._clock():
            if entry is not None:
                self._remove(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.table

    def put(
        self, key: tuple[object, ...], table: pa.Table, ttl: float, streams: Iterable[StreamKey]
    ) -> None:
        if table.num_rows > self.max_rows:
            return  # larger than the whole cache: not kept
        if key in self._entries:
            self._remove(key)
        self._entries[key] = _Entry(table, self._clock() + ttl, frozenset(streams))
        self._rows += table.num_rows
        while self._rows > self.max_rows:
            self._remove(next(iter(self._entries)))

    def clear(self) -> None:
        self._entries.clear()
        self._rows = 0

    def invalidate(self, changed: Iterable[StreamKey]) -> int:
        """Drop every entry that read one of the ``changed`` streams; how many went."""
        wanted = set(changed)
        stale = [key for key, entry in self._entries.items() if entry.streams & wanted]
        for key in stale:
            self._remove(key)
        self.dropped += len(stale)
        return len(stale)

    def _remove(self, key: tuple[object, ...]) -> None:
        entry = self._entries.pop(key)
        self._rows -= entry.table.num_rows
